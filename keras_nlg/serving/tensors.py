"""`TensorProto` ↔ NumPy for the dtypes a signature of ours serves.

TensorFlow's `make_ndarray` and `make_tensor_proto` handle every dtype and
form, in Python, and cost 20–100 µs per tensor; with batching on, a tiny
model's whole share of a request is about a millisecond, so these two ran
on every request and their time showed in the throughput
(benchmarks/RESULTS.md, "Serving"). The served dtypes are six, each with
one proto field, so the conversion here is a few NumPy calls. It is checked
value for value against TensorFlow's own functions
(tests/serving/test_tensors.py), and it validates a request's proto before
anything is allocated, which TensorFlow's doesn't.
"""

import math

import numpy as np
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

# dtype enum → (NumPy dtype, the proto field of its values).
_SERVED = {
    types_pb2.DT_STRING: (np.dtype(object), "string_val"),
    types_pb2.DT_INT32: (np.dtype("<i4"), "int_val"),
    types_pb2.DT_INT64: (np.dtype("<i8"), "int64_val"),
    types_pb2.DT_FLOAT: (np.dtype("<f4"), "float_val"),
    types_pb2.DT_DOUBLE: (np.dtype("<f8"), "double_val"),
    types_pb2.DT_BOOL: (np.dtype(bool), "bool_val"),
}


def _served_key(dtype):
    """`"i4"`, `"f8"`, `"b1"`, ...: a NumPy dtype's kind and size."""
    return dtype.kind + str(dtype.itemsize)


# "i4", "f8", "b1", ... → dtype enum, for the numeric dtypes.
_ENUMS = {
    _served_key(dtype): enum
    for enum, (dtype, _) in _SERVED.items()
    if dtype.kind != "O"
}

# TensorFlow's one-value form (`make_tensor_proto(0.7, shape=[4])`)
# broadcasts; allowed up to a size no request needs more of (elements, or
# bytes for a string).
MAX_BROADCAST = 1 << 16
MAX_RANK = 32  # NumPy's limit is 64; no signature of ours takes more than 2


class TensorError(ValueError):
    """A `TensorProto` that can't be served; the message names the tensor."""


def tensor_to_array(name, proto, role="Input"):
    """The NumPy value of an input (or output) `TensorProto`, checked first.

    TensorFlow's `make_ndarray` trusts the proto: a declared shape of
    `[2**40]` with no values is allocated (filled with zeros), a string
    tensor declaring 2,000,000 rows in a few bytes is materialised, and a
    negative dimension or an unservable dtype fails deep inside. Here the
    declared element count must equal the values the proto holds (or be a
    one-value broadcast of at most `MAX_BROADCAST` elements).

    Args:
        name: the tensor's name, for the error message.
        proto: a `tensorflow.TensorProto`.
        role: how the message names the tensor: "Input" (a request's, the
            default) or "Output" (a response's, read by a client).

    Returns:
        An `np.ndarray` of the declared shape: `object` (bytes) for
        DT_STRING, else int32/int64/float32/float64/bool.

    Raises:
        TensorError: naming `name` and what is wrong.
    """
    if proto.dtype not in _SERVED:
        try:
            dtype = types_pb2.DataType.Name(proto.dtype)  # TF Serving's words
        except ValueError:  # a number no DataType has
            dtype = str(proto.dtype)
        raise TensorError(f"{role} {name!r} has dtype {dtype}, which is not served")
    if proto.tensor_shape.unknown_rank:
        raise TensorError(f"{role} {name!r} has no shape")
    dims = [dim.size for dim in proto.tensor_shape.dim]
    if len(dims) > MAX_RANK:
        raise TensorError(
            f"{role} {name!r} has rank {len(dims)}; at most {MAX_RANK} is served"
        )
    if any(size < 0 for size in dims):
        raise TensorError(f"{role} {name!r} has a negative dimension: {dims}")
    dtype, field = _SERVED[proto.dtype]
    content = proto.tensor_content if dtype.kind != "O" else b""
    if content:
        if len(content) % dtype.itemsize:
            raise TensorError(
                f"{role} {name!r}: tensor_content of {len(content)} bytes is not a "
                f"whole number of {dtype.name} values"
            )
        values = np.frombuffer(content, dtype)
        if dtype.kind == "b":  # any nonzero byte is True, as in TensorFlow
            values = np.frombuffer(content, np.uint8) != 0
    else:
        values = getattr(proto, field)
    held, declared = len(values), math.prod(dims)
    try:
        if held == declared:
            if dtype.kind == "O":
                array = np.empty(held, object)
                array[:] = list(values)
            else:
                array = np.array(values, dtype)  # a copy: frombuffer's is read-only
            return array.reshape(dims)
        # A broadcast string is copied per element by TensorFlow: bound the bytes.
        size = max(len(values[0]), 1) if held == 1 and dtype.kind == "O" else 1
        if held == 1 and not content and declared * size <= MAX_BROADCAST:
            return np.full(dims, values[0], dtype)
    except ValueError as error:  # a shape NumPy can't build (e.g. 0 x 2**62 x 2**62)
        raise TensorError(f"{role} {name!r} has shape {dims}: {error}") from None
    raise TensorError(
        f"{role} {name!r} declares shape {dims} ({declared} values) but holds {held}"
    )


def array_to_tensor_proto(array, proto=None):
    """Writes `array` into `proto` (a new `TensorProto` if None), as
    `tf.make_tensor_proto` would: strings as `string_val` (str encoded as
    UTF-8), numbers as little-endian `tensor_content`.

    Args:
        array: an `np.ndarray` of bytes/str (object or fixed-width), int32,
            int64, float32, float64 or bool.
        proto: an empty `TensorProto` to fill, e.g. `response.outputs[key]`
            (filling it in place saves a copy).

    Returns:
        The filled proto.

    Raises:
        TypeError: if `array`'s dtype is none of those, naming it.
    """
    array = np.asarray(array)
    enum = _enum(array.dtype)
    if enum is None:
        raise TypeError(
            f"`array` must hold strings, int32, int64, float32, float64 or bool. "
            f"Received dtype: {array.dtype}"
        )
    proto = tensor_pb2.TensorProto() if proto is None else proto
    proto.dtype = enum
    proto.tensor_shape.dim.extend(
        tensor_shape_pb2.TensorShapeProto.Dim(size=n) for n in array.shape
    )
    if enum == types_pb2.DT_STRING:
        proto.string_val.extend(_string(value) for value in array.reshape(-1).tolist())
    else:
        proto.tensor_content = array.astype(_SERVED[enum][0], copy=False).tobytes()
    return proto


def _string(value):
    """bytes for `string_val`; `bytes(3)` would silently be three zero bytes."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    raise TypeError(
        "A string tensor's values must be bytes or str. Received: "
        f"{type(value).__name__} {value!r:.50}"
    )


def _enum(dtype):
    """The dtype enum an array of this NumPy dtype is sent as, or None."""
    if dtype.kind in "OSU":  # object (bytes/str values), bytes, str
        return types_pb2.DT_STRING
    return _ENUMS.get(_served_key(dtype))


def is_served(dtype):
    """Whether `array_to_tensor_proto` takes arrays of this NumPy dtype."""
    return _enum(np.dtype(dtype)) is not None


__all__ = [
    "MAX_BROADCAST",
    "MAX_RANK",
    "TensorError",
    "array_to_tensor_proto",
    "is_served",
    "tensor_to_array",
]
