"""`keras_nlg.serving.batching`: the batching-parameters file and the queue."""

import os
import threading
import time

import numpy as np
import pytest

from keras_nlg.serving.batching import Batcher, BatchingParameters
from keras_nlg.serving.errors import ServingError

SERVING_CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "serving_configs")


def test_batcher_refuses_when_its_queue_is_full():
    release = threading.Event()

    def slow(inputs):
        release.wait(30)
        return {"y": inputs["x"]}

    batcher = Batcher(
        slow,
        BatchingParameters(
            max_batch_size=1,
            num_batch_threads=1,
            max_enqueued_batches=2,
            batch_timeout_micros=0,
        ),
    )
    errors = []

    def submit():
        try:
            batcher.submit({"x": np.array([1])})
        except ServingError as error:
            errors.append(error.code)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    release.set()
    for thread in threads:
        thread.join(30)
    assert "UNAVAILABLE" in errors
    with pytest.raises(ServingError, match="larger than maximum"):
        batcher.submit({"x": np.array([1, 2])})
    batcher.close()


def test_batching_file_parsing(tmp_path):
    path = tmp_path / "b.txt"
    path.write_text(
        "# comment\nmax_batch_size { value: 16 }\nbatch_timeout_micros { value: 500 }\n"
        "pad_variable_length_inputs { value: false }\nallowed_batch_sizes: 8\n"
    )
    parameters = BatchingParameters.from_file(str(path))
    assert parameters.max_batch_size == 16
    assert parameters.batch_timeout_micros == 500
    assert parameters.pad_variable_length_inputs is False


def test_bundled_batching_parameters_parse():
    gpu = BatchingParameters.from_file(
        os.path.join(SERVING_CONFIGS, "batching_parameters.txt")
    )
    cpu = BatchingParameters.from_file(
        os.path.join(SERVING_CONFIGS, "batching_parameters_cpu.txt")
    )
    assert (gpu.max_batch_size, gpu.num_batch_threads) == (64, 1)
    assert cpu.max_batch_size == 16 and cpu.batch_timeout_micros == 2000
