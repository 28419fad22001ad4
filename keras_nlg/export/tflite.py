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
  greedy loop in one call. Trade-offs: a WHILE op (GPU delegates don't run
  it, so it stays on the CPU), greedy only, no streaming. It shares the
  weights; it adds only its ops (tens of KB).

The Transformer's cache is `kv_cache_k_{i}` / `kv_cache_v_{i}` per layer, each
float32 `[heads, S, head_dim]` (S = the context length), passed in and
returned whole; the LSTM has only `decode`, with `state_h_{i}` / `state_c_{i}`
`[1, units]`. Weights are shared by all signatures of the file.

Only builtin TFLite ops are allowed (no Flex), so the stock runtime and its
delegates run the file: the converter is told so and fails otherwise. The
cache update is the model's own `slice_update`, which converts to
DYNAMIC_UPDATE_SLICE; tokenizers stay outside the file (string ops would
need Flex), so the tokenizer's files go beside it with `metadata.json`.
"""

import json
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from keras_nlg.export.tflite_quality import (
    QUALITY_POSITIONS,
    calibration_and_held_out_tokens,
    calibration_samples,
    quality_figures,
)
from keras_nlg.layers.attention import bounded_masking
from keras_nlg.model_directory import load
from keras_nlg.models import LSTMLanguageModel
from keras_nlg.tokenizers import TOKENIZER_FILE, save_tokenizer

QUANTIZATIONS = ("none", "float16", "dynamic_int8", "int8")
TFLITE_FILE = "model.tflite"
METADATA_FILE = "metadata.json"
DEFAULT_PREFILL_LENGTH = 32


def cache_names(model) -> list[str]:
    """Names of the cache tensors, in signature order."""
    if isinstance(model, LSTMLanguageModel):
        return [f"state_{s}_{i}" for i in range(model.num_layers) for s in "hc"]
    return [f"kv_cache_{s}_{i}" for i in range(model.num_layers) for s in "kv"]


def _cache_shape(model):
    if isinstance(model, LSTMLanguageModel):
        return [1, model.units]
    return [model.num_heads, model.max_length, model.head_dim]  # batch 1


def _pack_cache(model, flat):
    """Named flat tensors → the model's cache structure."""
    if isinstance(model, LSTMLanguageModel):
        layers = [
            tf.stack([flat[2 * i], flat[2 * i + 1]], axis=1)
            for i in range(model.num_layers)
        ]
        return tf.stack(layers, axis=1)  # (1, L, 2, units)
    return tuple((flat[2 * i], flat[2 * i + 1]) for i in range(model.num_layers))


def _unpack_cache(model, cache):
    if isinstance(model, LSTMLanguageModel):
        return [cache[:, i, s] for i in range(model.num_layers) for s in range(2)]
    return [t for pair in cache for t in pair]


def _step_function(model):
    names = cache_names(model)

    def step(tokens, input_pos, *cache):
        logits, new_cache = model.call_with_cache(
            tokens, _pack_cache(model, cache), input_pos[0]
        )
        outputs = {"logits": logits[:, -1, :]}  # (1, V)
        outputs.update(zip(names, _unpack_cache(model, new_cache), strict=True))
        return outputs

    return step


def _generate_function(model, end_of_text_id):
    """The whole greedy loop: each prompt token, then each new one, one step."""
    context = model.max_length

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

        position, tokens, _, _ = tf.while_loop(
            lambda position, tokens, done, cache: (
                (position < end - 1) & tf.logical_not(done)
            ),
            body,
            (tf.constant(0), prompt_tokens, tf.constant(False), model.empty_cache(1)),
        )
        return {"tokens": tokens, "num_tokens": tf.reshape(position + 1, [1])}

    return generate


def _float32_copy(model):
    """The model with float32 variables and compute (the file's dtype)."""
    if model.compute_dtype == "float32" and model.variable_dtype == "float32":
        return model
    copy = type(model).from_config({**model.get_config(), "dtype": "float32"})
    copy.set_weights([np.asarray(w, np.float32) for w in model.get_weights()])
    return copy


