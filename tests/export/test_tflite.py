"""The .tflite export against the Keras model it came from."""

import json
import os

import numpy as np
import pytest

import keras_nlg
from keras_nlg.export import QUANTIZATIONS, TFLiteGenerator, export_tflite, tflite_ops
from keras_nlg.export.tflite_quality import (
    calibration_and_held_out_tokens,
    quality_figures,
)
from keras_nlg.generation import GenerationConfig
from keras_nlg.tokenizers import ByteTokenizer
from keras_nlg.training import train
from tests.conftest import make_corpus

PROMPTS = ["ROMEO:", "KING:\nto be or", "月光"]


def constant_bytes(path):
    """Total size of the flatbuffer's data buffers (weights and constants)."""
    from tensorflow.lite.python import schema_py_generated as schema

    with open(path, "rb") as f:
        model = schema.Model.GetRootAsModel(f.read(), 0)
    return sum(
        model.Buffers(i).DataLength() or model.Buffers(i).Size()
        for i in range(model.BuffersLength())
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text(make_corpus(num_lines=600), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def transformer_dir(tmp_path_factory, corpus):
    """A tiny Transformer with room for a prompt and 64 new tokens."""
    out = tmp_path_factory.mktemp("tflite") / "transformer"
    train(
        str(out),
        data_paths=[corpus],
        preset="tiny",
        batch_size=8,
        sequence_length=96,
        model_overrides={"context_length": 96},
        steps=60,
        steps_per_epoch=60,
        verbose=0,
    )
    return str(out)


@pytest.fixture(scope="module")
def lstm_dir(tmp_path_factory, corpus):
    out = tmp_path_factory.mktemp("tflite") / "lstm"
    train(
        str(out),
        arch="lstm",
        data_paths=[corpus],
        preset="tiny",
        batch_size=8,
        sequence_length=64,
        steps=20,
        steps_per_epoch=20,
        verbose=0,
    )
    return str(out)


@pytest.fixture(scope="module")
def float32_export(tmp_path_factory, transformer_dir):
    out = str(tmp_path_factory.mktemp("tflite") / "float32")
    export_tflite(transformer_dir, out, prefill_length=16)
    return out


def test_bundle_holds_model_tokenizer_and_metadata(float32_export, transformer_dir):
    files = sorted(os.listdir(float32_export))
    # `.lock`: the folder's lock file, as in a model directory.
    assert files == [".lock", "metadata.json", "model.tflite", "tokenizer.json"]
    metadata = json.load(open(os.path.join(float32_export, "metadata.json")))
    model = keras_nlg.load(transformer_dir).model
    assert metadata["vocabulary_size"] == 258
    assert metadata["end_of_text_id"] == 256 and metadata["padding_id"] == 257
    assert metadata["context_length"] == 96 and metadata["prefill_length"] == 16
    assert metadata["cache"]["shape"] == [2, 96, 16]
    assert metadata["cache"]["names"] == [
        "kv_cache_k_0",
        "kv_cache_v_0",
        "kv_cache_k_1",
        "kv_cache_v_1",
    ]
    signatures = metadata["signatures"]
    assert sorted(signatures) == ["decode", "prefill"]
    prefill = signatures["prefill"]["inputs"]
    assert prefill["tokens"] == {"shape": [1, 16], "dtype": "int32"}
    assert prefill["input_pos"] == {"shape": [16], "dtype": "int32"}
    assert prefill["kv_cache_k_0"] == {"shape": [2, 96, 16], "dtype": "float32"}
    assert signatures["decode"]["inputs"]["tokens"]["shape"] == [1, 1]
    assert signatures["decode"]["outputs"]["logits"]["shape"] == [1, 258]
    assert sorted(signatures["decode"]["outputs"]) == sorted(
        ["logits", *metadata["cache"]["names"]]
    )
    # Weights are shared by the two signatures: the constant buffers hold
    # about one copy of the float32 weights, not two.
    weight_bytes = 4 * model.count_params()
    buffers = constant_bytes(os.path.join(float32_export, "model.tflite"))
    assert weight_bytes <= buffers < 1.25 * weight_bytes


def test_builtin_ops_only(float32_export):
    ops = tflite_ops(os.path.join(float32_export, "model.tflite"))
    assert "DYNAMIC_UPDATE_SLICE" in ops  # the cache update
    assert not [op for op in ops if op.startswith("Flex")], ops
    metadata = json.load(open(os.path.join(float32_export, "metadata.json")))
    assert metadata["ops"] == ops


def test_greedy_tokens_equal_keras_generate(float32_export, transformer_dir):
    model, tokenizer, _ = keras_nlg.load(transformer_dir)
    generator = TFLiteGenerator(float32_export)
    expected = keras_nlg.generate(model, tokenizer, PROMPTS, max_new_tokens=64)
    assert generator.generate(PROMPTS, max_new_tokens=64) == expected
    assert any(len(text) > 20 for text in expected)  # not just end-of-text


def test_decode_and_prefill_logits_match_keras(float32_export, transformer_dir):
    model, tokenizer, _ = keras_nlg.load(transformer_dir)
    generator = TFLiteGenerator(float32_export)
    ids = np.asarray(tokenizer.tokenize("JULIET:\nthe night is day and love is"))
    reference = np.asarray(model(ids[None]))[0]  # (n, V)
    np.testing.assert_allclose(generator.next_token_logits(ids), reference, atol=1e-4)
    # Prefill in chunks (the last overlapping) ends at the same logits and cache.
    logits, cache = generator.feed(ids)
    assert len(ids) > 16 and len(ids) % 16  # two chunks, the second overlapping
    np.testing.assert_allclose(logits, reference[-1], atol=1e-4)
    next_logits, _ = generator.decode(int(ids[0]), len(ids), cache)
    extended = np.asarray(model(np.append(ids, ids[0])[None]))[0, -1]
    np.testing.assert_allclose(next_logits, extended, atol=1e-4)


def test_generate_signature_is_the_greedy_loop(tmp_path, transformer_dir):
    model, tokenizer, _ = keras_nlg.load(transformer_dir)
    out = str(tmp_path / "with_generate")
    metadata = export_tflite(
        transformer_dir, out, include_generate=True, quality_positions=0
    )
    assert "WHILE" in metadata["ops"]
    assert not [op for op in metadata["ops"] if op.startswith("Flex")]
    # The loop body reads the same weight buffers as prefill and decode.
    buffers = constant_bytes(os.path.join(out, "model.tflite"))
    assert buffers < 1.25 * 4 * model.count_params()
    generator = TFLiteGenerator(out)
    run = generator.interpreter.get_signature_runner("generate")
    ids = np.asarray(tokenizer.tokenize(PROMPTS[1]), np.int32)
    prompt = np.full((1, 96), tokenizer.padding_id, np.int32)
    prompt[0, : len(ids)] = ids
    outputs = run(
        prompt_tokens=prompt,
        prompt_length=np.array([len(ids)], np.int32),
        max_new_tokens=np.array([40], np.int32),
    )
    count = int(outputs["num_tokens"][0])
    new = outputs["tokens"][0, len(ids) : count].tolist()
    expected = keras_nlg.generate(model, tokenizer, PROMPTS[1], return_details=True,
                                  max_new_tokens=40)[0].token_ids  # fmt: skip
    assert new == expected  # num_tokens: the prompt and the tokens behind the text
    np.testing.assert_array_equal(outputs["tokens"][0, : len(ids)], ids)


def test_sampling_is_reproducible(float32_export):
    generator = TFLiteGenerator(float32_export)
    settings = dict(max_new_tokens=20, do_sample=True, top_k=20, top_p=0.9)
    first = generator.generate(PROMPTS[:2], seed=3, **settings)
    assert first == generator.generate(PROMPTS[:2], seed=3, **settings)
    assert first != generator.generate(PROMPTS[:2], seed=4, **settings)


def locks_held_while_staging(monkeypatch):
    """The `(directory, exclusive)` locks held at each `staging_directory`
    call of the TFLite export."""
    import contextlib

    from keras_nlg import files
    from keras_nlg.export import tflite

    held, seen = [], []
    real_lock, real_staging = files.directory_lock, tflite.staging_directory

    @contextlib.contextmanager
    def lock(directory, exclusive):
        with real_lock(directory, exclusive):
            held.append((directory, exclusive))
            yield
            held.pop()

    def staging(directory):
        seen.append(list(held))
        return real_staging(directory)

    monkeypatch.setattr(files, "directory_lock", lock)
    monkeypatch.setattr(tflite, "staging_directory", staging)
    return seen


def test_lstm_decode_with_states(tmp_path, lstm_dir, monkeypatch):
    out = str(tmp_path / "lstm")
    # Also: the export stages and commits under the folder's exclusive
    # lock (a second export there would clear its staged files).
    staged_under = locks_held_while_staging(monkeypatch)
    with pytest.raises(ValueError, match="exports `decode` only"):
        export_tflite(lstm_dir, out, prefill_length=8)
    with pytest.raises(ValueError, match="include_generate=True"):
        export_tflite(lstm_dir, out, include_generate=True)
    # The directory's generation defaults reach the metadata, and both the
    # runner (from the metadata) and keras_nlg.generate (from the directory)
    # apply them.
    defaults = GenerationConfig(no_repeat_ngram_size=3, min_new_tokens=10)
    defaults.save_pretrained(lstm_dir)
    metadata = export_tflite(lstm_dir, out)
    assert staged_under == [[(out, True)]]
    assert metadata["generation_config"] == defaults.to_dict()
    assert sorted(metadata["signatures"]) == ["decode"]
    inputs = metadata["signatures"]["decode"]["inputs"]
    assert sorted(inputs) == ["state_c_0", "state_h_0", "tokens"]
    assert inputs["state_h_0"]["shape"] == [1, 64]
    assert not [op for op in metadata["ops"] if op.startswith("Flex")]
    model, tokenizer, _ = keras_nlg.load(lstm_dir)
    generator = TFLiteGenerator(out)
    expected = keras_nlg.generate(model, tokenizer, PROMPTS, max_new_tokens=40)
    assert generator.generate(PROMPTS, max_new_tokens=40) == expected
    ids = np.asarray(tokenizer.tokenize(PROMPTS[1]))
    np.testing.assert_allclose(
        generator.next_token_logits(ids), np.asarray(model(ids[None]))[0], atol=1e-4
    )


@pytest.mark.parametrize("quantize", ["float16", "dynamic_int8", "int8"])
def test_quantized_variants(
    tmp_path, transformer_dir, float32_export, corpus, quantize
):
    metadata = export_tflite(
        transformer_dir,
        str(tmp_path / quantize),
        quantize=quantize,
        quality_data=corpus,
    )
    float32 = json.load(open(os.path.join(float32_export, "metadata.json")))
    assert metadata["quantization"] == quantize
    assert metadata["size_bytes"] < float32["size_bytes"]
    assert not [op for op in metadata["ops"] if op.startswith("Flex")]
    quality = metadata["quality"]
    assert quality["positions"] == 1000
    assert quality["next_token_agreement"] >= 0.95, quality
    assert quality["perplexity_ratio"] == pytest.approx(1.0, abs=0.05)
    # The quality figures are those of the file as the runner runs it.
    model, tokenizer, config = keras_nlg.load(transformer_dir)
    _, held_out, _ = calibration_and_held_out_tokens(config, tokenizer, [corpus])
    generator = TFLiteGenerator(str(tmp_path / quantize))
    again = quality_figures(generator, model, held_out, quality["positions"])
    assert again == pytest.approx({k: v for k, v in quality.items() if k != "text"})


def test_float32_quality_is_exact(float32_export):
    quality = json.load(open(os.path.join(float32_export, "metadata.json")))["quality"]
    assert quality["next_token_agreement"] == 1.0
    assert quality["max_abs_logit_difference"] < 1e-4
    assert quality["prefill_max_abs_logit_difference"] < 1e-4
    assert quality["perplexity_ratio"] == pytest.approx(1.0, abs=1e-5)


def test_bad_input(tmp_path, float32_export, transformer_dir):
    generator = TFLiteGenerator(float32_export)
    with pytest.raises(ValueError, match="more than the cache of 96 positions"):
        generator.generate(["x" * 90], max_new_tokens=10)
    with pytest.raises(ValueError, match="input_pos=96"):
        generator.decode(1, 96, generator.empty_cache())
    with pytest.raises(ValueError, match="input_pos=-1"):
        generator.decode(1, -1, generator.empty_cache())
    with pytest.raises(ValueError, match="input_pos=90"):
        generator.prefill(np.zeros(16, np.int32), 90, generator.empty_cache())
    with pytest.raises(ValueError, match="prefill_length=16"):
        generator.prefill(np.zeros(3, np.int32), 0, generator.empty_cache())
    with pytest.raises(ValueError, match="at least one token"):
        generator.feed([])
    with pytest.raises(ValueError, match="max_new_tokens=0"):
        generator.generate(["a"], max_new_tokens=0)
    with pytest.raises(ValueError, match="top_p"):
        generator.generate(["a"], do_sample=True, top_p=1.5)
    with pytest.raises(TypeError, match="prompts"):
        generator.generate([3])
    with pytest.raises(ValueError, match="quantize='int4'"):
        export_tflite(transformer_dir, str(tmp_path / "q"), quantize="int4")
    with pytest.raises(ValueError, match="Not a keras_nlg model directory"):
        export_tflite(str(tmp_path), str(tmp_path / "q"))
    with pytest.raises(ValueError, match="prefill_length=97"):
        export_tflite(transformer_dir, str(tmp_path / "q"), prefill_length=97)
    with pytest.raises(ValueError, match="Not a keras_nlg TFLite export"):
        os.makedirs(tmp_path / "bare")
        with open(tmp_path / "bare" / "model.tflite", "wb") as f:
            f.write(open(os.path.join(float32_export, "model.tflite"), "rb").read())
        TFLiteGenerator(str(tmp_path / "bare"))
    assert QUANTIZATIONS == ("none", "float16", "dynamic_int8", "int8")


def test_runner_applies_every_setting_as_generate_does(float32_export, transformer_dir):
    metadata = json.load(open(os.path.join(float32_export, "metadata.json")))
    assert metadata["generation_config"] == GenerationConfig().to_dict()
    config = GenerationConfig(
        max_new_tokens=30,
        min_new_tokens=12,
        no_repeat_ngram_size=2,
        repetition_penalty=1.2,
        stop_strings=["\n\n"],
    )
    # Defaults from the metadata, as an app reads them.
    generator = TFLiteGenerator(
        float32_export, metadata={**metadata, "generation_config": config.to_dict()}
    )
    model, tokenizer, _ = keras_nlg.load(transformer_dir)
    expected = keras_nlg.generate(model, tokenizer, PROMPTS, config)
    assert generator.generate(PROMPTS) == expected
    # The details agree with the text, cut by the same rule as generate's.
    ours = generator.generate(PROMPTS, return_details=True)
    theirs = keras_nlg.generate(model, tokenizer, PROMPTS, config, return_details=True)
    assert [(g.text, g.token_ids) for g in ours] == [
        (g.text, g.token_ids) for g in theirs
    ]
    for g, d in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(g.log_probs, d.log_probs, atol=1e-4)
    # min-p sampling never draws below the threshold: with min_p near 1 only
    # the most likely token survives, so sampling is greedy.
    greedy = generator.generate(PROMPTS, max_new_tokens=10, min_new_tokens=0)
    sampled = generator.generate(
        PROMPTS, max_new_tokens=10, min_new_tokens=0, do_sample=True, min_p=0.999
    )
    assert sampled == greedy


def test_paths_recorded_in_a_model_directory_are_never_opened(tmp_path, monkeypatch):
    """A crafted config.json names a file outside the model directory as
    its training data; the export's quality data is bundled text instead."""
    from keras_nlg.export import tflite_quality

    secret = tmp_path / "secret.txt"
    secret.write_text("not for the export", encoding="utf-8")
    config = {"training": {"data_paths": [str(secret)], "train_csv": str(secret)}}
    opened = []
    read = tflite_quality.read_text_files
    monkeypatch.setattr(
        tflite_quality,
        "read_text_files",
        lambda paths: opened.extend(paths) or read(paths),
    )
    _, held_out, source = calibration_and_held_out_tokens(config, ByteTokenizer())
    assert str(secret) not in opened and "secret" not in source
    assert "Tiny Shakespeare" in source and len(held_out) > 1000
    _, _, source = calibration_and_held_out_tokens(
        {"task": {"name": "e2e"}}, ByteTokenizer()
    )
    assert source == "the bundled E2E dev set"
