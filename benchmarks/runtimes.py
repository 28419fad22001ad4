"""The runtimes side by side: per-token decode latency at batch 1, same run.

Builds (or takes `--model DIR`) one Transformer model directory and measures
greedy decoding, batch 1, on:

- `keras_nlg.generate` (the XLA-compiled loop, in process);
- the default SavedModel (no XLA: what stock TF Serving runs on GPU) and the
  `--xla` one (TF Serving CPU), each through `keras-nlg serve` over gRPC;
- `TFLiteGenerator` (the LiteRT interpreter, host loop, float32);
- the LiteRT-LM engine (litert-lm-api, CPU) on the `.litertlm` bundle,
  float32 and dynamic int8.

Per-token latency is the difference of two lengths, (t(N2) − t(N1)) /
(N2 − N1), with `min_new_tokens` forcing every token, so request overhead
(gRPC, tokenization, prefill) cancels out; each figure is the best of
`--repeats`. It also prints the ops TensorFlow executes per decode step of
each SavedModel, counted as TF Serving runs it (a TF1 session over the
"serve" MetaGraph, `RunOptions.FULL_TRACE` step stats, difference of two
lengths), and the artifacts' sizes.

    python benchmarks/runtimes.py                     # small preset, 30 steps
    python benchmarks/runtimes.py --model runs/shakespeare
"""

import argparse
import collections
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_nlg  # noqa: E402
from keras_nlg.datasets import tiny_shakespeare_path  # noqa: E402
from keras_nlg.export import TFLiteGenerator, export_saved_model, export_tflite  # noqa: E402
from keras_nlg.export.litertlm import export_litertlm  # noqa: E402
from keras_nlg.serving import GrpcClient  # noqa: E402
from keras_nlg.serving.process import ServerProcess  # noqa: E402
from keras_nlg.training import train  # noqa: E402

PROMPT = "ROMEO:"


def per_token(run, short, long, repeats):
    """Best-of-`repeats` (t(long) − t(short)) / (long − short), in seconds."""
    run(short)  # compile / warm
    run(long)
    best = {}
    for n in (short, long):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run(n)
            times.append(time.perf_counter() - start)
        best[n] = min(times)
    return (best[long] - best[short]) / (long - short)


def generate_runner(model, tokenizer):
    def run(n):
        keras_nlg.generate(
            model, tokenizer, [PROMPT], max_new_tokens=n, min_new_tokens=n
        )

    return run


def tflite_runner(generator, tokenizer):
    prompt = [tokenizer.end_of_text_id, *tokenizer.tokenize(PROMPT).numpy().tolist()]

    def run(n):
        cache = generator.empty_cache()
        logits = None
        for position, token in enumerate(prompt):
            logits, cache = generator.decode(token, position, cache)
        for step in range(n):
            token = int(np.argmax(logits))
            logits, cache = generator.decode(token, len(prompt) + step, cache)

    return run


def litert_lm_seconds(bundle, short, long, repeats):
    """Per-token decode time in the LiteRT-LM engine, greedy: (t(long) −
    t(short)) over the tokens the engine reports it decoded in between (it
    has no minimum length, so an end-of-text would show here)."""
    import litert_lm

    litert_lm.set_min_log_severity(litert_lm.LogSeverity.ERROR)
    with litert_lm.Engine(
        bundle, backend=litert_lm.Backend.CPU(), enable_benchmark=True
    ) as engine:

        def run(n):
            with engine.create_session(
                apply_prompt_template=False,
                sampler_config=litert_lm.SamplerConfig(top_k=1, top_p=0.0),
                max_output_tokens=n,
            ) as session:
                start = time.perf_counter()
                session.run_prefill([PROMPT])
                session.run_decode()
                seconds = time.perf_counter() - start
                return seconds, session.get_benchmark_info().last_decode_token_count

        run(short)
        best = {}
        for n in (short, long):
            best[n] = min((run(n) for _ in range(repeats)), key=lambda r: r[0])
    (t_short, n_short), (t_long, n_long) = best[short], best[long]
    if n_long <= n_short:
        raise RuntimeError(
            f"The engine decoded {n_long} tokens for {long} and {n_short} for {short}: "
            "it stopped early (end-of-text), so per-token time can't be measured."
        )
    return (t_long - t_short) / (n_long - n_short)


