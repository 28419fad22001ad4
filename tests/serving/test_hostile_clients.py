"""A hostile client against the shared `keras-nlg serve` child: every request
gets an HTTP status (never a silent close), and a good request still works
afterwards. Raw sockets, because a well-behaved HTTP library won't send a
lying `Content-Length`."""

import json
import socket
import time
import urllib.parse

import pytest

from keras_nlg.cli import main
from keras_nlg.serving import RestClient

PREDICT = "/v1/models/tiny:predict"


def exchange(rest_url, head: bytes, body: bytes = b"", timeout=30.0):
    """Sends raw bytes; returns `(status, parsed JSON body)` of the reply."""
    address = urllib.parse.urlparse(rest_url)
    with socket.create_connection((address.hostname, address.port), timeout) as s:
        s.sendall(head + body)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = s.recv(65536)
            assert chunk, f"the server closed without a reply: {reply!r}"
            reply += chunk
        header, _, rest = reply.partition(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":")[1]
                for line in header.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
        )
        while len(rest) < length:
            chunk = s.recv(65536)
            assert chunk
            rest += chunk
    status = int(header.split(b" ")[1])
    return status, json.loads(rest[:length])


def post_head(length: str, path=PREDICT):
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def still_serving(rest_url):
    texts = RestClient(rest_url, "tiny").generate(["a"], max_new_tokens=2)
    assert len(texts) == 1 and isinstance(texts[0], str)


@pytest.mark.parametrize(
    "length, body, status, expected",
    [
        ("abc", b"{}", 400, "Content-Length must be a byte count"),
        ("-5", b"{}", 400, "Content-Length must be a byte count"),
        (None, b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
        (None, b'{"signature_name": ["a"], "instances": ["a"]}', 400, "string"),
        (
            None,
            b'{"inputs": {"prompt": ["a"], "nonsense": [[1, 2], [3]]}}',
            400,
            "Unknown input(s) ['nonsense']",
        ),
        (
            None,
            b'{"instances": [{"prompt": "a", "max_new_tokens": [[1], 2]}]}',
            400,
            "",
        ),
        (None, b"\xff\xfe", 400, "Malformed JSON"),
    ],
)
def test_a_bad_request_gets_a_status_and_the_server_serves_on(
    server, length, body, status, expected
):
    _, rest_url = server
    got, reply = exchange(rest_url, post_head(length or str(len(body))), body)
    assert (got, expected in reply["error"]) == (status, True), reply
    still_serving(rest_url)


def test_odd_digits_and_an_over_limit_body_cut_short_get_replies(server):
    _, rest_url = server
    head = b"GET /v1/models/tiny/versions/\xc2\xb2 HTTP/1.1\r\nHost: x\r\n\r\n"
    got, reply = exchange(rest_url, head)  # "²" passes str.isdigit
    assert got == 400 and "Bad version" in reply["error"]
    address = urllib.parse.urlparse(rest_url)
    with socket.create_connection((address.hostname, address.port), 30) as s:
        s.sendall(post_head(str(64 << 20)) + b"{")  # over the limit, then EOF
        s.shutdown(socket.SHUT_WR)
        assert b" 413 " in s.recv(65536)
    still_serving(rest_url)


def test_a_body_shorter_than_its_content_length_times_out_with_408(server):
    _, rest_url = server
    start = time.perf_counter()
    got, reply = exchange(rest_url, post_head("100"), b'{"instan')  # 9 of 100
    assert got == 408 and "in time" in reply["error"]
    assert time.perf_counter() - start < 15  # the flag's 2 s, not forever
    still_serving(rest_url)


@pytest.mark.parametrize(
    "flag, expected",
    [
        ("--port=99999", "--port must be in [0, 65535]"),
        ("--rest_api_port=99999", "--rest_api_port must be in [0, 65535]"),
        ("--file_system_poll_wait_seconds=nan", "must be a finite number"),
        ("--max_warmup_seconds=-1", "--max_warmup_seconds must be a finite"),
        ("--max_warmup_seconds=inf", "--max_warmup_seconds must be a finite"),
        ("--rest_api_timeout_in_ms=0", "rest_api_timeout_in_ms"),
        ("--xla_cache_dir=/proc/keras_nlg/xla", "--xla_cache_dir can't be created"),
    ],
)
def test_flags_are_checked_before_anything_binds(flag, expected, tmp_path, capsys):
    argv = ["serve", f"--model_base_path={tmp_path}", flag]
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's own type errors
        code = exit.code
    assert code == 2
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if line.strip()]) == 1, err
    assert expected in err


def _proto(dtype, dims, strings=()):
    from tensorflow.core.framework import tensor_pb2

    proto = tensor_pb2.TensorProto(dtype=dtype)
    for size in dims:
        proto.tensor_shape.dim.add(size=size)
    proto.string_val.extend(strings)
    return proto


def _unknown_rank(dtype):
    proto = _proto(dtype, [], [b"a"])
    proto.tensor_shape.unknown_rank = True
    return proto


def _grpc_cases():
    import tensorflow as tf

    string, variant = tf.string.as_datatype_enum, tf.variant.as_datatype_enum
    return {
        "a DT_VARIANT tensor": (_proto(variant, [1]), "DT_VARIANT"),
        "a negative dimension": (_proto(string, [-1], [b"a"]), "negative dimension"),
        "2**40 elements and no values": (_proto(string, [2**40]), "holds 0"),
        "2,000,000 rows in one value": (
            _proto(string, [2_000_000], [b"a"]),
            "(2000000 values) but holds 1",
        ),
        "no shape at all": (
            _unknown_rank(string),
            "no shape",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "a DT_VARIANT tensor",
        "a negative dimension",
        "2**40 elements and no values",
        "2,000,000 rows in one value",
        "no shape at all",
    ],
)
def test_a_lying_tensor_is_invalid_argument_before_any_allocation(server, case):
    import grpc

    from tests.serving.wire import grpc_error, raw_predict

    target, rest_url = server
    proto, expected = _grpc_cases()[case]
    code, details = grpc_error(lambda: raw_predict(target, {"prompt": proto}))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert expected in details and "'prompt'" in details
    still_serving(rest_url)
