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
  value projection `c_attn` is split in three and reshaped per head. An
  untied `lm_head.weight` is an `nn.Linear` `(vocab, hidden)`, transposed.
- a keras-hub preset directory as written by `save_to_preset`: `config.json`
  (`GPT2Backbone`), `model.weights.h5`, `tokenizer.json` and
  `assets/tokenizer/`.

What each config.json field does is listed in `keras_nlg.models.gpt2_config`.
Every file is checked before anything is built: a missing, empty, truncated
or malformed file, a missing, extra, misshapen or non-float tensor, gives one
`ValueError` naming the file.
"""

import os
import re

import numpy as np

from keras_nlg.files import read_json_file
from keras_nlg.models.gpt2_config import (
    check_keras_hub_tokenizer_config,
    hugging_face_model_arguments,
    keras_hub_model_arguments,
)
from keras_nlg.models.keras_hub_gpt2 import load_keras_hub_gpt2_weights
from keras_nlg.tokenizers import GPT2Tokenizer

HF_WEIGHTS_FILE = "model.safetensors"
KERAS_HUB_WEIGHTS_FILE = "model.weights.h5"
_FLOAT_DTYPES = {"float16", "bfloat16", "float32", "float64"}
# Tensors a GPT-2 checkpoint may hold that the LM doesn't use: the causal-mask
# buffers older transformers saved, and GPT2DoubleHeadsModel's choice head.
_UNUSED_TENSOR = re.compile(
    r"h\.\d+\.attn\.(bias|masked_bias)|multiple_choice_head\..*"
)


def read_gpt2_checkpoint(path, model_class):
    """Returns `(model, tokenizer)` from a GPT-2 checkpoint directory.

    `model_class` is `TransformerLanguageModel` (or a subclass), called with
    GPT-2's sizes and options as keyword arguments.

    Raises:
        ValueError: naming the file and the problem when the directory holds
            neither format, a file is missing, empty or malformed, a
            config.json field holds a value we don't implement (see
            `keras_nlg.models.gpt2_config`), or a tensor is missing, extra,
            not floating point or has the wrong shape.
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise ValueError(f"`checkpoint` must be a directory. Received: {path!r}")
    if os.path.isfile(os.path.join(path, HF_WEIGHTS_FILE)):
        return _read_hugging_face(path, model_class)
    if os.path.isfile(os.path.join(path, KERAS_HUB_WEIGHTS_FILE)):
        return _read_keras_hub(path, model_class)
    raise ValueError(
        f"{path} is not a GPT-2 checkpoint: expected a Hugging Face directory "
        f"(config.json + {HF_WEIGHTS_FILE} + vocab.json + merges.txt) or a "
        f"keras-hub preset (config.json + {KERAS_HUB_WEIGHTS_FILE}). "
        f"Found: {sorted(os.listdir(path))}"
    )


def _require_files(path, names):
    for name in names:
        if not os.path.isfile(os.path.join(path, name)):
            raise ValueError(f"{path} has {HF_WEIGHTS_FILE} but no {name}")


def _read_hugging_face(path, model_class):
    _require_files(path, ("config.json", "vocab.json", "merges.txt"))
    config_path = os.path.join(path, "config.json")
    config = read_json_file(config_path)
    arguments = hugging_face_model_arguments(config, config_path)
    tokenizer = GPT2Tokenizer.from_files(
        os.path.join(path, "vocab.json"), os.path.join(path, "merges.txt")
    )
    _check_tokenizer(tokenizer, arguments["vocabulary_size"], path, config_path)
    eos = config.get("eos_token_id")
    if eos is not None and eos not in (
        tokenizer.end_of_text_id,
        [tokenizer.end_of_text_id],
    ):
        raise ValueError(
            f"{config_path}: unsupported eos_token_id={eos!r} (keras_nlg stops at "
            f"the tokenizer's <|endoftext|>, id {tokenizer.end_of_text_id})"
        )
    weights_path = os.path.join(path, HF_WEIGHTS_FILE)
    weights = _hugging_face_weights(_load_safetensors(weights_path), arguments)
    model = model_class(**arguments)
    _assign(model, weights, weights_path)
    return model, tokenizer


def _check_tokenizer(tokenizer, vocabulary_size, path, config_path):
    if tokenizer.vocabulary_size > vocabulary_size:
        raise ValueError(
            f"{path}: the tokenizer has {tokenizer.vocabulary_size} tokens but "
            f"{config_path} gives the model {vocabulary_size}"
        )


def _load_safetensors(weights_path):
    """`{name: float32 array}` with HF's "transformer." prefix removed."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        tensors = load_file(weights_path)
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"Cannot read {weights_path}: {error}") from None
    result = {}
    for name, value in tensors.items():
        if value.dtype.name not in _FLOAT_DTYPES:
            raise ValueError(
                f"{weights_path}: tensor {name!r} has dtype {value.dtype.name}, "
                f"expected a float dtype ({', '.join(sorted(_FLOAT_DTYPES))})"
            )
        # GPT2LMHeadModel saves under "transformer."; GPT2Model without a prefix.
        result[name.removeprefix("transformer.")] = value.astype(np.float32)
    return _Tensors(result, weights_path)


class _Tensors:
    """The checkpoint's tensors: `take(name, shape)` checks and hands one out."""

    def __init__(self, tensors, source):
        self.tensors, self.source, self.taken = tensors, source, set()

    def take(self, name, shape):
        if name not in self.tensors:
            raise ValueError(f"{self.source} has no tensor {name!r}")
        value = self.tensors[name]
        if value.shape != tuple(shape):
            raise ValueError(
                f"{self.source}: tensor {name!r} has shape {value.shape}, "
                f"expected {tuple(shape)}"
            )
        self.taken.add(name)
        return value

    def check_all_taken(self, ignorable):
        extra = sorted(
            name for name in set(self.tensors) - self.taken if not ignorable(name)
        )
        if extra:
            shown = ", ".join(extra[:5]) + (", ..." if len(extra) > 5 else "")
            raise ValueError(
                f"{self.source} has {len(extra)} tensor(s) that config.json's "
                f"GPT-2 does not use: {shown}"
            )


