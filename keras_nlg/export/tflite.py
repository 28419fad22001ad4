"""TFLite export: prefill/decode signatures over an explicit KV cache, quantized.

The `.tflite` file holds the model's one decode step,
`call_with_cache(token_ids, cache, cache_index)`, as signatures in the
convention of LiteRT's on-device LLM tooling:

- `prefill`: `tokens` int32 `[1, P]`, `input_pos` int32 `[P]` (the positions
  of the tokens, consecutive), and the cache → `logits` float32 `[1, V]` of the
  last of the P positions, and the updated cache.
- `decode`: the same with `tokens` `[1, 1]` and `input_pos` `[1]`.
- `generate` (optional): `prompt_tokens` `[1, S]`, `prompt_length` `[1]`,
  `max_new_tokens` `[1]` → `tokens` `[1, S]`, `num_tokens` `[1]`: the whole
  greedy loop in one call; `tokens[0, :num_tokens]` is the prompt then the
  generated tokens (end-of-text, which ends the loop, is not counted: the
  tokens behind the text, as `keras_nlg.generate`'s `token_ids`).
  Trade-offs: a WHILE op (GPU delegates don't run it, so it stays on the
  CPU), greedy only, no streaming. It shares the
  weights; it adds only its ops (tens of KB).

The cache tensors are the model's own, as its `cache_spec` names them at
batch 1 with the context length as columns, passed in and returned whole:
the Transformer's `kv_cache_k_{i}` / `kv_cache_v_{i}` per layer, float32
`[heads, S, head_dim]`. A cache without positions (a recurrent state: the
LSTM's `state_h_{i}` / `state_c_{i}` `[1, units]`) gets only `decode`,
without `input_pos`. Weights are shared by all signatures of the file.

Only builtin TFLite ops are allowed (no Flex), so the stock runtime and its
delegates run the file: the converter is told so and fails otherwise. The
cache update is the model's own (`keras_nlg.layers.column_update`), traced
as dynamic-update-slice, which converts to DYNAMIC_UPDATE_SLICE; tokenizers
stay outside the file (string ops would need Flex), so the tokenizer's
files go beside it with `metadata.json` (`keras_nlg.export.tflite_metadata`).
"""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from keras_nlg import files
from keras_nlg.argument_checks import check_tensorflow_backend
from keras_nlg.export.tflite_metadata import (
    METADATA_FILE,
    TFLITE_FILE,
    tflite_metadata,
    tflite_ops,
)
from keras_nlg.export.tflite_quality import (
    QUALITY_POSITIONS,
    calibration_and_held_out_tokens,
    calibration_samples,
    quality_figures,
)
from keras_nlg.files import commit_staged, staging_directory, write_json_file
from keras_nlg.generation.config import GenerationConfig
from keras_nlg.layers.attention import bounded_masking
from keras_nlg.layers.column_update import dynamic_update_slice_ops
from keras_nlg.model_directory import MODEL_FILE, load
from keras_nlg.models.quantization import check_not_quantized
from keras_nlg.tokenizers import TOKENIZER_FILES, save_tokenizer

__all__ = [
    "METADATA_FILE",
    "QUANTIZATIONS",
    "TFLITE_FILE",
    "export_tflite",
    "tflite_ops",
]

QUANTIZATIONS = ("none", "float16", "dynamic_int8", "int8")
DEFAULT_PREFILL_LENGTH = 32


def file_cache_spec(model):
    """The cache of the file: batch 1, the context length as columns, float32."""
    return model.cache_spec(1, model.context_length, "float32")


def _step_function(model):
    names = file_cache_spec(model).names

    def step(tokens, input_pos, *cache):
        logits, new_cache = model.call_with_cache(
            tokens, model.unflatten_cache(cache), input_pos[0]
        )
        outputs = {"logits": logits[:, -1, :]}  # (1, V)
        outputs.update(zip(names, model.flatten_cache(new_cache), strict=True))
        return outputs

    return step