def served_ops_per_step(version_dir, short=8, long=24):
    """Ops executed per decode step, as TF Serving's session runs the graph."""
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(
            session, ["serve"], version_dir
        )
        signature = meta_graph.signature_def["serving_default"]
        feeds = {
            name: graph.get_tensor_by_name(info.name)
            for name, info in signature.inputs.items()
        }
        text = graph.get_tensor_by_name(signature.outputs["text"].name)

        def executed(n):
            metadata = tf.compat.v1.RunMetadata()
            session.run(
                text,
                {
                    feeds["prompt"]: [PROMPT],
                    feeds["max_new_tokens"]: [n],
                    feeds["min_new_tokens"]: [n],
                },
                options=tf.compat.v1.RunOptions(
                    trace_level=tf.compat.v1.RunOptions.FULL_TRACE
                ),
                run_metadata=metadata,
            )
            return collections.Counter(
                node.node_name
                for device in metadata.step_stats.dev_stats
                for node in device.node_stats
            )

        executed(short)
        return (sum(executed(long).values()) - sum(executed(short).values())) / (
            long - short
        )


def directory_bytes(path):
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(path)
        for name in names
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a Transformer model directory")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--short", type=int, default=16)
    parser.add_argument("--long", type=int, default=112)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model
        if model_dir is None:
            model_dir = os.path.join(scratch, args.preset)
            train(
                model_dir,
                data_paths=[tiny_shakespeare_path()],
                preset=args.preset,
                steps=args.steps,
                steps_per_epoch=args.steps,
                batch_size=8,
                sequence_length=128,
                model_overrides={"context_length": 128},
                verbose=0,
            )
        model, tokenizer, _ = keras_nlg.load(model_dir)
        rows = []
        seconds = per_token(
            generate_runner(model, tokenizer), args.short, args.long, args.repeats
        )
        rows.append(("keras_nlg.generate (XLA, in process)", seconds, None, None))

        for name, xla in (("SavedModel default (no XLA)", False), ("--xla", True)):
            base = os.path.join(scratch, "export", "xla" if xla else "default")
            export_saved_model(
                model_dir,
                os.path.join(base, "1"),
                max_batch_size=4,
                max_new_tokens=args.long,
                jit_compile=xla,
            )
            ops = served_ops_per_step(os.path.join(base, "1"))
            with ServerProcess(base, "m", "--xla_cache_dir=", rest=False) as server:
                client = GrpcClient(server.grpc_target, "m")

                def run(n, client=client):
                    client.generate(
                        [PROMPT], max_new_tokens=n, min_new_tokens=n, temperature=0.0
                    )

                seconds = per_token(run, args.short, args.long, args.repeats)
            label = f"{name} via keras-nlg serve" if not xla else f"SavedModel {name}"
            rows.append((label, seconds, ops, directory_bytes(base)))

        tflite_dir = os.path.join(scratch, "tflite")
        export_tflite(model_dir, tflite_dir, quantize="none")
        generator = TFLiteGenerator(os.path.join(tflite_dir, "model.tflite"))
        seconds = per_token(
            tflite_runner(generator, tokenizer), args.short, args.long, args.repeats
        )
        rows.append(
            (
                "TFLiteGenerator (LiteRT interpreter, float32)",
                seconds,
                None,
                os.path.getsize(os.path.join(tflite_dir, "model.tflite")),
            )
        )

        for quantize in ("none", "dynamic_int8"):
            bundle = os.path.join(scratch, f"{quantize}.litertlm")
            export_litertlm(model_dir, bundle, quantize=quantize)
            seconds = litert_lm_seconds(bundle, args.short, args.long, args.repeats)
            label = "float32" if quantize == "none" else quantize
            rows.append(
                (
                    f"LiteRT-LM engine (CPU, {label})",
                    seconds,
                    None,
                    os.path.getsize(bundle),
                )
            )

    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}, TensorFlow {tf.__version__}; "
        f"{args.preset if args.model is None else args.model}, batch 1, greedy, "
        f"per token from {args.short} vs {args.long} new tokens, best of "
        f"{args.repeats}"
    )
    print(f"{'runtime':52} {'ms/token':>9} {'tokens/s':>9} {'ops/step':>9} {'MB':>8}")
    reference = rows[0][1]
    for name, seconds, ops, size in rows:
        print(
            f"{name:52} {1e3 * seconds:9.3f} {1 / seconds:9.1f} "
            f"{'' if ops is None else f'{ops:.0f}':>9} "
            f"{'' if size is None else f'{size / 1e6:.2f}':>8}"
        )
    print("\nratio to keras_nlg.generate (per-token time):")
    for name, seconds, _, _ in rows[1:]:
        print(f"  {name}: {seconds / reference:.2f}x")


if __name__ == "__main__":
    main()
