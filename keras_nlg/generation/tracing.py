"""Compiling a model's decode loops once, not once per call.

`generate` is called again and again with new prompts; each call building
its own `tf.function` would retrace and recompile (seconds of XLA each
time). `traced_once` keeps one function per model and key, behind a weak
reference so the cache never keeps a model alive.
"""

import functools
import weakref

import keras
import tensorflow as tf

# Traced functions per model: decode and advance per `Processing`, one beam
# search per beam width, the served loop, the reference's forward pass.
_COMPILED = weakref.WeakKeyDictionary()


def traced_once(model, key, function, per_shape=False, **tf_function_options):
    """`tf.function` of `function(model, ...)`, made once per model and key.

    XLA-compiled unless `tf_function_options` say otherwise. The cache holds
    only a weak reference, so it never keeps a model alive. With
    `per_shape`, the result makes one `tf.function` per input shapes (see
    `_PerShape`); call it eagerly only.

    Raises:
        ValueError: on a Keras backend other than TensorFlow.
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ValueError(
            "This decode loop (streaming, beam search, the served loop, RL and "
            "adversarial sampling) runs on Keras' TensorFlow backend only; "
            "keras_nlg.generate and generate_token_ids run on JAX too. "
            f"Received: KERAS_BACKEND={backend!r}"
        )
    functions = _COMPILED.setdefault(model, {})
    if key not in functions:
        model_ref = weakref.ref(model)

        def bound(*arguments):
            return function(model_ref(), *arguments)

        options = {"jit_compile": True, "autograph": False, **tf_function_options}
        functions[key] = (
            _PerShape(bound, options) if per_shape else tf.function(bound, **options)
        )
    return functions[key]


class _PerShape:
    """One `tf.function` per input shapes, dtypes and Python values.

    An XLA program is compiled per static shape anyway, and the callers pad
    to bucketed shapes, so a few traces per loop are planned. Behind one
    `tf.function` they would still trip TensorFlow's "triggered tf.function
    retracing" warning (printed by `keras-nlg evaluate` between results);
    one function per shape traces each exactly once.
    """

    def __init__(self, python_function, tf_function_options):
        self._python_function = python_function
        self._options = tf_function_options
        self._functions = {}

    def __call__(self, *arguments):
        key = tuple(
            (tuple(value.shape), value.dtype.name)
            if hasattr(value, "shape") and hasattr(value, "dtype")
            else value
            for value in tf.nest.flatten(arguments)
        )
        if key not in self._functions:
            # TensorFlow counts traces per code object (`__code__`), across
            # the tf.functions that wrap it; a `partial` has none, so each
            # shape's function is counted on its own.
            traced = functools.partial(self._python_function)
            self._functions[key] = tf.function(traced, **self._options)
        return self._functions[key](*arguments)

    def experimental_get_tracing_count(self):
        """Traces over all shapes (as `tf.function`'s method of that name)."""
        return sum(
            function.experimental_get_tracing_count()
            for function in self._functions.values()
        )
