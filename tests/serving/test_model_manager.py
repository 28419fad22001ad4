"""`keras_nlg.serving.model_manager`: version resolution, warm-up (bounded
or not), and hot reload in a running server."""

import logging
import os
import re
import shutil
import threading
import time
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

from keras_nlg.export import export_saved_model, wire_contract
from keras_nlg.serving.client import GrpcClient
from keras_nlg.serving.errors import ServingError
from keras_nlg.serving.model_config import ModelConfig
from keras_nlg.serving.model_manager import (
    ModelManager,
    Servable,
    _assertion_message,
)
from tests.serving.conftest import METRICS_PATH
from tests.serving.wire import raw_predict, served_version


def test_resolve_names_what_is_missing(tmp_path):
    manager = ModelManager([ModelConfig("m", str(tmp_path), labels={"stable": 1})])
    manager.poll()  # nothing on disk: nothing loaded, no error
    cases = [
        (("nope",), "model 'nope'"),
        (("m",), "no version of 'm'"),
        (("m", 3), "'m' version 3"),
        (("m", None, "canary"), "label: 'canary'"),
        (("m", None, "stable"), "'m' version 1"),
    ]
    for args, message in cases:
        with pytest.raises(ServingError, match=message) as info:
            manager.resolve(*args)
        assert info.value.code == "NOT_FOUND"


class BlockedWarmUp:
    """A servable whose warm-up runs until `release` is set (a hook, not a
    sleep), or fails."""

    def __init__(self, fail=False):
        self.name, self.version = "m", 3
        self.release = threading.Event()
        self.fail = fail
        self.warmup_requests, self.warmup_seconds = 0, None

    def warm_up(self):
        self.release.wait(60)
        self.warmup_requests = 16
        if self.fail:
            raise RuntimeError("a warm-up request failed")
        self.warmup_seconds = 1.5


def test_a_bounded_warm_up_serves_early_and_finishes_beside(caplog):
    manager = ModelManager([], max_warmup_seconds=0.0)
    servable = BlockedWarmUp()
    assert manager._warm_up(servable) is False  # past the bound: serve now
    assert servable.warmup_seconds is None
    with caplog.at_level(logging.INFO, logger="keras_nlg.serving.model_manager"):
        (thread,) = [t for t in threading.enumerate() if t.name == "warm-up-m-3"]
        servable.release.set()
        thread.join(30)
    assert servable.warmup_seconds == 1.5
    assert "Warm-up of m version 3 finished after 16 requests in 1.5 s" in caplog.text


def test_a_warm_up_that_fails_in_its_bound_fails_the_load():
    manager = ModelManager([], max_warmup_seconds=30.0)
    servable = BlockedWarmUp(fail=True)
    servable.release.set()
    with pytest.raises(RuntimeError, match="a warm-up request failed"):
        manager._warm_up(servable)
    unbounded = BlockedWarmUp()
    unbounded.release.set()
    assert ModelManager([])._warm_up(unbounded) is True
    assert unbounded.warmup_seconds == 1.5


@pytest.mark.parametrize("bound", [-1.0, float("nan"), float("inf")])
def test_max_warmup_seconds_is_checked(bound):
    with pytest.raises(ValueError, match=f"Received: max_warmup_seconds={bound}"):
        ModelManager([], max_warmup_seconds=bound)


def test_a_real_version_serves_before_its_warm_up_ends(
    saved_model_dir, tmp_path, monkeypatch
):
    shutil.copytree(saved_model_dir, tmp_path / "1")
    # The warm-up waits for `release` before replaying (a hook, not timing).
    release, replay = threading.Event(), Servable.warm_up
    monkeypatch.setattr(
        Servable, "warm_up", lambda self: release.wait(60) and replay(self)
    )
    manager = ModelManager([ModelConfig("tiny", str(tmp_path))], max_warmup_seconds=0.0)
    manager.poll()
    servable = manager.resolve("tiny")  # AVAILABLE at once
    assert servable.warmup_seconds is None and servable.warmup_requests == 0
    signature = servable.signature("serving_default")
    inputs = servable.complete_inputs(signature, {"prompt": np.array([b"KING:"])})
    assert servable.run(signature, inputs)["text"].shape == (1,)
    (thread,) = [t for t in threading.enumerate() if t.name == "warm-up-tiny-1"]
    release.set()
    thread.join(300)
    records = os.path.join(saved_model_dir, wire_contract.WARMUP_FILE)
    assert servable.warmup_requests == sum(1 for _ in tf.data.TFRecordDataset(records))
    assert servable.warmup_seconds > 0


def test_assertion_message_drops_tensorflows_node_dump():
    class Error:
        message = (
            "assertion failed: [max_new_tokens must be in [1, 63]:] [0]\n"
            "\t [[{{node Assert}}]] [Op:__inference_serving_default_123]"
        )

    assert _assertion_message(Error()) == "max_new_tokens must be in [1, 63]: [0]"


def wait_for_status(client, expected, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and client.status() != expected:
        time.sleep(0.5)
    return client.status()


def test_new_version_is_picked_up_without_restart(
    server, base_path, xla_cache_dir, serving_model_dir, tmp_path
):
    grpc_target, rest_url = server
    client = GrpcClient(grpc_target, "tiny")
    old = served_version(base_path)
    # The new version is the same model exported with XLA (TF Serving CPU's
    # choice), so its warm-up fills the XLA cache.
    export_saved_model(
        serving_model_dir,
        str(tmp_path / "tiny" / "1"),
        max_batch_size=8,
        warmup_prompt_lengths=(8,),
        jit_compile=True,
    )
    os.rename(tmp_path / "tiny" / "1", base_path / str(old + 1))
    # Latest policy: the new version is loaded, then the old one unloaded.
    assert wait_for_status(client, [(old + 1, "AVAILABLE")]) == [(old + 1, "AVAILABLE")]
    response = raw_predict(grpc_target, {"prompt": np.array([b"a"])})
    assert response.model_spec.version.value == old + 1
    # Its load and warm-up times are reported (TF Serving's load_latency and
    # model_warmup_latency), and the warm-up compiles went to the XLA cache.
    with urllib.request.urlopen(rest_url + METRICS_PATH, timeout=30) as page:
        metrics = page.read().decode()
    for name in ("load", "warmup"):
        match = re.search(
            rf'keras_nlg_{name}_seconds{{model="tiny",version="{old + 1}"}} (\S+)',
            metrics,
        )
        assert match and float(match.group(1)) > 0, metrics
    assert any(xla_cache_dir.iterdir())
