"""TF Serving's gRPC protocol: the message and stub modules of the official
`tensorflow-serving-api` package, which our clients and `keras-nlg serve`
both speak, imported in this one place (`from keras_nlg.serving import
protocol`, then `protocol.predict_pb2.PredictRequest`, ...)."""

from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

__all__ = [
    "get_model_metadata_pb2",
    "get_model_status_pb2",
    "model_pb2",
    "model_service_pb2_grpc",
    "predict_pb2",
    "prediction_service_pb2_grpc",
]
