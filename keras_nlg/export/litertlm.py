"""`.litertlm` bundles: our model in LiteRT-LM, Google's on-device LLM engine.

LiteRT-LM (Android, iOS, desktop; C++ engine, Python `litert-lm-api`) runs a
bundle written by `litert-lm-builder`: a TFLite model with `prefill…` and
`decode` signatures, a tokenizer, and an `LlmMetadata` proto. The TFLite
model is our decode step (`keras_nlg.export.tflite`'s conversion, builtin
ops only) with the tensor contract the engine's generic executor expects,
the convention of litert-torch's exports:

- inputs `tokens` int32 `[1, T]` (T = the prefill length, or 1 for
  `decode`), `input_pos` int32 `[T]`, and per layer `kv_cache_k_{i}` /
  `kv_cache_v_{i}` float32 `[1, heads, S, head_dim]`: the engine reads the
  context length S from axis 2 of `kv_cache_k_0` and updates the caches in
  place (same names out as in);
- output `logits` float32 `[1, 1, V]` (the engine refuses rank 2: "Output
  logits must be (batch, seq, vocab)"), and the updated caches.

The engine pads a short prefill chunk with token 0 at position 0; our step
writes columns `input_pos[0] …` and attends causally, so padding beyond the
prompt is overwritten before any query can see it. The tokenizer is the
SentencePiece model as is, or for the byte and GPT-2 BPE tokenizers a
Hugging Face `tokenizer.json` that tokenizes identically
(`keras_nlg.tokenizers.hugging_face`). `LlmMetadata`: `stop_tokens` our
end-of-text id, `max_num_tokens` the context length, a generic model type,
no start token (`keras_nlg.generate` prepends none to a non-empty prompt)
and the sampler from the model's `generation_config.json` (greedy is top-p
with k = 1; settings the engine's sampler has no place for, e.g. `min_p`
or beam search, are left out with a warning and listed in the summary).
Prefill signatures come in lengths P, 8 and 1 (`prefill_sizes`) so that a
conversation's later turns fit the cache columns left.

What was measured against the engine (litert-lm-api 0.18.1, CPU): see
`tests/export/test_litertlm.py` (greedy tokens equal `keras_nlg.generate`'s)
and `../shared/docs/STACK_NOTES.md`.
"""

import logging
import os
import tempfile

import tensorflow as tf

from keras_nlg.argument_checks import check_tensorflow_backend
from keras_nlg.export.tflite import (
    check_signatures,
    convert_endpoints,
    file_cache_spec,
    float32_copy,
)
from keras_nlg.files import write_file_atomically
from keras_nlg.generation.config import GenerationConfig
from keras_nlg.model_directory import load
from keras_nlg.tokenizers import SentencePieceTokenizer
from keras_nlg.tokenizers.hugging_face import hugging_face_tokenizer

logger = logging.getLogger(__name__)

LITERTLM_QUANTIZATIONS = ("none", "dynamic_int8")


def litert_lm_endpoints(model, prefill_length):
    """`{"prefill_{n}" for n in prefill_sizes(P), "decode": (function, input
    signature)}` in LiteRT-LM's tensor contract (see the module docstring)."""
    spec = file_cache_spec(model)  # the model's cache at batch 1
    caches = [
        tf.TensorSpec([1, *tensor.shape], tensor.dtype, name=tensor.name)
        for tensor in spec.tensors
    ]

    def step(tokens, input_pos, *cache):
        # (1, heads, S, head_dim) ↔ the model's (heads, S, head_dim) at batch
        # 1: the same values, so the reshape is free.
        cache = [
            tf.reshape(c, t.shape) for c, t in zip(cache, spec.tensors, strict=True)
        ]
        logits, new_cache = model.call_with_cache(
            tokens, model.unflatten_cache(cache), input_pos[0]
        )
        outputs = {"logits": logits[:, -1:, :]}  # (1, 1, V)
        for name, tensor in zip(
            spec.names, model.flatten_cache(new_cache), strict=True
        ):
            outputs[name] = tensor[None]
        return outputs

    def signature(length):
        return [
            tf.TensorSpec([1, length], tf.int32, name="tokens"),
            tf.TensorSpec([length], tf.int32, name="input_pos"),
            *caches,
        ]

    endpoints = {
        f"prefill_{n}": (step, signature(n)) for n in prefill_sizes(prefill_length)
    }
    return {**endpoints, "decode": (step, signature(1))}


