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
from tests.conftest import make_corpus

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
    assert completed.returncode == 0, (completed.stdout + completed.stderr)[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


# One JAX process for the token-equality and the model-directory checks,
# then the layer and model tests (each JAX start with keras_nlg costs ~25 s
# of CI on 2 cores).
UNDER_JAX = """
import json, sys
import keras, keras_nlg, keras_nlg.models
from keras_nlg.generation import generate_stream, generate_token_ids
from keras_nlg.tokenizers import ByteTokenizer
from keras_nlg.training import finetune, train, train_e2e
from tests.data.e2e_files import write_e2e_csv
assert keras.backend.backend() == "jax"
spec = json.loads(sys.argv[1])

# The same weights, the same tokens: both architectures.
out = {}
for arch, path in spec["paths"].items():
    model = keras.saving.load_model(path)
    out[arch] = [
        generate_token_ids(model, spec["prompts"], end_of_text_id=256, **s)
        for s in spec["settings"]
    ]
# What only TensorFlow offers is refused, naming the setting or the backend.
refusals = []
for call in (
    lambda: generate_token_ids(model, spec["prompts"], end_of_text_id=256,
                               max_new_tokens=8, no_repeat_ngram_size=2),
    lambda: list(generate_stream(model, ByteTokenizer(), "Hi", max_new_tokens=4)),
    lambda: keras_nlg.generate(
        model, ByteTokenizer(), "Hi", max_new_tokens=8, num_beams=2),
):
    try:
        call()
        refusals.append(None)
    except ValueError as error:
        refusals.append(str(error))

# Model directories: trained here, and the TensorFlow one, both generate.
jax_dir, corpus = spec["jax_dir"], spec["corpus"]
result = train(jax_dir, data_paths=[corpus], preset="tiny", batch_size=4,
               sequence_length=32, steps=4, steps_per_epoch=2, verbose=0)
# LoRA fine-tuning of that directory, and the E2E recipe, on JAX too.
tuned = finetune(jax_dir, [corpus], jax_dir + "-lora", lora_rank=2, steps=2,
                 batch_size=2, sequence_length=32, verbose=0)
csv = write_e2e_csv(jax_dir + "-e2e.csv")
e2e = train_e2e(jax_dir + "-e2e", train_csv=csv, validation_csv=csv,
                tokenizer="byte", preset="tiny", steps=4, steps_per_epoch=2,
                batch_size=2, verbose=0)
texts = {}
for name, directory in (("jax", jax_dir), ("tensorflow", spec["tensorflow_dir"])):
    loaded = keras_nlg.load(directory)
    texts[name] = keras_nlg.generate(
        loaded.model, loaded.tokenizer, ["ROMEO:", "To be", "JULIET:"],
        max_new_tokens=24, do_sample=True, top_k=10, seed=3)
losses = {"train": result.history["loss"], "lora": tuned.history["loss"],
          "e2e": e2e.history["loss"]}

# Last (its tests set seeds and build models of their own): the layers
# (harness, cache = full pass, NumPy references) and the model contract.
# The Transformer's and the LSTM's own cached decoding is checked under JAX
# by the token equality above, cheaper than rerunning their test files.
import pytest


class Reports:
    def __init__(self):
        self.collected = self.passed = self.skipped = 0
        self.failed = []

    def pytest_collection_finish(self, session):
        self.collected = len(session.items)

    def record_failure(self, report):
        self.failed.append(report.nodeid + "\\n" + report.longreprtext[-1500:])

    def pytest_collectreport(self, report):
        if report.failed:
            self.record_failure(report)

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.record_failure(report)
        elif report.passed and report.when == "call":
            self.passed += 1
        elif report.skipped:
            self.skipped += 1


reports = Reports()
exit_code = pytest.main(["-n", "0", "-q", "-p", "no:cacheprovider", "tests/layers",
             "tests/models/test_language_model.py"], plugins=[reports])
print(json.dumps({"generated": out, "refusals": refusals, "texts": texts,
                  "losses": losses, "collected": reports.collected,
                  "passed": reports.passed, "skipped": reports.skipped,
                  "failed": reports.failed, "exit_code": int(exit_code)}))
"""


@pytest.fixture(scope="module")
def under_jax(tmp_path_factory, trained_model_dir):
    """The TensorFlow side's tokens, and what the one JAX process reported."""
    root = tmp_path_factory.mktemp("jax")
    paths, on_tensorflow = {}, {}
    for arch in ("transformer", "lstm"):
        keras.utils.set_random_seed(11)
        model = build_model(arch, "tiny", ByteTokenizer().vocabulary_size)
        paths[arch] = str(root / f"{arch}.keras")
        model.save(paths[arch])
        on_tensorflow[arch] = [
            generate_token_ids(model, PROMPTS, end_of_text_id=256, **s)
            for s in SETTINGS
        ]
    corpus = root / "corpus.txt"
    corpus.write_text(make_corpus(), encoding="utf-8")
    spec = dict(
        paths=paths,
        prompts=PROMPTS,
        settings=SETTINGS,
        jax_dir=str(root / "trained-on-jax"),
        corpus=str(corpus),
        tensorflow_dir=trained_model_dir,
    )
    return on_tensorflow, spec, run_under_jax(UNDER_JAX, json.dumps(spec))


def test_layer_and_model_tests_pass_under_jax(under_jax):
    _, _, on_jax = under_jax
    assert on_jax["failed"] == []
    assert on_jax["exit_code"] == 0
    assert on_jax["collected"] > 30 and on_jax["passed"] > 30
    assert on_jax["passed"] + on_jax["skipped"] == on_jax["collected"]


def test_the_same_weights_give_the_same_tokens_on_both_backends(under_jax):
    on_tensorflow, _, on_jax = under_jax
    for arch in on_tensorflow:
        # A random model's tokens vary: the comparison has something to catch.
        assert len({t for ids in on_tensorflow[arch][1][0] for t in ids}) > 5
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


def test_model_directories_cross_backends(under_jax):
    _, spec, result = under_jax
    jax_dir = spec["jax_dir"]
    assert result["losses"]["train"][-1] < result["losses"]["train"][0]
    assert result["losses"]["e2e"][-1] < result["losses"]["e2e"][0]
    assert np.isfinite(result["losses"]["lora"]).all()
    lora = keras_nlg.load(jax_dir + "-lora")
    assert lora.config["lora"]["rank"] == 2
    assert keras_nlg.load(jax_dir + "-e2e").config["task"]["name"] == "e2e"
    for name, directory in (("jax", jax_dir), ("tensorflow", spec["tensorflow_dir"])):
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


def link_distributions(names, site_packages):
    """Links the installed distributions `names` and everything they require
    (extras left out) into `site_packages`: a virtualenv holding exactly
    what `pip install NAMES` would, from this one's files, in a second
    instead of a minute of pip (each distribution's RECORD says its files)."""
    from importlib import metadata

    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    environment = dict(default_environment(), extra="")
    done, pending = set(), list(names)
    while pending:
        name = canonicalize_name(pending.pop())
        if name in done:
            continue
        done.add(name)
        distribution = metadata.distribution(name)
        for line in distribution.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                pending.append(requirement.name)
        tops = {path.parts[0] for path in distribution.files} - {".."}
        for top in tops:
            target = site_packages / top
            if not target.exists():
                target.symlink_to(distribution.locate_file(top))
    return done


def test_layers_models_and_generation_without_tensorflow(tmp_path):
    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")
    completed = subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (site_packages,) = venv.glob("lib/python*/site-packages")
    linked = link_distributions(["keras", "jax"], site_packages)
    assert "tensorflow" not in linked and "jaxlib" in linked, linked
    # keras_nlg itself, as the package folder (its dependencies left out).
    (site_packages / "keras_nlg").symlink_to(os.path.join(ROOT, "keras_nlg"))
    completed = subprocess.run(
        [python, "-c", NO_TENSORFLOW],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,  # not the checkout: the linked package
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
