"""Generation speed: keras_nlg.generate next to keras-hub GPT2CausalLM.generate.

Both run the identical architecture with identical weights (a random
keras-hub `GPT2Backbone`, copied into a `TransformerLanguageModel`), both
XLA-compiled, in the same process. Timings exclude the first (compiling) call,
which is reported separately. End-of-text never stops either side, so every
row generates exactly `new_tokens` tokens.

    python benchmarks/generation.py              # full table (~15 min on 2 cores)
    python benchmarks/generation.py --quick      # small preset only

Prints: tokens/s (batch × new tokens / seconds, best of --repeats) for batch
1 and 8, greedy and top-p, at the `small` preset and the GPT-2 124M shape, with
the keras_nlg / keras-hub ratio; per-token cost flatness (1024 vs 256 new
tokens); and batch-1 decode against the memory-bandwidth roofline.
"""

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402

import keras_nlg  # noqa: E402
from keras_nlg.models import preset_config  # noqa: E402
from keras_nlg.models.keras_hub_gpt2 import load_keras_hub_gpt2_weights  # noqa: E402
from keras_nlg.tokenizers import ByteTokenizer  # noqa: E402

PROMPT_LENGTH = 8


class EndlessTokenizer(ByteTokenizer):
    """A byte tokenizer over any vocabulary whose end-of-text never occurs."""

    end_of_text_id = -1
    padding_id = 0

    def __init__(self, vocabulary_size):
        self.vocabulary_size = vocabulary_size


def build_pair(shape, context_length):
    config = preset_config(
        "transformer", shape["preset"], context_length=context_length
    )
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=shape["vocabulary_size"],
        num_layers=config["num_layers"],
        num_heads=config["num_heads"],
        hidden_dim=config["hidden_dim"],
        intermediate_dim=config["intermediate_dim"],
        max_sequence_length=context_length,
        dropout=0.0,
    )
    config["dropout"] = 0.0
    ours = keras_nlg.models.TransformerLanguageModel(shape["vocabulary_size"], **config)
    load_keras_hub_gpt2_weights(ours, backbone)
    theirs = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    return ours, theirs


def best_time(function, repeats):
    start = time.perf_counter()
    function()
    compile_seconds = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times), compile_seconds


def time_ours(model, vocabulary_size, batch, new_tokens, strategy, repeats):
    tokenizer = EndlessTokenizer(vocabulary_size)
    prompts = ["abcdefgh"] * batch  # 8 byte tokens
    sampling = dict(do_sample=True, top_p=0.9, seed=0) if strategy == "top_p" else {}

    def run():
        keras_nlg.generate(
            model, tokenizer, prompts, max_new_tokens=new_tokens, **sampling
        )

    return best_time(run, repeats)


def time_keras_hub(causal_lm, batch, new_tokens, strategy, repeats):
    sampler = (
        keras_hub.samplers.TopPSampler(p=0.9, seed=0)
        if strategy == "top_p"
        else keras_hub.samplers.GreedySampler()
    )
    causal_lm.compile(sampler=sampler, jit_compile=True)
    length = PROMPT_LENGTH + new_tokens
    token_ids = np.zeros((batch, length), "int32")
    token_ids[:, :PROMPT_LENGTH] = np.frombuffer(b"abcdefgh", np.uint8)
    padding_mask = np.zeros((batch, length), bool)
    padding_mask[:, :PROMPT_LENGTH] = True
    inputs = {"token_ids": token_ids, "padding_mask": padding_mask}

    def run():
        causal_lm.generate(inputs, stop_token_ids=None)

    return best_time(run, repeats)


