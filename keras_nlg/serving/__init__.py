"""Serving: TF Serving clients (gRPC, REST) and the protocol-compatible
development server behind `keras-nlg serve`."""

from keras_nlg.serving.client import GrpcClient, RestClient, RestError
from keras_nlg.serving.errors import ServingError

__all__ = ["GrpcClient", "RestClient", "RestError", "ServingError"]
