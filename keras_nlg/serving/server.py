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
"""

import base64
import binascii
import collections
import json
import logging
import signal
import threading
import time
from concurrent import futures
from http import server as http_server

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format, wrappers_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from keras_nlg.serving.batching import Batcher
from keras_nlg.serving.errors import ServingError
from keras_nlg.serving.models import ModelManager

logger = logging.getLogger(__name__)

DEFAULT_MAX_REQUEST_BYTES = 4 << 20  # gRPC's own default receive limit


class ModelServer:
    """Requests → servables, through a batcher per signature when enabled."""

    def __init__(self, manager: ModelManager, batching=None):
        self.manager = manager
        self.batching = batching
        self._batchers = {}
        self._lock = threading.Lock()
        # Request threads and batch threads update these; the REST thread
        # reads them (`metrics_snapshot`).
        self._metrics_lock = threading.Lock()
        self.metrics = collections.Counter()
        self.batch_sizes = collections.Counter()
        manager.on_change.append(self._on_change)

    def _on_change(self, servable, event):
        if event == "unloaded":
            with self._lock:
                for key in [k for k in self._batchers if k[0] is servable]:
                    self._batchers.pop(key).close()

    def _batcher(self, servable, signature):
        key = (servable, signature)
        with self._lock:
            if key not in self._batchers:
                self._batchers[key] = Batcher(
                    lambda inputs: servable.run(signature, inputs),
                    self.batching,
                    on_batch=lambda rows: self._count(self.batch_sizes, rows),
                )
            return self._batchers[key]

    def predict(self, name, version, label, signature_name, inputs):
        """Returns `(servable, signature, outputs)`; raises `ServingError`."""
        servable = self.manager.resolve(name, version, label)
        signature = servable.signature(signature_name)
        inputs = servable.complete_inputs(signature, inputs)
        # Checked here too: a 0-row request merged into a batch would pass.
        if any(value.ndim and value.shape[0] == 0 for value in inputs.values()):
            raise ServingError(
                "INVALID_ARGUMENT", "Empty batch: the request holds no rows."
            )
        started = time.monotonic()
        try:
            if self.batching is not None:
                outputs = self._batcher(servable, signature).submit(inputs)
            else:
                outputs = servable.run(signature, inputs)
                self._count(self.batch_sizes, len(next(iter(outputs.values()))))
        except ServingError as error:
            self._count(self.metrics, f"errors_{error.code}")
            raise
        self._count(self.metrics, "requests")
        self._count(self.metrics, "latency_seconds_sum", time.monotonic() - started)
        return servable, signature, outputs

    def _count(self, counter, key, amount=1):
        with self._metrics_lock:
            counter[key] += amount

    def metrics_snapshot(self):
        """`(metrics, batch sizes)`: copies, consistent with each other."""
        with self._metrics_lock:
            return dict(self.metrics), dict(self.batch_sizes)

    def status(self, name, version=None):
        self.manager.resolve(name, version)  # NOT_FOUND if unknown
        versions = self.manager.versions(name)
        return sorted(v for v in versions if version is None or v == version)

    def close(self):
        with self._lock:
            for batcher in self._batchers.values():
                batcher.close()


def _model_spec(request_spec):
    version = request_spec.version.value if request_spec.HasField("version") else None
    return request_spec.name, version, request_spec.version_label or None


def _signature_map(servable):
    return get_model_metadata_pb2.SignatureDefMap(signature_def=servable.signature_defs)


class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, server: ModelServer):
        self.server = server

    def Predict(self, request, context):  # noqa: N802 (gRPC method name)
        try:
            name, version, label = _model_spec(request.model_spec)
            try:
                inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            except (TypeError, ValueError) as error:
                raise ServingError(
                    "INVALID_ARGUMENT", f"Bad input tensor: {error}"
                ) from None
            servable, signature, outputs = self.server.predict(
                name, version, label, request.model_spec.signature_name, inputs
            )
            response = predict_pb2.PredictResponse(
                model_spec=model_pb2.ModelSpec(
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
        except ServingError as error:
            context.abort(grpc.StatusCode[error.code], error.message)

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            if list(request.metadata_field) not in ([], ["signature_def"]):
                raise ServingError(
                    "INVALID_ARGUMENT",
                    "Metadata field(s) not supported: "
                    f"{[f for f in request.metadata_field if f != 'signature_def']}",
                )
            name, version, label = _model_spec(request.model_spec)
            servable = self.server.manager.resolve(name, version, label)
            response = get_model_metadata_pb2.GetModelMetadataResponse(
                model_spec=model_pb2.ModelSpec(
                    name=name, version=wrappers_pb2.Int64Value(value=servable.version)
                )
            )
            response.metadata["signature_def"].Pack(_signature_map(servable))
            return response
        except ServingError as error:
            context.abort(grpc.StatusCode[error.code], error.message)


class _ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, server: ModelServer):
        self.server = server

    def GetModelStatus(self, request, context):  # noqa: N802
        try:
            name, version, _ = _model_spec(request.model_spec)
            response = get_model_status_pb2.GetModelStatusResponse()
            for v in self.server.status(name, version):
                response.model_version_status.add(
                    version=v, state=get_model_status_pb2.ModelVersionStatus.AVAILABLE
                )
            return response
        except ServingError as error:
            context.abort(grpc.StatusCode[error.code], error.message)


# REST: TF Serving's JSON API.


def _json_value(value):
    """One output element as JSON: text as a string, bytes that aren't
    UTF-8 as {"b64": ...}, numbers as numbers."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, np.ndarray):
        return [_json_value(v) for v in value]
    return value.item() if hasattr(value, "item") else value


