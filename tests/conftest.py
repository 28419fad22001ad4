"""Shared fixtures: tiny corpora and one tiny trained model directory, offline."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The tests' models are tiny, so XLA's compile time, not run time, is what
# they spend: compiling without LLVM's optimisations cut a generation test
# file's CPU time by a quarter (2 cores, 2026-11-30). Set before TensorFlow
# loads; the CLI and notebook tests' child processes inherit it. Users and
# `benchmarks/` keep XLA's defaults.
os.environ.setdefault(
    "XLA_FLAGS",
    "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true",
)

# `keras-nlg serve` keeps XLA executables under $XDG_CACHE_HOME by default;
# the tests' (compiled with the flags above) must never land in the user's.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="keras-nlg-tests-cache-")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras_nlg.models  # noqa: E402, F401  (registers our classes with Keras)

TINY_TRAIN = dict(
    preset="tiny",
    batch_size=4,
    sequence_length=32,
    steps=6,
    steps_per_epoch=3,
    verbose=0,
)


def make_corpus(num_lines=400, seed=0):
    """Deterministic pseudo-text with enough structure to learn a little."""
    rng = np.random.default_rng(seed)
    words = ["to", "be", "or", "not", "the", "king", "queen", "love", "night", "day"]
    lines = []
    for i in range(num_lines):
        speaker = ["ROMEO", "JULIET", "KING"][i % 3]
        lines.append(f"{speaker}:\n" + " ".join(rng.choice(words, size=8)) + ".\n")
    return "\n".join(lines)


def pytest_configure(config):
    """Starts building the TF Serving side environment in the background when
    this session will run its tests (see
    `tests/export/saved_model/side_environment.py`): minutes of download that
    then overlap the other tests. Once per session (the controller, not
    each xdist worker); a failed background build is retried, and reported,
    by the test's own call."""
    if hasattr(config, "workerinput"):
        return
    from tests.export.saved_model.side_environment import TEST_FILE

    chosen = [str(arg).split("::")[0] for arg in config.args] or ["tests"]
    root = str(config.rootpath)
    if not any(
        TEST_FILE.startswith(os.path.join(root, arg).rstrip(os.sep)) for arg in chosen
    ):
        return
    import subprocess
    import sys

    subprocess.Popen(
        [sys.executable, "-m", "tests.export.saved_model.side_environment"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def pytest_collection_modifyitems(items):
    """The notebooks first: the longest file (about a fifth of the suite's
    time) starts at once on one worker instead of lengthening the tail."""
    items.sort(key=lambda item: "test_notebooks.py" not in item.nodeid)


@pytest.fixture
def corpus_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(make_corpus(), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory):
    """A tiny Transformer trained for a few steps, shared by read-only tests."""
    from keras_nlg.training import train

    root = tmp_path_factory.mktemp("trained")
    corpus = root / "corpus.txt"
    corpus.write_text(make_corpus(), encoding="utf-8")
    out = root / "model"
    train(str(out), data_paths=[str(corpus)], **TINY_TRAIN)
    return str(out)


@pytest.fixture(scope="session")
def serving_model_dir(tmp_path_factory):
    """A tiny Transformer, a few steps trained: varied but deterministic tokens."""
    root = tmp_path_factory.mktemp("serving")
    corpus = root / "corpus.txt"
    corpus.write_text(make_corpus(num_lines=300), encoding="utf-8")
    out = root / "model"
    from keras_nlg.training import train

    train(
        str(out),
        data_paths=[str(corpus)],
        preset="tiny",
        batch_size=8,
        sequence_length=64,
        model_overrides={"context_length": 64},
        steps=20,
        steps_per_epoch=20,
        verbose=0,
    )
    return str(out)


@pytest.fixture(scope="session")
def saved_model_dir(serving_model_dir, tmp_path_factory):
    from keras_nlg.export import export_saved_model

    out = tmp_path_factory.mktemp("export") / "tiny" / "1"
    export_saved_model(
        serving_model_dir, str(out), max_batch_size=8, warmup_prompt_lengths=(8,)
    )
    return str(out)
