"""TF Serving's gRPC services on the official `tensorflow-serving-api` stubs.

`PredictionService` (Predict, GetModelMetadata) and `ModelService`
(GetModelStatus) translate protos to `ModelServer` calls and back; a
`ServingError` becomes the gRPC status of the same name, so clients see the
codes TF Serving would send.
"""

import functools
import logging

import grpc
from google.protobuf import wrappers_pb2

from keras_nlg.serving import protocol, tensors
from keras_nlg.serving.errors import ServingError
from keras_nlg.serving.model_server import ModelServer

logger = logging.getLogger(__name__)


def tensor_to_array(name, proto):
    """`tensors.tensor_to_array`, its error as INVALID_ARGUMENT."""
    try:
        return tensors.tensor_to_array(name, proto)
    except tensors.TensorError as error:
        raise ServingError("INVALID_ARGUMENT", str(error)) from None


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
        response = protocol.predict_pb2.PredictResponse()
        response.model_spec.name = name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = signature
        wanted = list(request.output_filter) or list(outputs)
        for key in wanted:
            if key not in outputs:
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f"output tensor alias not found in signature: {key}",
                )
            tensors.array_to_tensor_proto(outputs[key], response.outputs[key])
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
