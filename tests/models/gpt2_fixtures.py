"""Tiny random GPT-2 checkpoints in keras-hub's and Hugging Face's formats."""

import json
import os

import keras
import keras_hub
import numpy as np
from safetensors.numpy import save_file

from tests.tokenizers.gpt2_files import (
    MERGES,
    tiny_gpt2_vocabulary,
    write_gpt2_tokenizer_files,
)

SIZES = dict(num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32)
MAX_LENGTH = 64


def tiny_backbone(seed=0):
    """A random keras-hub GPT2Backbone over the tiny GPT-2 vocabulary."""
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=len(tiny_gpt2_vocabulary()),
        max_sequence_length=MAX_LENGTH,
        dropout=0.0,
        **SIZES,
    )
    # Random (not zero) biases and LayerNorm parameters, so that a swapped
    # or transposed tensor cannot go unnoticed.
    rng = np.random.default_rng(seed)
    for weight in backbone.weights:
        if "bias" in weight.path or "beta" in weight.path or "gamma" in weight.path:
            weight.assign(weight.numpy() + rng.normal(0, 0.1, weight.shape))
    return backbone


def write_keras_hub_preset(backbone, directory):
    backbone.save_to_preset(directory)
    tokenizer = keras_hub.models.GPT2Tokenizer(
        vocabulary=tiny_gpt2_vocabulary(), merges=MERGES
    )
    tokenizer.save_to_preset(directory)
    return directory


def hugging_face_tensors(backbone):
    """The backbone's weights under HF GPT-2 names and (Conv1D) layouts."""
    w = {weight.path: weight.numpy() for weight in backbone.weights}
    hidden = backbone.hidden_dim
    tensors = {
        "wte.weight": w["token_embedding/embeddings"],
        "wpe.weight": w["position_embedding/embeddings"],
        "ln_f.weight": w["layer_norm/gamma"],
        "ln_f.bias": w["layer_norm/beta"],
    }
    for i in range(backbone.num_layers):
        layer = f"transformer_layer_{i}/"
        attention = layer + "self_attention/"
        qkv = ("query", "key", "value")
        tensors[f"h.{i}.attn.c_attn.weight"] = np.concatenate(
            [w[f"{attention}{p}/kernel"].reshape(hidden, hidden) for p in qkv], axis=1
        )
        tensors[f"h.{i}.attn.c_attn.bias"] = np.concatenate(
            [w[f"{attention}{p}/bias"].reshape(hidden) for p in qkv]
        )
        tensors[f"h.{i}.attn.c_proj.weight"] = w[
            f"{attention}attention_output/kernel"
        ].reshape(hidden, hidden)
        tensors[f"h.{i}.attn.c_proj.bias"] = w[f"{attention}attention_output/bias"]
        for hf, hub in (
            ("ln_1", "self_attention_layer_norm"),
            ("ln_2", "feedforward_layer_norm"),
        ):
            tensors[f"h.{i}.{hf}.weight"] = w[f"{layer}{hub}/gamma"]
            tensors[f"h.{i}.{hf}.bias"] = w[f"{layer}{hub}/beta"]
        for hf, hub in (
            ("mlp.c_fc", "feedforward_intermediate_dense"),
            ("mlp.c_proj", "feedforward_output_dense"),
        ):
            tensors[f"h.{i}.{hf}.weight"] = w[f"{layer}{hub}/kernel"]
            tensors[f"h.{i}.{hf}.bias"] = w[f"{layer}{hub}/bias"]
    return tensors


def hugging_face_config(backbone):
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": backbone.vocabulary_size,
        "n_positions": backbone.max_sequence_length,
        "n_embd": backbone.hidden_dim,
        "n_layer": backbone.num_layers,
        "n_head": backbone.num_heads,
        "n_inner": backbone.intermediate_dim,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-5,
        "bos_token_id": backbone.vocabulary_size - 1,
        "eos_token_id": backbone.vocabulary_size - 1,
    }


def write_hugging_face_checkpoint(
    backbone, directory, prefix="transformer.", config=None, tensors=None
):
    """config.json, model.safetensors (GPT2LMHeadModel names), vocab, merges.

    `config` replaces the config.json written (default
    `hugging_face_config(backbone)`), `tensors` the GPT2Model-named tensors
    (default `hugging_face_tensors(backbone)`; `lm_head.weight` is written
    without the prefix, as GPT2LMHeadModel does).
    """
    os.makedirs(directory, exist_ok=True)
    tensors = hugging_face_tensors(backbone) if tensors is None else tensors
    tensors = {
        ("" if k.startswith("lm_head.") else prefix) + k: np.ascontiguousarray(v)
        for k, v in tensors.items()
    }
    save_file(tensors, os.path.join(directory, "model.safetensors"))
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(hugging_face_config(backbone) if config is None else config, f)
    write_gpt2_tokenizer_files(directory)
    return directory


def random_hugging_face_tensors(config, seed=0, scale=0.3):
    """Random GPT2Model-named tensors of `config`'s sizes (HF config.json).

    Larger than GPT-2's initialisation (`scale`), so that an option that
    changes the logits changes them by far more than the tolerance.
    """
    rng = np.random.default_rng(seed)
    vocab, hidden = config["vocab_size"], config["n_embd"]
    inner = config.get("n_inner") or 4 * hidden

    def normal(*shape, mean=0.0):
        return (mean + scale * rng.standard_normal(shape)).astype(np.float32)

    tensors = {
        "wte.weight": normal(vocab, hidden),
        "wpe.weight": normal(config["n_positions"], hidden),
        "ln_f.weight": normal(hidden, mean=1.0),
        "ln_f.bias": normal(hidden),
    }
    for i in range(config["n_layer"]):
        p = f"h.{i}."
        tensors |= {
            p + "ln_1.weight": normal(hidden, mean=1.0),
            p + "ln_1.bias": normal(hidden),
            p + "attn.c_attn.weight": normal(hidden, 3 * hidden),
            p + "attn.c_attn.bias": normal(3 * hidden),
            p + "attn.c_proj.weight": normal(hidden, hidden),
            p + "attn.c_proj.bias": normal(hidden),
            p + "ln_2.weight": normal(hidden, mean=1.0),
            p + "ln_2.bias": normal(hidden),
            p + "mlp.c_fc.weight": normal(hidden, inner),
            p + "mlp.c_fc.bias": normal(inner),
            p + "mlp.c_proj.weight": normal(inner, hidden),
            p + "mlp.c_proj.bias": normal(hidden),
        }
    if config.get("tie_word_embeddings") is False:
        tensors["lm_head.weight"] = normal(vocab, hidden)
    return tensors
