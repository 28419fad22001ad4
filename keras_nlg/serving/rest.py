"""TF Serving's REST API: routes, JSON ↔ tensors, and the metrics page.

Routes `/v1/models/NAME[/versions/N|/labels/L]` (status), `…/metadata` and
`…:predict` with TF Serving's bodies: `instances` (row format, answered
with `predictions`) or `inputs` (columnar, answered with `outputs`), text as
JSON strings and other bytes as `{"b64": ...}`. Errors are `{"error": msg}`
with the HTTP status TF Serving maps the gRPC code to (`errors.py`).
"""

import base64
import binascii
import json
import logging
from http import server as http_server

import numpy as np
import tensorflow as tf
from google.protobuf import json_format

from keras_nlg.serving.errors import ServingError
from keras_nlg.serving.model_server import ModelServer

logger = logging.getLogger(__name__)


def to_json_value(value):
    """One output element as JSON: text as a string, bytes that aren't
    UTF-8 as {"b64": ...}, numbers as numbers."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, np.ndarray):
        return [to_json_value(v) for v in value]
    return value.item() if hasattr(value, "item") else value


def from_json_value(value):
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
        return [from_json_value(v) for v in value]
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


def to_array(name, value, info):
    dtype = tf.dtypes.as_dtype(info.dtype)
    value = from_json_value(value)
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


def parse_json_body(body):
    """The request's JSON value, or INVALID_ARGUMENT (malformed, not UTF-8,
    or nested deeper than Python's parser recurses)."""
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ServingError("INVALID_ARGUMENT", f"Malformed JSON: {error}") from None
    except RecursionError:
        message = "The JSON is nested too deeply."
        raise ServingError("INVALID_ARGUMENT", message) from None


def parse_predict_body(request, servable, signature):
    """`instances` (row) or `inputs` (columnar) JSON → `{name: array}`."""
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


def _label_value(text):
    """A Prometheus label value: backslash, quote and newline escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def rest_handler(
    server: ModelServer,
    max_request_bytes: int,
    prometheus_path: str | None = None,
    timeout_seconds: float = 30.0,
):
    """A `BaseHTTPRequestHandler` class serving TF Serving's REST API on
    `server`, refusing bodies over `max_request_bytes` (413), and Prometheus
    text at `prometheus_path` when given.

    Every request gets a status: a body that doesn't arrive within
    `timeout_seconds` (TF Serving's `--rest_api_timeout_in_ms`) is 408, a
    bad `Content-Length`, JSON or input is 400, and anything unexpected is
    500 with the server still serving.
    """

    class Handler(http_server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = timeout_seconds  # socket reads: a stalled client is let go

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
                if not (rest[1].isascii() and rest[1].isdigit()):
                    raise ServingError("INVALID_ARGUMENT", f"Bad version: {rest[1]}")
                version, rest = int(rest[1]), rest[2:]
            elif rest[:1] == ["labels"] and len(rest) >= 2:
                label, rest = rest[1], rest[2:]
            return name, version, label, rest, action

        def do_GET(self):  # noqa: N802 (http.server's name)
            try:
                self._get()
            except Exception as error:  # never a silent close; keep serving
                logger.exception("REST request failed")
                self.close_connection = True
                self._reply(500, {"error": f"Internal error: {type(error).__name__}"})

        def _get(self):
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
                                    servable.signature_def_map(),
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
                self._predict()
            except ServingError as error:
                self._error(error)
            except TimeoutError:
                self.close_connection = True
                self._reply(408, {"error": "The request body did not arrive in time."})
            except Exception as error:  # never a silent close; keep serving
                logger.exception("REST request failed")
                self.close_connection = True
                self._reply(500, {"error": f"Internal error: {type(error).__name__}"})

        def _content_length(self):
            text = self.headers.get("Content-Length") or "0"
            if not (text.isascii() and text.isdigit()):
                self.close_connection = True  # the body's end is unknown
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f"Content-Length must be a byte count. Received: {text[:40]!r}",
                )
            return int(text)

        def _predict(self):
            length = self._content_length()
            if length > max_request_bytes:
                # Read what was sent (so the client sees the reply, not a
                # broken pipe), in chunks, without keeping it.
                self.close_connection = True
                remaining = min(length, 16 * max_request_bytes)
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 1 << 20))
                    if not chunk:  # the client closed
                        break
                    remaining -= len(chunk)
                raise ServingError(
                    "RESOURCE_EXHAUSTED",
                    f"Request body of {length} bytes is over the "
                    f"{max_request_bytes}-byte limit.",
                )
            body = self.rfile.read(length)
            if len(body) < length:  # the client closed early
                self.close_connection = True
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f"The body has {len(body)} of its {length} bytes.",
                )
            name, version, label, rest, action = self._route()
            if action != "predict" or rest:
                raise ServingError("NOT_FOUND", f"Malformed request: {self.path}")
            servable = server.manager.resolve(name, version, label)
            request = parse_json_body(body)
            signature_name = ""
            if isinstance(request, dict):
                signature_name = request.get("signature_name", "")
            if not isinstance(signature_name, str):
                raise ServingError(
                    "INVALID_ARGUMENT",
                    "'signature_name' must be a string. "
                    f"Received: {str(signature_name)[:80]}",
                )
            signature = servable.signature(signature_name)
            columns, form = parse_predict_body(request, servable, signature)
            servable.check_input_names(signature, columns)
            info = servable.signature_defs[signature].inputs
            inputs = {k: to_array(k, v, info[k]) for k, v in columns.items()}
            servable, signature, outputs = server.predict(
                name, servable.version, None, signature, inputs
            )
            if form == "columnar":
                return self._reply(
                    200,
                    {"outputs": {k: to_json_value(v) for k, v in outputs.items()}},
                )
            rows = len(next(iter(outputs.values())))
            predictions = [
                {k: to_json_value(v[i]) for k, v in outputs.items()}
                for i in range(rows)
            ]
            self._reply(200, {"predictions": predictions})

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
            # TF Serving's load_latency and model_warmup_latency, per version.
            for name, version, load, warmup in server.load_latencies():
                labels = f'model="{_label_value(name)}",version="{version}"'
                lines.append(f"keras_nlg_load_seconds{{{labels}}} {load}")
                if warmup is not None:  # None while a bounded warm-up goes on
                    lines.append(f"keras_nlg_warmup_seconds{{{labels}}} {warmup}")
            body = ("\n".join(lines) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


__all__ = [
    "from_json_value",
    "parse_predict_body",
    "rest_handler",
    "to_array",
    "to_json_value",
]
