"""A `LanguageModel` that export/ has never heard of exports and serves.

`PreviousTokenLanguageModel` (tests/export/previous_token_model.py) has a
cache unlike the Transformer's and the LSTM's; the SavedModel and the
TFLite file must serve it exactly as `keras_nlg.generate` runs it.
"""

import numpy as np
import pytest
import tensorflow as tf

import keras_nlg
from keras_nlg.export import TFLiteGenerator, export_saved_model, export_tflite
from tests.export.previous_token_model import save_previous_token_model
from tests.export.saved_model.conftest import settings

PROMPTS = ["ROMEO:", "", "KING:\nto be or not to be", "月光"]
GREEDY = settings()  # every optional input, greedy, 12 new tokens


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_previous_token_model(str(tmp_path_factory.mktemp("third") / "model"))


@pytest.fixture(scope="module")
def exported(model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("third") / "previous_token" / "1"
    card = export_saved_model(
        model_dir, str(out), max_batch_size=4, warmup_prompt_lengths=(8,)
    )
    return out, card


def test_saved_model_greedy_text_equals_generate(model_dir, exported):
    out, card = exported
    assert card["architecture"] == "PreviousTokenLanguageModel"
    assert card["limits"]["context_length"] == 64
    assert card["limits"]["max_new_tokens"] == 63
    served = tf.saved_model.load(str(out)).signatures["serving_default"]
    out = served(prompt=tf.constant(PROMPTS), **GREEDY)
    texts = [t.decode() for t in out["text"].numpy()]
    model, tokenizer, _ = keras_nlg.load(model_dir)
    expected = keras_nlg.generate(model, tokenizer, PROMPTS, max_new_tokens=12)
    assert texts == expected
    assert any(len(text) >= 6 for text in expected)  # not just end-of-text
    # A row decodes as it would alone (its padding never reaches its cache).
    alone = served(prompt=tf.constant(PROMPTS[2:3]), **GREEDY)["text"]
    assert alone.numpy()[0].decode() == texts[2]


def test_tflite_cache_is_the_models_own_and_greedy_equals_generate(model_dir, tmp_path):
    out = str(tmp_path / "tflite")
    metadata = export_tflite(model_dir, out, quality_positions=100)
    assert sorted(metadata["signatures"]) == ["decode", "prefill"]
    assert metadata["cache"]["names"] == ["seen_token_ids"]
    assert metadata["cache"]["tensors"] == [
        {"name": "seen_token_ids", "shape": [1, 64], "dtype": "int32"}
    ]
    assert metadata["signatures"]["decode"]["inputs"]["seen_token_ids"] == {
        "shape": [1, 64],
        "dtype": "int32",
    }
    assert not [op for op in metadata["ops"] if op.startswith("Flex")]
    assert metadata["quality"]["next_token_agreement"] == 1.0
    model, tokenizer, _ = keras_nlg.load(model_dir)
    generator = TFLiteGenerator(out)
    expected = keras_nlg.generate(model, tokenizer, PROMPTS, max_new_tokens=12)
    assert generator.generate(PROMPTS, max_new_tokens=12) == expected
    ids = np.asarray(tokenizer.tokenize(PROMPTS[2]))
    np.testing.assert_allclose(
        generator.next_token_logits(ids), np.asarray(model(ids[None]))[0], atol=1e-5
    )


# This model's greedy text (seed 0) ends with end-of-text after 28 tokens
# ("ROMEO:") and 12 ("", from end-of-text), and runs past 40 for the third
# prompt: max_new_tokens=40 cuts rows each way.
CUTS = dict(max_new_tokens=40)


def details(model_dir, prompts, **settings):
    model, tokenizer, _ = keras_nlg.load(model_dir)
    return keras_nlg.generate(
        model, tokenizer, prompts, return_details=True, **CUTS, **settings
    )


def test_saved_model_outputs_agree_with_their_text(model_dir, exported):
    """num_generated_tokens counts exactly the tokens behind `text` (and the
    ids `generate_ids` returns); `score` of a text is the sum of the
    log-probs `generate` reports for it."""
    out, _ = exported
    loaded = tf.saved_model.load(str(out))
    prompts = PROMPTS[:3]
    expected = details(model_dir, prompts)
    lengths = [len(d.token_ids) for d in expected]
    assert lengths[0] < 40 and lengths[1] < 40 and lengths[2] == 40  # every cut
    served = loaded.signatures["serving_default"](
        prompt=tf.constant(prompts), **settings(max_new_tokens=[40])
    )
    assert [t.decode() for t in served["text"].numpy()] == [d.text for d in expected]
    assert served["num_generated_tokens"].numpy().tolist() == lengths

    _, tokenizer, _ = keras_nlg.load(model_dir)
    ids = [np.asarray(tokenizer.tokenize(p), np.int32).tolist() for p in prompts[::2]]
    width = max(map(len, ids))
    token_ids = np.array([row + [0] * (width - len(row)) for row in ids], np.int32)
    by_ids = loaded.signatures["generate_ids"](
        token_ids=tf.constant(token_ids),
        prompt_length=tf.constant([len(row) for row in ids]),
        **settings(max_new_tokens=[40]),
    )
    counts = by_ids["num_generated_tokens"].numpy().tolist()
    assert counts == [lengths[0], lengths[2]]
    for row, d in enumerate(expected[::2]):
        new = by_ids["token_ids"].numpy()[row]
        assert new[: counts[row]].tolist() == d.token_ids
        assert (new[counts[row] :] == tokenizer.padding_id).all()

    # An empty prompt starts from end-of-text, as `score` does.
    scored = loaded.signatures["score"](text=tf.constant([expected[1].text]))
    assert scored["num_tokens"].numpy()[0] == lengths[1]
    np.testing.assert_allclose(
        scored["log_likelihood"].numpy()[0], sum(expected[1].log_probs), rtol=1e-4
    )


def test_tflite_runner_details_agree_and_it_stops_at_a_stop_string(model_dir, tmp_path):
    out = str(tmp_path / "tflite")
    export_tflite(model_dir, out, quality_positions=0)
    generator = TFLiteGenerator(out)
    for stop_strings in (None, ["?,"]):
        expected = details(model_dir, PROMPTS, stop_strings=stop_strings)
        ours = generator.generate(
            PROMPTS, return_details=True, stop_strings=stop_strings, **CUTS
        )
        assert [(g.text, g.token_ids) for g in ours] == [
            (d.text, d.token_ids) for d in expected
        ]
        for g, d in zip(ours, expected, strict=True):
            assert len(g.log_probs) == len(g.token_ids)
            np.testing.assert_allclose(g.log_probs, d.log_probs, atol=1e-4)
    # "ROMEO:" meets "?," at tokens 9-10: no token is decoded after it.
    assert expected[0].text == "/J!$^0%"
    positions = []
    decode = generator.decode
    generator.decode = lambda *args: positions.append(args[1]) or decode(*args)
    generator.generate(PROMPTS[:1], stop_strings=["?,"], **CUTS)
    sampled = [p for p in positions if p >= len("ROMEO:")]  # after the prompt
    assert len(sampled) == len(expected[0].token_ids) + 1  # through "?"
