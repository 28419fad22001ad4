"""`keras-nlg serve` under load: 16 gRPC clients, with and without batching.

Exports a model (a `--preset` Transformer, default `small`, trained for a
few steps on Tiny Shakespeare, or `--model DIR`) as a SavedModel, then for
each mode starts `keras-nlg serve` on loopback, runs a warm-up round,
records the server's RSS, and has `--clients` threads (each its own gRPC
channel) send
`--requests` single-prompt requests each. Prints throughput, p50/p99
latency, errors, and RSS before/after, and the batched/unbatched ratio.

    python benchmarks/serving.py                      # 16 clients x 200 requests
    python benchmarks/serving.py --preset tiny --max-new-tokens 16
"""

import argparse
import os
import platform
import re
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from keras_nlg.datasets import tiny_shakespeare_path  # noqa: E402
from keras_nlg.export import export_saved_model, wire_contract  # noqa: E402
from keras_nlg.serving import GrpcClient  # noqa: E402
from keras_nlg.serving.process import ServerProcess  # noqa: E402

PROMPTS = ["ROMEO:\n", "JULIET:\nO ", "KING HENRY:\n", "First Citizen:\n"]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024


def load(target, clients, requests, max_new_tokens):
    """Latencies (s) of every request, errors, wall time, generated tokens."""
    latencies, errors, tokens = [], [], [0]
    lock = threading.Lock()

    def client_loop(index):
        client = GrpcClient(target, "bench", retries=0, timeout=300)
        for i in range(requests):
            prompt = PROMPTS[(index + i) % len(PROMPTS)]
            start = time.perf_counter()
            try:
                outputs = client.predict(
                    {
                        wire_contract.PROMPT: np.array([prompt.encode()], object),
                        "max_new_tokens": np.array([max_new_tokens], np.int32),
                    }
                )
                with lock:
                    latencies.append(time.perf_counter() - start)
                    tokens[0] += int(outputs[wire_contract.NUM_GENERATED_TOKENS][0])
            except Exception as error:  # noqa: BLE001 (counted, not fatal)
                with lock:
                    errors.append(repr(error)[:200])

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - start, tokens[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model directory (default: train a tiny one)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=200, help="per client")
    parser.add_argument("--preset", default="small", help="when training one")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--batch-timeout-micros", type=int, default=5000)
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="serving-bench-")
    model_dir = args.model
    if model_dir is None:
        from keras_nlg.training import train

        model_dir = os.path.join(scratch, "model")
        train(
            model_dir,
            data_paths=[tiny_shakespeare_path()],
            preset=args.preset,
            batch_size=16,
            sequence_length=128,
            model_overrides={"context_length": 128},
            steps=100,
            steps_per_epoch=100,
            verbose=0,
        )
    base_path = os.path.join(scratch, "export", "bench")
    # The default max_new_tokens is the one the warm-up requests compile.
    export_saved_model(
        model_dir,
        os.path.join(base_path, "1"),
        max_batch_size=args.max_batch_size,
        max_new_tokens=args.max_new_tokens,
    )
    batching_file = os.path.join(scratch, "batching.txt")
    with open(batching_file, "w") as f:
        f.write(
            f"max_batch_size {{ value: {args.max_batch_size} }}\n"
            f"batch_timeout_micros {{ value: {args.batch_timeout_micros} }}\n"
            "num_batch_threads { value: 1 }\nmax_enqueued_batches { value: 64 }\n"
        )

    rows = []
    for mode, batching in (("unbatched", None), ("batched", batching_file)):
        flags = ["--enable_batching", f"--batching_parameters_file={batching}"]
        with ServerProcess(
            base_path, "bench", *(flags if batching else []), rest=False
        ) as server:
            target = server.grpc_target
            load(target, args.clients, 20, args.max_new_tokens)  # warm-up round
            before = rss_mib(server.pid)
            latencies, errors, wall, tokens = load(
                target, args.clients, args.requests, args.max_new_tokens
            )
            after = rss_mib(server.pid)
        done = len(latencies)
        rows.append(
            {
                "mode": mode,
                "requests/s": done / wall,
                "tokens/s": tokens / wall,
                "p50 ms": 1000 * float(np.percentile(latencies, 50)),
                "p99 ms": 1000 * float(np.percentile(latencies, 99)),
                "errors": len(errors),
                "RSS before MiB": before,
                "RSS after MiB": after,
                "RSS growth": after / before - 1,
            }
        )
        if errors:
            print(f"{mode}: first error: {errors[0]}", file=sys.stderr)

    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"{args.model or args.preset + ' Transformer'}; "
        f"{args.clients} clients x {args.requests} requests, "
        f"{args.max_new_tokens} new tokens each, max batch {args.max_batch_size}\n"
    )
    headers = list(rows[0])
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        cells = [
            f"{v:.1%}"
            if k == "RSS growth"
            else f"{v:.1f}"
            if isinstance(v, float)
            else str(v)
            for k, v in row.items()
        ]
        print("| " + " | ".join(cells) + " |")
    ratio = rows[1]["requests/s"] / rows[0]["requests/s"]
    print(f"\nbatched / unbatched throughput: {ratio:.2f}x (goal >= 3x)")


if __name__ == "__main__":
    main()
