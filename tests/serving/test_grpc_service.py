"""`keras_nlg.serving.grpc_service` over the wire with the official stubs:
metadata, status, and TF Serving's status codes for bad requests."""

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from keras_nlg.serving.client import GrpcClient
from tests.serving.wire import grpc_error, raw_predict, served_version


def test_metadata_status_and_score(server, base_path):
    grpc_target, _ = server
    client = GrpcClient(grpc_target, "tiny")
    signatures = client.metadata()
    assert {"serving_default", "generate_ids", "score"} <= set(signatures)
    assert set(signatures["serving_default"]["outputs"]) == {
        "text",
        "num_generated_tokens",
    }
    assert client.status() == [(served_version(base_path), "AVAILABLE")]
    ((log_likelihood, tokens),) = client.score(["to be"])
    assert tokens == 5 and log_likelihood < 0


@pytest.fixture(scope="module")
def good_reply(server):
    """The reply to a small good request, taken before any bad one."""
    reply = GrpcClient(server[0], "tiny").generate(["ok"], max_new_tokens=2)
    assert len(reply) == 1 and isinstance(reply[0], str)
    return reply


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
    server, good_reply, inputs, signature, version, code, match
):
    grpc_target, _ = server
    got, details = grpc_error(
        lambda: raw_predict(grpc_target, inputs, signature, version)
    )
    assert got.name == code
    assert match in details
    again = GrpcClient(grpc_target, "tiny").generate(["ok"], max_new_tokens=2)
    assert again == good_reply


def test_unknown_model_is_not_found(server):
    code, _ = grpc_error(
        lambda: raw_predict(server[0], {"prompt": np.array([b"a"])}, name="nope")
    )
    assert code == grpc.StatusCode.NOT_FOUND


def test_output_filter_and_metadata_fields(server):
    with grpc.insecure_channel(server[0]) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = predict_pb2.PredictRequest(output_filter=["text"])
        request.model_spec.name = "tiny"
        request.inputs["prompt"].CopyFrom(tf.make_tensor_proto(np.array([b"a"])))
        assert set(stub.Predict(request, timeout=120).outputs) == {"text"}
        request.output_filter[:] = ["logits"]
        code, details = grpc_error(lambda: stub.Predict(request, timeout=120))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "logits" in details
        metadata = get_model_metadata_pb2.GetModelMetadataRequest(
            metadata_field=["signature_def", "calibration"]
        )
        metadata.model_spec.name = "tiny"
        code, details = grpc_error(lambda: stub.GetModelMetadata(metadata, timeout=60))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "calibration" in details
