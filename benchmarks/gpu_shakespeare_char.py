"""nanoGPT's `shakespeare_char` configuration with our Transformer, on JAX.

The peer: nanoGPT (github.com/karpathy/nanoGPT), `config/train_shakespeare_char.py`:
6 layers, 6 heads, width 384, context 256, batch 64, dropout 0.2, 5,000
iterations, learning rate 1e-3 (100 warm-up steps, cosine to 1e-4), AdamW
with weight decay 0.1 and gradient clipping at 1.0; its README reports a
validation loss of 1.4697 after about 3 minutes on one A100. Ours: the same
shape and schedule through `keras_nlg.training.train` on Keras' JAX backend,
the byte tokenizer (Tiny Shakespeare is ASCII: a byte is a character, so
the losses are both nats per character), the last 10% held out as nanoGPT
does. Differences we know of: Adam's beta2 (nanoGPT 0.99, ours Keras'
0.999), and our validation loss is over every held-out window, nanoGPT's
over 200 random batches.

Then the generator: tokens per second of `keras_nlg.generate` (the JAX
decode loop, `keras_nlg/generation/portable.py`), 500 new tokens, greedy at
batch 1 and sampled (temperature 0.8, top-k 200, nanoGPT's `sample.py`
settings) at batch 8, after a warm-up call that compiles.

    python benchmarks/gpu_shakespeare_char.py --out /tmp/shakespeare_char
    python benchmarks/gpu_shakespeare_char.py --quick --out /tmp/sc  # CPU smoke

It sets KERAS_BACKEND=jax unless already set; on a GPU machine JAX must see
the GPU (`jax.devices()` is printed). Writes `results.json` into `--out`.
"""

import argparse
import json
import os
import platform
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

NANOGPT_VAL_LOSS = 1.4697  # nanoGPT README, shakespeare_char, one A100
NANOGPT_MINUTES = 3.0  # "about 3 minutes" there

FULL = dict(
    model_overrides=dict(
        num_layers=6,
        num_heads=6,
        hidden_dim=384,
        intermediate_dim=1536,
        context_length=256,
        dropout=0.2,
    ),
    batch_size=64,
    sequence_length=256,
    steps=5000,
    steps_per_epoch=500,
    learning_rate=1e-3,
    warmup_steps=100,
)
# A CPU smoke run of the same code path (minutes of nothing else).
QUICK = dict(
    model_overrides=dict(
        num_layers=2,
        num_heads=2,
        hidden_dim=64,
        intermediate_dim=256,
        context_length=64,
        dropout=0.2,
    ),
    batch_size=8,
    sequence_length=64,
    steps=40,
    steps_per_epoch=20,
    learning_rate=1e-3,
    warmup_steps=5,
)


def generation_speed(model, tokenizer, batch, new_tokens, **settings):
    """tok/s of `keras_nlg.generate`, timed after a compiling warm-up call."""
    import keras_nlg

    prompts = ["\n"] * batch
    keras_nlg.generate(model, tokenizer, prompts, max_new_tokens=new_tokens, **settings)
    start = time.perf_counter()
    keras_nlg.generate(model, tokenizer, prompts, max_new_tokens=new_tokens, **settings)
    seconds = time.perf_counter() - start
    return batch * new_tokens / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true", help="a tiny CPU smoke run")
    parser.add_argument("--new-tokens", type=int, default=500)
    args = parser.parse_args()

    import jax

    from keras_nlg.training import train

    devices = [str(d) for d in jax.devices()]
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}, {devices}")
    settings = QUICK if args.quick else FULL
    start = time.perf_counter()
    result = train(
        os.path.join(args.out, "model"),
        preset="small",
        verbose=2,
        overwrite=True,
        **settings,
    )
    wall = time.perf_counter() - start
    new_tokens = 50 if args.quick else args.new_tokens
    speeds = {
        "greedy, batch 1": generation_speed(
            result.model, result.tokenizer, 1, new_tokens
        ),
        "top-k 200 T 0.8, batch 8": generation_speed(
            result.model,
            result.tokenizer,
            8,
            new_tokens,
            do_sample=True,
            temperature=0.8,
            top_k=200,
            seed=0,
        ),
    }
    row = {
        "machine": platform.node(),
        "devices": devices,
        "settings": settings,
        "wall_seconds": wall,
        "step_seconds": result.metrics["step_seconds"],
        "val_loss": result.metrics.get("val_loss"),
        "train_tokens_per_second": result.metrics.get("tokens_per_second"),
        "generation_tokens_per_second": speeds,
        "nanogpt": {"val_loss": NANOGPT_VAL_LOSS, "minutes": NANOGPT_MINUTES},
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as file:
        json.dump(row, file, indent=2)
    print("| run | wall min | val loss (nats/char) | train tok/s |")
    print("|---|---|---|---|")
    print(
        f"| keras_nlg on {keras.backend.backend()} | {wall / 60:.1f} | "
        f"{row['val_loss']:.4f} | {row['train_tokens_per_second']:,.0f} |"
    )
    print(
        f"| nanoGPT (README, A100) | ~{NANOGPT_MINUTES:.0f} | {NANOGPT_VAL_LOSS} | – |"
    )
    print(f"val loss ratio ours/nanoGPT: {row['val_loss'] / NANOGPT_VAL_LOSS:.3f}")
    for name, speed in speeds.items():
        print(f"generation {name}: {speed:,.0f} tok/s")


if __name__ == "__main__":
    main()
