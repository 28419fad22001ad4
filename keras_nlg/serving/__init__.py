"""Serving: TF Serving clients (gRPC, REST) and the protocol-compatible
development server behind `keras-nlg serve`.

Where things live: `client` (GrpcClient, RestClient), `errors` (TF Serving
status codes ↔ HTTP), `model_config` (models.config, version policy),
`model_manager` (loaded servables, warm-up, hot reload), `batching` (the
batching file and queue), `model_server` (the request path both protocols
share, metrics), `grpc_service` and `rest` (the two protocols), `monitoring`
(the monitoring config), `server` (`run_server`: ports, signals, drain) and
`process` (the server as a child process). Names and dtypes on the wire come
from `keras_nlg.export.wire_contract`.
"""

from keras_nlg.serving.client import GrpcClient, RestClient, RestError
from keras_nlg.serving.errors import ServingError

__all__ = ["GrpcClient", "RestClient", "RestError", "ServingError"]
