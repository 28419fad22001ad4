"""Nothing is lost when a run is killed: `kill -9` at chosen instants of
`train` (a backup write, the final save, the commit over a finished model),
then the guarantees: the old complete model or the new one, never a mix; a
re-run resumes from the last good backup; a NaN run leaves nothing to resume.

The kills are real (SIGKILL in a child process), placed by hooks, not by
timing: the child wraps one of our functions so that it kills itself there.
"""

import json
import logging
import os
import shutil
import sys
import textwrap

import numpy as np
import pytest

import keras_nlg
from keras_nlg import files
from keras_nlg.training import train
from tests.conftest import TINY_TRAIN, make_corpus

SETTINGS = dict(TINY_TRAIN, steps=6, steps_per_epoch=3)  # two epochs

# Each hook replaces a function in the child and kills the process there.
HOOKS = {
    # The second epoch's backup: half its weights file written, then killed.
    "backup_write": """
        import keras_nlg.training.checkpoints as backup
        original = backup.write_file_atomically
        calls = []
        def hooked(path, write):
            calls.append(path)
            if len(calls) == 2:
                directory, name = os.path.split(path)
                partial = os.path.join(directory, ".partial." + name)
                write(partial)
                os.truncate(partial, os.path.getsize(partial) // 2)
                os.kill(os.getpid(), signal.SIGKILL)
            return original(path, write)
        backup.write_file_atomically = hooked
    """,
    # The final save: every file staged, killed before the commit.
    "before_commit": """
        import keras_nlg.model_directory as model_directory
        def hooked(directory, replaces=()):
            os.kill(os.getpid(), signal.SIGKILL)
        model_directory.commit_staged = hooked
    """,
    # The commit: the first staged file moved into place, then killed.
    "mid_commit": """
        original = os.replace
        def hooked(source, target):
            original(source, target)
            if "/.incoming/" in str(source) and "/.incoming/" not in str(target):
                os.kill(os.getpid(), signal.SIGKILL)
        os.replace = hooked
    """,
}


def run_killed(zygote, hook, out, corpus, seed=0):
    """`train(out, overwrite=True)` in a child that `hook` kills (forked from
    the zygote, `tests/zygote.py`: TensorFlow already imported)."""
    script = (
        "import os, signal\n"
        + textwrap.dedent(HOOKS[hook])
        + textwrap.dedent(
            f"""
        from keras_nlg.training import train
        train({out!r}, data_paths=[{corpus!r}], overwrite=True, seed={seed},
              **{SETTINGS!r})
        raise SystemExit("the hook did not fire")
        """
        )
    )
    completed = zygote.run([sys.executable, "-c", script], timeout=300)
    assert completed.returncode == -9, completed.stderr[-2000:]


def weights(directory):
    return keras_nlg.load(directory).model.get_weights()


def assert_same_weights(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, atol=1e-6)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, zygote):
    """`old`: a finished model (seed 1). `new`: the run every kill test
    repeats (seed 0), killed mid-commit over a copy of `old`; what loads
    afterwards must be the whole new model."""
    root = tmp_path_factory.mktemp("runs")
    corpus = root / "corpus.txt"
    corpus.write_text(make_corpus(), encoding="utf-8")
    old = str(root / "old")
    train(old, data_paths=[str(corpus)], seed=1, **SETTINGS)
    new = str(root / "new")
    shutil.copytree(old, new)
    run_killed(zygote, "mid_commit", new, str(corpus))
    interrupted = os.path.isdir(os.path.join(new, files.STAGING_DIR))
    return {"corpus": str(corpus), "old": old, "new": new, "interrupted": interrupted}


def test_a_kill_mid_commit_leaves_the_new_model_whole(runs):
    assert runs["interrupted"]
    loaded = keras_nlg.load(runs["new"])  # completes the commit
    assert not os.path.exists(os.path.join(runs["new"], files.STAGING_DIR))
    assert loaded.config["training"]["seed"] == 0
    with open(os.path.join(runs["new"], "metrics.json")) as f:
        assert json.load(f)["steps_run"] == 6
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(loaded.model.get_weights(), weights(runs["old"]), strict=True)
    )


def test_a_kill_before_the_commit_keeps_the_old_model_and_resumes(
    runs, tmp_path, zygote
):
    out = str(tmp_path / "model")
    shutil.copytree(runs["old"], out)
    run_killed(zygote, "before_commit", out, runs["corpus"])
    assert_same_weights(weights(out), weights(runs["old"]))  # old, complete
    assert keras_nlg.load(out).config["training"]["seed"] == 1
    # The backup outlived the killed save: the re-run trains nothing more.
    result = train(out, data_paths=[runs["corpus"]], overwrite=True, **SETTINGS)
    assert result.metrics["resumed_from_epoch"] == 2
    assert result.metrics["steps_this_run"] == 0
    assert result.metrics["steps_run"] == 6
    assert "loss" in result.metrics
    assert_same_weights(weights(out), weights(runs["new"]))
    assert not os.path.exists(os.path.join(out, "checkpoints", "backup"))