def prefill_sizes(prefill_length):
    """The prefill signatures' lengths: P, 8 and 1 (those ≤ P), largest first.

    The engine pads a prompt's last chunk to a signature's length and
    refuses a chunk longer than the cache columns left ("Chosen prefill work
    group size exceeds available state entries"): with only P, a second
    prompt (a conversation's next turn) that starts within P of the end
    fails. With a smaller signature to choose, it fits.
    """
    return sorted({prefill_length, min(8, prefill_length), 1}, reverse=True)


# GenerationConfig fields the engine's sampler has no place for, with the
# value that means "off".
_NOT_CARRIED = {
    "min_p": 0.0,
    "repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "min_new_tokens": 0,
    "num_beams": 1,
    "stop_strings": None,
}


def llm_metadata(tokenizer, context_length, generation):
    """The bundle's `LlmMetadata` proto (litert-lm-builder's copy) and the
    `generation_config` settings it can't carry (`{name: value}`).

    The engine's CPU sampler is top-k then top-p on the renormalised
    distribution, with its own random generator: a sampled bundle follows
    the model's `top_k`/`top_p`/`temperature`/`seed`, but draws other tokens
    than `keras_nlg.generate` with the same seed (greedy ones are the same).
    """
    from litert_lm_builder.runtime.proto import llm_metadata_pb2, sampler_params_pb2

    metadata = llm_metadata_pb2.LlmMetadata()
    metadata.stop_tokens.add().token_ids.ids.append(tokenizer.end_of_text_id)
    metadata.max_num_tokens = context_length
    metadata.llm_model_type.generic_model.SetInParent()
    sampler = metadata.sampler_params
    sampler.type = sampler_params_pb2.SamplerParameters.TOP_P
    if generation.do_sample:
        sampler.k = generation.top_k or tokenizer.vocabulary_size
        sampler.p = generation.top_p
        sampler.temperature = generation.temperature
        if generation.seed is not None:
            sampler.seed = generation.seed % (2**31 - 1)  # as `generate` does
    else:  # greedy: the engine's top-p sampler with one candidate
        sampler.k = 1
        sampler.p = 0.0
        sampler.temperature = 1.0
    dropped = {
        name: getattr(generation, name)
        for name, off in _NOT_CARRIED.items()
        if getattr(generation, name) not in (off, None, ())
    }
    return metadata, dropped


def _check_arguments(out_file, quantize, overwrite):
    if quantize not in LITERTLM_QUANTIZATIONS:
        raise ValueError(
            f"`quantize` must be one of {LITERTLM_QUANTIZATIONS} for a .litertlm "
            f"bundle. Received: quantize={quantize!r}"
        )
    if not str(out_file).endswith(".litertlm"):
        raise ValueError(
            f"`out_file` must end in .litertlm. Received: out_file={out_file!r}"
        )
    if os.path.isdir(out_file):
        raise ValueError(f"`out_file` is a directory. Received: out_file={out_file!r}")
    if os.path.exists(out_file) and not overwrite:
        raise ValueError(
            "`out_file` exists; pass overwrite=True (CLI: --overwrite) to replace "
            f"it. Received: out_file={out_file!r}"
        )


