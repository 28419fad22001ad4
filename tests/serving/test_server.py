"""`keras-nlg serve` over the wire: official gRPC stubs and plain HTTP."""

import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import predict_pb2

import keras_nlg
from keras_nlg.serving.batching import Batcher, BatchingParameters
from keras_nlg.serving.client import GrpcClient, RestClient, RestError
from keras_nlg.serving.errors import ServingError
from keras_nlg.serving.process import ServerProcess
from tests.export.test_saved_model import (  # noqa: F401 (fixtures)
    saved_model_dir,
    serving_model_dir,
)

PROMPTS = ["ROMEO:", "KING:\nto be or", "月光"]


@pytest.fixture(scope="module")
def base_path(saved_model_dir, tmp_path_factory):  # noqa: F811
    path = tmp_path_factory.mktemp("served") / "tiny"
    shutil.copytree(saved_model_dir, path / "1")
    return path


@pytest.fixture(scope="module")
def server(base_path):
    batching = base_path.parent / "batching.txt"
    batching.write_text(
        "max_batch_size { value: 8 }\nbatch_timeout_micros { value: 20000 }\n"
        "num_batch_threads { value: 2 }\nmax_enqueued_batches { value: 4 }\n"
    )
    with ServerProcess(
        base_path,
        "tiny",
        "--file_system_poll_wait_seconds=0.5",
        "--enable_batching",
        f"--batching_parameters_file={batching}",
    ) as server:
        yield server.grpc_target, server.rest_url


def raw_predict(target, inputs, signature="", version=None, name="tiny"):
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    with grpc.insecure_channel(
        target, options=[("grpc.max_send_message_length", 64 << 20)]
    ) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        return stub.Predict(request, timeout=120)


def test_greedy_parity_grpc_rest_in_process_and_generate(
    server,
    serving_model_dir,  # noqa: F811
    saved_model_dir,  # noqa: F811
):
    import tensorflow as tf

    grpc_target, rest_url = server
    via_grpc = GrpcClient(grpc_target, "tiny").generate(PROMPTS, max_new_tokens=12)
    via_rest = RestClient(rest_url, "tiny").generate(PROMPTS, max_new_tokens=12)
    via_columns = RestClient(rest_url, "tiny", form="inputs").generate(
        PROMPTS, max_new_tokens=12
    )
    loaded = tf.saved_model.load(saved_model_dir)
    in_process = loaded.signatures["serving_default"](
        prompt=tf.constant(PROMPTS),
        max_new_tokens=tf.constant([12]),
        temperature=tf.constant([0.0]),
        top_k=tf.constant([0]),
        top_p=tf.constant([1.0]),
        seed=tf.constant([0]),
    )["text"]
    model, tokenizer, _ = keras_nlg.load(serving_model_dir)
    expected = keras_nlg.generate(model, tokenizer, PROMPTS, max_new_tokens=12)
    assert via_grpc == via_rest == via_columns == expected
    assert [t.decode() for t in in_process.numpy()] == expected


def test_metadata_and_status(server):
    grpc_target, rest_url = server
    client = GrpcClient(grpc_target, "tiny")
    signatures = client.metadata()
    assert {"serving_default", "generate_ids", "score"} <= set(signatures)
    assert set(signatures["serving_default"]["outputs"]) == {
        "text",
        "num_generated_tokens",
    }
    assert (1, "AVAILABLE") in client.status()
    rest = RestClient(rest_url, "tiny")
    assert set(rest.metadata()) == set(signatures)
    assert rest.status()[0]["state"] == "AVAILABLE"
    ((log_likelihood, tokens),) = client.score(["to be"])
    assert tokens == 5 and log_likelihood < 0


def grpc_error(call):
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


