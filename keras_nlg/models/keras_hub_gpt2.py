"""Weights of keras-hub's `GPT2Backbone` in a `TransformerLanguageModel`.

Both use the same tensor layouts (EinsumDense attention kernels
`(hidden, heads, head_dim)`, Dense MLP kernels `(in, out)`), so the copy is a
renaming.
"""

import numpy as np

# Our weight path (below the model's name) → keras-hub's, per block.
_BLOCK_WEIGHTS = {
    "attention_norm": "self_attention_layer_norm",
    "attention/query": "self_attention/query",
    "attention/key": "self_attention/key",
    "attention/value": "self_attention/value",
    "attention/attention_output": "self_attention/attention_output",
    "mlp_norm": "feedforward_layer_norm",
    "mlp_in": "feedforward_intermediate_dense",
    "mlp_out": "feedforward_output_dense",
}
_MODEL_WEIGHTS = {
    "embedding/token_embeddings": "token_embedding/embeddings",
    "embedding/position_embeddings": "position_embedding/embeddings",
    "final_norm/gamma": "layer_norm/gamma",
    "final_norm/beta": "layer_norm/beta",
}


def keras_hub_gpt2_name(path):
    """keras-hub's name of our weight `path` (without the model's prefix)."""
    if path in _MODEL_WEIGHTS:
        return _MODEL_WEIGHTS[path]
    block, part = path.split("/", 1)
    prefix, leaf = part.rsplit("/", 1)
    return f"transformer_layer_{block.split('_')[1]}/{_BLOCK_WEIGHTS[prefix]}/{leaf}"


def load_keras_hub_gpt2_weights(model, backbone):
    """Copies a keras-hub `GPT2Backbone`'s weights into `model`.

    `model` must be a `TransformerLanguageModel` with GPT-2's options (the
    defaults) and the backbone's sizes. Raises `ValueError` naming the
    tensor on a shape mismatch.
    """
    source = {weight.path: weight for weight in backbone.weights}
    for weight in model.weights:
        path = weight.path.split("/", 1)[1]
        name = keras_hub_gpt2_name(path)
        if name not in source:
            raise ValueError(
                f"keras-hub GPT2Backbone has no weight {name} (for {path})"
            )
        if tuple(source[name].shape) != tuple(weight.shape):
            raise ValueError(
                f"Shape mismatch for {name}: keras-hub {tuple(source[name].shape)}, "
                f"ours {tuple(weight.shape)}"
            )
        # float32 whatever the preset's dtype policy (bfloat16 presets too).
        weight.assign(np.asarray(source[name].numpy(), dtype=np.float32))
