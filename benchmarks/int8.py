"""int8 weights in the Keras generator: quality next to float32, and speed.

Quality (`--model DIR`, a model trained on Tiny Shakespeare, e.g. the README's
main job `runs/shakespeare`): the model and a copy quantized with Keras'
`model.quantize("int8")` (our embedding quantizes the tied token table too)
score the same held-out text, the last 10% of the bundled Tiny Shakespeare,
in windows of the model's context: greedy next-token agreement over
`--positions` positions and the perplexity ratio int8 ÷ float32.

Speed: `keras_nlg.generate` batch-1 greedy tokens/s on the GPT-2 124M shape
(random weights) in float32 and int8, against the float32 memory-bandwidth
roofline measured in the same run (`generation.read_bandwidth`), plus the
next-token agreement of the two on random token ids.

    python benchmarks/int8.py --model runs/shakespeare
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generation  # noqa: E402

import keras_nlg  # noqa: E402

SHAKESPEARE = os.path.join(
    os.path.dirname(keras_nlg.__file__), "datasets", "tinyshakespeare", "input.txt"
)


def quantized_copy(model):
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    copy.quantize("int8")
    return copy


def quality(model_dir, positions):
    model, tokenizer, _ = keras_nlg.load(model_dir)
    int8 = quantized_copy(model)
    text = open(SHAKESPEARE, encoding="utf-8").read()
    held_out = text[int(len(text) * 0.9) :]
    ids = tokenizer.tokenize(held_out).numpy()
    window = model.context_length
    rows = -(-positions // (window - 1))
    windows = np.stack([ids[i * window : (i + 1) * window] for i in range(rows)])
    targets = windows[:, 1:]
    agreement, nll = [], {"float32": 0.0, "int8": 0.0}
    logits = {}
    for name, candidate in (("float32", model), ("int8", int8)):
        logits[name] = np.asarray(candidate(windows[:, :-1]), np.float64)
        shifted = logits[name] - logits[name].max(-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        picked = np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
        nll[name] = -picked.reshape(-1)[:positions].mean()
    agreement = (
        logits["float32"].argmax(-1).reshape(-1)[:positions]
        == logits["int8"].argmax(-1).reshape(-1)[:positions]
    ).mean()
    ratio = np.exp(nll["int8"]) / np.exp(nll["float32"])
    print(
        f"{model_dir}: {positions} held-out positions of Tiny Shakespeare; "
        f"perplexity float32 {np.exp(nll['float32']):.4f}, int8 "
        f"{np.exp(nll['int8']):.4f}, ratio {ratio:.4f} (goal ≤ 1.01); greedy "
        f"next-token agreement {agreement:.2%} (goal ≥ 99%)"
    )


def speed(repeats):
    shape = dict(name="gpt2_124m", preset="gpt2_124m", vocabulary_size=50257)
    model, _ = generation.build_pair(shape, 1024)
    ids = np.random.default_rng(0).integers(0, 50257, (1, 256)).astype("int32")
    reference = np.asarray(model(ids)).argmax(-1)
    bandwidth, _ = generation.read_bandwidth()
    roofline = bandwidth / (4 * model.count_params())
    print(
        f"read bandwidth {bandwidth / 1e9:.1f} GB/s → float32 roofline "
        f"{roofline:.1f} tok/s for GPT-2 124M"
    )
    print("| weights | tok/s (batch 1 greedy, 256 new) | ÷ float32 roofline |")
    print("|---|---|---|")
    for name in ("float32", "int8"):
        if name == "int8":
            model = quantized_copy(model)
            agreement = (np.asarray(model(ids)).argmax(-1) == reference).mean()
        seconds, _ = generation.time_ours(model, 50257, 1, 256, "greedy", repeats)
        print(f"| {name} | {256 / seconds:.1f} | {256 / seconds / roofline:.2f} |")
    print(f"int8 vs float32 greedy next-token agreement (random ids): {agreement:.2%}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model directory trained on Tiny Shakespeare")
    parser.add_argument("--positions", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}")
    if args.model:
        quality(args.model, args.positions)
    speed(args.repeats)


if __name__ == "__main__":
    main()
