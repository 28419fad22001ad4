"""`keras_nlg.serving.model_server`: the request path of both protocols.

In-process tests use a fake servable (no TensorFlow); the last one sends
concurrent requests to the real server to check each row of a batch comes
back to its own request.
"""

import threading

import numpy as np
import pytest

from keras_nlg.serving.batching import BatchingParameters
from keras_nlg.serving.client import GrpcClient
from keras_nlg.serving.errors import ServingError
from keras_nlg.serving.model_server import ModelServer
from tests.serving.wire import PROMPTS


class FakeServable:
    """Doubles `x`; `x` < 0 is refused as a bad request would be."""

    def __init__(self, version=1):
        self.version = version

    def signature(self, name):
        return name or "serving_default"

    def complete_inputs(self, signature, inputs):
        return inputs

    def run(self, signature, inputs):
        if (inputs["x"] < 0).any():
            raise ServingError("INVALID_ARGUMENT", "x must be >= 0")
        return {"y": inputs["x"] * 2}


class FakeManager:
    def __init__(self, servable):
        self.servable = servable
        self.on_change = []

    def resolve(self, name, version=None, label=None):
        if name != "m":
            raise ServingError("NOT_FOUND", f"model {name!r}")
        return self.servable

    def versions(self, name):
        return {self.servable.version: self.servable}


@pytest.mark.parametrize("batching", [None, BatchingParameters(num_batch_threads=1)])
def test_predict_counts_requests_rows_and_errors(batching):
    servable = FakeServable()
    server = ModelServer(FakeManager(servable), batching)
    got, signature, outputs = server.predict("m", None, None, "", {"x": np.arange(3)})
    assert got is servable and signature == "serving_default"
    np.testing.assert_array_equal(outputs["y"], [0, 2, 4])
    with pytest.raises(ServingError) as info:
        server.predict("m", None, None, "", {"x": np.array([-1])})
    assert info.value.code == "INVALID_ARGUMENT"
    metrics, batch_sizes = server.metrics_snapshot()
    assert metrics["requests"] == 1 and metrics["errors_INVALID_ARGUMENT"] == 1
    assert metrics["latency_seconds_sum"] >= 0
    assert batch_sizes == {3: 1}
    server.close()


def test_empty_batch_and_unknown_model_are_refused():
    server = ModelServer(FakeManager(FakeServable()))
    with pytest.raises(ServingError, match="Empty batch") as info:
        server.predict("m", None, None, "", {"x": np.array([], np.int32)})
    assert info.value.code == "INVALID_ARGUMENT"
    with pytest.raises(ServingError) as info:
        server.predict("nope", None, None, "", {"x": np.array([1])})
    assert info.value.code == "NOT_FOUND"
    assert server.status("m") == [1] and server.status("m", 2) == []


def test_an_unloaded_version_loses_its_batcher():
    servable = FakeServable()
    manager = FakeManager(servable)
    server = ModelServer(manager, BatchingParameters(num_batch_threads=1))
    server.predict("m", None, None, "", {"x": np.array([1])})
    batcher = server._batchers[(servable, "serving_default")]
    for callback in manager.on_change:
        callback(servable, "unloaded")
    assert server._batchers == {}
    for thread in batcher._threads:  # closed: its batch threads end
        thread.join(10)
        assert not thread.is_alive()


def test_concurrent_requests_are_batched_with_each_row_its_own(server):
    grpc_target, _ = server
    results = {}

    def ask(i):
        results[i] = GrpcClient(grpc_target, "tiny").generate(
            [PROMPTS[i % 3]], max_new_tokens=6 + i % 3
        )[0]

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    alone = {
        k: GrpcClient(grpc_target, "tiny").generate([PROMPTS[k]], max_new_tokens=6 + k)[
            0
        ]
        for k in range(3)
    }
    assert all(results[i] == alone[i % 3] for i in range(12))