def _generate_function(model, end_of_text_id):
    """The whole greedy loop: each prompt token, then each new one, one step."""
    context = model.context_length

    def generate(prompt_tokens, prompt_length, max_new_tokens):
        prompt_length = prompt_length[0]
        end = tf.minimum(prompt_length + max_new_tokens[0], context)

        def body(position, tokens, done, cache):
            token = tf.slice(tokens, [0, position], [1, 1])  # (1, 1)
            logits, cache = model.call_with_cache(token, cache, position)
            next_token = tf.argmax(logits[:, -1, :], axis=-1, output_type=tf.int32)
            generated = position + 1 >= prompt_length
            # Within the prompt, keep the prompt's own next token.
            prompt_next = tf.slice(tokens, [0, position + 1], [1, 1])[0]
            next_token = tf.where(generated, next_token, prompt_next)  # (1,)
            # slice_update, like the cache: DYNAMIC_UPDATE_SLICE in TFLite.
            tokens = keras.ops.slice_update(
                tokens, [0, position + 1], next_token[:, None]
            )
            done = generated & (next_token[0] == end_of_text_id)
            return position + 1, tokens, done, cache

        position, tokens, done, _ = tf.while_loop(
            lambda position, tokens, done, cache: (
                (position < end - 1) & tf.logical_not(done)
            ),
            body,
            (
                tf.constant(0),
                prompt_tokens,
                tf.constant(False),
                model.empty_cache(1, dtype="float32"),
            ),
        )
        # The last token written is end-of-text when `done`: not counted.
        count = position + 1 - tf.cast(done, tf.int32)
        return {"tokens": tokens, "num_tokens": tf.reshape(count, [1])}

    return generate


def float32_copy(model):
    """The model with float32 variables and compute (the file's dtype)."""
    check_not_quantized(model, "The TFLite and LiteRT-LM exports (--quantize)")
    if model.compute_dtype == "float32" and model.variable_dtype == "float32":
        return model
    copy = type(model).from_config({**model.get_config(), "dtype": "float32"})
    copy.set_weights([np.asarray(w, np.float32) for w in model.get_weights()])
    return copy


def _endpoints(model, prefill_length, include_generate, end_of_text_id):
    """`{signature name: (function, input signature)}` for `ExportArchive`."""
    cache_spec = file_cache_spec(model)
    caches = [
        tf.TensorSpec(tensor.shape, tensor.dtype, name=tensor.name)
        for tensor in cache_spec.tensors
    ]
    step = _step_function(model)

    def spec(length):
        return [
            tf.TensorSpec([1, length], tf.int32, name="tokens"),
            tf.TensorSpec([length], tf.int32, name="input_pos"),
            *caches,
        ]

    if not cache_spec.has_positions:
        # A recurrent state has no positions: decode takes the token and states.
        def positionless_step(tokens, *cache):
            return step(tokens, tf.zeros([1], tf.int32), *cache)

        return {"decode": (positionless_step, [spec(1)[0], *caches])}
    endpoints = {"decode": (step, spec(1))}
    if cache_spec.supports_prefill:
        endpoints = {"prefill": (step, spec(prefill_length)), **endpoints}
    if include_generate:
        context = model.context_length
        endpoints["generate"] = (
            _generate_function(model, end_of_text_id),
            [
                tf.TensorSpec([1, context], tf.int32, name="prompt_tokens"),
                tf.TensorSpec([1], tf.int32, name="prompt_length"),
                tf.TensorSpec([1], tf.int32, name="max_new_tokens"),
            ],
        )
    return endpoints


