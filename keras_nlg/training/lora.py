"""LoRA on our Transformer with Keras' own `enable_lora`, and merging it back."""

import keras

from keras_nlg.argument_checks import check_positive_int
from keras_nlg.models.quantization import check_not_quantized

# The attention (query, key, value, output) and MLP projections of every block.
LORA_TARGETS = ("query", "key", "value", "attention_output", "mlp_in", "mlp_out")


def lora_layers(model):
    """The projection layers that LoRA adapts, in a fixed order."""
    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if layer.name in LORA_TARGETS and hasattr(layer, "enable_lora")
    ]


def enable_lora(model, rank: int, alpha: float | None = None):
    """Adds rank-`rank` adapters to the projections and freezes everything else.

    Keras' `enable_lora` freezes each adapted kernel; biases, LayerNorms and
    embeddings are frozen here, so the adapters are the only trainable
    weights. `alpha` scales the update by `alpha / rank` (default `rank`).
    """
    check_positive_int("lora_rank", rank)
    check_not_quantized(model, "LoRA")
    targets = lora_layers(model)
    if not targets:
        raise ValueError(
            f"`model` has no projections to adapt ({', '.join(LORA_TARGETS)}). "
            f"Received: a {type(model).__name__}"
        )
    for layer in targets:
        layer.enable_lora(rank, lora_alpha=alpha)
    for weight in model.weights:
        if "lora_kernel" not in weight.path:
            weight.trainable = False
    return model


def merge_lora(model):
    """A copy of `model` without adapters, their update added to the kernels."""
    merged = type(model).from_config(model.get_config())
    values = {_relative(weight.path): weight for weight in model.weights}
    for layer in lora_layers(model):
        if layer.lora_enabled:
            # `kernel` is the frozen kernel plus (alpha / rank) · A·B.
            values[_relative(f"{layer.path}/kernel")] = layer.kernel
    for weight in merged.weights:
        weight.assign(keras.ops.convert_to_numpy(values[_relative(weight.path)]))
    return merged


def _relative(path):
    return path.split("/", 1)[1]  # without the model's own (instance) name
