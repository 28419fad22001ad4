"""Every field of a GPT-2 checkpoint's `config.json`: honoured, checked or ignored.

A converter that skips a field it doesn't know gives silently wrong logits
(issue 15), so each field of Hugging Face's `GPT2Config` (and of the
`PretrainedConfig` base it inherits) and of keras-hub's `GPT2Backbone` config
is listed here with what the importer does with it. A field that changes the
logits is either implemented (and tested against a float64 NumPy GPT-2 in
tests/models/gpt2_reference.py) or, when it holds a value we don't implement,
refused with a `ValueError` naming config.json, the field and the value.

Hugging Face `config.json` (`model_type: "gpt2"`):

- Implemented: `vocab_size`, `n_positions`, `n_embd`, `n_layer`, `n_head`
  (required: we don't guess a size), `n_inner` (null: 4 * n_embd),
  `layer_norm_epsilon`, `activation_function` ("gelu_new",
  "gelu_pytorch_tanh", "gelu_fast": GELU's tanh approximation; "gelu": exact
  GELU; any other is refused), `scale_attn_weights`,
  `scale_attn_by_inverse_layer_idx`, `tie_word_embeddings` (false: the
  separate `lm_head.weight` becomes our output projection).
- Checked, refused unless the default: `model_type` ("gpt2"),
  `architectures` (GPT2LMHeadModel, GPT2Model or GPT2DoubleHeadsModel: the
  classification models carry no trained LM head), `add_cross_attention`
  (false), `is_encoder_decoder` (false), `pruned_heads` (empty).
  `eos_token_id` must be the tokenizer's `<|endoftext|>` (or null): it is
  where our generation stops (checked by `gpt2_reader`).
- Ignored, because they don't change inference logits:
  `resid_pdrop`, `embd_pdrop`, `attn_pdrop`, `summary_first_dropout`
  (dropout, off at inference; the imported model has dropout 0),
  `initializer_range` (initialisation only), `summary_type`,
  `summary_use_proj`, `summary_activation`, `summary_proj_to_labels`
  (GPT2DoubleHeadsModel's multiple-choice head, not the LM),
  `reorder_and_upcast_attn` (the same scores, computed in float32 to avoid
  float16 overflow; ours are always float32), `use_cache` (HF's cache switch;
  ours always caches), `torch_dtype`/`dtype` (storage dtype: every tensor is
  read into float32, as `from_pretrained` does by default), `n_ctx` (a legacy
  copy of n_positions that transformers never reads), `bos_token_id` (GPT-2
  prepends nothing), `pad_token_id`, `sep_token_id`,
  `decoder_start_token_id`, attention-kernel choices
  (`_attn_implementation`, `attn_implementation`: the same math),
  bookkeeping (`transformers_version`, `_name_or_path`, `task_specific_params`,
  `gradient_checkpointing`, output/return flags, label maps, `problem_type`,
  `tokenizer_class`, ...) and the legacy generation defaults (`max_length`,
  `do_sample`, `temperature`, ...; keras_nlg's generation settings live in
  `generation_config.json`).
- Any other field: GPT2LMHeadModel never reads it, so neither do we; its
  name is logged as a warning.

keras-hub preset `config.json` (`class_name: "GPT2Backbone"`): implemented
`vocabulary_size`, `num_layers`, `num_heads`, `hidden_dim`,
`intermediate_dim`, `max_sequence_length` (GPT2Backbone fixes LayerNorm
epsilon 1e-5 and tanh GELU); ignored `dropout`, `name`, `trainable`; `dtype`
must be a float policy (float32, float16, bfloat16 or mixed): weights are read
into float32; a quantized policy is refused. Any other key is refused by name:
keras-hub itself would not accept it. Its `tokenizer.json` must describe a
`GPT2Tokenizer` with `add_prefix_space` false (true would change every token
id; refused); `sequence_length` (preprocessing padding), `unsplittable_tokens`
(keras_nlg never parses special tokens out of user text), `config_file`,
`name`, `trainable` and `dtype` are ignored; other keys are refused.

Not read: a Hugging Face `generation_config.json` beside the weights (HF's
generation defaults, no effect on logits): the imported directory starts
from keras_nlg's generation defaults.
"""

import logging
import math

logger = logging.getLogger(__name__)

