"""`keras_nlg.serving.tensors` against TensorFlow's own conversions."""

import math

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from keras_nlg.serving import tensors

ARRAYS = [
    np.array([b"ROMEO:", b"", "é".encode()], object),
    np.array([[b"a", b"bc"], [b"d", b"\x00\xff"]], object),
    np.array(b"one"),
    np.array([1, -2, 2**31 - 1], np.int32),
    np.array([[2**40, -1]], np.int64),
    np.array([0.5, -np.inf, np.nan], np.float32),
    np.array([1e300], np.float64),
    np.array([True, False]),
    np.array(7, np.int32),
    np.zeros([0, 3], np.int32),
    np.zeros([2, 0], object),
]


def assert_same(actual, expected):
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    if expected.dtype == object:
        assert actual.tolist() == expected.tolist()
    else:
        np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype}{a.shape}")
def test_array_to_tensor_proto_reads_back_as_tensorflow_reads_its_own(array):
    ours = tensors.array_to_tensor_proto(array)
    theirs = tf.make_tensor_proto(array)
    assert ours.dtype == theirs.dtype
    assert ours.tensor_shape == theirs.tensor_shape
    assert_same(tf.make_ndarray(ours), tf.make_ndarray(theirs))


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype}{a.shape}")
def test_tensor_to_array_equals_make_ndarray(array):
    proto = tf.make_tensor_proto(array)
    assert_same(tensors.tensor_to_array("x", proto), tf.make_ndarray(proto))


@pytest.mark.parametrize(
    "value, dtype, shape",
    [
        ([1, 2, 3], tf.int32, None),  # int_val, no tensor_content
        (0.7, tf.float32, [4]),  # one value broadcast over the shape
        (True, tf.bool, [2, 2]),
        ("x", tf.string, [3]),
        (5, tf.int64, [1, 1]),
    ],
)
def test_value_fields_and_broadcast_equal_make_ndarray(value, dtype, shape):
    proto = tf.make_tensor_proto(value, dtype, shape)
    assert_same(tensors.tensor_to_array("x", proto), tf.make_ndarray(proto))


def test_str_arrays_are_sent_as_utf8():
    proto = tensors.array_to_tensor_proto(np.array(["né", "b"]))
    assert list(proto.string_val) == ["né".encode(), b"b"]


def test_fills_the_proto_it_is_given():
    outer = tf.make_tensor_proto(np.zeros(1))  # any message with a proto field
    target = type(outer)()
    assert tensors.array_to_tensor_proto(np.arange(3, dtype=np.int32), target) is target
    assert tensors.tensor_to_array("x", target).tolist() == [0, 1, 2]


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.float16, np.complex64])
def test_unserved_numpy_dtype_is_a_type_error_naming_it(dtype):
    assert not tensors.is_served(dtype)
    with pytest.raises(TypeError, match=np.dtype(dtype).name):
        tensors.array_to_tensor_proto(np.zeros(2, dtype))


def test_big_endian_arrays_are_sent_little_endian():
    array = np.array([1, 256], ">i4")
    assert tensors.tensor_to_array(
        "x", tensors.array_to_tensor_proto(array)
    ).tolist() == [
        1,
        256,
    ]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: setattr(p, "dtype", types_pb2.DT_VARIANT), "DT_VARIANT"),
        (lambda p: setattr(p, "dtype", 999), "999"),
        (lambda p: p.tensor_shape.dim[0].__setattr__("size", -1), "negative"),
        (lambda p: p.tensor_shape.dim[0].__setattr__("size", 2**40), "holds 3"),
        (lambda p: setattr(p, "tensor_content", b"\x00" * 5), "whole number"),
        (lambda p: setattr(p.tensor_shape, "unknown_rank", True), "no shape"),
    ],
)
def test_bad_protos_name_the_input(mutate, message):
    proto = tf.make_tensor_proto(np.array([1, 2, 3], np.int32))
    mutate(proto)
    with pytest.raises(tensors.TensorError, match=f"'prompt'.*{message}|{message}"):
        tensors.tensor_to_array("prompt", proto)


def test_broadcast_is_bounded():
    proto = tf.make_tensor_proto(1, tf.int32, [tensors.MAX_BROADCAST + 1])
    with pytest.raises(tensors.TensorError, match="holds 1"):
        tensors.tensor_to_array("x", proto)


@pytest.mark.parametrize(
    "dims, match",
    [
        ([0, 2**62, 2**62], "has shape"),  # no values, yet no NumPy shape
        ([1] * (tensors.MAX_RANK + 1), "rank"),
    ],
)
def test_shapes_numpy_cannot_build_are_tensor_errors(dims, match):
    proto = tf.make_tensor_proto(np.zeros(0, object))
    del proto.tensor_shape.dim[:]
    for size in dims:
        proto.tensor_shape.dim.add(size=size)
    if math.prod(dims) == 1:
        proto.string_val.append(b"a")
    with pytest.raises(tensors.TensorError, match=match):
        tensors.tensor_to_array("x", proto)


def test_a_broadcast_string_is_bounded_by_its_bytes():
    proto = tf.make_tensor_proto(b"x" * 512, tf.string, [128])  # 64 KiB: allowed
    assert tensors.tensor_to_array("x", proto).shape == (128,)
    proto = tf.make_tensor_proto(b"x" * 1024, tf.string, [1024])  # 1 MiB
    with pytest.raises(tensors.TensorError, match="holds 1"):
        tensors.tensor_to_array("x", proto)


def test_bool_content_bytes_are_normalised():
    proto = tensors.array_to_tensor_proto(np.array([True, False]))
    proto.tensor_content = b"\x02\x00"
    array = tensors.tensor_to_array("x", proto)
    assert array.dtype == bool and array.tolist() == [True, False]
    assert array.view(np.uint8).tolist() == [1, 0]


@pytest.mark.parametrize("value", [3, np.int64(2), [1, 2]])
def test_string_tensors_take_only_bytes_or_str(value):
    array = np.empty(1, object)
    array[0] = value
    with pytest.raises(TypeError, match="bytes or str"):
        tensors.array_to_tensor_proto(array)


def test_a_bad_output_is_named_as_an_output():
    """A client reading a response's tensor names it as an output."""
    proto = tf.make_tensor_proto(np.array([1, 2, 3], np.int32))
    proto.tensor_shape.dim[0].size = -1
    with pytest.raises(tensors.TensorError, match="^Input 'text' has a negative"):
        tensors.tensor_to_array("text", proto)
    with pytest.raises(tensors.TensorError, match="^Output 'text' has a negative"):
        tensors.tensor_to_array("text", proto, role="Output")