def _hugging_face_weights(tensors, arguments):
    """Our weight path → array, from HF GPT-2 tensor names and layouts."""
    vocab, hidden = arguments["vocabulary_size"], arguments["hidden_dim"]
    heads, inner = arguments["num_heads"], arguments["intermediate_dim"]
    head_dim = hidden // heads
    weights = {
        "embedding/token_embeddings": tensors.take("wte.weight", (vocab, hidden)),
        "embedding/position_embeddings": tensors.take(
            "wpe.weight", (arguments["context_length"], hidden)
        ),
        "final_norm/gamma": tensors.take("ln_f.weight", (hidden,)),
        "final_norm/beta": tensors.take("ln_f.bias", (hidden,)),
    }
    for i in range(arguments["num_layers"]):
        hf, ours = f"h.{i}.", f"block_{i}/"
        fused_kernel = tensors.take(hf + "attn.c_attn.weight", (hidden, 3 * hidden))
        fused_bias = tensors.take(hf + "attn.c_attn.bias", (3 * hidden,))
        for j, part in enumerate(("query", "key", "value")):  # q | k | v
            columns = slice(j * hidden, (j + 1) * hidden)
            weights[ours + f"attention/{part}/kernel"] = fused_kernel[
                :, columns
            ].reshape(hidden, heads, head_dim)
            weights[ours + f"attention/{part}/bias"] = fused_bias[columns].reshape(
                heads, head_dim
            )
        weights[ours + "attention/attention_output/kernel"] = tensors.take(
            hf + "attn.c_proj.weight", (hidden, hidden)
        ).reshape(heads, head_dim, hidden)
        weights[ours + "attention/attention_output/bias"] = tensors.take(
            hf + "attn.c_proj.bias", (hidden,)
        )
        for norm, hf_norm in (("attention_norm", "ln_1"), ("mlp_norm", "ln_2")):
            weights[ours + f"{norm}/gamma"] = tensors.take(
                hf + f"{hf_norm}.weight", (hidden,)
            )
            weights[ours + f"{norm}/beta"] = tensors.take(
                hf + f"{hf_norm}.bias", (hidden,)
            )
        for dense, hf_dense, shape in (
            ("mlp_in", "mlp.c_fc", (hidden, inner)),
            ("mlp_out", "mlp.c_proj", (inner, hidden)),
        ):
            weights[ours + f"{dense}/kernel"] = tensors.take(
                hf + f"{hf_dense}.weight", shape
            )
            weights[ours + f"{dense}/bias"] = tensors.take(
                hf + f"{hf_dense}.bias", shape[1:]
            )
    tied = arguments["tie_embeddings"]
    if not tied:  # nn.Linear (vocab, hidden) → Dense kernel (hidden, vocab)
        weights["output_projection/kernel"] = tensors.take(
            "lm_head.weight", (vocab, hidden)
        ).T
    # A tied checkpoint may also store lm_head.weight; HF ties it to wte.
    tensors.check_all_taken(
        lambda name: (
            _UNUSED_TENSOR.fullmatch(name) or (tied and name == "lm_head.weight")
        )
    )
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


def _read_keras_hub(path, model_class):
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        raise ValueError(f"{path} has {KERAS_HUB_WEIGHTS_FILE} but no config.json")
    arguments = keras_hub_model_arguments(read_json_file(config_path), config_path)
    if not os.path.isfile(os.path.join(path, "tokenizer.json")):
        raise ValueError(
            f"{path} has no tokenizer.json: save the GPT2Tokenizer to the preset "
            "too (tokenizer.save_to_preset)"
        )
    tokenizer_path = os.path.join(path, "tokenizer.json")
    check_keras_hub_tokenizer_config(read_json_file(tokenizer_path), tokenizer_path)
    import keras_hub

    weights_path = os.path.join(path, KERAS_HUB_WEIGHTS_FILE)
    # keras-hub and Keras raise many types for a damaged preset (OSError from
    # h5py, KeyError, ValueError, ...); each becomes one error naming it.
    try:
        backbone = keras_hub.models.GPT2Backbone.from_preset(path)
    except Exception as error:
        raise ValueError(
            f"Cannot load the keras-hub preset {weights_path}: {_one_line(error)}"
        ) from None
    model = model_class(**arguments)
    try:
        load_keras_hub_gpt2_weights(model, backbone)
    except ValueError as error:
        raise ValueError(f"{weights_path}: {error}") from None
    # keras-hub's preset layout (`save_to_preset`) keeps the tokenizer's two
    # files under assets/tokenizer/; our reader names the file at fault.
    assets = os.path.join(path, "assets", "tokenizer")
    tokenizer = GPT2Tokenizer.from_files(
        os.path.join(assets, "vocabulary.json"), os.path.join(assets, "merges.txt")
    )
    _check_tokenizer(tokenizer, arguments["vocabulary_size"], path, config_path)
    return model, tokenizer


def _one_line(error):
    return " ".join(f"{type(error).__name__}: {error}".split())
