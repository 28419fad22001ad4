"""Real and sampled sequences, and Monte Carlo completions of their prefixes."""

import keras
import numpy as np
import pytest

from keras_nlg.models import LSTMLanguageModel, TransformerLanguageModel
from keras_nlg.tokenizers import ByteTokenizer
from keras_nlg.training.adversarial import (
    SequenceFormat,
    complete_prefixes,
    encode_texts,
    sample_sequences,
)
from keras_nlg.training.adversarial.sequences import decode, prefix_prompts
from keras_nlg.training.rl.objectives import token_log_probs

ENDED = SequenceFormat(start_id=9, end_of_text_id=9, padding_id=0, length=6)
ENDLESS = SequenceFormat(start_id=0, end_of_text_id=None, padding_id=0, length=6)


def test_mask_and_clean_keep_up_to_and_including_the_end_token():
    ids = np.array([[3, 9, 4, 9, 5, 6], [1, 2, 3, 4, 5, 6], [9, 1, 1, 1, 1, 1]])
    np.testing.assert_array_equal(
        ENDED.mask(ids),
        [[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0]],
    )
    np.testing.assert_array_equal(
        ENDED.clean(ids), [[3, 9, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6], [9, 0, 0, 0, 0, 0]]
    )
    assert ENDLESS.mask(ids).all()
    np.testing.assert_array_equal(ENDED.with_start(ids[:1]), [[9, 3, 9, 4, 9, 5, 6]])


def test_encode_texts_cuts_and_ends_as_a_sample_would():
    tokenizer = ByteTokenizer()
    fmt = SequenceFormat(
        tokenizer.end_of_text_id, tokenizer.end_of_text_id, tokenizer.padding_id, 4
    )
    rows = encode_texts(tokenizer, ["ab", "abcdef"], fmt)
    end, pad = tokenizer.end_of_text_id, tokenizer.padding_id
    np.testing.assert_array_equal(rows, [[97, 98, end, pad], [97, 98, 99, 100]])


def _generator(seed=0):
    keras.utils.set_random_seed(seed)
    return LSTMLanguageModel(12, embedding_dim=8, units=8)


def test_samples_are_seeded_and_end_cleanly():
    model = _generator()
    first, mask = sample_sequences(model, 16, 5, ENDED)
    again, _ = sample_sequences(model, 16, 5, ENDED)
    other, _ = sample_sequences(model, 16, 6, ENDED)
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()
    assert first.shape == (16, 6) and first.dtype == np.int32
    np.testing.assert_array_equal(mask, ENDED.mask(first))
    assert (first[~mask] == 0).all()
    assert sample_sequences(model, 4, 5, ENDLESS)[1].all()


def test_completions_keep_each_prefix_and_an_ended_prefix_stays_as_it_is():
    model = _generator(1)
    ids, mask = sample_sequences(model, 8, 3, ENDED)
    ids[0] = [4, 9, 0, 0, 0, 0]  # ended at its second token
    completed = complete_prefixes(model, ids, 3, 7, ENDED)
    assert completed.shape == (8, 5, 3, 6)
    for t in range(1, 6):
        assert (completed[:, t - 1, :, :t] == ENDED.clean(ids)[:, None, :t]).all()
    for t in range(2, 6):  # prefixes [4, 9, ...] have ended
        assert (completed[0, t - 1] == ids[0]).all()
    np.testing.assert_array_equal(
        completed.reshape(-1, 6), ENDED.clean(completed.reshape(-1, 6))
    )
    # The rollouts are independent draws, and seeded.
    assert any((completed[i, 0, 0] != completed[i, 0, 1]).any() for i in range(1, 8))
    np.testing.assert_array_equal(completed, complete_prefixes(model, ids, 3, 7, ENDED))


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_completions_are_drawn_from_the_model_given_each_prefix(kind):
    """The engine's log-probabilities of each completion's tokens equal a
    forward pass over [start, prefix, completion]: left padding and the
    cache (longer than a Transformer's context) leave positions exact."""
    keras.utils.set_random_seed(3)
    model = (
        LSTMLanguageModel(12, embedding_dim=8, units=8)
        if kind == "lstm"
        else TransformerLanguageModel(
            12, context_length=7, num_layers=1, num_heads=2, hidden_dim=16,
            intermediate_dim=32,
        )
    )  # fmt: skip
    ids, _ = sample_sequences(model, 3, 1, ENDLESS)
    prompts, prompt_mask, budgets = prefix_prompts(ids, ENDLESS)
    rows = [a.reshape(-1, *a.shape[2:]) for a in (prompts, prompt_mask, budgets)]
    tokens, log_probs = decode(model, *rows, 4, ENDLESS, capacity=5)
    for row in range(len(tokens)):
        t = 6 - int(rows[2][row])  # the prefix length
        sequence = np.concatenate([[0], ids[row // 5, :t], tokens[row, : 6 - t]])
        expected = token_log_probs(model, sequence[None].astype("int32"))[0]
        np.testing.assert_allclose(
            log_probs[row, : 6 - t], np.asarray(expected)[t:], atol=1e-5
        )