def _from_json(value):
    """JSON strings → UTF-8 bytes, {"b64": ...} → bytes, lists recursively."""
    if isinstance(value, dict):
        if set(value) != {"b64"}:
            raise ServingError(
                "INVALID_ARGUMENT", f"Expected a value or {{'b64': ...}}; got {value}"
            )
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, TypeError) as error:
            raise ServingError("INVALID_ARGUMENT", f"Bad base64: {error}") from None
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


def _to_array(name, value, info):
    dtype = tf.dtypes.as_dtype(info.dtype)
    value = _from_json(value)
    try:
        if dtype == tf.string:
            array = np.array(value, dtype=object)
            if not all(isinstance(v, bytes) for v in array.reshape(-1)):
                raise TypeError("not strings")
            return array
        array = np.array(value)
        if array.dtype.kind not in "iuf" or (
            dtype.is_integer and array.dtype.kind == "f"
        ):
            raise TypeError(f"{array.dtype}")
        return array.astype(dtype.as_numpy_dtype)
    except (TypeError, ValueError) as error:
        raise ServingError(
            "INVALID_ARGUMENT",
            f"Input {name!r} must be {dtype.name}. Received: {str(value)[:80]} "
            f"({error})",
        ) from None


def _parse_predict_body(body, servable, signature):
    """`instances` (row) or `inputs` (columnar) JSON → `{name: array}`."""
    try:
        request = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ServingError("INVALID_ARGUMENT", f"Malformed JSON: {error}") from None
    if not isinstance(request, dict) or ("instances" in request) == (
        "inputs" in request
    ):
        raise ServingError(
            "INVALID_ARGUMENT",
            "The JSON body must be an object with exactly one of 'instances' or "
            "'inputs'.",
        )
    inputs_info = servable.signature_defs[signature].inputs
    if "instances" in request:
        instances = request["instances"]
        if not isinstance(instances, list):
            raise ServingError("INVALID_ARGUMENT", "'instances' must be a list.")
        if instances and all(
            isinstance(i, dict) and set(i) != {"b64"} for i in instances
        ):
            keys = set(instances[0])
            if any(set(i) != keys for i in instances):
                raise ServingError(
                    "INVALID_ARGUMENT", "Every instance must name the same inputs."
                )
            columns = {k: [i[k] for i in instances] for k in keys}
        else:
            required = [n for n in inputs_info if n not in servable.defaults[signature]]
            if len(required) != 1:
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f"Signature {signature!r} takes several inputs; instances must "
                    "be objects naming them.",
                )
            columns = {required[0]: instances}
        return columns, "row"
    inputs = request["inputs"]
    if not isinstance(inputs, dict):
        required = [n for n in inputs_info if n not in servable.defaults[signature]]
        inputs = {required[0]: inputs}
    return inputs, "columnar"