def convert_endpoints(model, endpoints, quantize, calibration):
    archive = keras.export.ExportArchive()
    archive.track(model)
    with (
        tempfile.TemporaryDirectory() as scratch,
        bounded_masking(),
        dynamic_update_slice_ops(),
    ):
        # Traced with bounded masking: full-int8 kernels need every tensor's
        # range to be that of real values (see `bounded_masking`); cache
        # writes as DYNAMIC_UPDATE_SLICE (see `update_columns`).
        for name, (function, signature) in endpoints.items():
            archive.add_endpoint(name, function, input_signature=signature)
        archive.write_out(scratch, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            scratch, signature_keys=list(endpoints)
        )
        # Builtins only: a Flex op makes conversion fail here, not on a phone.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        elif quantize == "int8":
            converter.representative_dataset = calibration
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                tf.lite.OpsSet.TFLITE_BUILTINS,
            ]
            return _selective_int8(converter)
        return converter.convert()


# Ops that keep int8 activations in the "int8" variant. Quantizing every
# activation cost a 1.6–2x perplexity: the softmax normaliser (a sum up to
# ~180 at a scale of 0.7) and the LayerNorm statistics lose most of their
# precision. Matmuls with weights (FULLY_CONNECTED) and the embedding lookups
# (GATHER) hold the weights and most of the compute; with the rest in float
# the ratio was 1.002 and agreement 98% (benchmarks/RESULTS.md).
INT8_OPS = ("FULLY_CONNECTED", "GATHER")


def _selective_int8(converter):
    """Calibrates once, then quantizes only `INT8_OPS` (the rest float)."""
    from tensorflow.lite.python import convert

    # The quantization debugger's own path (`get_nondebug_quantized_model`)
    # without its instrumented copy: calibrate, then quantize with a denylist.
    converter._experimental_calibrate_only = True
    calibrated = converter.convert()
    float_ops = [op for op in tflite_ops(calibrated) if op not in INT8_OPS]
    return convert.mlir_quantize(calibrated, denylisted_ops=float_ops)