def test_a_kill_during_a_backup_write_resumes_from_the_previous_one(
    runs, tmp_path, zygote
):
    out = str(tmp_path / "model")
    run_killed(zygote, "backup_write", out, runs["corpus"])
    backup = os.path.join(out, "checkpoints", "backup")
    with open(os.path.join(backup, "training_metadata.json")) as f:
        assert json.load(f)["epoch"] == 1  # the first epoch's backup, whole
    result = train(out, data_paths=[runs["corpus"]], **SETTINGS)
    assert result.metrics["resumed_from_epoch"] == 1
    assert result.metrics["steps_this_run"] == 3
    assert result.metrics["steps_run"] == 6  # was 3: only the resumed half
    assert int(result.model.optimizer.iterations) == 6  # epoch 1's state + 3
    assert not os.path.exists(backup)


def test_an_unreadable_backup_is_set_aside_with_a_warning(runs, tmp_path, caplog):
    out = tmp_path / "model"
    backup = out / "checkpoints" / "backup"
    backup.mkdir(parents=True)
    (backup / "latest.weights.h5").write_bytes(b"")  # Keras' own name, empty
    (backup / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    with caplog.at_level(logging.WARNING, logger="keras_nlg.training.checkpoints"):
        result = train(str(out), data_paths=[runs["corpus"]], **SETTINGS)
    assert result.metrics["resumed_from_epoch"] == 0
    (aside,) = [p for p in os.listdir(out / "checkpoints") if "unreadable" in p]
    assert os.path.exists(out / "checkpoints" / aside / "latest.weights.h5")
    assert "latest.weights.h5" in caplog.text and aside in caplog.text
    assert_same_weights(weights(str(out)), weights(runs["new"]))


def test_a_finished_model_is_not_replaced_without_overwrite(runs):
    before = os.path.getmtime(os.path.join(runs["old"], "model.keras"))
    with pytest.raises(ValueError, match="finished model.*overwrite=True"):
        train(runs["old"], data_paths=[runs["corpus"]], **SETTINGS)
    assert os.path.getmtime(os.path.join(runs["old"], "model.keras")) == before


def test_a_diverged_run_leaves_nothing_to_resume(runs, tmp_path):
    out = tmp_path / "model"
    with pytest.raises(FloatingPointError, match="lower learning_rate"):
        train(
            str(out),
            data_paths=[runs["corpus"]],
            **{**SETTINGS, "learning_rate": 1e30},
        )
    assert not os.path.exists(out / "checkpoints" / "backup")
    assert not os.path.exists(out / "model.keras")


def test_write_file_atomically_keeps_the_old_file_when_the_write_fails(tmp_path):
    path = tmp_path / "a.json"
    files.write_json_file(path, {"v": 1})

    def failing(temporary):
        with open(temporary, "w") as f:
            f.write("{half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        files.write_file_atomically(path, failing)
    assert files.read_json_file(path) == {"v": 1}
    assert os.listdir(tmp_path) == ["a.json"]


def test_a_staged_set_without_its_manifest_is_never_committed(tmp_path):
    (tmp_path / "a.txt").write_text("old a")
    staging = files.staging_directory(str(tmp_path))
    (tmp_path / files.STAGING_DIR / "a.txt").write_text("new a")
    assert staging.endswith(files.STAGING_DIR)
    # Killed here, before `commit_staged`: the old set stays.
    assert not files.finish_interrupted_commit(str(tmp_path))
    assert (tmp_path / "a.txt").read_text() == "old a"
    # The next write clears the abandoned set; a commit replaces and removes.
    files.staging_directory(str(tmp_path))
    (tmp_path / files.STAGING_DIR / "b.txt").write_text("new b")
    files.commit_staged(str(tmp_path), replaces=("a.txt", "b.txt"))
    assert sorted(os.listdir(tmp_path)) == ["b.txt"]


def test_a_crafted_manifest_moves_and_deletes_nothing_outside(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    directory = tmp_path / "downloaded"
    (directory / files.STAGING_DIR).mkdir(parents=True)
    manifest = {"files": ["../victim.txt"], "remove": [str(victim), "../victim.txt"]}
    files.write_json_file(directory / files.STAGING_DIR / ".manifest.json", manifest)
    assert files.finish_interrupted_commit(str(directory))
    assert victim.read_text() == "keep me"
