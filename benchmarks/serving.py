"""`keras-nlg serve` under load: 16 gRPC clients, with and without batching,
and a new version arriving under load.

Exports a model (a `--preset` Transformer, default `small`, trained for a
few steps on Tiny Shakespeare, or `--model DIR`) as a SavedModel, then for
each mode starts `keras-nlg serve` on loopback (its XLA cache in a fresh
directory), runs a warm-up round, records the server's RSS, and has
`--clients` closed-loop clients (threads with their own gRPC channel, spread
over `--client-processes` processes; `load_generator.py`) send `--requests`
single-prompt requests each. Prints throughput, p50/p99 latency, errors,
RSS before/after, and the batched/unbatched ratio, best of `--repeats`
rounds per mode (the spread is printed too).

Then, with batching on and the clients running, version 2 (a copy of
version 1) is moved into the base path, and the table gives how long until
the first reply comes from it and the old version's p99 latency meanwhile;
then again with `--max_warmup_seconds` (the new version takes traffic once
its warm-up has run that long; its own p99 over its first 30 s shows what
the buckets left to compile cost); and the server's load and warm-up times
at a restart, with the XLA cache the earlier runs filled and without one
(`--xla_cache_dir=`).

    python benchmarks/serving.py                      # 16 clients x 200 requests
    python benchmarks/serving.py --preset tiny --max-new-tokens 16
    python benchmarks/serving.py --preset tiny --max-new-tokens 16 --only-new-version
"""

import argparse
import os
import platform
import re
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from load_generator import Load, run_load  # noqa: E402

from keras_nlg.datasets import tiny_shakespeare_path  # noqa: E402
from keras_nlg.export import export_saved_model  # noqa: E402
from keras_nlg.serving.process import ServerProcess  # noqa: E402

MODEL = "bench"


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024


def throughput_row(mode, records, errors, wall, before, after):
    latencies = [r[1] for r in records]
    return {
        "mode": mode,
        "requests/s": len(records) / wall,
        "tokens/s": sum(r[3] for r in records) / wall,
        "p50 ms": 1000 * float(np.percentile(latencies, 50)),
        "p99 ms": 1000 * float(np.percentile(latencies, 99)),
        "errors": len(errors),
        "RSS before MiB": before,
        "RSS after MiB": after,
        "RSS growth": after / before - 1,
    }


def new_version_under_load(base_path, flags, args, cache, bound=None):
    """Seconds from moving version 2 in to its first reply, under load; with
    `bound`, the server runs with `--max_warmup_seconds=bound`."""
    shutil.rmtree(os.path.join(base_path, "2"), ignore_errors=True)
    if bound is not None:
        flags = [*flags, f"--max_warmup_seconds={bound}"]
    with ServerProcess(
        base_path, MODEL, *flags, f"--xla_cache_dir={cache}", rest=False
    ) as server:
        load = Load(
            server.grpc_target,
            MODEL,
            args.clients,
            None,
            args.max_new_tokens,
            args.client_processes,
        ).start()
        time.sleep(5)
        staging = os.path.join(base_path, ".incoming")
        shutil.copytree(os.path.join(base_path, "1"), staging)
        moved = time.monotonic()
        os.rename(staging, os.path.join(base_path, "2"))
        while time.monotonic() < moved + 900 and not loaded(server, 2, done=True):
            time.sleep(0.5)
        time.sleep(3)
        load.stop()
        records, errors, _ = load.wait()
        warm_up = loaded(server, 2, done=True)
    shutil.rmtree(os.path.join(base_path, "2"), ignore_errors=True)
    first = min((r[0] for r in records if r[2] == 2), default=None)
    during = [r[1] for r in records if r[2] == 1 and moved <= r[0] <= (first or moved)]
    # Version 2's own latency over its first 30 s (buckets a bounded warm-up
    # hadn't compiled yet compile on first use).
    early = [r[1] for r in records if r[2] == 2 and r[0] <= (first or moved) + 30]
    event = "version 2 arrives, 16 clients running"
    return {
        "event": event + (f", max_warmup_seconds={bound}" if bound is not None else ""),
        "first reply from it s": (first - moved) if first else float("nan"),
        "server's load, warm-up": warm_up,
        "v1 p99 ms meanwhile": percentile_ms(during),
        "v2 p99 ms, first 30 s": percentile_ms(early),
        "errors": len(errors),
    }


def percentile_ms(latencies, q=99):
    return 1000 * float(np.percentile(latencies, q)) if latencies else float("nan")


def restart(base_path, cache):
    """The server's load and warm-up of version 1 at start, no traffic."""
    with ServerProcess(
        base_path, MODEL, f"--xla_cache_dir={cache}", rest=False
    ) as server:
        warm_up = loaded(server, 1)
    return {
        "event": "restart, XLA cache " + ("filled" if cache else "off"),
        "first reply from it s": float("nan"),
        "server's load, warm-up": warm_up,
        "v1 p99 ms meanwhile": float("nan"),
        "v2 p99 ms, first 30 s": float("nan"),
        "errors": 0,
    }