def check_signatures(model, prefill_length, include_generate):
    """`prefill_length` (its default filled in) once the signatures fit the cache.

    A cache with positions needs a context length (its columns) and gets
    `prefill` and `decode` (and `generate` if asked); one without (a
    recurrent state) gets `decode` only.
    """
    context = model.context_length
    cache_spec = file_cache_spec(model)
    if not cache_spec.supports_prefill:
        if prefill_length is not None or include_generate:
            raise ValueError(
                f"{type(model).__name__}'s cache is a state without positions "
                "(an LSTM's): it exports `decode` only, no prefill or loop "
                f"signature. Received: prefill_length={prefill_length!r}, "
                f"include_generate={include_generate}"
            )
        return None
    if context is None:
        raise ValueError(
            f"{type(model).__name__} has a cache with positions but no "
            "`context_length`: a .tflite cache needs a fixed number of columns."
        )
    if prefill_length is None:
        prefill_length = min(DEFAULT_PREFILL_LENGTH, context // 2)
    if not isinstance(prefill_length, int) or not 1 <= prefill_length <= context:
        raise ValueError(
            "`prefill_length` must be an integer in "
            f"[1, context_length={context}]. "
            f"Received: prefill_length={prefill_length!r}"
        )
    return prefill_length


def export_tflite(
    model_dir: str,
    out_dir: str,
    quantize: str = "none",
    prefill_length: int | None = None,
    include_generate: bool = False,
    quality_positions: int = QUALITY_POSITIONS,
    quality_data=None,
    overwrite: bool = False,
) -> dict:
    """Converts a model directory into `OUTDIR/model.tflite` + tokenizer + metadata.

    The files are written as one set (staged, then committed; see
    `keras_nlg.files`): a kill mid-export leaves `out_dir` as it was.

    Args:
        model_dir: a keras_nlg model directory.
        out_dir: folder to write `model.tflite`, the tokenizer files
            (`tokenizer.json` and its vocabulary, as in the model directory)
            and `metadata.json`.
        quantize: `"none"` (float32), `"float16"` (weights), `"dynamic_int8"`
            (int8 weights, activations quantized on the fly) or `"int8"`
            (int8 weights and int8 activations in the matmuls and embedding
            lookups, `INT8_OPS`, calibrated on windows of the model's
            training data run through the float model; the rest float).
        prefill_length: P, the tokens of one `prefill` call (default 32,
            at most half the context; none for a cache without positions).
        include_generate: add the one-call greedy `generate` signature
            (a cache with positions only, the Transformer's; a WHILE op,
            which GPU delegates leave on the CPU).
        quality_positions: held-out positions for the quality figures
            (perplexity ratio and next-token agreement against the float32
            Keras model); 0 skips them.
        quality_data: text file(s) for int8 calibration and the quality
            figures (their first 90% and last 10%); default: bundled data
            (the E2E sets for an E2E model, else Tiny Shakespeare). Paths
            recorded in the model directory are never opened.
        overwrite: replace an export already in `out_dir` (else a
            `ValueError`).

    Returns:
        The metadata written to `metadata.json`.

    Raises:
        ValueError: `model_dir` isn't a keras_nlg model directory, or an
            unknown `quantize`, or a `prefill_length` that doesn't fit, or
            `out_dir` holds an export and `overwrite` is False.
    """
    check_tensorflow_backend("export_tflite")
    if quantize not in QUANTIZATIONS:
        raise ValueError(
            f"`quantize` must be one of {QUANTIZATIONS}. "
            f"Received: quantize={quantize!r}"
        )
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(
            f"`out_dir` exists and is not a directory. Received: out_dir={out_dir!r}"
        )
    if os.path.isfile(os.path.join(out_dir, MODEL_FILE)) and os.path.realpath(
        out_dir
    ) != os.path.realpath(model_dir):
        raise ValueError(
            "`out_dir` is another model's directory; its tokenizer files would "
            f"be replaced. Choose an empty directory. Received: out_dir={out_dir!r}"
        )
    if not overwrite and os.path.isfile(os.path.join(out_dir, TFLITE_FILE)):
        raise ValueError(
            "`out_dir` holds an export; pass overwrite=True (CLI: --overwrite) "
            f"to replace it. Received: out_dir={out_dir!r}"
        )
    model, tokenizer, config = load(model_dir)
    model = float32_copy(model)
    prefill_length = check_signatures(model, prefill_length, include_generate)
    calibration_tokens, held_out, data_source = calibration_and_held_out_tokens(
        config, tokenizer, quality_data
    )
    calibration = None
    if quantize == "int8":
        samples = calibration_samples(
            model, file_cache_spec(model), calibration_tokens, prefill_length or 1
        )

        def calibration():
            yield from samples

    endpoints = _endpoints(
        model,
        prefill_length,
        include_generate,
        tokenizer.end_of_text_id,
    )
    flatbuffer = convert_endpoints(model, endpoints, quantize, calibration)

    # The runtime's generation defaults: the model directory's
    # generation_config.json over GenerationConfig's (every field, for apps).
    generation = GenerationConfig.from_pretrained(model_dir) or GenerationConfig()
    os.makedirs(out_dir, exist_ok=True)
    # Exclusive: a second export here would clear this one's staged files.
    with files.directory_lock(out_dir, exclusive=True):
        staging = staging_directory(out_dir)
        path = os.path.join(staging, TFLITE_FILE)
        with open(path, "wb") as f:
            f.write(flatbuffer)
        save_tokenizer(tokenizer, staging)
        metadata = tflite_metadata(
            model,
            tokenizer,
            config,
            path,
            quantize,
            prefill_length,
            file_cache_spec(model),
        )
        metadata["generation_config"] = generation.to_dict()
        metadata["quality"] = None
        if quality_positions:
            from keras_nlg.export.litert_runner import TFLiteGenerator

            runner = TFLiteGenerator(path, metadata=metadata)
            metadata["quality"] = {
                **quality_figures(runner, model, held_out, quality_positions),
                "text": data_source,
            }
        write_json_file(os.path.join(staging, METADATA_FILE), metadata)
        commit_staged(out_dir, replaces=(TFLITE_FILE, METADATA_FILE, *TOKENIZER_FILES))
    return metadata
