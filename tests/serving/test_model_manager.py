"""`keras_nlg.serving.model_manager`: model configs, version policy, version
resolution, and hot reload in a running server."""

import os
import re
import time
import urllib.request

import numpy as np
import pytest

from keras_nlg.export import export_saved_model
from keras_nlg.serving.client import GrpcClient
from keras_nlg.serving.errors import ServingError
from keras_nlg.serving.model_manager import (
    ModelConfig,
    ModelManager,
    _assertion_message,
)
from tests.serving.conftest import METRICS_PATH
from tests.serving.wire import raw_predict, served_version

SERVING_CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "serving_configs")


def test_bundled_models_config_parses():
    (config,) = ModelConfig.from_file(os.path.join(SERVING_CONFIGS, "models.config"))
    assert config.name == "shakespeare" and config.policy == "specific"
    assert config.labels == {"stable": 1, "canary": 2}
    assert config.wanted([1, 2, 3]) == [1, 2]


@pytest.mark.parametrize(
    "policy, versions, wanted",
    [("latest", (), [3]), ("all", (), [1, 2, 3]), ("specific", (2, 7), [2])],
)
def test_version_policy(policy, versions, wanted):
    config = ModelConfig("m", "/nowhere", policy, versions)
    assert config.wanted([3, 1, 2]) == wanted
    assert config.wanted([]) == []


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
