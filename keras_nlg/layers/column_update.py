"""Writing new columns into a static-shape buffer, on every runtime.

A decode loop writes each step's keys and values into the KV cache, and its
token into the output buffer, at a position known only at run time. Which
TensorFlow op does that best depends on who runs the graph:

- under XLA (`jit_compile=True`): `ops.slice_update`, which TensorFlow
  lowers to `XlaDynamicUpdateSlice`, updated in place in the loop;
- in a TFLite conversion: the same op, which the converter maps to the
  `DYNAMIC_UPDATE_SLICE` builtin (what LiteRT and LiteRT-LM update in place);
- anywhere else (a plain graph, e.g. the SavedModel that stock TF Serving
  runs on GPU): `TensorStridedSliceUpdate`. `XlaDynamicUpdateSlice` outside
  an XLA cluster runs only through XLA's compile-on-demand kernel, which TF
  Serving's GPU build lacks ("Could not find compiler for platform CUDA",
  tensorflow/serving#2217), while `TensorStridedSliceUpdate` has native CPU
  and GPU kernels for float32 and int32 (`TensorScatterUpdate` has no int32
  GPU kernel) and updates its input in place when nothing else holds it.
  XLA refuses it (its bounds must be compile-time constants), hence two
  forms.

`update_columns` picks the op when it is traced: XLA from TensorFlow's own
XLA context (what `tf.function(jit_compile=True)` sets while tracing), the
TFLite case from `dynamic_update_slice_ops()`, which the TFLite exporter
enters. Keras has one op for all (`ops.slice_update`), so this choice is
ours to make; both forms write the same values.

On the other Keras backends (JAX) there is one form, `ops.slice_update`
(`lax.dynamic_update_slice`), and TensorFlow is not imported at all.
"""

import contextlib
import threading

import keras
from keras import ops

_STATE = threading.local()


@contextlib.contextmanager
def dynamic_update_slice_ops():
    """Traces `update_columns` as dynamic-update-slice outside XLA too.

    For converters that map `XlaDynamicUpdateSlice` to a native op of their
    own (TFLite's `DYNAMIC_UPDATE_SLICE`). Thread-local; nests.
    """
    depth = getattr(_STATE, "depth", 0)
    _STATE.depth = depth + 1
    try:
        yield
    finally:
        _STATE.depth = depth


def _dynamic_update_slice_wanted():
    if getattr(_STATE, "depth", 0) or keras.backend.backend() != "tensorflow":
        return True
    import tensorflow as tf
    from tensorflow.python.ops import control_flow_util

    if tf.executing_eagerly():
        return True  # eager: XLA's CPU kernel is there; same values
    graph = tf.compat.v1.get_default_graph()
    return control_flow_util.GraphOrParentsInXlaContext(graph)


def update_columns(buffer, column, update):
    """`buffer` with `update` written at columns `column …` of axis 1.

    Args:
        buffer: tensor `(N, S, ...)`.
        column: int32 scalar tensor (or int), the first column written;
            `column + T ≤ S`.
        update: tensor `(N, T, ...)`, the same trailing shape as `buffer`;
            cast to `buffer`'s dtype.

    Returns:
        A tensor like `buffer`. Columns outside `[column, column + T)` are
        unchanged.
    """
    update = ops.cast(update, buffer.dtype)
    column = ops.cast(column, "int32")
    if _dynamic_update_slice_wanted():
        zero = ops.zeros((), "int32")
        start = [zero, column] + [zero] * (len(buffer.shape) - 2)
        return ops.slice_update(buffer, start, update)
    import tensorflow as tf

    # Axis 1 from `column`, every other axis whole (begin/end masks).
    length = update.shape[1]
    if length is None:
        length = tf.shape(update)[1]
    rank = len(buffer.shape)
    begin = tf.stack([0, column] + [0] * (rank - 2))
    end = tf.stack([0, column + length] + [0] * (rank - 2))
    whole = sum(1 << axis for axis in range(rank) if axis != 1)
    return tf.raw_ops.TensorStridedSliceUpdate(
        input=buffer,
        begin=begin,
        end=end,
        strides=tf.ones([rank], tf.int32),
        value=update,
        begin_mask=whole,
        end_mask=whole,
    )
