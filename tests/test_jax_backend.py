"""keras_nlg on Keras' JAX backend, checked from the TensorFlow test session.

Each check runs in a subprocess with `KERAS_BACKEND=jax` (a process picks
its backend once) and compares with TensorFlow here:

- the layer harness and the model tests pass under JAX;
- the same weights generate the same tokens on both backends: greedy ones,
  and sampled ones (top-k, top-p, min-p, temperature, repetition penalty;
  the two loops share the counter-based noise, see
  `keras_nlg/generation/portable.py`);
- a model directory trained under one backend loads and generates under the
  other;
- layers, models, a NumPy `fit` and generation from token ids run in a
  virtualenv with keras and jax and no TensorFlow.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_nlg
from keras_nlg.generation import generate_token_ids
from keras_nlg.models import build_model
from keras_nlg.tokenizers import ByteTokenizer

ROOT = os.path.dirname(os.path.dirname(__file__))
TIMEOUT = 600
pytestmark = pytest.mark.slow

# Prompts of different lengths (left padding) and an empty one.
PROMPTS = [[72, 101, 108, 108, 111], [], [84, 111, 32, 98, 101, 32, 111, 114, 32]]
SETTINGS = [
    dict(max_new_tokens=12),
    dict(max_new_tokens=12, do_sample=True, seed=5),
    dict(max_new_tokens=12, do_sample=True, seed=6, top_k=20, top_p=0.9),
    dict(max_new_tokens=12, do_sample=True, seed=7, temperature=0.7, min_p=0.05),
    dict(max_new_tokens=12, repetition_penalty=1.5),
    dict(
        max_new_tokens=12,
        do_sample=True,
        seed=8,
        top_k=5,
        repetition_penalty=1.3,
        num_return_sequences=2,
        min_new_tokens=4,
    ),
]


def run_under_jax(script, *arguments):
    environment = dict(os.environ, KERAS_BACKEND="jax")
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *arguments],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=ROOT,
        env=environment,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_layer_and_model_tests_pass_under_jax():
    # The layers (harness, cache = full pass, NumPy references) and the
    # model contract (the discriminators train with the TF-only adversarial
    # trainer). The Transformer's and the LSTM's own cached decoding
    # is checked under JAX by the token-equality test below, which is
    # cheaper than rerunning their test files (2 min on the CI machine).
    tests = [
        "tests/layers",
        "tests/models/test_language_model.py",
    ]
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider"]
        + tests,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=ROOT,
        env=dict(os.environ, KERAS_BACKEND="jax"),
    )
    assert completed.returncode == 0, completed.stdout[-4000:]
    assert " passed" in completed.stdout.strip().splitlines()[-1]


GENERATE_UNDER_JAX = """
import json, sys
import keras, keras_nlg, keras_nlg.models
from keras_nlg.generation import generate_stream, generate_token_ids
from keras_nlg.tokenizers import ByteTokenizer
assert keras.backend.backend() == "jax"
paths, prompts, settings = (json.loads(argument) for argument in sys.argv[1:4])
out = {}
for arch, path in paths.items():
    model = keras.saving.load_model(path)
    out[arch] = [
        generate_token_ids(model, prompts, end_of_text_id=256, **s) for s in settings
    ]
# What only TensorFlow offers is refused, naming the setting or the backend.
refusals = []
for call in (
    lambda: generate_token_ids(
        model, prompts, end_of_text_id=256, max_new_tokens=8, no_repeat_ngram_size=2),
    lambda: list(generate_stream(model, ByteTokenizer(), "Hi", max_new_tokens=4)),
    lambda: keras_nlg.generate(
        model, ByteTokenizer(), "Hi", max_new_tokens=8, num_beams=2),
):
    try:
        call()
        refusals.append(None)
    except ValueError as error:
        refusals.append(str(error))
print(json.dumps({"generated": out, "refusals": refusals}))
"""


def test_the_same_weights_give_the_same_tokens_on_both_backends(tmp_path):
    paths, on_tensorflow = {}, {}
    for arch in ("transformer", "lstm"):  # one JAX process for both
        keras.utils.set_random_seed(11)
        model = build_model(arch, "tiny", ByteTokenizer().vocabulary_size)
        paths[arch] = str(tmp_path / f"{arch}.keras")
        model.save(paths[arch])
        on_tensorflow[arch] = [
            generate_token_ids(model, PROMPTS, end_of_text_id=256, **s)
            for s in SETTINGS
        ]
        # A random model's tokens vary: the comparison has something to catch.
        assert len({t for ids in on_tensorflow[arch][1][0] for t in ids}) > 5
    on_jax = run_under_jax(
        GENERATE_UNDER_JAX, json.dumps(paths), json.dumps(PROMPTS), json.dumps(SETTINGS)
    )
    # Three prompts: a batch bucket of four, one filler row.
    for arch, generated in on_tensorflow.items():
        for (ids, log_probs), (jax_ids, jax_log_probs) in zip(
            generated, on_jax["generated"][arch], strict=True
        ):
            assert jax_ids == ids, arch
            for ours, theirs in zip(log_probs, jax_log_probs, strict=True):
                np.testing.assert_allclose(theirs, ours, atol=1e-4, err_msg=arch)
    ngram, stream, beams = on_jax["refusals"]
    assert "no_repeat_ngram_size=2" in ngram
    assert "KERAS_BACKEND='jax'" in stream
    assert "num_beams=2" in beams


TRAIN_AND_LOAD_UNDER_JAX = """
import json, sys
import keras, keras_nlg, keras_nlg.models
from keras_nlg.training import finetune, train, train_e2e
from tests.data.e2e_files import write_e2e_csv
assert keras.backend.backend() == "jax"
out, corpus, tensorflow_dir = sys.argv[1:4]
result = train(out, data_paths=[corpus], preset="tiny", batch_size=4,
               sequence_length=32, steps=4, steps_per_epoch=2, verbose=0)