# activation_function → our `approximate_gelu`. transformers' "gelu_new",
# "gelu_pytorch_tanh" and "gelu_fast" all compute GELU's tanh approximation.
_ACTIVATIONS = {
    "gelu_new": True,
    "gelu_pytorch_tanh": True,
    "gelu_fast": True,
    "gelu": False,
}
_LM_ARCHITECTURES = {"GPT2LMHeadModel", "GPT2Model", "GPT2DoubleHeadsModel"}
_SIZES = ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head")
# Fields that must keep GPT2Config's default: we don't implement another value.
_REQUIRED_DEFAULTS = {
    "add_cross_attention": False,
    "is_encoder_decoder": False,
}
_IGNORED = {
    # Dropout and initialisation: training only.
    "resid_pdrop",
    "embd_pdrop",
    "attn_pdrop",
    "summary_first_dropout",
    "initializer_range",
    # GPT2DoubleHeadsModel's multiple-choice head.
    "summary_type",
    "summary_use_proj",
    "summary_activation",
    "summary_proj_to_labels",
    # Same math, other kernels or storage.
    "reorder_and_upcast_attn",
    "use_cache",
    "torch_dtype",
    "dtype",
    "use_bfloat16",
    "_attn_implementation",
    "attn_implementation",
    "_attn_implementation_autoset",
    "n_ctx",
    # Token ids the decoder-only LM doesn't use (eos is checked by the reader).
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "sep_token_id",
    "decoder_start_token_id",
    # Bookkeeping, outputs, labels, tokenizer hints.
    "transformers_version",
    "_name_or_path",
    "model_type",
    "architectures",
    "task_specific_params",
    "gradient_checkpointing",
    "output_attentions",
    "output_hidden_states",
    "return_dict",
    "use_return_dict",
    "torchscript",
    "tie_encoder_decoder",
    "is_decoder",
    "cross_attention_hidden_size",
    "chunk_size_feed_forward",
    "id2label",
    "label2id",
    "num_labels",
    "problem_type",
    "finetuning_task",
    "tokenizer_class",
    "prefix",
    "tf_legacy_loss",
    "pruned_heads",
    # Legacy generation defaults (HF generate only; not logits).
    "max_length",
    "min_length",
    "do_sample",
    "early_stopping",
    "num_beams",
    "num_beam_groups",
    "diversity_penalty",
    "temperature",
    "top_k",
    "top_p",
    "typical_p",
    "repetition_penalty",
    "length_penalty",
    "no_repeat_ngram_size",
    "encoder_no_repeat_ngram_size",
    "bad_words_ids",
    "num_return_sequences",
    "output_scores",
    "return_dict_in_generate",
    "forced_bos_token_id",
    "forced_eos_token_id",
    "remove_invalid_values",
    "exponential_decay_length_penalty",
    "suppress_tokens",
    "begin_suppress_tokens",
}
_IMPLEMENTED = {
    *_SIZES,
    "n_inner",
    "layer_norm_epsilon",
    "activation_function",
    "scale_attn_weights",
    "scale_attn_by_inverse_layer_idx",
    "tie_word_embeddings",
    *_REQUIRED_DEFAULTS,
}
_KERAS_HUB_SIZES = {
    "vocabulary_size": "vocabulary_size",
    "num_layers": "num_layers",
    "num_heads": "num_heads",
    "hidden_dim": "hidden_dim",
    "intermediate_dim": "intermediate_dim",
    "max_sequence_length": "context_length",
}
_KERAS_HUB_IGNORED = {"dropout", "name", "trainable", "dtype"}
_FLOAT_POLICIES = {"float32", "float16", "bfloat16", "mixed_float16", "mixed_bfloat16"}


def _check_architecture(config, key, expected, source):
    """`ValueError` unless `config` is an object whose `key` is `expected`."""
    if not isinstance(config, dict):
        raise ValueError(f"{source} must hold a JSON object. Received: {config!r}")
    if config.get(key) != expected:
        raise ValueError(
            f"{source} describes an unsupported architecture: expected {key} "
            f"{expected!r}. Received: {key}={config.get(key)!r}"
        )


def _refuse(source, field, value, expected):
    return ValueError(
        f"{source}: unsupported {field}={value!r} (keras_nlg supports {expected})"
    )


def _positive_int(config, field, source):
    if field not in config:
        raise ValueError(f"{source} has no field {field!r} (GPT-2's size)")
    value = config[field]
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise _refuse(source, field, value, "a positive integer")
    return value


def _boolean(config, field, default, source):
    value = config.get(field, default)
    if not isinstance(value, bool):
        raise _refuse(source, field, value, "true or false")
    return value


def _heads_divide(hidden_dim, num_heads, source, fields):
    if hidden_dim % num_heads:
        raise ValueError(
            f"{source}: {fields[0]}={hidden_dim} is not divisible by "
            f"{fields[1]}={num_heads}"
        )


