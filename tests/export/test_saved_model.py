"""The TF Serving SavedModel against the library it came from."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import keras_nlg
from keras_nlg.export import export_saved_model
from keras_nlg.training import train
from tests.conftest import make_corpus

PROMPTS = ["ROMEO:", "", "KING:\nto be or not to be", "月光"]
SETTINGS = {
    "max_new_tokens": ([12], tf.int32),
    "temperature": ([0.0], tf.float32),
    "top_k": ([0], tf.int32),
    "top_p": ([1.0], tf.float32),
    "seed": ([0], tf.int32),
}


def settings(**overrides):
    values = {name: value for name, (value, _) in SETTINGS.items()}
    values.update(overrides)
    return {name: tf.constant(values[name], SETTINGS[name][1]) for name in values}


@pytest.fixture(scope="session")
def serving_model_dir(tmp_path_factory):
    """A tiny Transformer, a few steps trained: varied but deterministic tokens."""
    root = tmp_path_factory.mktemp("serving")
    corpus = root / "corpus.txt"
    corpus.write_text(make_corpus(num_lines=300), encoding="utf-8")
    out = root / "model"
    train(
        str(out),
        data_paths=[str(corpus)],
        preset="tiny",
        batch_size=8,
        sequence_length=64,
        model_overrides={"max_length": 64},
        steps=20,
        steps_per_epoch=20,
        verbose=0,
    )
    return str(out)


@pytest.fixture(scope="session")
def saved_model_dir(serving_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "tiny" / "1"
    export_saved_model(
        serving_model_dir, str(out), max_batch_size=8, warmup_prompt_lengths=(8,)
    )
    return str(out)


@pytest.fixture(scope="module")
def loaded(saved_model_dir):
    return tf.saved_model.load(saved_model_dir)


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


def test_refuses_to_overwrite_a_version_or_a_non_version_dir(
    serving_model_dir, saved_model_dir, tmp_path
):
    with pytest.raises(ValueError, match="already holds a version"):
        export_saved_model(serving_model_dir, saved_model_dir)
    with pytest.raises(ValueError, match="integer version"):
        export_saved_model(serving_model_dir, str(tmp_path / "tiny" / "latest"))


def test_greedy_text_equals_generate(loaded, serving_model_dir):
    out = loaded.signatures["serving_default"](
        prompt=tf.constant(PROMPTS), **settings()
    )
    texts = [t.decode() for t in out["text"].numpy()]
    model, tokenizer, _ = keras_nlg.load(serving_model_dir)
    details = keras_nlg.generate(
        model, tokenizer, PROMPTS, max_new_tokens=12, return_details=True
    )
    assert texts == [d.text for d in details]
    # Generated tokens, end-of-text included when it came.
    expected = [len(d.token_ids) + (len(d.token_ids) < 12) for d in details]
    np.testing.assert_array_equal(out["num_generated_tokens"].numpy(), expected)


def test_per_row_settings_and_rows_independent_of_batch(loaded):
    serve = loaded.signatures["serving_default"]
    rows = settings(
        max_new_tokens=[3, 12, 7, 12],
        temperature=[0.0, 1.0, 0.9, 1.3],
        top_k=[0, 0, 5, 0],
        top_p=[1.0, 0.9, 1.0, 1.0],
        seed=[0, 11, 12, 13],
    )
    batch = serve(prompt=tf.constant(PROMPTS), **rows)
    assert batch["num_generated_tokens"].numpy()[0] <= 3
    for i in (1, 3):
        alone = serve(
            prompt=tf.constant([PROMPTS[i]]),
            **{name: value[i : i + 1] for name, value in rows.items()},
        )
        assert alone["text"].numpy()[0] == batch["text"].numpy()[i]
    again = serve(prompt=tf.constant(PROMPTS), **rows)
    np.testing.assert_array_equal(again["text"].numpy(), batch["text"].numpy())
    other_seed = serve(
        prompt=tf.constant(PROMPTS), **{**rows, "seed": tf.constant([99])}
    )
    assert list(other_seed["text"].numpy()) != list(batch["text"].numpy())


def test_generate_ids_and_score(loaded, serving_model_dir):
    model, tokenizer, _ = keras_nlg.load(serving_model_dir)
    prompt = np.asarray(tokenizer.tokenize("ROMEO:"), np.int32)
    token_ids = np.zeros([2, len(prompt)], np.int32)
    token_ids[0] = prompt
    token_ids[1, :3] = prompt[:3]
    out = loaded.signatures["generate_ids"](
        token_ids=tf.constant(token_ids),
        prompt_length=tf.constant([len(prompt), 3]),
        **settings(),
    )
    details = keras_nlg.generate(
        model, tokenizer, ["ROMEO:", "ROM"], max_new_tokens=12, return_details=True
    )
    for row, d in enumerate(details):
        count = out["num_generated_tokens"].numpy()[row]
        assert out["token_ids"].numpy()[row, : len(d.token_ids)].tolist() == d.token_ids
        assert count >= len(d.token_ids)

    texts = ["to be or not", "月光 night"]
    scored = loaded.signatures["score"](text=tf.constant(texts))
    for row, text in enumerate(texts):
        ids = [tokenizer.end_of_text_id] + np.asarray(tokenizer.tokenize(text)).tolist()
        logits = np.asarray(model(np.array([ids], np.int32)), np.float64)[0, :-1]
        log_probs = (
            logits
            - np.log(
                np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)
            )
            - logits.max(-1, keepdims=True)
        )
        expected = log_probs[np.arange(len(ids) - 1), ids[1:]].sum()
        assert scored["num_tokens"].numpy()[row] == len(ids) - 1
        np.testing.assert_allclose(
            scored["log_likelihood"].numpy()[row], expected, rtol=1e-4
        )


@pytest.mark.parametrize(
    "prompts, overrides, match",
    [
        ([], {}, "at least one row"),
        (["a"] * 9, {}, "max_batch_size=8"),
        (["a" * ((1 << 20) + 1)], {}, "at most 1048576 bytes"),
        ([b"\xff\xfe"], {}, "valid UTF-8"),
        (["a"], {"max_new_tokens": [0]}, "max_new_tokens"),
        (["a"], {"max_new_tokens": [64]}, r"max_new_tokens. must be in \[1, 63\]"),
        (["a"], {"top_p": [1.5]}, "top_p"),
        (["a"], {"top_p": [0.0]}, "top_p"),
        (["a"], {"temperature": [-1.0]}, "temperature"),
        (["a"], {"top_k": [-1]}, "top_k"),
        (["a", "b"], {"seed": [1, 2, 3]}, "1 value or one per row"),
    ],
)
def test_bad_inputs_fail_with_the_input_named(loaded, prompts, overrides, match):
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        loaded.signatures["serving_default"](
            prompt=tf.constant(prompts, tf.string), **settings(**overrides)
        )


def test_fresh_process_and_saved_model_cli(saved_model_dir):
    """Loads with plain TensorFlow (no keras_nlg import) in a new process."""
    script = (
        "import sys, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "s = m.signatures\n"
        "kw = dict(max_new_tokens=tf.constant([4]), temperature=tf.constant([0.0]),"
        " top_k=tf.constant([0]), top_p=tf.constant([1.0]), seed=tf.constant([0]))\n"
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
