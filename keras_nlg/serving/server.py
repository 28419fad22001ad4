"""`keras-nlg serve`: a TF-Serving-protocol server for development and CI.

Production serves our SavedModels with TF Serving itself
(`serving_configs/README.md`). Its `tensorflow_model_server` binary isn't
installable from PyPI or Debian, and its Docker image can't run on our CI
machines, yet tests must hit a real server over the wire. This server
speaks the same protocol so clients don't change: gRPC
`PredictionService.Predict` / `GetModelMetadata` and
`ModelService.GetModelStatus` on the official `tensorflow-serving-api`
stubs, the REST API (`/v1/models/NAME[/versions/N|/labels/L][:predict|
/metadata]`), TF Serving's flags, its batching-parameters file, version
polling with hot reload, warm-up replay, and its status codes. It runs the
SavedModel's signatures with TensorFlow in this process.

The pieces: `model_manager` (versions on disk → loaded servables),
`batching`, `model_server` (the request path both protocols share),
`grpc_service` and `rest` (the two protocols); `run_server` here wires them
together and owns the process lifetime (ports, signals, drain).
"""

import logging
import signal
import threading
from concurrent import futures
from http import server as http_server

import grpc

from keras_nlg.serving.grpc_service import add_services
from keras_nlg.serving.model_manager import ModelManager
from keras_nlg.serving.model_server import ModelServer
from keras_nlg.serving.rest import rest_handler

logger = logging.getLogger(__name__)

DEFAULT_MAX_REQUEST_BYTES = 4 << 20  # gRPC's own default receive limit


def run_server(
    manager: ModelManager,
    port: int = 8500,
    rest_api_port: int = 0,
    host: str = "0.0.0.0",
    batching=None,
    poll_seconds: float = 1.0,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    prometheus_path: str | None = None,
    grpc_threads: int = 32,
    ready=None,
    rest_api_timeout_seconds: float = 30.0,
):
    """Loads the models, serves until SIGTERM/SIGINT, then drains and stops.

    `port` 0 picks a free port; the bound ports are logged in TF Serving's
    words ("Running gRPC ModelServer at HOST:PORT", "Exporting HTTP/REST API
    at:HOST:PORT") and passed to `ready(grpc_port, rest_port)`. The REST API
    runs only when `rest_api_port` is given (as in TF Serving, 0 = off —
    here -1 = off and 0 = a free port, so tests can ask for one). A REST
    request body not received within `rest_api_timeout_seconds` gets 408.
    """
    manager.poll()
    if poll_seconds > 0:
        manager.start(poll_seconds)
    server = ModelServer(manager, batching)
    options = [
        ("grpc.max_receive_message_length", max_request_bytes),
        ("grpc.max_send_message_length", max_request_bytes),
    ]
    grpc_server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=grpc_threads), options=options
    )
    add_services(server, grpc_server)
    grpc_port = grpc_server.add_insecure_port(f"{host}:{port}")
    grpc_server.start()
    print(f"Running gRPC ModelServer at {host}:{grpc_port} ...", flush=True)
    httpd = None
    rest_port = None
    if rest_api_port is not None and rest_api_port >= 0:
        httpd = http_server.ThreadingHTTPServer(
            (host, rest_api_port),
            rest_handler(
                server, max_request_bytes, prometheus_path, rest_api_timeout_seconds
            ),
        )
        httpd.daemon_threads = True
        rest_port = httpd.server_address[1]
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        print(f"Exporting HTTP/REST API at:{host}:{rest_port} ...", flush=True)
    if ready is not None:
        ready(grpc_port, rest_port)

    stopping = threading.Event()

    def stop(signum, frame):
        logger.info("Signal %d: draining in-flight requests, then stopping", signum)
        stopping.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        # Refuse new RPCs, let running ones finish (up to 10 s), then close.
        grpc_server.stop(grace=10).wait()
        if httpd is not None:
            httpd.shutdown()
        manager.stop()
        server.close()
        print("Server stopped.", flush=True)


__all__ = ["DEFAULT_MAX_REQUEST_BYTES", "ModelServer", "run_server"]
