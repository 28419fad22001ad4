"""GPT-2 checkpoint files from a local directory: Hugging Face or keras-hub.

The reading half of `keras_nlg.models.gpt2_checkpoint`, kept apart so that
`TransformerLanguageModel.from_gpt2` can use it without importing the half
that writes model directories (which imports the models package). It builds
the model through the class it is given and imports no model class itself.

Reads, with no network:

- a Hugging Face directory: `config.json` (`model_type: "gpt2"`),
  `model.safetensors`, `vocab.json`, `merges.txt`. HF's GPT-2 uses `Conv1D`
  layers whose weights are stored `(in, out)`, the transpose of PyTorch's
  `nn.Linear` and the same as a Keras `Dense` kernel; the fused query/key/
  value projection `c_attn` is split in three and reshaped per head.
- a keras-hub preset directory as written by `save_to_preset`: `config.json`
  (`GPT2Backbone`), `model.weights.h5`, `tokenizer.json` and
  `assets/tokenizer/`.
"""

import json
import os

import numpy as np

from keras_nlg.models.keras_hub_gpt2 import load_keras_hub_gpt2_weights
from keras_nlg.tokenizers import GPT2Tokenizer

HF_WEIGHTS_FILE = "model.safetensors"
KERAS_HUB_WEIGHTS_FILE = "model.weights.h5"


