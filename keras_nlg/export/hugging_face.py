"""A Transformer model directory as a Hugging Face GPT-2 directory.

`export_transformers` writes what `transformers.GPT2LMHeadModel` and
`AutoTokenizer` load with `from_pretrained(dir)`, offline:

- `config.json`: `model_type: "gpt2"`, the sizes, and the options our
  `TransformerLanguageModel` shares with GPT-2 (LayerNorm epsilon, tanh or
  exact GELU, attention scaling, tied embeddings); `bos`/`eos_token_id` are
  the tokenizer's end of text.
- `model.safetensors` (float32, `{"format": "pt"}`): HF GPT-2's names and
  layouts, the inverse of `keras_nlg.models.gpt2_reader`: query/key/value
  fused into `c_attn` `(hidden, 3·hidden)`, `Conv1D` kernels `(in, out)` as
  our `Dense` kernels are, an untied output projection as `lm_head.weight`
  `(vocab, hidden)`. A model built with `use_bias=False` gets zero biases
  (GPT-2 always has them; zeros change nothing).
- the tokenizer: GPT-2 BPE as `vocab.json` + `merges.txt` (what
  `GPT2Tokenizer` and `keras-nlg import-gpt2` read) and `tokenizer.json`;
  the byte tokenizer as `tokenizer.json` only (`PreTrainedTokenizerFast`).
  Both tokenize as ours (`keras_nlg.tokenizers.hugging_face`).

Refused, with a `ValueError` naming the option: an LSTM model, sinusoidal
positions and post-LN blocks (GPT-2 has learned positions and pre-LN), a
SentencePiece tokenizer (no GPT-2 tokenizer class holds one).
"""

import os

import numpy as np

from keras_nlg.files import staged_directory, write_json_file
from keras_nlg.models.quantization import check_not_quantized
from keras_nlg.models.transformer import TransformerLanguageModel
from keras_nlg.tokenizers import ByteTokenizer, GPT2Tokenizer

WEIGHTS_FILE = "model.safetensors"
# Everything `export_transformers` may write: what `overwrite` may replace.
EXPORT_FILES = {
    "config.json",
    WEIGHTS_FILE,
    "vocab.json",
    "merges.txt",
    "tokenizer.json",
    "tokenizer_config.json",
}


def gpt2_config(model, end_of_text_id):
    """Hugging Face `GPT2Config` fields (a dict) for `model`.

    Raises:
        ValueError: naming the option, for a model GPT-2 can't express.
    """
    check_gpt2_shape(model)
    return {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "vocab_size": model.vocabulary_size,
        "n_positions": model.context_length,
        "n_embd": model.hidden_dim,
        "n_layer": model.num_layers,
        "n_head": model.num_heads,
        "n_inner": model.intermediate_dim,
        "activation_function": "gelu_new" if model.approximate_gelu else "gelu",
        "layer_norm_epsilon": model.layer_norm_epsilon,
        "scale_attn_weights": model.scale_attention_weights,
        "scale_attn_by_inverse_layer_idx": (
            model.scale_attention_by_inverse_layer_index
        ),
        "tie_word_embeddings": model.tie_embeddings,
        "resid_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "attn_pdrop": 0.0,
        "bos_token_id": end_of_text_id,
        "eos_token_id": end_of_text_id,
    }


def check_gpt2_shape(model):
    """`ValueError` unless `model` is a Transformer GPT-2 can express."""
    if not isinstance(model, TransformerLanguageModel):
        raise ValueError(
            "Only a Transformer model exports as Hugging Face GPT-2. "
            f"Received: model={type(model).__name__}"
        )
    check_not_quantized(model, "Hugging Face GPT-2")
    for option, gpt2_value in (
        ("position_embedding", "learned"),
        ("normalize_first", True),
    ):
        value = getattr(model, option)
        if value != gpt2_value:
            raise ValueError(
                f"Hugging Face GPT-2 has {option}={gpt2_value!r}; this model "
                f"was built with {option}={value!r}"
            )


def gpt2_tensors(model):
    """`{HF GPT2LMHeadModel tensor name: float32 array}` for `model`."""
    check_gpt2_shape(model)
    ours = {
        w.path.split("/", 1)[1]: np.asarray(w.numpy(), np.float32)
        for w in model.weights
    }
    hidden = model.hidden_dim

    def bias(path, size):
        return ours.get(path, np.zeros(size, np.float32))

    tensors = {
        "wte.weight": ours["embedding/token_embeddings"],
        "wpe.weight": ours["embedding/position_embeddings"],
        "ln_f.weight": ours["final_norm/gamma"],
        "ln_f.bias": ours["final_norm/beta"],
    }
    for i in range(model.num_layers):
        hf, block = f"h.{i}.", f"block_{i}/"
        attention = block + "attention/"
        tensors[hf + "attn.c_attn.weight"] = np.concatenate(
            [
                ours[attention + f"{part}/kernel"].reshape(hidden, hidden)
                for part in ("query", "key", "value")
            ],
            axis=1,
        )
        tensors[hf + "attn.c_attn.bias"] = np.concatenate(
            [
                bias(attention + f"{part}/bias", hidden).reshape(hidden)
                for part in ("query", "key", "value")
            ]
        )
        tensors[hf + "attn.c_proj.weight"] = ours[
            attention + "attention_output/kernel"
        ].reshape(hidden, hidden)
        tensors[hf + "attn.c_proj.bias"] = bias(
            attention + "attention_output/bias", hidden
        )
        for norm, hf_norm in (("attention_norm", "ln_1"), ("mlp_norm", "ln_2")):
            tensors[hf + f"{hf_norm}.weight"] = ours[block + f"{norm}/gamma"]
            tensors[hf + f"{hf_norm}.bias"] = ours[block + f"{norm}/beta"]
        for dense, hf_dense in (("mlp_in", "mlp.c_fc"), ("mlp_out", "mlp.c_proj")):
            kernel = ours[block + f"{dense}/kernel"]
            tensors[hf + f"{hf_dense}.weight"] = kernel
            tensors[hf + f"{hf_dense}.bias"] = bias(
                block + f"{dense}/bias", kernel.shape[1]
            )
    tensors = {f"transformer.{name}": value for name, value in tensors.items()}
    if not model.tie_embeddings:  # Dense kernel (hidden, vocab) → nn.Linear
        tensors["lm_head.weight"] = ours["output_projection/kernel"].T
    return {name: np.ascontiguousarray(value) for name, value in tensors.items()}


