"""TFLite variants: size, per-token decode latency next to Keras, and quality.

Trains a `small` Transformer on Tiny Shakespeare for a few hundred steps (or
takes `--model DIR`), exports it with every `--quantize` variant, and for each
prints the file size and its ratio to float32, the per-token `decode` latency
with the LiteRT interpreter (the host loop an app runs: cache in and out as
arrays) next to the Keras cached step compiled with XLA in the same run, and
the quality figures the export wrote (held-out perplexity ratio and next-token
agreement against the float32 Keras model over 1,000 positions).

    python benchmarks/tflite.py                  # train 300 steps, all variants
    python benchmarks/tflite.py --model runs/shakespeare --threads 2
"""

import argparse
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_nlg  # noqa: E402
from keras_nlg.export import QUANTIZATIONS, TFLiteGenerator, export_tflite  # noqa: E402
from keras_nlg.training import train  # noqa: E402


def keras_step_seconds(model, tokenizer, positions):
    """Per-token time of the XLA-compiled cached step, called from a host loop."""
    step = tf.function(
        lambda token, cache, index: model.call_with_cache(token, cache, index),
        jit_compile=True,
    )
    cache = model.empty_cache(1)
    token = tf.constant([[tokenizer.end_of_text_id]], tf.int32)
    _, cache = step(token, cache, tf.constant(0))  # compile
    cache = model.empty_cache(1)
    start = time.perf_counter()
    for position in range(positions):
        logits, cache = step(token, cache, tf.constant(position))
        token = tf.argmax(logits[:, -1], axis=-1, output_type=tf.int32)[:, None]
    np.asarray(logits)
    return (time.perf_counter() - start) / positions


def tflite_step_seconds(generator, tokenizer, positions):
    cache = generator.empty_cache()
    token = tokenizer.end_of_text_id
    generator.decode(token, 0, cache)  # first call allocates
    start = time.perf_counter()
    for position in range(positions):
        logits, cache = generator.decode(token, position, cache)
        token = int(np.argmax(logits))
    return (time.perf_counter() - start) / positions


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model directory (default: train one)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--positions", type=int, default=200, help="timed tokens")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--variants", nargs="+", default=list(QUANTIZATIONS))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model
        if model_dir is None:
            model_dir = os.path.join(scratch, "small")
            train(
                model_dir,
                preset="small",
                steps=args.steps,
                steps_per_epoch=args.steps,
                batch_size=16,
                sequence_length=256,
                verbose=0,
            )
        model, tokenizer, _ = keras_nlg.load(model_dir)
        positions = min(args.positions, model.context_length - 1)
        keras_seconds = keras_step_seconds(model, tokenizer, positions)
        rows = []
        for variant in args.variants:
            out = os.path.join(scratch, variant)
            start = time.perf_counter()
            metadata = export_tflite(model_dir, out, quantize=variant)
            seconds = time.perf_counter() - start
            generator = TFLiteGenerator(out, num_threads=args.threads)
            rows.append(
                (
                    variant,
                    metadata,
                    tflite_step_seconds(generator, tokenizer, positions),
                    seconds,
                )
            )

    float32_size = next(m["size_bytes"] for v, m, _, _ in rows if v == "none")
    print(
        f"\nTFLite variants of a {model.count_params():,}-parameter "
        f"{type(model).__name__} (context {model.context_length}), "
        f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
        f"LiteRT threads: {args.threads or 'default'}; decode timed over "
        f"{positions} positions from an empty cache"
    )
    print(
        "| variant | size MB | size / float32 | decode ms/token | Keras XLA step "
        "ms/token | Keras / TFLite | perplexity ratio | next-token agreement "
        "| export s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for variant, metadata, step, seconds in rows:
        quality = metadata["quality"]
        print(
            f"| {variant} | {metadata['size_bytes'] / 1e6:.2f} "
            f"| {metadata['size_bytes'] / float32_size:.3f} | {step * 1e3:.3f} "
            f"| {keras_seconds * 1e3:.3f} | {keras_seconds / step:.2f}x "
            f"| {quality['perplexity_ratio']:.4f} "
            f"| {quality['next_token_agreement']:.1%} | {seconds:.0f} |"
        )


if __name__ == "__main__":
    main()