def hugging_face_model_arguments(config, source: str) -> dict:
    """`TransformerLanguageModel` keyword arguments from HF GPT-2's config.json.

    Args:
        config: the parsed `config.json`.
        source: its path, for messages.

    Raises:
        ValueError: naming `source`, the field and its value, when a field
            is missing, has the wrong type, or holds a value we don't
            implement (see the module docstring for each field).
    """
    _check_architecture(config, "model_type", "gpt2", source)
    architectures = config.get("architectures") or ["GPT2LMHeadModel"]
    if not isinstance(architectures, list) or not set(architectures) <= (
        _LM_ARCHITECTURES
    ):
        raise _refuse(
            source, "architectures", architectures, "/".join(sorted(_LM_ARCHITECTURES))
        )
    sizes = {field: _positive_int(config, field, source) for field in _SIZES}
    _heads_divide(sizes["n_embd"], sizes["n_head"], source, ("n_embd", "n_head"))
    intermediate_dim = config.get("n_inner")
    if intermediate_dim is None:
        intermediate_dim = 4 * sizes["n_embd"]
    else:
        intermediate_dim = _positive_int(config, "n_inner", source)
    activation = config.get("activation_function", "gelu_new")
    if not isinstance(activation, str) or activation not in _ACTIVATIONS:
        raise _refuse(
            source, "activation_function", activation, ", ".join(_ACTIVATIONS)
        )
    epsilon = config.get("layer_norm_epsilon", 1e-5)
    if (
        isinstance(epsilon, bool)
        or not isinstance(epsilon, int | float)
        or not math.isfinite(epsilon)
        or epsilon <= 0
    ):
        raise _refuse(source, "layer_norm_epsilon", epsilon, "a number > 0")
    for field, default in _REQUIRED_DEFAULTS.items():
        if _boolean(config, field, default, source) != default:
            raise _refuse(source, field, config[field], f"{field}={default}")
    if config.get("pruned_heads"):
        raise _refuse(source, "pruned_heads", config["pruned_heads"], "no pruning")
    unknown = sorted(set(config) - _IMPLEMENTED - _IGNORED)
    if unknown:
        logger.warning(
            "%s: ignoring fields GPT-2 does not read: %s", source, ", ".join(unknown)
        )
    return dict(
        vocabulary_size=sizes["vocab_size"],
        context_length=sizes["n_positions"],
        num_layers=sizes["n_layer"],
        num_heads=sizes["n_head"],
        hidden_dim=sizes["n_embd"],
        intermediate_dim=intermediate_dim,
        layer_norm_epsilon=float(epsilon),
        approximate_gelu=_ACTIVATIONS[activation],
        tie_embeddings=_boolean(config, "tie_word_embeddings", True, source),
        scale_attention_weights=_boolean(config, "scale_attn_weights", True, source),
        scale_attention_by_inverse_layer_index=_boolean(
            config, "scale_attn_by_inverse_layer_idx", False, source
        ),
    )


def keras_hub_model_arguments(config, source: str) -> dict:
    """`TransformerLanguageModel` keyword arguments from a keras-hub preset.

    `config` is the preset's parsed config.json (`class_name`, `config`).

    Raises:
        ValueError: naming `source` and the key when the class is not
            GPT2Backbone, a size is missing or not a positive integer, the
            dtype policy is not a float policy, or a key is unknown.
    """
    _check_architecture(config, "class_name", "GPT2Backbone", source)
    backbone = config.get("config")
    if not isinstance(backbone, dict):
        raise ValueError(
            f"{source}: 'config' must be a JSON object of GPT2Backbone's "
            f"arguments. Received: config={backbone!r}"
        )
    unknown = sorted(set(backbone) - set(_KERAS_HUB_SIZES) - _KERAS_HUB_IGNORED)
    if unknown:
        raise ValueError(
            f"{source}: unsupported GPT2Backbone argument(s) {', '.join(unknown)} "
            f"(keras_nlg implements {', '.join(_KERAS_HUB_SIZES)})"
        )
    dtype = backbone.get("dtype")
    policy = dtype
    if isinstance(dtype, dict) and dtype.get("class_name") == "DTypePolicy":
        policy = (dtype.get("config") or {}).get("name")
    if policy is not None and policy not in _FLOAT_POLICIES:
        raise _refuse(source, "dtype", dtype, "the float policies")
    arguments = {
        ours: _positive_int(backbone, theirs, source)
        for theirs, ours in _KERAS_HUB_SIZES.items()
    }
    _heads_divide(
        arguments["hidden_dim"],
        arguments["num_heads"],
        source,
        ("hidden_dim", "num_heads"),
    )
    return arguments


_KERAS_HUB_TOKENIZER_IGNORED = {
    "name",
    "trainable",
    "dtype",
    "config_file",
    "sequence_length",
    "unsplittable_tokens",
}


def check_keras_hub_tokenizer_config(config, source: str) -> None:
    """Refuses a keras-hub `tokenizer.json` whose options change token ids.

    Raises:
        ValueError: naming `source` and the key, when the class is not
            GPT2Tokenizer, `add_prefix_space` is not false, or a key is
            unknown.
    """
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError(
            f"{source} must hold a JSON object with a 'config' object. "
            f"Received: {config!r:.80}"
        )
    if config.get("class_name") != "GPT2Tokenizer":
        raise _refuse(source, "class_name", config.get("class_name"), "GPT2Tokenizer")
    options = config["config"]
    if options.get("add_prefix_space", False) is not False:
        raise _refuse(source, "add_prefix_space", options["add_prefix_space"], "false")
    unknown = sorted(set(options) - _KERAS_HUB_TOKENIZER_IGNORED - {"add_prefix_space"})
    if unknown:
        raise ValueError(
            f"{source}: unsupported GPT2Tokenizer argument(s) {', '.join(unknown)}"
        )