def export_litertlm(
    model_dir: str,
    out_file: str,
    quantize: str = "none",
    prefill_length: int | None = None,
    overwrite: bool = False,
) -> dict:
    """Writes `out_file` (`.litertlm`) for LiteRT-LM from a model directory.

    Args:
        model_dir: a keras_nlg Transformer model directory (a KV-cache model:
            an LSTM's recurrent state has no sequence axis for the engine).
        out_file: the bundle to write, ending in `.litertlm`; written beside
            and renamed into place.
        quantize: `"none"` (float32) or `"dynamic_int8"` (int8 weights).
        prefill_length: tokens per `prefill` call (default 32, at most half
            the context).
        overwrite: replace an existing `out_file`.

    Returns:
        A summary: `path`, `size_bytes`, `quantization`, `tokenizer`
        (`"sentencepiece"` or `"hugging_face"`), `context_length`,
        `prefill_length`, `prefill_lengths` (the signatures'), `end_of_text_id`,
        `settings_not_carried` (`generation_config` settings the engine
        can't apply, `{name: value}`).

    Raises:
        ValueError: a bad `quantize`, `out_file` or `prefill_length`, an
            existing `out_file` without `overwrite`, or a model without a
            positional KV cache or context length.
        TypeError: a tokenizer LiteRT-LM can't be given.
    """
    check_tensorflow_backend("export_litertlm")
    _check_arguments(out_file, quantize, overwrite)
    from litert_lm_builder import litertlm_builder as builder_lib

    model, tokenizer, _ = load(model_dir)
    if not file_cache_spec(model).supports_prefill:
        raise ValueError(
            f"LiteRT-LM runs models with a key/value cache; {type(model).__name__}'s "
            "cache is a recurrent state. Export it with --format tflite instead. "
            f"Received: model_dir={model_dir!r}"
        )
    model = float32_copy(model)
    prefill_length = check_signatures(model, prefill_length, False)
    flatbuffer = convert_endpoints(
        model, litert_lm_endpoints(model, prefill_length), quantize, None
    )
    generation = GenerationConfig.from_pretrained(model_dir) or GenerationConfig()
    metadata, dropped = llm_metadata(tokenizer, model.context_length, generation)
    if dropped:
        logger.warning(
            "The LiteRT-LM engine's sampler can't apply these generation_config "
            "settings; the bundle leaves them out: %s",
            ", ".join(f"{name}={value!r}" for name, value in dropped.items()),
        )

    builder = builder_lib.LitertLmFileBuilder()
    with tempfile.TemporaryDirectory() as scratch:
        tflite_path = os.path.join(scratch, "model.tflite")
        with open(tflite_path, "wb") as f:
            f.write(flatbuffer)
        metadata_path = os.path.join(scratch, "llm_metadata.pb")
        with open(metadata_path, "wb") as f:
            f.write(metadata.SerializeToString())
        builder.add_system_metadata(
            builder_lib.Metadata(
                key="Authors", value="keras_nlg", dtype=builder_lib.DType.STRING
            )
        )
        builder.add_llm_metadata(
            metadata_path, supports_thinking=False, supports_function_calling=False
        )
        builder.add_tflite_model(
            tflite_path, builder_lib.TfLiteModelType.PREFILL_DECODE
        )
        if isinstance(tokenizer, SentencePieceTokenizer):
            tokenizer_kind = "sentencepiece"
            model_path = os.path.join(scratch, "tokenizer.model")
            with open(model_path, "wb") as f:
                f.write(tokenizer.proto)
            builder.add_sentencepiece_tokenizer(model_path)
        else:
            tokenizer_kind = "hugging_face"
            json_path = os.path.join(scratch, "tokenizer.json")
            hugging_face_tokenizer(tokenizer).save(json_path)
            builder.add_hf_tokenizer(json_path)

        def write(path):
            with open(path, "wb") as stream:
                builder.build(stream)

        parent = os.path.dirname(os.path.abspath(out_file))
        os.makedirs(parent, exist_ok=True)
        write_file_atomically(out_file, write)
    return {
        "path": os.path.abspath(out_file),
        "size_bytes": os.path.getsize(out_file),
        "quantization": quantize,
        "tokenizer": tokenizer_kind,
        "context_length": model.context_length,
        "prefill_length": prefill_length,
        "end_of_text_id": tokenizer.end_of_text_id,
        "prefill_lengths": prefill_sizes(prefill_length),
        "settings_not_carried": dropped,
    }
