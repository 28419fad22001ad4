"""Talking to a running `keras-nlg serve` below the clients: raw gRPC Predict
(any tensors, bad ones included) and raw HTTP POST (any bytes)."""

import json
import os
import urllib.error
import urllib.request

import grpc
import pytest

PROMPTS = ["ROMEO:", "KING:\nto be or", "月光"]


def raw_predict(target, inputs, signature="", version=None, name="tiny"):
    """One gRPC Predict of `{name: np.ndarray or TensorProto}` (a proto is
    sent as it is, however it lies); returns the PredictResponse."""
    import tensorflow as tf
    from tensorflow.core.framework import tensor_pb2
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for key, value in inputs.items():
        if not isinstance(value, tensor_pb2.TensorProto):
            value = tf.make_tensor_proto(value)
        request.inputs[key].CopyFrom(value)
    with grpc.insecure_channel(
        target, options=[("grpc.max_send_message_length", 64 << 20)]
    ) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        return stub.Predict(request, timeout=120)


def grpc_error(call):
    """`(status code, details)` of the `grpc.RpcError` that `call()` raises."""
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


def post(url, body):
    """`(HTTP status, JSON body)` of a POST, error statuses included."""
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def served_version(base_path):
    """The version the shared server serves: the newest on disk (latest
    policy). The hot-reload test adds one, so tests don't assume it is 1."""
    return max(int(entry) for entry in os.listdir(base_path) if entry.isdigit())