def _endpoints(model, prefill_length, include_generate, end_of_text_id):
    """`{signature name: (function, input signature)}` for `ExportArchive`."""
    caches = [
        tf.TensorSpec(_cache_shape(model), tf.float32, name=name)
        for name in cache_names(model)
    ]
    step = _step_function(model)

    def spec(length):
        return [
            tf.TensorSpec([1, length], tf.int32, name="tokens"),
            tf.TensorSpec([length], tf.int32, name="input_pos"),
            *caches,
        ]

    if isinstance(model, LSTMLanguageModel):
        # A recurrent state has no positions: decode takes the token and states.
        def lstm_step(tokens, *cache):
            return step(tokens, tf.zeros([1], tf.int32), *cache)

        return {"decode": (lstm_step, [spec(1)[0], *caches])}
    endpoints = {
        "prefill": (step, spec(prefill_length)),
        "decode": (step, spec(1)),
    }
    if include_generate:
        context = model.max_length
        endpoints["generate"] = (
            _generate_function(model, end_of_text_id),
            [
                tf.TensorSpec([1, context], tf.int32, name="prompt_tokens"),
                tf.TensorSpec([1], tf.int32, name="prompt_length"),
                tf.TensorSpec([1], tf.int32, name="max_new_tokens"),
            ],
        )
    return endpoints


def _convert(model, endpoints, quantize, calibration):
    archive = keras.export.ExportArchive()
    archive.track(model)
    with tempfile.TemporaryDirectory() as scratch, bounded_masking():
        # Traced with bounded masking: full-int8 kernels need every tensor's
        # range to be that of real values (see `bounded_masking`).
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


def export_tflite(
    model_dir: str,
    out_dir: str,
    quantize: str = "none",
    prefill_length: int | None = None,
    include_generate: bool = False,
    quality_positions: int = QUALITY_POSITIONS,
) -> dict:
    """Converts a model directory into `OUTDIR/model.tflite` + tokenizer + metadata.

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
            at most half the context).
        include_generate: add the one-call greedy `generate` signature
            (Transformer only; a WHILE op, which GPU delegates leave on the
            CPU).
        quality_positions: held-out positions for the quality figures
            (perplexity ratio and next-token agreement against the float32
            Keras model); 0 skips them.

    Returns:
        The metadata written to `metadata.json`.

    Raises:
        ValueError: `model_dir` isn't a keras_nlg model directory, or an
            unknown `quantize`, or a `prefill_length` that doesn't fit.
    """
    if quantize not in QUANTIZATIONS:
        raise ValueError(
            f"`quantize` must be one of {QUANTIZATIONS}. "
            f"Received: quantize={quantize!r}"
        )
    model, tokenizer, config = load(model_dir)
    model = _float32_copy(model)
    if isinstance(model, LSTMLanguageModel):
        if prefill_length is not None or include_generate:
            raise ValueError(
                "An LSTM exports `decode` only (its state needs no prefill or "
                f"loop signature). Received: prefill_length={prefill_length!r}, "
                f"include_generate={include_generate}"
            )
    else:
        if prefill_length is None:
            prefill_length = min(DEFAULT_PREFILL_LENGTH, model.max_length // 2)
        if (
            not isinstance(prefill_length, int)
            or not 1 <= prefill_length <= model.max_length
        ):
            raise ValueError(
                "`prefill_length` must be an integer in "
                f"[1, max_length={model.max_length}]. "
                f"Received: prefill_length={prefill_length!r}"
            )
    calibration_tokens, held_out, data_source = calibration_and_held_out_tokens(
        config, tokenizer
    )
    calibration = None
    if quantize == "int8":
        samples = calibration_samples(
            model,
            calibration_tokens,
            prefill_length or 1,
            cache_names(model),
            lambda cache: _unpack_cache(model, cache),
        )

        def calibration():
            yield from samples

    endpoints = _endpoints(
        model,
        prefill_length,
        include_generate,
        tokenizer.end_of_text_id,
    )
    flatbuffer = _convert(model, endpoints, quantize, calibration)

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, TFLITE_FILE)
    with open(path, "wb") as f:
        f.write(flatbuffer)
    save_tokenizer(tokenizer, out_dir)
    metadata = _metadata(model, tokenizer, config, path, quantize, prefill_length)
    metadata["quality"] = None
    if quality_positions:
        from keras_nlg.export.litert_runner import TFLiteGenerator

        runner = TFLiteGenerator(path, metadata=metadata)
        metadata["quality"] = {
            **quality_figures(runner, model, held_out, quality_positions),
            "text": data_source,
        }
    with open(os.path.join(out_dir, METADATA_FILE), "w") as f:
        json.dump(metadata, f, indent=2)
        f.write("\n")
    return metadata


