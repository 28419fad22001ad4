"""`train(..., strategy=MultiWorkerMirroredStrategy())` with two worker
processes on loopback, against a single-process run of the same global batch.

What these runs prove (and README's "Distributed training" says): the
workers end with identical weights; their loss trajectory and weights match
one process given the same global batch and data order; only the chief
writes the model directory; a lost worker stops the other with a clear
error, and re-running both resumes from the chief's last backup (and
stops, saying why, when a worker can't see that backup).
"""

import glob
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import keras_nlg

JOB = os.path.join(os.path.dirname(__file__), "multi_worker_job.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
SETTINGS = dict(
    preset="tiny",
    batch_size=8,  # global: 4 per worker
    sequence_length=32,
    steps=6,
    steps_per_epoch=2,
    verbose=0,
)
TIMEOUT = 300

pytestmark = pytest.mark.slow


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start(zygote, spec):
    """The job forked from `zygote` (`tests/zygote.py`: TensorFlow already
    imported), or in a new process when it is None (the JAX runs: the
    zygote's Keras is on the TensorFlow backend)."""
    args = [sys.executable, JOB, json.dumps(spec)]
    if zygote is not None:
        return zygote.popen(args, cwd=ROOT)
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )


def finish(process):
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    pid = int(stdout.split("PID ", 1)[1].split()[0]) if "PID " in stdout else None
    return process.returncode, stdout, stderr, pid


def run_workers(zygote, tmp_path, tag, out, settings, **extra):
    """Runs workers 0 and 1 together; returns [(returncode, stdout, stderr, pid)]."""
    ports = free_ports(2)
    processes = [
        start(
            zygote,
            dict(
                ports=ports,
                index=index,
                out=out[index] if isinstance(out, list) else out,
                result=str(tmp_path / f"{tag}-{index}.npz"),
                settings=settings,
                **extra,
            ),
        )
        for index in range(2)
    ]
    return [finish(p) for p in processes]


def run_single(zygote, tmp_path, tag, settings, **extra):
    returncode, _, stderr, _ = finish(
        start(
            zygote,
            dict(
                out=str(tmp_path / f"{tag}-single"),
                result=str(tmp_path / f"{tag}-single.npz"),
                settings=settings,
                **extra,
            ),
        )
    )
    assert returncode == 0, stderr[-3000:]
    return np.load(tmp_path / f"{tag}-single.npz")


def weights(result):
    return {k: result[k] for k in result.files if k.startswith("weight:")}


def relative_distance(a, b):
    difference = np.sqrt(sum(np.sum((a[k] - b[k]) ** 2) for k in a))
    return difference / np.sqrt(sum(np.sum(a[k] ** 2) for k in a))


@pytest.mark.parametrize(
    "arch, weight_tolerance",
    [
        # AdamW's first steps move each weight by about ±lr whatever its
        # gradient's size, so a gradient that is zero in exact arithmetic
        # (the attention key bias: softmax ignores a shift shared by all
        # keys) takes a rounding-noise sign that a different summation
        # order (2 replicas vs 1) can flip: the Transformer's weights agree
        # to ~5e-4 of their norm after 6 steps (the LSTM's, to ~1e-8).
        # The multi-worker code has nothing per architecture, so the LSTM
        # run (75 s of CI on 2 cores) is left out.
        ("transformer", 2e-3),
    ],
)
def test_two_workers_match_one_process(
    zygote, tmp_path, corpus_file, arch, weight_tolerance
):
    settings = dict(SETTINGS, arch=arch, data_paths=[corpus_file])
    chief_dir, other_dir = str(tmp_path / "chief"), str(tmp_path / "other")
    runs = run_workers(
        zygote,
        tmp_path,
        arch,
        [chief_dir, other_dir],
        settings,
        expect_budget_refused=True,
    )
    for returncode, stdout, stderr, _ in runs:
        assert returncode == 0, stderr[-3000:]
        assert "BUDGET REFUSED" in stdout  # a time budget can't be shared
    chief, other = (np.load(tmp_path / f"{arch}-{i}.npz") for i in range(2))
    single = run_single(zygote, tmp_path, arch, settings)
    assert int(chief["replicas"]) == 2 and int(single["replicas"]) == 1

    # (a) both workers end with the very same weights and logs.
    for name, value in weights(chief).items():
        np.testing.assert_array_equal(value, other[name], err_msg=name)
    np.testing.assert_array_equal(chief["losses"], other["losses"])
    # (b) one process, same global batch and order: the same trajectory.
    # The first step's loss (before any update) shows the same data and
    # initial weights; a different batch order moves it by ~3e-3.
    assert len(chief["losses"]) == len(single["losses"]) == SETTINGS["steps"]
    np.testing.assert_allclose(chief["losses"][0], single["losses"][0], rtol=1e-6)
    np.testing.assert_allclose(chief["losses"], single["losses"], rtol=1e-4)
    assert relative_distance(weights(chief), weights(single)) < weight_tolerance
    # (c) the chief wrote a whole model directory; worker 1 wrote nothing.
    assert keras_nlg.load(chief_dir).config["training"]["replicas"] == 2
    assert not os.path.exists(other_dir), os.listdir(other_dir)


