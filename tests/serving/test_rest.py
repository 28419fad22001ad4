"""`keras_nlg.serving.rest`: JSON ↔ tensors in-process, then TF Serving's
REST API over HTTP (status codes, payloads, metrics page)."""

import json
import threading
import types
import urllib.request
from http import server as http_server

import numpy as np
import pytest
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from keras_nlg.serving.client import RestClient, RestError
from keras_nlg.serving.errors import ServingError
from keras_nlg.serving.rest import (
    from_json_value,
    parse_json_body,
    parse_predict_body,
    rest_handler,
    to_array,
    to_json_value,
)
from tests.serving.wire import post, served_version

STRING = meta_graph_pb2.TensorInfo(dtype=types_pb2.DT_STRING)
INT32 = meta_graph_pb2.TensorInfo(dtype=types_pb2.DT_INT32)
FLOAT = meta_graph_pb2.TensorInfo(dtype=types_pb2.DT_FLOAT)


def test_json_values_round_trip_text_bytes_and_numbers():
    got = from_json_value(["月", {"b64": "//4="}, 3])
    assert got == ["月".encode(), b"\xff\xfe", 3]
    assert to_json_value(np.array(["月".encode(), b"\xff\xfe"], object)) == [
        "月",
        {"b64": "//4="},
    ]
    assert to_json_value(np.array([[1, 2]], np.int32)) == [[1, 2]]
    assert to_json_value(np.float32(0.5)) == 0.5
    for bad in ({"b64": "!!"}, {"b64": "AA==", "x": 1}):
        with pytest.raises(ServingError) as info:
            from_json_value(bad)
        assert info.value.code == "INVALID_ARGUMENT"


def test_to_array_checks_the_signature_dtype():
    assert to_array("prompt", ["a", "b"], STRING).tolist() == [b"a", b"b"]
    assert to_array("top_k", [3], INT32).dtype == np.int32
    assert to_array("top_p", [1], FLOAT).dtype == np.float32
    for name, value, info in [
        ("prompt", [1], STRING),
        ("top_k", [0.5], INT32),
        ("top_p", ["x"], FLOAT),
    ]:
        with pytest.raises(ServingError, match=f"Input '{name}' must be"):
            to_array(name, value, info)


def fake_servable():
    signature_def = types.SimpleNamespace(
        inputs={"prompt": STRING, "max_new_tokens": INT32}
    )
    return types.SimpleNamespace(
        signature_defs={"serving_default": signature_def},
        defaults={"serving_default": {"max_new_tokens": np.array([8], np.int32)}},
    )


@pytest.mark.parametrize(
    "body, columns, form",
    [
        ({"instances": ["a", "b"]}, {"prompt": ["a", "b"]}, "row"),
        (
            {"instances": [{"prompt": "a", "max_new_tokens": 2}]},
            {"prompt": ["a"], "max_new_tokens": [2]},
            "row",
        ),
        ({"inputs": ["a"]}, {"prompt": ["a"]}, "columnar"),
        ({"inputs": {"prompt": ["a"]}}, {"prompt": ["a"]}, "columnar"),
    ],
)
def test_predict_body_row_and_columnar(body, columns, form):
    got = parse_predict_body(
        parse_json_body(json.dumps(body)), fake_servable(), "serving_default"
    )
    assert got == (columns, form)


@pytest.mark.parametrize(
    "body, match",
    [
        ("{", "Malformed JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"instances": [], "inputs": []}', "exactly one"),
        ('{"instances": "a"}', "must be a list"),
        ('{"instances": [{"prompt": "a"}, {"max_new_tokens": 1}]}', "same inputs"),
    ],
)
def test_bad_predict_bodies(body, match):
    with pytest.raises(ServingError, match=match) as info:
        parse_predict_body(parse_json_body(body), fake_servable(), "serving_default")
    assert info.value.http_status == 400


def test_metrics_page_is_prometheus_text():
    class Server:
        def metrics_snapshot(self):
            return {"requests": 3, "errors_NOT_FOUND": 1}, {1: 2, 4: 1}

        def load_latencies(self):
            return [("tiny", 2, 1.5, 12.25), ('a"b', 1, 0.5, 1.0)]

    httpd = http_server.ThreadingHTTPServer(
        ("127.0.0.1", 0), rest_handler(Server(), 1 << 20, "/metrics")
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/metrics"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            text = response.read().decode()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert text.splitlines() == [
        "# TYPE keras_nlg_errors_NOT_FOUND counter",
        "keras_nlg_errors_NOT_FOUND 1",
        "# TYPE keras_nlg_requests counter",
        "keras_nlg_requests 3",
        'keras_nlg_batch_size_count{size="1"} 2',
        'keras_nlg_batch_size_count{size="4"} 1',
        'keras_nlg_load_seconds{model="tiny",version="2"} 1.5',
        'keras_nlg_warmup_seconds{model="tiny",version="2"} 12.25',
        'keras_nlg_load_seconds{model="a\\"b",version="1"} 0.5',
        'keras_nlg_warmup_seconds{model="a\\"b",version="1"} 1.0',
    ]


def test_rest_metadata_and_status(server, base_path):
    _, rest_url = server
    rest = RestClient(rest_url, "tiny")
    assert {"serving_default", "generate_ids", "score"} <= set(rest.metadata())
    version = served_version(base_path)
    assert rest.status() == [
        {
            "version": str(version),
            "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""},
        }
    ]
    assert RestClient(rest_url, "tiny", version=version).status() == rest.status()


def test_rest_errors(server):
    _, rest_url = server
    predict = f"{rest_url}/v1/models/tiny:predict"
    assert post(predict, b'{"instances": [')[0] == 400
    status, body = post(
        predict, json.dumps({"inputs": {"prompt": ["a"], "top_p": [2.0]}}).encode()
    )
    assert status == 400 and "top_p" in body["error"]
    assert (
        post(f"{rest_url}/v1/models/tiny/versions/9:predict", b'{"instances": ["a"]}')[
            0
        ]
        == 404
    )
    assert (
        post(
            f"{rest_url}/v1/models/tiny/labels/canary:predict", b'{"instances": ["a"]}'
        )[0]
        == 404
    )
    status, body = post(predict, json.dumps({"instances": [{"b64": "//4="}]}).encode())
    assert status == 400 and "UTF-8" in body["error"]
    status, _ = post(predict, b'{"instances": ["' + b"a" * (5 << 20) + b'"]}')
    assert status == 413
    with pytest.raises(RestError) as info:
        RestClient(rest_url, "tiny").generate(["a"], max_new_tokens=0)
    assert info.value.status == 400
    status, body = post(predict, json.dumps({"instances": ["fine"]}).encode())
    assert status == 200 and "text" in body["predictions"][0]