def write_gpt2_weights(model, directory, end_of_text_id):
    """Writes `config.json` and `model.safetensors` for `model` into `directory`."""
    from safetensors.numpy import save_file

    config = gpt2_config(model, end_of_text_id)
    save_file(
        gpt2_tensors(model),
        os.path.join(directory, WEIGHTS_FILE),
        metadata={"format": "pt"},
    )
    write_json_file(os.path.join(directory, "config.json"), config)


def _write_tokenizer(tokenizer, directory):
    from keras_nlg.tokenizers.hugging_face import hugging_face_tokenizer

    extra = {}
    if isinstance(tokenizer, GPT2Tokenizer):
        tokenizer.save_files(
            os.path.join(directory, "vocab.json"), os.path.join(directory, "merges.txt")
        )
        end_of_text = "<|endoftext|>"
    elif isinstance(tokenizer, ByteTokenizer):
        end_of_text = tokenizer.id_to_token(tokenizer.end_of_text_id)
        extra["pad_token"] = tokenizer.id_to_token(tokenizer.padding_id)
    else:
        raise ValueError(
            "Hugging Face GPT-2 holds a GPT-2 BPE or a byte tokenizer. "
            f"Received: a {type(tokenizer).__name__}"
        )
    hugging_face_tokenizer(tokenizer).save(os.path.join(directory, "tokenizer.json"))
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": end_of_text,
        "eos_token": end_of_text,
        "add_prefix_space": False,
        **extra,
    }
    write_json_file(os.path.join(directory, "tokenizer_config.json"), tokenizer_config)


def _check_out_dir(model_dir, out_dir, overwrite):
    """`ValueError` naming `out_dir` unless writing there loses nothing: it
    is new or an empty directory, or (with `overwrite`) an earlier export,
    and it is neither a link nor the model directory or one above it."""
    if os.path.islink(out_dir):
        raise ValueError(
            "`out_dir` is a symbolic link; pass the directory it points to. "
            f"Received: out_dir={out_dir!r}"
        )
    if not os.path.lexists(out_dir):
        return
    if not os.path.isdir(out_dir):
        raise ValueError(
            f"`out_dir` exists and is not a directory. Received: out_dir={out_dir!r}"
        )
    source = os.path.realpath(os.fspath(model_dir))
    if os.path.commonpath([source, os.path.realpath(out_dir)]) == os.path.realpath(
        out_dir
    ):
        raise ValueError(
            "`out_dir` must not be the model directory or hold it. "
            f"Received: out_dir={out_dir!r}, model_dir={os.fspath(model_dir)!r}"
        )
    names = set(os.listdir(out_dir))
    if not names:
        return
    if not overwrite:
        raise ValueError(
            "`out_dir` exists and is not empty; pass overwrite=True (CLI: "
            "--overwrite) to replace an earlier export, or choose another "
            f"directory. Received: out_dir={out_dir!r}"
        )
    if not {"config.json", WEIGHTS_FILE} <= names <= EXPORT_FILES:
        raise ValueError(
            "`out_dir` is not an earlier export of ours (it must hold config.json "
            f"and {WEIGHTS_FILE}, and nothing but {', '.join(sorted(EXPORT_FILES))}"
            "); overwrite replaces only such a directory. "
            f"Received: out_dir={out_dir!r}"
        )


def export_transformers(model_dir, out_dir, *, overwrite=False):
    """Writes a model directory as a Hugging Face GPT-2 directory.

    Args:
        model_dir: a keras_nlg model directory holding a Transformer model.
        out_dir: the directory to write; it must not exist, or be empty, or
            (with `overwrite`) hold an earlier export. Written under a
            temporary sibling name and renamed at the end, so a failure
            leaves nothing half written and the earlier export in place.
        overwrite: replace an earlier export in `out_dir`.

    Returns:
        The absolute path written.

    Raises:
        ValueError: for a model or tokenizer GPT-2 can't express (see the
            module docstring), or an `out_dir` that can't be written without
            losing something (see `_check_out_dir`), naming it.
    """
    from keras_nlg.model_directory import load

    out_dir = os.path.abspath(os.fspath(out_dir))
    _check_out_dir(model_dir, out_dir, overwrite)
    exists = os.path.lexists(out_dir)
    loaded = load(model_dir)
    check_gpt2_shape(loaded.model)
    with staged_directory(out_dir, replace=exists) as staging:
        _write_tokenizer(loaded.tokenizer, staging)
        write_gpt2_weights(loaded.model, staging, loaded.tokenizer.end_of_text_id)
    return out_dir
