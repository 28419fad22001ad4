"""Generation speed: keras_nlg.generate next to the peers users would pick.

Peers, in the same process, on identical weights (a random keras-hub
`GPT2Backbone`, copied into a `TransformerLanguageModel`):

- keras-hub `GPT2CausalLM.generate`, XLA-compiled;
- Hugging Face transformers `GPT2LMHeadModel.generate` on PyTorch (CPU),
  the weights written by `keras_nlg.export.hugging_face` (if `transformers`
  and `torch` are installed: `pip install -e ".[hf]"`): eager with its
  default dynamic cache, and with a static cache and `torch.compile`. It
  runs in this process, so `triton` must be absent (torch's CPU wheel, or
  `pip uninstall triton`): importing it after TensorFlow segfaults.

Timings exclude the first (compiling) call, which is reported separately.
End-of-text never stops any side, so every row generates exactly
`new_tokens` tokens. Top-p is 0.9 with top-k off on every side. PyTorch
gets the same number of threads as TensorFlow uses here (`--threads`,
default the CPU count).

    python benchmarks/generation.py              # full table (~30 min on 2 cores)
    python benchmarks/generation.py --quick      # small preset only

Prints: tokens/s (batch × new tokens / seconds, best of --repeats) for batch
1 and 8, greedy and top-p, at the `small` preset and the GPT-2 124M shape, with
the keras_nlg / peer ratios; per-token cost flatness (1024 vs 256 new
tokens); and batch-1 decode against the memory-bandwidth roofline.
"""

import argparse
import os
import platform
import tempfile
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


def transformers_peer(ours, threads):
    """`GPT2LMHeadModel` on `ours`' weights (exported), or None if absent."""
    try:
        import torch
        import transformers
    except ImportError:
        return None
    from keras_nlg.export.hugging_face import write_gpt2_weights

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as directory:
        write_gpt2_weights(ours, directory, end_of_text_id=0)
        model = transformers.GPT2LMHeadModel.from_pretrained(directory)
    return model.eval()


def time_transformers(model, batch, new_tokens, strategy, repeats, compiled):
    import torch

    input_ids = torch.tensor(
        np.tile(np.frombuffer(b"abcdefgh", np.uint8).astype(np.int64), (batch, 1))
    )
    settings = dict(
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        eos_token_id=None,
        pad_token_id=0,
        attention_mask=torch.ones_like(input_ids),
    )
    if strategy == "top_p":
        settings.update(do_sample=True, top_p=0.9, top_k=0)
    else:
        settings.update(do_sample=False)
    if compiled:
        # generate() compiles its forward only on accelerators unless told
        # with CompileConfig's `_compile_all_devices` flag (transformers'
        # own switch for CPU); "reduce-overhead" means CUDA graphs, so the
        # CPU gets inductor's default mode.
        from transformers import CompileConfig

        compile_config = CompileConfig(mode="default")
        compile_config._compile_all_devices = True
        settings.update(cache_implementation="static", compile_config=compile_config)

    def run():
        torch.manual_seed(0)
        with torch.no_grad():
            output = model.generate(input_ids, **settings)
        assert output.shape == (batch, PROMPT_LENGTH + new_tokens), output.shape

    return best_time(run, repeats)


