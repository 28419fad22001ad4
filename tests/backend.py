"""What a test needs to run the same check on each Keras backend.

The layer and model tests run under TensorFlow (the whole suite) and again
under JAX (`tests/test_jax_backend.py`); these helpers hide the one thing
that differs between the two: how a function is compiled by XLA.
"""

import keras

BACKEND = keras.backend.backend()


def xla_compiled(function):
    """`function` compiled by XLA: `tf.function(jit_compile=True)` on
    TensorFlow, `jax.jit` on JAX. The result has `.traces()`, the number of
    times `function` was traced."""
    traces = [0]

    def counted(*arguments):
        traces[0] += 1
        return function(*arguments)

    if BACKEND == "tensorflow":
        import tensorflow as tf

        compiled = tf.function(counted, jit_compile=True)
    else:
        import jax

        compiled = jax.jit(counted)

    def run(*arguments):
        return compiled(*arguments)

    run.traces = lambda: traces[0]
    return run


def index(value: int):
    """A scalar int32 tensor of the backend (a compiled function taking it
    traces once for every value)."""
    return keras.ops.convert_to_tensor(value, "int32")
