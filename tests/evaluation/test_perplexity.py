import math

import keras
import numpy as np
import pytest

from keras_nlg.evaluation import perplexity, sliding_windows
from keras_nlg.models import LSTMLanguageModel, TransformerLanguageModel
from keras_nlg.tokenizers import ByteTokenizer

TEXT = "To be, or not to be, that is the question: whether 'tis nobler in the mind"


def tiny_transformer(context_length=32):
    keras.utils.set_random_seed(3)
    return TransformerLanguageModel(
        258,
        context_length=context_length,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
    )


def log_softmax64(logits):
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


@pytest.mark.parametrize("context, stride", [(8, 8), (8, 3), (10, 1), (64, 32)])
def test_windows_score_every_token_once_with_enough_context(context, stride):
    tokens = np.arange(40)
    x, y, weights = sliding_windows(tokens, context, stride)
    scored = []
    for row in range(len(x)):
        for col in np.flatnonzero(weights[row]):
            assert y[row, col] == x[row, col] + 1  # y is x shifted by one
            scored.append(y[row, col])
            if row > 0:  # after the first window: at least context - stride
                assert col + 1 >= context - stride
    assert sorted(scored) == list(range(1, 40))


def test_short_text_equals_a_float64_reference():
    model, tokenizer = tiny_transformer(), ByteTokenizer()
    text = "hello world"
    figures = perplexity(model, tokenizer, text)
    ids = [tokenizer.end_of_text_id, *text.encode()]
    log_probs = log_softmax64(model(np.array([ids[:-1]], "int32")))[0]
    nll = -sum(log_probs[t, ids[t + 1]] for t in range(len(ids) - 1))
    assert figures["tokens"] == len(text)
    assert figures["perplexity"] == pytest.approx(math.exp(nll / len(text)), rel=1e-5)
    # Bytes are tokens here: bits per byte = bits per token.
    assert figures["bits_per_byte"] == pytest.approx(figures["bits_per_token"])
    assert figures["bits_per_character"] == pytest.approx(figures["bits_per_byte"])


@pytest.mark.parametrize("stride", [16, 5])
def test_matches_model_evaluate_on_the_same_windows(stride):
    model, tokenizer = tiny_transformer(context_length=16), ByteTokenizer()
    figures = perplexity(model, tokenizer, [TEXT, "月光"], stride=stride)
    ids = np.concatenate(
        [[256], list(TEXT.encode()), [256], list("月光".encode())]
    ).astype("int32")
    x, y, weights = sliding_windows(ids, 16, stride)
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        )
    )
    loss = model.evaluate(x, y, sample_weight=weights, batch_size=len(x), verbose=0)
    assert figures["nats_per_token"] == pytest.approx(loss, rel=1e-5)
    assert figures["window_length"] == 16 and figures["stride"] == stride
    assert figures["tokens"] == len(ids) - 1
    assert figures["characters"] == len(TEXT) + 2
    assert figures["bytes"] == len(TEXT) + 6
    total_bits = figures["bits_per_token"] * figures["tokens"]
    assert figures["bits_per_character"] == pytest.approx(total_bits / (len(TEXT) + 2))


def test_more_context_changes_nothing_for_a_text_that_fits():
    model, tokenizer = tiny_transformer(context_length=128), ByteTokenizer()
    whole = perplexity(model, tokenizer, TEXT)
    assert whole["tokens"] == len(TEXT)
    again = perplexity(model, tokenizer, TEXT, stride=7, batch_size=3)
    assert again["perplexity"] == pytest.approx(whole["perplexity"], rel=1e-5)


def test_lstm_uses_a_default_context():
    keras.utils.set_random_seed(0)
    model = LSTMLanguageModel(258, embedding_dim=8, units=16, num_layers=1)
    figures = perplexity(model, ByteTokenizer(), TEXT)
    assert figures["context"] == 256 and figures["perplexity"] > 1


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(texts=3), TypeError, "`texts`"),
        (dict(texts=["a", None]), TypeError, "`texts`"),
        (dict(texts=""), ValueError, "must hold some text"),
        (dict(window_length=64), ValueError, "window_length=64"),
        (dict(window_length=8, stride=9), ValueError, "stride=9"),
        (dict(window_length=8, context=8), TypeError, "deprecated name"),
        (dict(stride=0), ValueError, "stride=0"),
        (dict(batch_size=0), ValueError, "batch_size=0"),
    ],
)
def test_bad_input(kwargs, error, message):
    kwargs = {"texts": TEXT, **kwargs}
    with pytest.raises(error, match=message):
        perplexity(tiny_transformer(), ByteTokenizer(), **kwargs)


def test_context_is_a_deprecated_name_of_window_length():
    model = tiny_transformer()
    with pytest.deprecated_call():
        old = perplexity(model, ByteTokenizer(), TEXT, context=16)
    new = perplexity(model, ByteTokenizer(), TEXT, window_length=16)
    assert old == new and new["context"] == new["window_length"] == 16