def read_bandwidth(megabytes=1024, repeats=5):
    """Bytes/s read by the two ways a batch-1 decode step reads its weights.

    A decode step streams every weight matrix once through a matrix-vector
    product (BLAS gemv, or XLA's dot) on all cores. Measured here: a
    float32 matrix of `megabytes` (far larger than the caches) times a
    vector with NumPy's BLAS, and `a @ a` on a vector of the same size;
    the best of `repeats` runs of each, bytes read ÷ seconds. Returns the
    larger, with both figures.
    """
    side = int((megabytes * 2**20 // 4) ** 0.5)
    matrix = np.ones((side, side), np.float32)
    vector = np.ones(side, np.float32)
    flat = matrix.reshape(-1)
    figures = {}
    for name, function in (
        ("gemv", lambda: matrix @ vector),
        ("dot", lambda: flat @ flat),
    ):
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            function()
            best = min(best, time.perf_counter() - start)
        figures[name] = matrix.nbytes / best
    return max(figures.values()), figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small preset only")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument(
        "--only",
        choices=("speed", "flatness", "roofline"),
        help="run one part of the table",
    )
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count(), help="PyTorch's threads"
    )
    parser.add_argument(
        "--no-compile",
        action="store_true",
        help="skip transformers with a static cache + torch.compile",
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
    if args.only in (None, "speed"):
        rows, gpt2_batch1 = speed_table(shapes, args)
    if args.only in (None, "flatness"):
        flatness(shapes)
    if args.only in (None, "roofline"):
        roofline(gpt2_batch1)
    for name, batch, strategy, peer, ratio in rows:
        goal = GOALS[peer][(batch, strategy)]
        verdict = "meets" if ratio >= goal else "BELOW"
        print(
            f"  {name} batch {batch} {strategy} vs {peer}: {ratio:.2f}x "
            f"({verdict} goal {goal}x)"
        )


# keras_nlg ÷ peer tokens/s that we aim for (issues 5 and 22).
GOALS = {
    "keras-hub": {
        (1, "greedy"): 1.3,
        (1, "top_p"): 1.3,
        (8, "greedy"): 1.0,
        (8, "top_p"): 1.0,
    },
    "transformers": {
        (1, "greedy"): 1.9,
        (8, "greedy"): 2.5,
        (1, "top_p"): 1.5,
        (8, "top_p"): 2.0,
    },
}


def speed_table(shapes, args):
    print(
        "| shape | batch | strategy | keras_nlg tok/s | keras-hub tok/s "
        "| transformers tok/s (eager / static+compile) | ours ÷ hub "
        "| ours ÷ transformers eager | compile s (ours / hub / torch) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rows, gpt2_batch1 = [], None
    for shape in shapes:
        context_length = 1024 if shape["preset"] == "gpt2_124m" else 512
        ours, theirs = build_pair(shape, context_length)
        hf = transformers_peer(ours, args.threads)
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
                rows.append(
                    (shape["name"], batch, strategy, "keras-hub", hub_time / our_time)
                )
                hf_cell, hf_ratio, torch_compile = "not installed", "–", "–"
                if hf is not None:
                    eager, _ = time_transformers(
                        hf, batch, args.new_tokens, strategy, args.repeats, False
                    )
                    compiled = "skipped"
                    if not args.no_compile:
                        try:
                            compiled_time, compile_s = time_transformers(
                                hf, batch, args.new_tokens, strategy, args.repeats, True
                            )
                            compiled = f"{tokens / compiled_time:,.1f}"
                            torch_compile = f"{compile_s:.1f}"
                        except Exception as error:  # reported, not fatal
                            compiled = f"failed ({type(error).__name__})"
                            print(f"static cache + compile failed: {error}")
                    hf_cell = f"{tokens / eager:,.1f} / {compiled}"
                    hf_ratio = f"{eager / our_time:.2f}x"
                    rows.append(
                        (
                            shape["name"],
                            batch,
                            strategy,
                            "transformers",
                            eager / our_time,
                        )
                    )
                print(
                    f"| {shape['name']} | {batch} | {strategy} "
                    f"| {tokens / our_time:,.1f} "
                    f"| {tokens / hub_time:,.1f} | {hf_cell} "
                    f"| {hub_time / our_time:.2f}x | {hf_ratio} "
                    f"| {our_compile:.1f} / {hub_compile:.1f} / {torch_compile} |",
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
    bandwidth, figures = read_bandwidth()
    print(
        f"Read bandwidth: {bandwidth / 1e9:.1f} GB/s (best of 5; 1 GiB float32: "
        f"BLAS gemv {figures['gemv'] / 1e9:.1f} GB/s, dot {figures['dot'] / 1e9:.1f}"
        " GB/s; bytes read ÷ seconds)"
    )
    if gpt2_batch1:
        speed, parameters = gpt2_batch1
        # Every float32 weight is read once per token at batch 1 (the tied
        # embedding as the output projection; the position table is a row).
        roofline = bandwidth / (4 * parameters)
        print(
            f"GPT-2 124M batch-1 greedy: {speed:.1f} tok/s; float32 roofline "
            f"{roofline:.1f} tok/s ({parameters:,} float32 parameters per token) → "
            f"{speed / roofline:.0%} of the memory-bandwidth limit"
        )


if __name__ == "__main__":
    main()
