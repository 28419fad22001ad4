"""Data for int8 calibration and the quality figures of a `.tflite` export.

Both come from text the caller names (`quality_data`), else from data that
ships with keras_nlg: the E2E training and dev CSVs for an E2E model, Tiny
Shakespeare otherwise. The calibration windows come from the first part,
the quality figures from the held-out part, run through the float32 Keras
model as the reference. Paths recorded in a model directory's config.json
are never opened: a crafted config.json could name any file on the machine.
"""

import math
import os

import numpy as np
import tensorflow as tf

from keras_nlg.data import read_text_files, tokenize_documents
from keras_nlg.data.e2e import prompt_text, read_e2e_csv
from keras_nlg.datasets import e2e_path, tiny_shakespeare_path

QUALITY_POSITIONS = 1000
CALIBRATION_WINDOWS = 24
DEFAULT_HELD_OUT_FRACTION = 0.1


def _e2e_tokens(path, tokenizer):
    texts = [prompt_text(mr) + ref for mr, ref in read_e2e_csv(path).pairs()]
    return tokenize_documents(texts, tokenizer)


def calibration_and_held_out_tokens(config, tokenizer, quality_data=None):
    """`(calibration tokens, held-out tokens, where the held-out text is from)`.

    Args:
        config: the model directory's config (only its `task` is read).
        tokenizer: the model's tokenizer.
        quality_data: UTF-8 text files to split 90/10 (calibration, held
            out); default: bundled data (see the module docstring).

    Raises:
        ValueError: naming a `quality_data` file that can't be read.
    """
    if quality_data:
        paths = [quality_data] if isinstance(quality_data, str) else quality_data
        names = ", ".join(map(os.path.basename, paths))
        source = f"the last 10% of the given quality data: {names}"
    elif (config.get("task") or {}).get("name") == "e2e":
        return (
            _e2e_tokens(e2e_path("train"), tokenizer),
            _e2e_tokens(e2e_path("dev"), tokenizer),
            "the bundled E2E dev set",
        )
    else:
        paths = [tiny_shakespeare_path()]
        source = "the last 10% of the bundled Tiny Shakespeare"
    tokens = tokenize_documents(read_text_files(list(paths)), tokenizer)
    split = int(round(len(tokens) * (1.0 - DEFAULT_HELD_OUT_FRACTION)))
    return tokens[:split], tokens[split:], source


def _cache_inputs(model, cache_spec, cache):
    flat = model.flatten_cache(cache)
    return {
        name: np.asarray(tensor)
        for name, tensor in zip(cache_spec.names, flat, strict=True)
    }


def calibration_samples(model, cache_spec, tokens, prefill_length):
    """Representative `(signature, inputs)` for int8, with real caches.

    Windows of the training tokens run through the float model: `prefill`
    samples at the first two chunk positions (a cache with positions only),
    `decode` samples at six positions spread over the rest of each window.
    `cache_spec` is the file's (`model.cache_spec` at batch 1).
    """
    rng = np.random.default_rng(0)
    has_positions = cache_spec.has_positions
    # Compiled once per shape (a prefill chunk, one token): eager steps over
    # every calibration position would take minutes.
    step = tf.function(
        lambda tokens, cache, index: model.call_with_cache(tokens, cache, index),
        jit_compile=True,
    )
    window = min(model.context_length or 256, len(tokens) - 1)
    samples = []
    for _ in range(CALIBRATION_WINDOWS):
        start = int(rng.integers(0, len(tokens) - window))
        ids = np.asarray(tokens[start : start + window], np.int32)
        cache, position = model.empty_cache(1, dtype="float32"), 0
        while cache_spec.supports_prefill and position + prefill_length <= min(
            window, 2 * prefill_length
        ):
            chunk = ids[None, position : position + prefill_length]
            inputs = {
                "tokens": chunk,
                "input_pos": np.arange(
                    position, position + prefill_length, dtype=np.int32
                ),
                **_cache_inputs(model, cache_spec, cache),
            }
            samples.append(("prefill", inputs))
            _, cache = step(chunk, cache, tf.constant(position))
            position += prefill_length
        stops = set(np.linspace(position, window - 1, 6).astype(int).tolist())
        while position < window:
            token = ids[None, position : position + 1]
            if position in stops:
                inputs = {"tokens": token, **_cache_inputs(model, cache_spec, cache)}
                if has_positions:
                    inputs["input_pos"] = np.array([position], np.int32)
                samples.append(("decode", inputs))
            _, cache = step(token, cache, tf.constant(position))
            position += 1
    return samples


def _log_probs(logits):
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def quality_figures(runner, model, token_ids, positions=QUALITY_POSITIONS) -> dict:
    """The `.tflite` against the float32 Keras model on held-out tokens.

    Segments of at most the context length (each from an empty cache) are
    scored position by position with `decode` and with one Keras forward
    pass: perplexity of each, their ratio, the share of positions where
    both pick the same next token and the largest logit difference. The
    prompt path (`prefill` chunks, the last one overlapping) is checked
    too: `prefill_max_abs_logit_difference` compares the logits after
    prompts of several lengths of the first segment.
    """
    context = model.context_length or 256
    token_ids = np.asarray(token_ids, np.int32)
    nll_tflite = nll_keras = 0.0
    agree, worst, worst_prefill, count = 0, 0.0, 0.0, 0
    for start in range(0, len(token_ids) - 1, context):
        segment = token_ids[start : start + context + 1][: positions - count + 1]
        if len(segment) < 2:
            break
        inputs, targets = segment[:-1], segment[1:]
        ours = runner.next_token_logits(inputs).astype(np.float64)  # (n, V)
        reference = np.asarray(model(inputs[None]), np.float64)[0]
        rows = np.arange(len(targets))
        nll_tflite -= _log_probs(ours)[rows, targets].sum()
        nll_keras -= _log_probs(reference)[rows, targets].sum()
        agree += int((ours.argmax(-1) == reference.argmax(-1)).sum())
        worst = max(worst, float(np.abs(ours - reference).max()))
        if start == 0 and runner.prefill_length:
            size = runner.prefill_length
            for length in {size, size + size // 2 + 1, len(inputs)}:
                if size <= length <= len(inputs):
                    logits, _ = runner.feed(inputs[:length])
                    difference = np.abs(logits - reference[length - 1]).max()
                    worst_prefill = max(worst_prefill, float(difference))
        count += len(targets)
        if count >= positions:
            break
    if count == 0:
        raise ValueError("The held-out text is too short for the quality figures.")
    return {
        "positions": count,
        "perplexity": math.exp(nll_tflite / count),
        "float32_perplexity": math.exp(nll_keras / count),
        "perplexity_ratio": math.exp((nll_tflite - nll_keras) / count),
        "next_token_agreement": agree / count,
        "max_abs_logit_difference": worst,
        "prefill_max_abs_logit_difference": worst_prefill,
    }