def test_a_lost_worker_stops_the_other_and_a_rerun_resumes(
    zygote, tmp_path, corpus_file
):
    # With dropout (keras-team/keras#20611 reports it failing under
    # MirroredStrategy): it runs and the workers stay identical.
    settings = dict(
        SETTINGS, data_paths=[corpus_file], model_overrides={"dropout": 0.1}
    )
    out = str(tmp_path / "shared")  # one directory both workers see
    # Worker 1 dies as epoch 2 begins, once epoch 1's backup is written.
    (chief_code, _, chief_err, chief_pid), (other_code, *_) = run_workers(
        zygote, tmp_path, "killed", out, settings, kill_at_epoch=1
    )
    assert other_code == -9
    assert chief_code == 1
    last_line = chief_err.strip().splitlines()[-1]
    assert last_line.startswith(
        "RuntimeError: Multi-worker training stopped on worker 0: another worker "
        "is gone"
    ), chief_err[-3000:]
    assert "Re-run every worker" in last_line
    with open(
        os.path.join(out, "checkpoints", "backup", "training_metadata.json")
    ) as f:
        assert json.load(f)["epoch"] == 1
    assert not os.path.exists(os.path.join(out, "model.keras"))

    # A worker that can't see the backup (its own empty directory) would
    # start from scratch beside a resumed chief: both stop, saying why.
    lonely = str(tmp_path / "not-shared")
    unshared = run_workers(zygote, tmp_path, "unshared", [out, lonely], settings)
    for returncode, _, stderr, _ in unshared:
        assert returncode == 1
        assert "The workers would resume at different epochs ([1, 0]" in stderr
    assert not os.path.exists(os.path.join(lonely, "model.keras"))

    runs = run_workers(zygote, tmp_path, "rerun", out, settings)
    for returncode, _, stderr, _ in runs:
        assert returncode == 0, stderr[-3000:]
    results = [np.load(tmp_path / f"rerun-{i}.npz") for i in range(2)]
    for result in results:
        assert int(result["resumed_from_epoch"]) == 1
        assert int(result["steps_run"]) == SETTINGS["steps"]
        assert len(result["losses"]) == SETTINGS["steps"] - SETTINGS["steps_per_epoch"]
    for name, value in weights(results[0]).items():
        np.testing.assert_array_equal(value, weights(results[1])[name], err_msg=name)
    # Only the chief wrote into the shared directory: every TensorBoard
    # event file carries the writing process's id.
    chief_pids = {chief_pid, unshared[0][3], runs[0][3]}
    event_files = glob.glob(os.path.join(out, "logs", "**", "events.*"), recursive=True)
    assert event_files
    for path in event_files:
        assert int(os.path.basename(path).split(".")[-3]) in chief_pids, path
    assert not os.path.exists(os.path.join(out, "checkpoints", "backup"))
    assert keras_nlg.load(out).config["training"]["total_steps"] == SETTINGS["steps"]
