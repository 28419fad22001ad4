"""TF Serving's gRPC services on the official `tensorflow-serving-api` stubs.

`PredictionService` (Predict, GetModelMetadata) and `ModelService`
(GetModelStatus) translate protos to `ModelServer` calls and back; a
`ServingError` becomes the gRPC status of the same name, so clients see the
codes TF Serving would send.
"""

import functools
import logging
import math

import grpc
import tensorflow as tf
from google.protobuf import wrappers_pb2
from tensorflow.core.framework import types_pb2

from keras_nlg.serving import protocol
from keras_nlg.serving.errors import ServingError
from keras_nlg.serving.model_server import ModelServer

logger = logging.getLogger(__name__)

# The dtypes a request may carry: the proto field of their values and the
# bytes per value in `tensor_content`. Anything else (DT_VARIANT,
# DT_RESOURCE, ...) is refused before TensorFlow sees it.
_VALUE_FIELDS = {
    tf.string.as_datatype_enum: ("string_val", None),
    tf.int32.as_datatype_enum: ("int_val", 4),
    tf.int64.as_datatype_enum: ("int64_val", 8),
    tf.float32.as_datatype_enum: ("float_val", 4),
    tf.float64.as_datatype_enum: ("double_val", 8),
    tf.bool.as_datatype_enum: ("bool_val", 1),
}


_MAX_BROADCAST = 1 << 16


def tensor_to_array(name, proto):
    """The NumPy value of an input `TensorProto`, checked first.

    TensorFlow's `make_ndarray` trusts the proto: a declared shape of
    `[2**40]` with no values is allocated (filled with zeros), a string
    tensor declaring 2,000,000 rows in a few bytes is materialised, and a
    negative dimension or an unservable dtype fails deep inside. Here the
    declared element count must equal the values the proto holds.

    Raises:
        ServingError: INVALID_ARGUMENT naming the input.
    """
    if proto.dtype not in _VALUE_FIELDS:
        try:
            dtype = types_pb2.DataType.Name(proto.dtype)  # TF Serving's words
        except ValueError:  # a number no DataType has
            dtype = str(proto.dtype)
        raise ServingError(
            "INVALID_ARGUMENT", f"Input {name!r} has dtype {dtype}, which is not served"
        )
    if proto.tensor_shape.unknown_rank:
        raise ServingError("INVALID_ARGUMENT", f"Input {name!r} has no shape")
    dims = [dim.size for dim in proto.tensor_shape.dim]
    if any(size < 0 for size in dims):
        raise ServingError(
            "INVALID_ARGUMENT", f"Input {name!r} has a negative dimension: {dims}"
        )
    field, itemsize = _VALUE_FIELDS[proto.dtype]
    held = len(getattr(proto, field))
    if itemsize and proto.tensor_content:
        held = len(proto.tensor_content) // itemsize
    declared = math.prod(dims)
    # TensorFlow's one-value form (`make_tensor_proto(0.7, shape=[4])`)
    # broadcasts; allowed up to a size no request needs more of.
    broadcast = held == 1 and not proto.tensor_content and declared <= _MAX_BROADCAST
    if held != declared and not broadcast:
        raise ServingError(
            "INVALID_ARGUMENT",
            f"Input {name!r} declares shape {dims} ({declared} values) but holds "
            f"{held}",
        )
    try:
        return tf.make_ndarray(proto)
    except (TypeError, ValueError) as error:
        raise ServingError(
            "INVALID_ARGUMENT", f"Bad input tensor {name!r}: {error}"
        ) from None


def _with_statuses(method):
    """An RPC method whose `ServingError` becomes that gRPC status and whose
    unexpected errors become INTERNAL (logged), never UNKNOWN."""

    @functools.wraps(method)
    def wrapped(self, request, context):
        try:
            return method(self, request, context)
        except ServingError as error:
            context.abort(grpc.StatusCode[error.code], error.message)
        except Exception as error:
            logger.exception("%s failed", method.__name__)
            context.abort(
                grpc.StatusCode.INTERNAL, f"Internal error: {type(error).__name__}"
            )

    return wrapped


def _model_spec(request_spec):
    """`(name, version or None, label or None)` of a request's ModelSpec."""
    version = request_spec.version.value if request_spec.HasField("version") else None
    return request_spec.name, version, request_spec.version_label or None


class PredictionService(protocol.prediction_service_pb2_grpc.PredictionServiceServicer):
    """`Predict` and `GetModelMetadata` over a `ModelServer`."""

    def __init__(self, server: ModelServer):
        self.server = server

    @_with_statuses
    def Predict(self, request, context):  # noqa: N802 (gRPC method name)
        name, version, label = _model_spec(request.model_spec)
        inputs = {k: tensor_to_array(k, v) for k, v in request.inputs.items()}
        servable, signature, outputs = self.server.predict(
            name, version, label, request.model_spec.signature_name, inputs
        )
        response = protocol.predict_pb2.PredictResponse(
            model_spec=protocol.model_pb2.ModelSpec(
                name=name,
                version=wrappers_pb2.Int64Value(value=servable.version),
                signature_name=signature,
            )
        )
        wanted = list(request.output_filter) or list(outputs)
        for key in wanted:
            if key not in outputs:
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f"output tensor alias not found in signature: {key}",
                )
            response.outputs[key].CopyFrom(tf.make_tensor_proto(outputs[key]))
        return response

    @_with_statuses
    def GetModelMetadata(self, request, context):  # noqa: N802
        if list(request.metadata_field) not in ([], ["signature_def"]):
            raise ServingError(
                "INVALID_ARGUMENT",
                "Metadata field(s) not supported: "
                f"{[f for f in request.metadata_field if f != 'signature_def']}",
            )
        name, version, label = _model_spec(request.model_spec)
        servable = self.server.manager.resolve(name, version, label)
        response = protocol.get_model_metadata_pb2.GetModelMetadataResponse(
            model_spec=protocol.model_pb2.ModelSpec(
                name=name, version=wrappers_pb2.Int64Value(value=servable.version)
            )
        )
        response.metadata["signature_def"].Pack(servable.signature_def_map())
        return response


class ModelService(protocol.model_service_pb2_grpc.ModelServiceServicer):
    """`GetModelStatus` over a `ModelServer`: every loaded version AVAILABLE."""

    def __init__(self, server: ModelServer):
        self.server = server

    @_with_statuses
    def GetModelStatus(self, request, context):  # noqa: N802
        name, version, _ = _model_spec(request.model_spec)
        response = protocol.get_model_status_pb2.GetModelStatusResponse()
        for v in self.server.status(name, version):
            response.model_version_status.add(
                version=v,
                state=protocol.get_model_status_pb2.ModelVersionStatus.AVAILABLE,
            )
        return response


def add_services(server: ModelServer, grpc_server) -> None:
    """Registers both services of `server` on a `grpc.Server`."""
    protocol.prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(server), grpc_server
    )
    protocol.model_service_pb2_grpc.add_ModelServiceServicer_to_server(
        ModelService(server), grpc_server
    )


__all__ = ["ModelService", "PredictionService", "add_services"]
