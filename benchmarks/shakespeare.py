"""LSTM baseline vs Transformer on Tiny Shakespeare for the same training time.

Both models train with `keras_nlg.training.train` (the recipe `keras-nlg train`
uses) on the bundled corpus with the same batch, sequence length and time
budget. The budget counts training-step time only, so validation and the
TensorBoard sample don't eat into it. Each model's cosine schedule is sized
from a short throughput calibration (not counted) so both finish their decay
inside the budget.

    python benchmarks/shakespeare.py                 # 10 minutes per model
    python benchmarks/shakespeare.py --minutes 1     # a quick look

Prints a table (validation nats per byte, bits per byte, training tokens/s,
parameters, steps) and the Transformer/LSTM ratios.
"""

import argparse
import math
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_nlg.models import build_model  # noqa: E402
from keras_nlg.training import TrainingTimeLimit, train  # noqa: E402


def steps_per_second(arch, preset, batch_size, sequence_length, vocabulary_size=258):
    """Measures training steps/s on random batches (after one compile step)."""
    model = build_model(arch, preset, vocabulary_size)
    model.compile(
        optimizer="adamw",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    batch = rng.integers(0, vocabulary_size, (batch_size, sequence_length + 1))
    x, y = batch[:, :-1].astype("int32"), batch[:, 1:].astype("int32")
    model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(5):
        model.train_on_batch(x, y)
    return 5 / (time.perf_counter() - start)


def run(arch, args, out_root):
    rate = steps_per_second(arch, args.preset, args.batch_size, args.sequence_length)
    # Fit's per-step overhead is a little higher than train_on_batch's.
    planned_steps = max(20, int(0.95 * rate * args.minutes * 60))
    budget = TrainingTimeLimit(args.minutes * 60)
    result = train(
        os.path.join(out_root, arch),
        arch=arch,
        preset=args.preset,
        steps=planned_steps,
        steps_per_epoch=min(args.steps_per_epoch, planned_steps),
        batch_size=args.batch_size,
        sequence_length=args.sequence_length,
        seed=args.seed,
        verbose=args.verbose,
        callbacks=[budget],
    )
    steps = int(result.model.optimizer.iterations)
    tokens = steps * args.batch_size * args.sequence_length
    return {
        "arch": arch,
        "val_nats_per_byte": result.metrics["val_loss"],
        "val_bits_per_byte": result.metrics["val_loss"] / math.log(2),
        "tokens_per_second": tokens / budget.spent,
        "parameters": result.metrics["parameters"],
        "steps": steps,
        "planned_steps": planned_steps,
        "train_minutes": budget.spent / 60,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="per model")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequence-length", type=int, default=256)
    parser.add_argument("--steps-per-epoch", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as out_root:
        rows = [run(arch, args, out_root) for arch in ("lstm", "transformer")]

    print(
        f"\nTiny Shakespeare, {args.minutes:g} min of training per model, preset "
        f"{args.preset}, batch {args.batch_size} x {args.sequence_length} bytes, "
        f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()})"
    )
    header = (
        "| model | val nats/byte | val bits/byte | train tokens/s | parameters "
        "| steps (planned) | train min |"
    )
    print(header)
    print("|" + "---|" * 7)
    for r in rows:
        print(
            f"| {r['arch']} | {r['val_nats_per_byte']:.4f} "
            f"| {r['val_bits_per_byte']:.4f} "
            f"| {r['tokens_per_second']:,.0f} | {r['parameters']:,} "
            f"| {r['steps']} ({r['planned_steps']}) | {r['train_minutes']:.1f} |"
        )
    lstm, transformer = rows
    print(
        "\nTransformer / LSTM: validation loss ratio "
        f"{transformer['val_nats_per_byte'] / lstm['val_nats_per_byte']:.3f} "
        "(< 1 means the Transformer is better), throughput ratio "
        f"{transformer['tokens_per_second'] / lstm['tokens_per_second']:.2f}x"
    )


if __name__ == "__main__":
    main()
