"""`keras-nlg train` against nanoGPT's CPU quickstart on Tiny Shakespeare.

The peer: nanoGPT (github.com/karpathy/nanoGPT), its README's CPU run of
`config/train_shakespeare_char.py` with `--device=cpu --compile=False
--eval_iters=20 --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4
--n_head=4 --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0`
(0.8M parameters), measured on this 2-core machine with PyTorch's CPU wheel
when issue 22 was filed: 72 s to a validation loss of 1.886 nats/char, and
243 s to 1.632 with `--max_iters=7000 --lr_decay_iters=7000`. nanoGPT is not
a dependency of keras_nlg; its figures are the constants `NANOGPT` below.

Our side runs each command as a user would: `keras-nlg train ...` in a fresh
process, timed from start to exit (imports, tokenizing, tracing, validation,
the save and the printed sample included). For each run it reports:

- the wall time and the validation loss `train` reports (nats per byte =
  per character here: the corpus is ASCII), over its own windows;
- the validation loss on nanoGPT's measure: windows of 64 characters of the
  same held-out last 10% (nanoGPT averages the loss over positions 0–63 of
  random 64-character blocks; a model with a longer context sees more on
  its own windows, so this is the comparable figure);
- fixed costs: wall time minus the time in training steps (`train`'s
  `step_seconds`), i.e. imports, tracing, validation, saving, sampling.

    python benchmarks/nanogpt_cpu.py                # both rows (~6 min)
    python benchmarks/nanogpt_cpu.py --rows quick   # the 72-s row only
    python benchmarks/nanogpt_cpu.py --repeats 3    # each row 3 times, then
                                                    # min / median / max

A run's validation loss moves by about ±0.015 between identical runs here
(data order is seeded, but the budget sizes the schedule to the measured
speed), so a goal is judged over repeats, not one run.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

# (wall seconds, validation loss in nats/char), from the module docstring.
NANOGPT = {"quick": (72.0, 1.886), "main": (243.0, 1.632)}

# Our commands for the two rows. `main` is the README's main job verbatim.
_MINI = ["--preset", "mini", "--batch-size", "16", "--learning-rate", "3e-3"]
_MINI += ["--warmup-steps", "100"]
ROWS = {
    "quick": ["train", "--out", "{out}", *_MINI, "--minutes", "1"],
    "main": ["train", "--out", "{out}", *_MINI, "--minutes", "3.6"],
}


def run_row(name, command, keras_nlg, root):
    out = os.path.join(root, name)
    argv = [keras_nlg, *[a.replace("{out}", out) for a in command]]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(out, "config.json")) as f:
        training = json.load(f)["training"]
    return {
        "row": name,
        "command": "keras-nlg " + " ".join(command).replace("{out}", "DIR"),
        "wall_s": wall,
        "val_loss": metrics["val_loss"],
        "val_loss_64": loss_on_64_char_windows(out, training),
        "steps": metrics["steps_run"],
        "tokens_per_s": metrics["tokens_per_second"],
        "fixed_s": wall - metrics["step_seconds"],
        "parameters": metrics["parameters"],
    }


def loss_on_64_char_windows(model_dir, training):
    """nats/char of the held-out tail in 64-character windows (nanoGPT's)."""
    import keras_nlg
    from keras_nlg.evaluation import perplexity

    loaded = keras_nlg.load(model_dir)
    text = "".join(open(p, encoding="utf-8").read() for p in training["data_paths"])
    held_out = text[round(len(text) * (1 - training["validation_fraction"])) :]
    scores = perplexity(loaded.model, loaded.tokenizer, held_out, 64, stride=64)
    return scores["nats_per_token"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", nargs="+", choices=sorted(ROWS), default=["quick", "main"]
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs of each row (default 1)"
    )
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1. Received: {args.repeats}")
    keras_nlg = os.path.join(os.path.dirname(sys.executable), "keras-nlg")
    results = []
    for name in args.rows:
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as root:
                results.append(run_row(name, ROWS[name], keras_nlg, root))
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )
    print(
        f"{'row':6} {'wall s':>7} {'val loss':>9} {'val@64':>7} {'steps':>6} "
        f"{'tok/s':>7} {'fixed s':>8} {'params':>8}   nanoGPT (s, loss)   "
        "time ratio  loss ratio"
    )
    for r in results:
        wall, loss = NANOGPT[r["row"]]
        print(
            f"{r['row']:6} {r['wall_s']:7.1f} {r['val_loss']:9.3f} "
            f"{r['val_loss_64']:7.3f} "
            f"{r['steps']:6d} {r['tokens_per_s']:7.0f} {r['fixed_s']:8.1f} "
            f"{r['parameters'] / 1e6:7.2f}M   {wall:5.0f} s, {loss:.3f}        "
            f"{r['wall_s'] / wall:10.2f}  {r['val_loss_64'] / loss:10.3f}"
        )
    if args.repeats > 1:
        print("\nover the repeats (min / median / max):")
        for name in args.rows:
            runs = [r for r in results if r["row"] == name]
            wall, loss = NANOGPT[name]
            for key, unit in (("wall_s", "s"), ("val_loss_64", "nats/char")):
                values = sorted(r[key] for r in runs)
                print(
                    f"  {name:6} {key:12} {values[0]:8.3f} / "
                    f"{statistics.median(values):8.3f} / {values[-1]:8.3f} {unit}"
                )
            met = sum(r["wall_s"] <= wall and r["val_loss_64"] < loss for r in runs)
            print(
                f"  {name:6} runs within {wall:.0f} s and below {loss} "
                f"(val@64): {met} of {len(runs)}"
            )
    for name in args.rows:
        command = next(r["command"] for r in results if r["row"] == name)
        print(f"  {name}: {command}")


if __name__ == "__main__":
    main()
