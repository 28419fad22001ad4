"""The shared test every layer passes: serialization, symbolic and eager calls,
one `fit` step, and mixed precision."""

import keras
import numpy as np


def _as_tuple(inputs):
    return inputs if isinstance(inputs, tuple) else (inputs,)


def _first(outputs):
    return outputs[0] if isinstance(outputs, tuple) else outputs


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    expected_output_shape,
    call_kwargs=None,
    weights_without_gradient=(),
):
    """Checks a layer end to end.

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor arguments.
        input_data: a NumPy array or a tuple of arrays (positional inputs).
        expected_output_shape: shape of the (first) output for `input_data`.
        call_kwargs: extra keyword arguments of `call`.
        weights_without_gradient: substrings of weight paths whose gradient is
            zero by construction (e.g. an attention key bias: it adds the
            same amount to every score of a query, and softmax ignores that).
    """
    call_kwargs = call_kwargs or {}
    inputs = _as_tuple(input_data)

    # Eager call.
    layer = layer_cls(**init_kwargs)
    eager = _first(layer(*inputs, **call_kwargs))
    assert tuple(eager.shape) == tuple(expected_output_shape)

    # Serialization round trip: same config, same outputs with the same weights.
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert restored.get_config() == layer.get_config()
    _first(restored(*inputs, **call_kwargs))
    restored.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        _first(restored(*inputs, **call_kwargs)), eager, atol=1e-6
    )

    # Symbolic call inside a functional model, then one fit step that moves
    # every trainable weight.
    symbolic_inputs = [keras.Input(shape=x.shape[1:], dtype=x.dtype) for x in inputs]
    symbolic_layer = layer_cls(**init_kwargs)
    symbolic_output = _first(symbolic_layer(*symbolic_inputs, **call_kwargs))
    assert tuple(symbolic_output.shape[1:]) == tuple(expected_output_shape[1:])
    model = keras.Model(symbolic_inputs, symbolic_output)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    checked = [
        w
        for w in symbolic_layer.trainable_weights
        if not any(name in w.path for name in weights_without_gradient)
    ]
    before = [np.array(w) for w in checked]
    target = np.random.default_rng(0).normal(size=expected_output_shape)
    model.fit(
        list(inputs),
        target.astype("float32"),
        epochs=1,
        batch_size=len(target),
        verbose=0,
    )
    assert before, "the layer has no trainable weights"
    for weight, old in zip(checked, before, strict=True):
        assert not np.allclose(old, np.array(weight)), (
            f"{weight.path} did not change in fit()"
        )

    # Mixed precision: computes in the low precision, keeps float32 variables,
    # and with the same weights agrees with float32 to the precision's accuracy.
    for policy, compute_dtype, tolerance in (
        ("mixed_float16", "float16", 1e-2),
        ("mixed_bfloat16", "bfloat16", 5e-2),
    ):
        mixed = layer_cls(**init_kwargs, dtype=policy)
        _first(mixed(*inputs, **call_kwargs))
        mixed.set_weights(layer.get_weights())
        output = _first(mixed(*inputs, **call_kwargs))
        assert keras.backend.standardize_dtype(output.dtype) == compute_dtype
        assert all(w.dtype == "float32" for w in mixed.weights)
        output = keras.ops.convert_to_numpy(keras.ops.cast(output, "float32"))
        scale = np.abs(np.asarray(eager)).max()
        np.testing.assert_allclose(output, eager, atol=tolerance * scale)
