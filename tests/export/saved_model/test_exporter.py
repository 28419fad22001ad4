"""`export_saved_model`: the version directory, its files and the model card."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import keras_nlg
from keras_nlg.export import export_saved_model
from keras_nlg.export.saved_model.settings import served_defaults
from keras_nlg.generation import GenerationConfig
from keras_nlg.training import train
from tests.conftest import make_corpus
from tests.export.saved_model.conftest import PROMPTS, settings


def test_layout_card_and_warmup(saved_model_dir):
    names = sorted(os.listdir(saved_model_dir))
    assert {"saved_model.pb", "variables", "assets", "assets.extra"} <= set(names)
    assert "tokenizer.json" in os.listdir(os.path.join(saved_model_dir, "assets"))
    with open(os.path.join(saved_model_dir, "model_card.json")) as f:
        card = json.load(f)
    assert card["architecture"] == "TransformerLanguageModel"
    assert card["tokenizer"]["class_name"] == "ByteTokenizer"
    assert card["limits"]["max_batch_size"] == 8
    assert card["limits"]["max_new_tokens"] == 63
    assert card["ops"]["tensorflow_text"] == []  # byte tokenizer: core ops only
    assert card["metrics"] is not None
    warmup = os.path.join(saved_model_dir, "assets.extra", "tf_serving_warmup_requests")
    from tensorflow_serving.apis import prediction_log_pb2

    signatures = [
        prediction_log_pb2.PredictionLog.FromString(
            r.numpy()
        ).predict_log.request.model_spec.signature_name
        for r in tf.data.TFRecordDataset(warmup)
    ]
    # generate_ids at every row bucket up to 8 (2, 4, 8: one row decodes as
    # two; prompt length 8), then serving_default and score at each.
    assert signatures == ["generate_ids"] * 3 + ["serving_default", "score"] * 3


def test_signature_defaults_are_the_served_settings(saved_model_dir):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    signature_defs = proto.meta_graphs[0].signature_def
    expected = {
        name: [value]
        for name, value in served_defaults(
            GenerationConfig(max_new_tokens=63)  # 64 by default: beyond the context
        ).items()
    }
    for name in ("serving_default", "generate_ids"):
        defaults = {
            key: tf.make_ndarray(value).tolist()
            for key, value in signature_defs[name].defaults.items()
        }
        assert defaults == expected
    assert not signature_defs["score"].defaults


def test_refuses_to_overwrite_a_version_or_a_non_version_dir(
    serving_model_dir, saved_model_dir, tmp_path
):
    with pytest.raises(ValueError, match="already holds a version"):
        export_saved_model(serving_model_dir, saved_model_dir)
    with pytest.raises(ValueError, match="integer version"):
        export_saved_model(serving_model_dir, str(tmp_path / "tiny" / "latest"))


def test_fresh_process_and_saved_model_cli(saved_model_dir):
    """Loads with plain TensorFlow (no keras_nlg import) in a new process."""
    script = (
        "import sys, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "s = m.signatures\n"
        "kw = dict(max_new_tokens=tf.constant([4]), temperature=tf.constant([0.0]),"
        " top_k=tf.constant([0]), top_p=tf.constant([1.0]), seed=tf.constant([0]),"
        " min_new_tokens=tf.constant([0]), min_p=tf.constant([0.0]),"
        " no_repeat_ngram_size=tf.constant([0]))\n"
        "print(s['serving_default'](prompt=tf.constant(['hi']), **kw)"
        "['num_generated_tokens'].numpy().tolist())\n"
        "print(s['generate_ids'](token_ids=tf.constant([[104, 105]]),"
        " prompt_length=tf.constant([2]), **kw)['token_ids'].shape[0])\n"
        "print(s['score'](text=tf.constant(['hi']))['num_tokens'].numpy().tolist())\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", script, saved_model_dir],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["[4]", "1", "[2]"]
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run(
        [cli, "show", "--dir", saved_model_dir, "--all"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    for name in ("serving_default", "generate_ids", "score"):
        assert f"signature_def['{name}']" in shown.stdout
    assert "inputs['top_p']" in shown.stdout and "outputs['text']" in shown.stdout


def test_lstm_exports_and_matches_generate(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(make_corpus(num_lines=100), encoding="utf-8")
    model_dir = tmp_path / "lstm"
    train(
        str(model_dir),
        arch="lstm",
        data_paths=[str(corpus)],
        preset="tiny",
        batch_size=4,
        sequence_length=32,
        steps=4,
        steps_per_epoch=4,
        verbose=0,
    )
    out = tmp_path / "export" / "lstm" / "3"
    card = export_saved_model(str(model_dir), str(out), max_batch_size=4)
    assert card["limits"]["context_length"] is None
    loaded = tf.saved_model.load(str(out))
    served = loaded.signatures["serving_default"](
        prompt=tf.constant(PROMPTS[:3]), **settings(max_new_tokens=[10])
    )
    model, tokenizer, _ = keras_nlg.load(str(model_dir))
    expected = keras_nlg.generate(model, tokenizer, PROMPTS[:3], max_new_tokens=10)
    assert [t.decode() for t in served["text"].numpy()] == expected


def signature_defaults(version_dir, name="serving_default"):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(version_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    defaults = proto.meta_graphs[0].signature_def[name].defaults
    return {key: tf.make_ndarray(value).tolist() for key, value in defaults.items()}


def test_generation_config_json_sets_the_signature_defaults(
    serving_model_dir, tmp_path
):
    model_dir = str(tmp_path / "model")
    shutil.copytree(serving_model_dir, model_dir)
    GenerationConfig(
        max_new_tokens=20,
        do_sample=True,
        temperature=0.7,
        top_p=0.9,
        min_p=0.05,
        no_repeat_ngram_size=3,
        num_beams=1,
        seed=5,
    ).save_pretrained(model_dir)
    out = str(tmp_path / "export" / "m" / "1")
    card = export_saved_model(
        model_dir, out, max_batch_size=2, warmup_prompt_lengths=(), top_k=40
    )
    defaults = signature_defaults(out)
    assert defaults["max_new_tokens"] == [20]
    assert defaults["top_k"] == [40]  # the call's override
    assert defaults["no_repeat_ngram_size"] == [3]
    assert defaults["seed"] == [5]
    np.testing.assert_allclose(
        [defaults["temperature"][0], defaults["top_p"][0], defaults["min_p"][0]],
        [0.7, 0.9, 0.05],
        rtol=1e-6,
    )
    assert card["generation_defaults"]["max_new_tokens"] == 20
    # A setting the served loop doesn't run, given by the caller, is refused.
    with pytest.raises(ValueError, match="num_beams=3"):
        export_saved_model(model_dir, str(tmp_path / "e" / "m" / "2"), num_beams=3)


def test_gpt2_tokenizer_exports_and_treats_markup_as_text(
    runtime_exports, tokenizer_model_dirs
):
    """A GPT-2 BPE model directory (an imported GPT-2) exports, its lookup
    tables tracked, and the in-graph tokenizer reads "<|endoftext|>" in a
    text as text, as the host's. (The export is the TF Serving tests'.)"""
    model_dir = tokenizer_model_dirs["gpt2_bpe"]
    out = runtime_exports[("gpt2_bpe", False)]
    loaded = tf.saved_model.load(str(out))
    texts = ["foo<|endoftext|>bar", "a b"]
    scored = loaded.signatures["score"](text=tf.constant(texts))
    _, tokenizer, _ = keras_nlg.load(model_dir)
    expected = [len(tokenizer.tokenize(text).numpy()) for text in texts]
    assert scored["num_tokens"].numpy().tolist() == expected
    assert tokenizer.end_of_text_id not in tokenizer.tokenize(texts[0]).numpy()
