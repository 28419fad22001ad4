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


def test_saved_model_greedy_text_equals_generate(model_dir, tmp_path):
    out = tmp_path / "previous_token" / "1"
    card = export_saved_model(
        model_dir, str(out), max_batch_size=4, warmup_prompt_lengths=(8,)
    )
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
