"""int8 weights through Keras' `model.quantize("int8")`, tied table included.

Keras quantizes our `Dense`/`EinsumDense` layers; our embedding quantizes the
token table it shares with the output projection. The quantized model must
stay close to the float one, save and reload (safe_mode) to the same logits,
decode with the cache exactly as without it, and run through `generate`.
"""

import numpy as np
import pytest

import keras_nlg
from keras_nlg.export import export_transformers
from keras_nlg.model_directory import save_model_directory
from keras_nlg.models import TransformerLanguageModel
from keras_nlg.tokenizers import ByteTokenizer


def _model(seed=0):
    model = TransformerLanguageModel(
        258,
        context_length=64,
        num_layers=2,
        num_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
    )
    model(np.zeros((1, 2), np.int32))
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        mean = 1.0 if "gamma" in weight.path else 0.0
        weight.assign(
            (mean + 0.3 * rng.standard_normal(weight.shape)).astype("float32")
        )
    return model


@pytest.fixture(scope="module")
def float_and_int8():
    reference, quantized = _model(), _model()
    quantized.quantize("int8")
    return reference, quantized


@pytest.fixture(scope="module")
def int8_dir(float_and_int8, tmp_path_factory):
    _, quantized = float_and_int8
    directory = str(tmp_path_factory.mktemp("int8") / "model")
    config = {
        "arch": "transformer",
        "model": {
            "class_name": type(quantized).__name__,
            "config": quantized.get_config(),
        },
        "tokenizer": {"class_name": "ByteTokenizer"},
    }
    save_model_directory(directory, quantized, ByteTokenizer(), config)
    return directory


def _ids(length=48, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (2, length)).astype(np.int32)


def test_every_matrix_and_the_tied_table_are_int8(float_and_int8):
    _, quantized = float_and_int8
    dtypes = {w.path.split("/", 1)[1]: w.dtype for w in quantized.weights}
    assert dtypes["embedding/token_embeddings"] == "int8"
    assert dtypes["embedding/position_embeddings"] == "float32"
    for layer in ("attention/query", "attention/attention_output", "mlp_in", "mlp_out"):
        assert dtypes[f"block_0/{layer}/kernel"] == "int8", layer


def test_int8_logits_stay_close_to_float32(float_and_int8):
    reference, quantized = float_and_int8
    ids = _ids()
    expected = np.asarray(reference(ids))
    logits = np.asarray(quantized(ids))
    # Random weights of scale 0.3 make wide activations: int8 rounding moves
    # logits by ~2% of their spread; a wrong scale would move them by far more.
    error = np.abs(logits - expected)
    assert error.mean() < 0.03 * expected.std(), (error.mean(), expected.std())
    agreement = (logits.argmax(-1) == expected.argmax(-1)).mean()
    assert agreement >= 0.9, agreement


def test_cached_decoding_of_the_int8_model_matches_its_full_pass(float_and_int8):
    _, quantized = float_and_int8
    tokenizer = ByteTokenizer()
    prompt = "int8 weights"
    result = keras_nlg.generate(
        quantized,
        tokenizer,
        prompt,
        max_new_tokens=12,
        min_new_tokens=12,
        return_details=True,
    )[0]
    ids = list(prompt.encode()) + result.token_ids
    full = np.asarray(quantized(np.asarray([ids], np.int32)))[0]
    start = len(prompt.encode()) - 1
    expected = full[start : start + 12].argmax(-1)
    np.testing.assert_array_equal(result.token_ids, expected)


def test_int8_model_saves_and_reloads_with_safe_mode(
    float_and_int8, int8_dir, tmp_path
):
    _, quantized = float_and_int8
    directory = int8_dir
    loaded = keras_nlg.load(directory).model
    assert loaded.embedding.token_embeddings.dtype == "int8"
    ids = _ids(seed=3)
    np.testing.assert_array_equal(np.asarray(loaded(ids)), np.asarray(quantized(ids)))
    with pytest.raises(ValueError, match="quantized to int8"):
        export_transformers(directory, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()


def test_only_int8_is_offered_for_the_table():
    embedding = _model().embedding
    with pytest.raises(NotImplementedError, match="int8 only"):
        embedding.quantize("float8")


@pytest.mark.parametrize("jit_compile", [False, True])
def test_int8_model_exports_as_a_saved_model(
    float_and_int8, int8_dir, tmp_path, jit_compile
):
    """The SavedModel carries the int8 weights and serves generate's text."""
    import tensorflow as tf

    from keras_nlg.export import export_saved_model
    from tests.export.saved_model.conftest import settings

    _, quantized = float_and_int8
    out = str(tmp_path / "export" / "int8" / "1")
    export_saved_model(
        int8_dir,
        out,
        max_batch_size=4,
        jit_compile=jit_compile,
        warmup_prompt_lengths=(8,),
    )
    loaded = tf.saved_model.load(out)
    assert any(v.dtype == tf.int8 for v in loaded.variables)
    prompts = ["int8 in a SavedModel", "hello"]
    served = loaded.signatures["serving_default"](
        prompt=tf.constant(prompts), **settings()
    )
    expected = keras_nlg.generate(
        quantized, ByteTokenizer(), prompts, max_new_tokens=12
    )
    assert [t.decode() for t in served["text"].numpy()] == expected


def test_training_and_float_exports_refuse_a_quantized_model(int8_dir, tmp_path):
    """int8 is an inference format: an int8 cast passes no gradient and a
    LoRA merge into int8 kernels would round the update away."""
    from keras_nlg.export import export_tflite
    from keras_nlg.training import finetune
    from keras_nlg.training.lora import enable_lora

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("some text to fine-tune on\n" * 50)
    with pytest.raises(ValueError, match="Fine-tuning needs a float model"):
        finetune(int8_dir, [str(corpus)], str(tmp_path / "tuned"), steps=1)
    assert not (tmp_path / "tuned" / "model.keras").exists()
    with pytest.raises(ValueError, match="LoRA needs a float model"):
        enable_lora(keras_nlg.load(int8_dir).model, 2)
    with pytest.raises(ValueError, match="TFLite and LiteRT-LM exports"):
        export_tflite(int8_dir, str(tmp_path / "tflite"))
    assert not (tmp_path / "tflite" / "model.tflite").exists()


def test_a_reloaded_int8_model_is_not_quantized_twice(int8_dir):
    loaded = keras_nlg.load(int8_dir).model
    ids = _ids(seed=5)
    before = np.asarray(loaded(ids))
    with pytest.raises(ValueError, match="already quantized"):
        loaded.quantize("int8")
    np.testing.assert_array_equal(np.asarray(loaded(ids)), before)


def test_a_quantized_lstm_is_refused_at_save(tmp_path):
    from keras_nlg.models import LSTMLanguageModel

    model = LSTMLanguageModel(258, embedding_dim=8, units=8)
    model(np.zeros((1, 2), np.int32))
    model.quantize("int8")
    with pytest.raises(ValueError, match="quantized LSTMLanguageModel can't be saved"):
        save_model_directory(
            str(tmp_path / "lstm"),
            model,
            ByteTokenizer(),
            {"arch": "lstm", "model": {}, "tokenizer": {"class_name": "ByteTokenizer"}},
        )