def copy_bandwidth(megabytes=512):
    """Bytes/s of a large array copy (read + write), best of three."""
    source = np.ones(megabytes * 2**20 // 4, np.float32)
    destination = np.empty_like(source)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        np.copyto(destination, source)
        best = min(best, time.perf_counter() - start)
    return 2 * source.nbytes / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small preset only")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument(
        "--only", choices=("speed", "flatness"), help="run one part of the table"
    )
    args = parser.parse_args()

    shapes = [dict(name="small", preset="small", vocabulary_size=258)]
    if not args.quick:
        shapes.append(dict(name="gpt2_124m", preset="gpt2_124m", vocabulary_size=50257))

    print(
        f"{os.cpu_count()} CPU cores ({platform.machine()}), keras "
        f"{keras.__version__}, keras-hub {keras_hub.__version__}, backend "
        f"{keras.backend.backend()}; prompt {PROMPT_LENGTH} tokens, "
        f"{args.new_tokens} new tokens"
    )
    rows, gpt2_batch1 = [], None
    if args.only != "flatness":
        rows, gpt2_batch1 = speed_table(shapes, args)
    if args.only != "speed":
        flatness(shapes)
    if args.only is None:
        roofline(gpt2_batch1)
    for name, batch, strategy, ratio in rows:
        goal = 1.3 if batch == 1 else 1.0
        verdict = "meets" if ratio >= goal else "BELOW"
        print(
            f"  {name} batch {batch} {strategy}: {ratio:.2f}x ({verdict} goal {goal}x)"
        )


def speed_table(shapes, args):
    print(
        "| shape | batch | strategy | keras_nlg tok/s | keras-hub tok/s | ratio "
        "| compile s (ours / hub) |"
    )
    print("|---|---|---|---|---|---|---|")
    rows, gpt2_batch1 = [], None
    for shape in shapes:
        context_length = 1024 if shape["preset"] == "gpt2_124m" else 512
        ours, theirs = build_pair(shape, context_length)
        for batch in (1, 8):
            for strategy in ("greedy", "top_p"):
                tokens = batch * args.new_tokens
                our_time, our_compile = time_ours(
                    ours,
                    shape["vocabulary_size"],
                    batch,
                    args.new_tokens,
                    strategy,
                    args.repeats,
                )
                hub_time, hub_compile = time_keras_hub(
                    theirs, batch, args.new_tokens, strategy, args.repeats
                )
                ratio = hub_time / our_time
                rows.append((shape["name"], batch, strategy, ratio))
                print(
                    f"| {shape['name']} | {batch} | {strategy} "
                    f"| {tokens / our_time:,.1f} "
                    f"| {tokens / hub_time:,.1f} | {ratio:.2f}x "
                    f"| {our_compile:.1f} / {hub_compile:.1f} |",
                    flush=True,
                )
                if shape["name"] == "gpt2_124m" and batch == 1 and strategy == "greedy":
                    gpt2_batch1 = (tokens / our_time, ours.count_params())
    return rows, gpt2_batch1


def flatness(shapes):
    # Flatness: no recompute, so the per-token cost grows only by attention
    # over the longer cache (the context must hold prompt + 1024 new tokens).
    print()
    for shape in shapes:
        flat_model, _ = build_pair(shape, PROMPT_LENGTH + 1024)
        vocabulary_size = shape["vocabulary_size"]
        # Best of 3: one run is at the mercy of a background hiccup.
        short, _ = time_ours(flat_model, vocabulary_size, 1, 256, "greedy", 3)
        long, _ = time_ours(flat_model, vocabulary_size, 1, 1024, "greedy", 3)
        flatness = (1024 / long) / (256 / short)
        print(
            f"Flatness ({shape['name']}, batch 1, greedy): {256 / short:,.1f} tok/s "
            f"for 256 new tokens, {1024 / long:,.1f} tok/s for 1024: ratio "
            f"{flatness:.2f} (goal ≥ 0.85)",
            flush=True,
        )


def roofline(gpt2_batch1):
    bandwidth = copy_bandwidth()
    print(
        f"Copy bandwidth: {bandwidth / 1e9:.1f} GB/s "
        "(numpy copy of 512 MiB, read + write)"
    )
    if gpt2_batch1:
        speed, parameters = gpt2_batch1
        roofline = bandwidth / (4 * parameters)  # float32 weights read once per token
        print(
            f"GPT-2 124M batch-1 greedy: {speed:.1f} tok/s; roofline "
            f"{roofline:.1f} tok/s ({parameters:,} float32 parameters per token) → "
            f"{speed / roofline:.0%} of the memory-bandwidth limit"
        )


if __name__ == "__main__":
    main()
