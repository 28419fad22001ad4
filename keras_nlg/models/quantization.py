"""The dtype policies of a quantized model, across a save and a reload.

`model.quantize("int8")` (Keras) gives each quantized layer an `int8_from_*`
policy. Our models build their sublayers in `__init__` from a config that
holds one dtype, so `get_config` stores a `DTypePolicyMap` (layer path →
policy) in its place, and `__init__` resolves it back to one policy per
layer once the layers exist.
"""

import keras


def quantization_modes(model):
    """The sorted quantization modes of `model`'s layers (empty: float)."""
    return sorted(
        {layer.quantization_mode for layer in model._flatten_layers()} - {None}
    )


def check_not_quantized(model, purpose: str) -> None:
    """`ValueError` if `model` has quantized layers: `purpose` (training,
    LoRA, the TFLite exports, Hugging Face's GPT-2) needs float weights.

    Quantized weights are an inference format here: an int8 cast passes no
    gradient, and a LoRA merge into int8 kernels would round the update away.
    """
    modes = quantization_modes(model)
    if modes:
        raise ValueError(
            f"{purpose} needs a float model: use the model from before "
            f"`quantize`, and quantize afterwards. Received: a "
            f"{type(model).__name__} quantized to {', '.join(modes)}"
        )


def quantized_policies(model):
    """A `DTypePolicyMap` of the quantized sublayers' policies, or None.

    Our sublayers are built in `__init__` from the model's config, which holds
    one dtype; a quantized model (`model.quantize("int8")`) saves this map in
    its place, so that reloading builds each quantized layer with its int8
    variables (keras-hub's backbones do the same).
    """
    default = model.dtype_policy
    if isinstance(default, keras.dtype_policies.DTypePolicyMap):
        default = default.default_policy
    policies = keras.dtype_policies.DTypePolicyMap(default_policy=default)
    for layer in model._flatten_layers(include_self=False):
        if layer.quantization_mode is None:
            continue
        policy = layer.dtype_policy
        if isinstance(policy, keras.dtype_policies.DTypePolicyMap):
            policy = policy[layer.path]
        policies[layer.path] = policy
    return policies if len(policies) else None


def resolve_policy_map(model):
    """Gives each layer its own policy from a `DTypePolicyMap` (a reloaded
    quantized model): Keras 3.15's int8 `EinsumDense`/`Dense` read
    `dtype_policy.quantization_mode`, which a map answers with its default
    (none), and then save no kernel scale."""
    if not isinstance(model.dtype_policy, keras.dtype_policies.DTypePolicyMap):
        return
    for layer in model._flatten_layers(include_self=False):
        policy = layer._dtype_policy
        if isinstance(policy, keras.dtype_policies.DTypePolicyMap) and layer.path:
            layer._dtype_policy = policy[layer.path]