# LoRA fine-tuning of that directory, and the E2E recipe, on JAX too.
tuned = finetune(out, [corpus], out + "-lora", lora_rank=2, steps=2, batch_size=2,
                 sequence_length=32, verbose=0)
csv = write_e2e_csv(out + "-e2e.csv")
e2e = train_e2e(out + "-e2e", train_csv=csv, validation_csv=csv, tokenizer="byte",
                preset="tiny", steps=4, steps_per_epoch=2, batch_size=2, verbose=0)
texts = {}
for name, directory in (("jax", out), ("tensorflow", tensorflow_dir)):
    loaded = keras_nlg.load(directory)
    texts[name] = keras_nlg.generate(
        loaded.model, loaded.tokenizer, ["ROMEO:", "To be", "JULIET:"],
        max_new_tokens=24, do_sample=True, top_k=10, seed=3)
losses = {"train": result.history["loss"], "lora": tuned.history["loss"],
          "e2e": e2e.history["loss"]}
print(json.dumps({"texts": texts, "losses": losses}))
"""


def test_model_directories_cross_backends(tmp_path, corpus_file, trained_model_dir):
    jax_dir = str(tmp_path / "trained-on-jax")
    result = run_under_jax(
        TRAIN_AND_LOAD_UNDER_JAX, jax_dir, corpus_file, trained_model_dir
    )
    assert result["losses"]["train"][-1] < result["losses"]["train"][0]
    assert result["losses"]["e2e"][-1] < result["losses"]["e2e"][0]
    assert np.isfinite(result["losses"]["lora"]).all()
    lora = keras_nlg.load(jax_dir + "-lora")
    assert lora.config["lora"]["rank"] == 2
    assert keras_nlg.load(jax_dir + "-e2e").config["task"]["name"] == "e2e"
    for name, directory in (("jax", jax_dir), ("tensorflow", trained_model_dir)):
        loaded = keras_nlg.load(directory)
        here = keras_nlg.generate(
            loaded.model,
            loaded.tokenizer,
            ["ROMEO:", "To be", "JULIET:"],  # and a filler row
            max_new_tokens=24,
            do_sample=True,
            top_k=10,
            seed=3,
        )
        assert result["texts"][name] == here, name


NO_TENSORFLOW = """
import importlib.util, json, sys
assert importlib.util.find_spec("tensorflow") is None
import numpy as np, keras
import keras_nlg.layers, keras_nlg.models
from keras_nlg.generation import generate_token_ids
from keras_nlg.models import build_model
keras.utils.set_random_seed(0)
pattern = np.tile(np.arange(8, dtype="int32"), 8)
x = np.stack([pattern[i:i + 16] for i in range(16)])
y = np.stack([pattern[i + 1:i + 17] for i in range(16)])
out = {}
for arch in ("transformer", "lstm"):
    model = build_model(arch, "tiny", 64)
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, epochs=30, batch_size=8, verbose=0)
    ids, _ = generate_token_ids(model, [[0, 1, 2]], max_new_tokens=8, end_of_text_id=63)
    out[arch] = {"loss": history.history["loss"], "ids": ids[0]}
assert "tensorflow" not in sys.modules
print(json.dumps(out))
"""


def test_layers_models_and_generation_without_tensorflow(tmp_path):
    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")
    for command in (
        [sys.executable, "-m", "venv", str(venv)],
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "keras>=3.15.1,<3.16",
            "jax[cpu]>=0.10,<0.11",
        ],
        [python, "-m", "pip", "install", "-q", "--no-deps", ROOT],
    ):
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
    completed = subprocess.run(
        [python, "-c", NO_TENSORFLOW],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,  # not the checkout: the installed package
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    for arch in ("transformer", "lstm"):
        assert result[arch]["loss"][-1] < 0.1 * result[arch]["loss"][0], arch
        # It learned the cycle 0 … 7: after 0, 1, 2 come 3 … 7, 0, 1, 2.
        assert result[arch]["ids"] == [3, 4, 5, 6, 7, 0, 1, 2], arch


def test_generate_names_what_only_tensorflow_offers():
    """On TensorFlow these settings run; the JAX loop refuses them clearly
    (checked here through its refusal, which needs no JAX run)."""
    from keras_nlg.generation.portable import sample_rows

    model = build_model("transformer", "tiny", 258)
    config = keras_nlg.generation.GenerationConfig(num_beams=2)
    with pytest.raises(ValueError, match="num_beams=2"):
        sample_rows(model, config, np.zeros((1, 8), np.int32), None, 0, 1, 256, 0)


@pytest.mark.parametrize("export_format", ["saved_model"])  # tflite: same check
def test_exports_refuse_the_jax_backend_in_one_line(
    tmp_path, trained_model_dir, export_format
):
    out = tmp_path / "export"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_nlg.cli",
            "export",
            "--model",
            trained_model_dir,
            "--format",
            export_format,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=ROOT,
        env=dict(os.environ, KERAS_BACKEND="jax"),
    )
    assert completed.returncode == 2
    errors = [line for line in completed.stderr.splitlines() if "keras-nlg" in line]
    assert len(errors) == 1 and "KERAS_BACKEND='jax'" in errors[0], completed.stderr
    assert "Traceback" not in completed.stderr
    assert not out.exists()