def tflite_ops(path_or_bytes) -> list[str]:
    """Sorted names of the ops in a `.tflite` file, in every subgraph.

    Reads the flatbuffer itself: the interpreter's op list covers only the
    main subgraph, and a Flex op hidden in a WHILE body must show up too.
    A custom op (Flex ones are `Flex<TF op>`) appears under its custom name.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    if isinstance(path_or_bytes, bytes):
        flatbuffer = path_or_bytes
    else:
        with open(path_or_bytes, "rb") as f:
            flatbuffer = f.read()
    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    builtin_names = {
        code: name
        for name, code in vars(schema.BuiltinOperator).items()
        if not name.startswith("_")
    }
    opcodes = []
    for i in range(model.OperatorCodesLength()):
        opcode = model.OperatorCodes(i)
        if opcode.CustomCode():
            opcodes.append(opcode.CustomCode().decode())
        else:
            # Codes past 127 live in the newer field; the old one saturates.
            code = max(opcode.BuiltinCode(), opcode.DeprecatedBuiltinCode())
            opcodes.append(builtin_names[code])
    used = set()
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        for o in range(subgraph.OperatorsLength()):
            used.add(opcodes[subgraph.Operators(o).OpcodeIndex()])
    return sorted(used)


def _metadata(model, tokenizer, config, path, quantize, prefill_length):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    signatures = {}
    for name in interpreter.get_signature_list():
        runner = interpreter.get_signature_runner(name)
        signatures[name] = {
            f"{kind}s": {
                tensor: {
                    "shape": details["shape"].tolist(),
                    "dtype": np.dtype(details["dtype"]).name,
                }
                for tensor, details in sorted(
                    getattr(runner, f"get_{kind}_details")().items()
                )
            }
            for kind in ("input", "output")
        }
    with open(os.path.join(os.path.dirname(path), TOKENIZER_FILE)) as f:
        tokenizer_spec = json.load(f)
    files = sorted(os.listdir(os.path.dirname(path)))
    return {
        "format": "keras_nlg.tflite/1",
        "architecture": type(model).__name__,
        "model_config": model.get_config(),
        "quantization": quantize,
        "size_bytes": os.path.getsize(path),
        "vocabulary_size": tokenizer.vocabulary_size,
        "end_of_text_id": tokenizer.end_of_text_id,
        "padding_id": tokenizer.padding_id,
        "special_tokens": tokenizer.special_tokens,
        "tokenizer": {
            "class_name": tokenizer_spec["class_name"],
            "files": [f for f in files if f not in (TFLITE_FILE, METADATA_FILE)],
        },
        "context_length": model.max_length,
        "prefill_length": prefill_length,
        "cache": {
            "names": cache_names(model),
            "shape": _cache_shape(model),
            "dtype": "float32",
            "layout": (
                "[batch, units] per layer: h then c"
                if isinstance(model, LSTMLanguageModel)
                else "[batch * heads, positions, head_dim] per layer: k then v"
            ),
        },
        "signatures": signatures,
        "ops": tflite_ops(path),
        "source": {
            "arch": config.get("arch"),
            "preset": config.get("preset"),
            "task": config.get("task"),
        },
    }
