"""One `keras-nlg serve` child for the whole serving test run.

It serves the tiny SavedModel of `tests/export` as model "tiny" (version 1)
with batching on, the REST API and a 0.5 s version poll. The hot-reload
test adds a version (an identical copy) while it runs, so tests that look at
version numbers ask `wire.served_version(base_path)` instead of assuming 1,
and pass in any order.
"""

import pathlib
import shutil

import pytest

from keras_nlg.serving.monitoring import prometheus_path
from keras_nlg.serving.process import ServerProcess

MONITORING_CONFIG = (
    pathlib.Path(__file__).parents[2] / "serving_configs" / "monitoring.config"
)
METRICS_PATH = prometheus_path(MONITORING_CONFIG)


@pytest.fixture(scope="session")
def base_path(saved_model_dir, tmp_path_factory):
    """`<base>/tiny/1`: the model's base path with one version."""
    path = tmp_path_factory.mktemp("served") / "tiny"
    shutil.copytree(saved_model_dir, path / "1")
    return path


@pytest.fixture(scope="session")
def xla_cache_dir(tmp_path_factory):
    """The shared server's `--xla_cache_dir` (not the user's cache)."""
    return tmp_path_factory.mktemp("xla_cache")


@pytest.fixture(scope="session")
def server(base_path, xla_cache_dir):
    """`(grpc target, REST base URL)` of the shared server; its Prometheus
    metrics are at `METRICS_PATH`."""
    batching = base_path.parent / "batching.txt"
    batching.write_text(
        "max_batch_size { value: 8 }\nbatch_timeout_micros { value: 20000 }\n"
        "num_batch_threads { value: 2 }\nmax_enqueued_batches { value: 4 }\n"
    )
    with ServerProcess(
        base_path,
        "tiny",
        "--file_system_poll_wait_seconds=0.5",
        "--rest_api_timeout_in_ms=2000",  # the stalled-client test waits this
        "--enable_batching",
        f"--batching_parameters_file={batching}",
        f"--xla_cache_dir={xla_cache_dir}",
        f"--monitoring_config_file={MONITORING_CONFIG}",
    ) as server:
        yield server.grpc_target, server.rest_url