def loaded(server, version, done=False):
    """ "1.0 s, 12.3 s" from the server's log lines on version N (load, then
    warm-up; "(bounded)" when it went on after the version took traffic), or
    "". With `done`, only once the warm-up has finished."""
    load = warm_up = None
    bounded = False
    for line in list(server.log):
        if match := re.search(
            rf"version {version} in ([\d.]+ s), then \d+ warm-up requests in "
            r"([\d.]+ s)",
            line,
        ):
            load, warm_up = match.groups()
        elif match := re.search(rf"version {version} in ([\d.]+ s); serving", line):
            load, bounded = match.group(1), True
        elif match := re.search(
            rf"Warm-up of \S+ version {version} finished after \d+ requests in "
            r"([\d.]+ s)",
            line,
        ):
            warm_up = match.group(1)
    if load is None or (done and warm_up is None):
        return ""
    return f"{load}, {warm_up or '…'}" + (" (bounded)" if bounded else "")


def print_table(rows):
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model directory (default: train a tiny one)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=200, help="per client")
    parser.add_argument("--preset", default="small", help="when training one")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--batch-timeout-micros", type=int, default=5000)
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="rounds per mode")
    parser.add_argument(
        "--max-warmup-seconds",
        type=float,
        default=10.0,
        help="the bound of the bounded new-version row",
    )
    parser.add_argument(
        "--only-new-version", action="store_true", help="skip the throughput table"
    )
    parser.add_argument(
        "--skip-new-version", action="store_true", help="only the throughput table"
    )
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
    # The default max_new_tokens is the one the warm-up requests compile;
    # XLA, as TF Serving's CPU build would serve it (the figures in
    # RESULTS.md "Serving" were measured so).
    export_saved_model(
        model_dir,
        os.path.join(base_path, "1"),
        max_batch_size=args.max_batch_size,
        max_new_tokens=args.max_new_tokens,
        jit_compile=True,
    )
    batching_file = os.path.join(scratch, "batching.txt")
    with open(batching_file, "w") as f:
        f.write(
            f"max_batch_size {{ value: {args.max_batch_size} }}\n"
            f"batch_timeout_micros {{ value: {args.batch_timeout_micros} }}\n"
            "num_batch_threads { value: 1 }\nmax_enqueued_batches { value: 64 }\n"
        )

    batching_flags = [
        "--enable_batching",
        f"--batching_parameters_file={batching_file}",
    ]
    cache = os.path.join(scratch, "xla_cache")  # version 1's warm-up fills it
    if not args.only_new_version:
        throughput(args, base_path, batching_flags, cache)
    if args.skip_new_version:
        return
    print("\nA new version under load (batched), and restarts:\n")
    print_table(
        [
            new_version_under_load(base_path, batching_flags, args, cache),
            new_version_under_load(
                base_path, batching_flags, args, cache, args.max_warmup_seconds
            ),
            restart(base_path, cache),
            restart(base_path, ""),
        ]
    )


def throughput(args, base_path, batching_flags, cache):
    """The batched and unbatched table, and their ratio."""
    rows, spreads = [], {}
    for mode, flags in (("unbatched", []), ("batched", batching_flags)):
        with ServerProcess(
            base_path, MODEL, *flags, f"--xla_cache_dir={cache}", rest=False
        ) as server:
            target = server.grpc_target
            run_load(target, MODEL, args.clients, 20, args.max_new_tokens)  # warm-up
            before = rss_mib(server.pid)
            rounds = []
            for _ in range(args.repeats):
                records, errors, wall = run_load(
                    target,
                    MODEL,
                    args.clients,
                    args.requests,
                    args.max_new_tokens,
                    args.client_processes,
                )
                rounds.append((records, errors, wall))
            after = rss_mib(server.pid)
        rates = [len(r[0]) / r[2] for r in rounds]
        spreads[mode] = rates
        best = rounds[int(np.argmax(rates))]
        rows.append(throughput_row(mode, *best, before, after))
        if best[1]:
            print(f"{mode}: first error: {best[1][0]}", file=sys.stderr)

    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"{args.model or args.preset + ' Transformer'}; "
        f"{args.clients} clients ({args.client_processes} processes) x "
        f"{args.requests} requests, {args.max_new_tokens} new tokens each, max "
        f"batch {args.max_batch_size}, batch timeout {args.batch_timeout_micros} us; "
        f"best of {args.repeats}\n"
    )
    print_table(rows)
    for mode, rates in spreads.items():
        print(f"{mode} requests/s per round: {', '.join(f'{r:.1f}' for r in rates)}")
    ratio = rows[1]["requests/s"] / rows[0]["requests/s"]
    worst = min(spreads["batched"]) / max(spreads["unbatched"])
    print(
        f"\nbatched / unbatched throughput: {ratio:.2f}x best, {worst:.2f}x worst "
        "batched round against best unbatched (goal >= 3x)"
    )


if __name__ == "__main__":
    main()