def _rest_handler(server: ModelServer, max_request_bytes, prometheus_path):
    class Handler(http_server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 (stdlib's name)
            logger.debug("REST %s", format % args)

        def _reply(self, status, payload):
            body = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, error: ServingError):
            self._reply(error.http_status, {"error": error.message})

        def _route(self):
            """`/v1/models/NAME[/versions/N|/labels/L][suffix]` → parts."""
            path = self.path.split("?")[0]
            action = None
            if ":" in path.rsplit("/", 1)[-1]:
                path, action = path.rsplit(":", 1)
            parts = path.strip("/").split("/")
            if len(parts) < 3 or parts[:2] != ["v1", "models"]:
                raise ServingError("NOT_FOUND", f"Malformed request: {self.path}")
            name, version, label, rest = parts[2], None, None, parts[3:]
            if rest[:1] == ["versions"] and len(rest) >= 2:
                if not rest[1].isdigit():
                    raise ServingError("INVALID_ARGUMENT", f"Bad version: {rest[1]}")
                version, rest = int(rest[1]), rest[2:]
            elif rest[:1] == ["labels"] and len(rest) >= 2:
                label, rest = rest[1], rest[2:]
            return name, version, label, rest, action

        def do_GET(self):  # noqa: N802 (http.server's name)
            if prometheus_path and self.path == prometheus_path:
                return self._metrics()
            try:
                name, version, label, rest, action = self._route()
                if action is not None or rest not in ([], ["metadata"]):
                    raise ServingError("NOT_FOUND", f"Malformed request: {self.path}")
                if rest == ["metadata"]:
                    servable = server.manager.resolve(name, version, label)
                    return self._reply(
                        200,
                        {
                            "model_spec": {
                                "name": name,
                                "signature_name": "",
                                "version": str(servable.version),
                            },
                            "metadata": {
                                "signature_def": json_format.MessageToDict(
                                    _signature_map(servable),
                                    preserving_proto_field_name=True,
                                )
                            },
                        },
                    )
                if label is not None:
                    version = server.manager.resolve(name, None, label).version
                statuses = [
                    {
                        "version": str(v),
                        "state": "AVAILABLE",
                        "status": {"error_code": "OK", "error_message": ""},
                    }
                    for v in server.status(name, version)
                ]
                self._reply(200, {"model_version_status": statuses})
            except ServingError as error:
                self._error(error)

        def do_POST(self):  # noqa: N802
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length > max_request_bytes:
                    # Read what was sent (so the client sees the reply, not a
                    # broken pipe), in chunks, without keeping it.
                    self.close_connection = True
                    remaining = min(length, 16 * max_request_bytes)
                    while remaining > 0:
                        remaining -= len(self.rfile.read(min(remaining, 1 << 20)))
                    raise ServingError(
                        "RESOURCE_EXHAUSTED",
                        f"Request body of {length} bytes is over the "
                        f"{max_request_bytes}-byte limit.",
                    )
                body = self.rfile.read(length)
                name, version, label, rest, action = self._route()
                if action != "predict" or rest:
                    raise ServingError("NOT_FOUND", f"Malformed request: {self.path}")
                servable = server.manager.resolve(name, version, label)
                try:
                    signature_name = json.loads(body).get("signature_name", "")
                except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
                    signature_name = ""  # reported by the parser below
                signature = servable.signature(signature_name)
                columns, form = _parse_predict_body(body, servable, signature)
                info = servable.signature_defs[signature].inputs
                inputs = {
                    k: _to_array(k, v, info[k]) if k in info else np.asarray(v)
                    for k, v in columns.items()
                }
                servable, signature, outputs = server.predict(
                    name, servable.version, None, signature, inputs
                )
                if form == "columnar":
                    return self._reply(
                        200,
                        {"outputs": {k: _json_value(v) for k, v in outputs.items()}},
                    )
                rows = len(next(iter(outputs.values())))
                predictions = [
                    {k: _json_value(v[i]) for k, v in outputs.items()}
                    for i in range(rows)
                ]
                self._reply(200, {"predictions": predictions})
            except ServingError as error:
                self._error(error)

        def _metrics(self):
            metrics, batch_sizes = server.metrics_snapshot()
            lines = [
                f"# TYPE keras_nlg_{key} counter\nkeras_nlg_{key} {value}"
                for key, value in sorted(metrics.items())
            ]
            lines += [
                f'keras_nlg_batch_size_count{{size="{size}"}} {count}'
                for size, count in sorted(batch_sizes.items())
            ]
            body = ("\n".join(lines) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


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
):
    """Loads the models, serves until SIGTERM/SIGINT, then drains and stops.

    `port` 0 picks a free port; the bound ports are logged in TF Serving's
    words ("Running gRPC ModelServer at HOST:PORT", "Exporting HTTP/REST API
    at:HOST:PORT") and passed to `ready(grpc_port, rest_port)`. The REST API
    runs only when `rest_api_port` is given (as in TF Serving, 0 = off —
    here -1 = off and 0 = a free port, so tests can ask for one).
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
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        _PredictionService(server), grpc_server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(
        _ModelService(server), grpc_server
    )
    grpc_port = grpc_server.add_insecure_port(f"{host}:{port}")
    grpc_server.start()
    print(f"Running gRPC ModelServer at {host}:{grpc_port} ...", flush=True)
    httpd = None
    rest_port = None
    if rest_api_port is not None and rest_api_port >= 0:
        httpd = http_server.ThreadingHTTPServer(
            (host, rest_api_port),
            _rest_handler(server, max_request_bytes, prometheus_path),
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
    return server


__all__ = ["ModelServer", "run_server"]