def read_gpt2_checkpoint(path, model_class):
    """Returns `(model, tokenizer)` from a GPT-2 checkpoint directory.

    `model_class` is `TransformerLanguageModel` (or a subclass), called with
    GPT-2's sizes as keyword arguments.

    Raises:
        ValueError: naming the file and the problem when the directory holds
            neither format, the architecture is not GPT-2, or a tensor is
            missing or has the wrong shape.
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise ValueError(f"`checkpoint` must be a directory. Received: {path!r}")
    config_path = os.path.join(path, "config.json")
    if os.path.isfile(os.path.join(path, HF_WEIGHTS_FILE)):
        return _read_hugging_face(path, _read_json(config_path), model_class)
    if os.path.isfile(os.path.join(path, KERAS_HUB_WEIGHTS_FILE)):
        return _read_keras_hub(path, _read_json(config_path), model_class)
    raise ValueError(
        f"{path} is not a GPT-2 checkpoint: expected a Hugging Face directory "
        f"(config.json + {HF_WEIGHTS_FILE} + vocab.json + merges.txt) or a "
        f"keras-hub preset (config.json + {KERAS_HUB_WEIGHTS_FILE}). "
        f"Found: {sorted(os.listdir(path))}"
    )


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"Cannot read {path}: {error}") from None


def _read_hugging_face(path, config, model_class):
    config_path = os.path.join(path, "config.json")
    if config.get("model_type") != "gpt2":
        raise ValueError(
            f"{config_path} describes an unsupported architecture: expected "
            f"model_type 'gpt2'. Received: model_type={config.get('model_type')!r}"
        )
    activation = config.get("activation_function", "gelu_new")
    if activation not in ("gelu_new", "gelu"):
        raise ValueError(
            f"{config_path}: unsupported activation_function={activation!r} "
            "(GPT-2 uses 'gelu_new')"
        )
    hidden_dim = config["n_embd"]
    model = model_class(
        vocabulary_size=config["vocab_size"],
        context_length=config["n_positions"],
        num_layers=config["n_layer"],
        num_heads=config["n_head"],
        hidden_dim=hidden_dim,
        intermediate_dim=config.get("n_inner") or 4 * hidden_dim,
        layer_norm_epsilon=config.get("layer_norm_epsilon", 1e-5),
        approximate_gelu=activation == "gelu_new",
    )
    from safetensors.numpy import load_file

    weights_path = os.path.join(path, HF_WEIGHTS_FILE)
    tensors = load_file(weights_path)
    # GPT2LMHeadModel saves under "transformer."; GPT2Model without a prefix.
    tensors = {name.removeprefix("transformer."): t for name, t in tensors.items()}
    _assign(model, _hugging_face_weights(tensors, model, weights_path), weights_path)
    tokenizer = GPT2Tokenizer.from_files(
        os.path.join(path, "vocab.json"), os.path.join(path, "merges.txt")
    )
    return model, tokenizer


def _hugging_face_weights(tensors, model, weights_path):
    """Our weight path → array, from HF GPT-2 tensor names and layouts."""

    def tensor(name):
        if name not in tensors:
            raise ValueError(f"{weights_path} has no tensor {name!r}")
        return tensors[name].astype(np.float32)

    heads, head_dim, hidden = model.num_heads, model.head_dim, model.hidden_dim
    weights = {
        "embedding/token_embeddings": tensor("wte.weight"),
        "embedding/position_embeddings": tensor("wpe.weight"),
        "final_norm/gamma": tensor("ln_f.weight"),
        "final_norm/beta": tensor("ln_f.bias"),
    }
    for i in range(model.num_layers):
        hf, ours = f"h.{i}.", f"block_{i}/"
        fused_kernel = tensor(hf + "attn.c_attn.weight")  # (D, 3D): q | k | v
        fused_bias = tensor(hf + "attn.c_attn.bias")  # (3D,)
        if fused_kernel.shape != (hidden, 3 * hidden):
            raise ValueError(
                f"{weights_path}: tensor {hf}attn.c_attn.weight has shape "
                f"{fused_kernel.shape}, expected {(hidden, 3 * hidden)}"
            )
        for j, part in enumerate(("query", "key", "value")):
            columns = slice(j * hidden, (j + 1) * hidden)
            weights[ours + f"attention/{part}/kernel"] = fused_kernel[
                :, columns
            ].reshape(hidden, heads, head_dim)
            weights[ours + f"attention/{part}/bias"] = fused_bias[columns].reshape(
                heads, head_dim
            )
        weights[ours + "attention/attention_output/kernel"] = tensor(
            hf + "attn.c_proj.weight"
        ).reshape(heads, head_dim, hidden)
        weights[ours + "attention/attention_output/bias"] = tensor(
            hf + "attn.c_proj.bias"
        )
        for norm, hf_norm in (("attention_norm", "ln_1"), ("mlp_norm", "ln_2")):
            weights[ours + f"{norm}/gamma"] = tensor(hf + f"{hf_norm}.weight")
            weights[ours + f"{norm}/beta"] = tensor(hf + f"{hf_norm}.bias")
        for dense, hf_dense in (("mlp_in", "mlp.c_fc"), ("mlp_out", "mlp.c_proj")):
            weights[ours + f"{dense}/kernel"] = tensor(hf + f"{hf_dense}.weight")
            weights[ours + f"{dense}/bias"] = tensor(hf + f"{hf_dense}.bias")
    return weights


def _assign(model, weights, source):
    for weight in model.weights:
        path = weight.path.split("/", 1)[1]
        value = weights[path]
        if tuple(value.shape) != tuple(weight.shape):
            raise ValueError(
                f"{source}: shape mismatch for {path}: checkpoint "
                f"{tuple(value.shape)}, model {tuple(weight.shape)}"
            )
        weight.assign(value)


def _read_keras_hub(path, config, model_class):
    config_path = os.path.join(path, "config.json")
    if config.get("class_name") != "GPT2Backbone":
        raise ValueError(
            f"{config_path} describes an unsupported architecture: expected "
            f"class_name 'GPT2Backbone'. Received: "
            f"class_name={config.get('class_name')!r}"
        )
    if not os.path.isfile(os.path.join(path, "tokenizer.json")):
        raise ValueError(
            f"{path} has no tokenizer.json: save the GPT2Tokenizer to the preset "
            "too (tokenizer.save_to_preset)"
        )
    import keras_hub

    backbone = keras_hub.models.GPT2Backbone.from_preset(path)
    model = model_class(
        vocabulary_size=backbone.vocabulary_size,
        context_length=backbone.max_sequence_length,
        num_layers=backbone.num_layers,
        num_heads=backbone.num_heads,
        hidden_dim=backbone.hidden_dim,
        intermediate_dim=backbone.intermediate_dim,
    )
    try:
        load_keras_hub_gpt2_weights(model, backbone)
    except ValueError as error:
        raise ValueError(
            f"{os.path.join(path, KERAS_HUB_WEIGHTS_FILE)}: {error}"
        ) from None
    hub_tokenizer = keras_hub.models.GPT2Tokenizer.from_preset(path)
    return model, GPT2Tokenizer(hub_tokenizer.vocabulary, hub_tokenizer.merges)
