"""Shared fixtures: tiny corpora and one tiny trained model directory, offline."""

import fcntl
import json
import os
import shutil
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


# The longest test files, longest first (seconds on the 2-core AMD EPYC
# sandbox, 2026-12-02). `setup.cfg` turns off xdist's reordering by test
# count, so files go to the workers in this order: the long ones start at
# once instead of lengthening the tail (longest-processing-time-first).
LONGEST_FIRST = (
    "test_notebooks.py",  # 620
    "test_jax_backend.py",  # 260
    "test_rloo.py",  # 230
    "test_litertlm.py",  # 200
    "test_multi_worker.py",  # 180
    "cli/test_generate.py",  # 140
    "test_jax_distribution.py",  # 125
    "adversarial/test_trainer.py",  # 125
    "test_crash_safety.py",  # 120
)
# Right after them (~200 s): it waits for the TF Serving side environment
# that `pytest_configure` starts building in the background, which the
# long files leave minutes to finish on a machine that lacks it.
AFTER_LONGEST = "test_tf_serving.py"


def pytest_collection_modifyitems(items):
    """Orders the files as LONGEST_FIRST says, then AFTER_LONGEST, then the
    rest in collection order (a stable sort keeps each file's test order)."""

    def rank(item):
        path = item.nodeid.split("::")[0]
        if path.endswith(AFTER_LONGEST):
            return len(LONGEST_FIRST)
        for index, name in enumerate(LONGEST_FIRST):
            if path.endswith(name):
                return index
        return len(LONGEST_FIRST) + 1

    items.sort(key=rank)


@pytest.fixture(scope="session")
def zygote():
    """Forks test jobs from a process with TensorFlow already imported
    (`tests/zygote.py`), one per xdist worker, started on first use."""
    from tests.zygote import Zygote

    forks = Zygote()
    yield forks
    forks.close()


@pytest.fixture
def corpus_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(make_corpus(), encoding="utf-8")
    return str(path)


def built_once(tmp_path_factory, name, build):
    """`build(directory)`'s result (JSON-able), built by the first xdist worker
    that asks and read back by the others: each session fixture of the
    suite would otherwise be trained or exported once per worker.

    Shared through the run's temporary root (the workers' common parent)
    under a file lock; a worker that asks while another builds waits for it.
    A failed build leaves no result, so the next worker to ask builds again.
    The fixtures built so are read-only to the tests that use them.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    directory = root / f"built-once-{name}"
    result_file = root / f"built-once-{name}.json"
    with open(root / f"built-once-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if result_file.exists():
            return json.loads(result_file.read_text())
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
        result = build(directory)
        result_file.write_text(json.dumps(result))
        return result


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory):
    """A tiny Transformer trained for a few steps, shared by read-only tests."""

    def build(root):
        from keras_nlg.training import train

        corpus = root / "corpus.txt"
        corpus.write_text(make_corpus(), encoding="utf-8")
        out = root / "model"
        train(str(out), data_paths=[str(corpus)], **TINY_TRAIN)
        return str(out)

    return built_once(tmp_path_factory, "trained_model_dir", build)


@pytest.fixture(scope="session")
def serving_model_dir(tmp_path_factory):
    """A tiny Transformer, a few steps trained: varied but deterministic tokens."""

    def build(root):
        from keras_nlg.training import train

        corpus = root / "corpus.txt"
        corpus.write_text(make_corpus(num_lines=300), encoding="utf-8")
        out = root / "model"
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

    return built_once(tmp_path_factory, "serving_model_dir", build)


@pytest.fixture(scope="session")
def saved_model_dir(serving_model_dir, tmp_path_factory):
    def build(root):
        from keras_nlg.export import export_saved_model

        out = root / "tiny" / "1"
        export_saved_model(
            serving_model_dir, str(out), max_batch_size=8, warmup_prompt_lengths=(8,)
        )
        return str(out)

    return built_once(tmp_path_factory, "saved_model_dir", build)
