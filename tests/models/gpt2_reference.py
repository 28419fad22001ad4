"""GPT-2's forward pass in float64 NumPy, from HF tensors and config.json.

An independent reference for the importer: written from GPT-2's definition
(and transformers' GPT2Attention/GPT2MLP for the optional fields), sharing
no code with keras_nlg. Reads the config fields that change logits:
n_head, n_inner (only through the tensor shapes), layer_norm_epsilon,
activation_function, scale_attn_weights, scale_attn_by_inverse_layer_idx and
tie_word_embeddings.
"""

import math

import numpy as np

_ERF = np.vectorize(math.erf)


def _activation(name, x):
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    if name == "gelu":
        return 0.5 * x * (1 + _ERF(x / math.sqrt(2)))
    raise ValueError(name)


def _layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def gpt2_logits(tensors, config, token_ids):
    """Float64 logits `(batch, length, vocab)` of HF GPT-2 `tensors`.

    `tensors` uses GPT2Model's names (no "transformer." prefix) plus
    `lm_head.weight` when `config["tie_word_embeddings"]` is false.
    """
    w = {name: np.asarray(value, np.float64) for name, value in tensors.items()}
    heads = config["n_head"]
    epsilon = config.get("layer_norm_epsilon", 1e-5)
    activation = config.get("activation_function", "gelu_new")
    batch, length = token_ids.shape
    x = w["wte.weight"][token_ids] + w["wpe.weight"][np.arange(length)]  # (B, T, D)
    hidden = x.shape[-1]
    head_dim = hidden // heads
    causal = np.tril(np.ones((length, length), bool))
    for i in range(config["n_layer"]):
        p = f"h.{i}."
        h = _layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], epsilon)
        qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (
            t.reshape(batch, length, heads, head_dim).transpose(0, 2, 1, 3)
            for t in np.split(qkv, 3, axis=-1)
        )  # (B, nh, T, hd)
        scores = q @ k.transpose(0, 1, 3, 2)  # (B, nh, T, T)
        if config.get("scale_attn_weights", True):
            scores = scores / math.sqrt(head_dim)
        if config.get("scale_attn_by_inverse_layer_idx", False):
            scores = scores / (i + 1)
        scores = np.where(causal, scores, -np.inf)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probabilities = scores / scores.sum(-1, keepdims=True)
        context = (probabilities @ v).transpose(0, 2, 1, 3).reshape(batch, length, -1)
        x = x + context @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = _layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], epsilon)
        h = _activation(
            activation, h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]
        )
        x = x + h @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = _layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], epsilon)
    if config.get("tie_word_embeddings", True):
        return x @ w["wte.weight"].T
    return x @ w["lm_head.weight"].T