@pytest.mark.parametrize(
    "inputs, signature, version, code, match",
    [
        (
            {"prompt": np.array([1, 2], np.int32)},
            "",
            None,
            "INVALID_ARGUMENT",
            "string",
        ),
        (
            {"max_new_tokens": np.array([3], np.int32)},
            "",
            None,
            "INVALID_ARGUMENT",
            "prompt",
        ),
        ({"prompt": np.array([], object)}, "", None, "INVALID_ARGUMENT", "Empty batch"),
        ({"prompt": np.array([b"a"] * 9)}, "", None, "INVALID_ARGUMENT", "larger than"),
        (
            {"prompt": np.array([b"a" * (1536 << 10)])},
            "",
            None,
            "INVALID_ARGUMENT",
            "1048576 bytes",
        ),
        ({"prompt": np.array([b"\xff\xfe"])}, "", None, "INVALID_ARGUMENT", "UTF-8"),
        (
            {"prompt": np.array([b"a"]), "max_new_tokens": np.array([0], np.int32)},
            "",
            None,
            "INVALID_ARGUMENT",
            "max_new_tokens",
        ),
        (
            {"prompt": np.array([b"a"]), "max_new_tokens": np.array([64], np.int32)},
            "",
            None,
            "INVALID_ARGUMENT",
            "max_new_tokens",
        ),
        (
            {"prompt": np.array([b"a"]), "top_p": np.array([1.5], np.float32)},
            "",
            None,
            "INVALID_ARGUMENT",
            "top_p",
        ),
        ({"prompt": np.array([b"a"])}, "translate", None, "NOT_FOUND", "translate"),
        ({"prompt": np.array([b"a"])}, "", 42, "NOT_FOUND", "version 42"),
        ({"prompt": np.array([b"a" * (5 << 20)])}, "", None, "RESOURCE_EXHAUSTED", ""),
    ],
)
def test_bad_requests_get_tf_serving_codes_and_the_server_keeps_serving(
    server, inputs, signature, version, code, match
):
    grpc_target, _ = server
    got, details = grpc_error(
        lambda: raw_predict(grpc_target, inputs, signature, version)
    )
    assert got.name == code
    assert match in details
    assert GrpcClient(grpc_target, "tiny").generate(["ok"], max_new_tokens=2)


def test_unknown_model_is_not_found(server):
    code, _ = grpc_error(
        lambda: raw_predict(server[0], {"prompt": np.array([b"a"])}, name="nope")
    )
    assert code == grpc.StatusCode.NOT_FOUND


def post(url, body):
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_rest_errors(server):
    _, rest_url = server
    predict = f"{rest_url}/v1/models/tiny:predict"
    assert post(predict, b'{"instances": [')[0] == 400
    status, body = post(
        predict, json.dumps({"inputs": {"prompt": ["a"], "top_p": [2.0]}}).encode()
    )
    assert status == 400 and "top_p" in body["error"]
    assert (
        post(f"{rest_url}/v1/models/tiny/versions/9:predict", b'{"instances": ["a"]}')[
            0
        ]
        == 404
    )
    assert (
        post(
            f"{rest_url}/v1/models/tiny/labels/canary:predict", b'{"instances": ["a"]}'
        )[0]
        == 404
    )
    status, body = post(predict, json.dumps({"instances": [{"b64": "//4="}]}).encode())
    assert status == 400 and "UTF-8" in body["error"]
    status, _ = post(predict, b'{"instances": ["' + b"a" * (5 << 20) + b'"]}')
    assert status == 413
    with pytest.raises(RestError) as info:
        RestClient(rest_url, "tiny").generate(["a"], max_new_tokens=0)
    assert info.value.status == 400
    status, body = post(predict, json.dumps({"instances": ["fine"]}).encode())
    assert status == 200 and "text" in body["predictions"][0]


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


def test_new_version_is_picked_up_without_restart(server, base_path):
    grpc_target, _ = server
    shutil.copytree(base_path / "1", base_path / ".incoming")
    os.rename(base_path / ".incoming", base_path / "2")
    client = GrpcClient(grpc_target, "tiny")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (2, "AVAILABLE") not in client.status():
        time.sleep(0.5)
    assert client.status() == [(2, "AVAILABLE")]  # latest policy: 1 unloaded
    response = raw_predict(grpc_target, {"prompt": np.array([b"a"])})
    assert response.model_spec.version.value == 2


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


def test_sigterm_drains_in_flight_requests(base_path):
    server = ServerProcess(base_path, "tiny", rest=False)
    grpc_target = server.grpc_target
    outcome = {}

    def ask():
        outcome["text"] = GrpcClient(grpc_target, "tiny").generate(
            ["a"], max_new_tokens=40
        )

    thread = threading.Thread(target=ask)
    thread.start()
    time.sleep(0.2)
    assert server.stop() == 0  # SIGTERM
    thread.join(60)
    assert "text" in outcome
    assert any("Server stopped." in line for line in server.log)


def test_bundled_serving_configs_parse():
    from keras_nlg.serving.models import ModelConfig

    root = os.path.join(os.path.dirname(__file__), "..", "..", "serving_configs")
    (config,) = ModelConfig.from_file(os.path.join(root, "models.config"))
    assert config.name == "shakespeare" and config.policy == "specific"
    assert config.labels == {"stable": 1, "canary": 2}
    assert config.wanted([1, 2, 3]) == [1, 2]
    gpu = BatchingParameters.from_file(os.path.join(root, "batching_parameters.txt"))
    cpu = BatchingParameters.from_file(
        os.path.join(root, "batching_parameters_cpu.txt")
    )
    assert (gpu.max_batch_size, gpu.num_batch_threads) == (64, 1)
    assert cpu.max_batch_size == 16 and cpu.batch_timeout_micros == 2000
