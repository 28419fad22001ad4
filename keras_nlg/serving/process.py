"""`keras-nlg serve` in a child process, for notebooks, tests and benchmarks."""

import os
import re
import signal
import subprocess
import sys
import threading
import time


class ServerProcess:
    """A `keras-nlg serve` child on free loopback ports.

    Starts the server with `--port=0` (and `--rest_api_port=0` with `rest`),
    waits for the lines in which it names its ports, and keeps reading its
    output into `log` (so it never blocks on a full pipe).

    Args:
        model_base_path: the model's base path (integer version folders).
        model_name: the name clients ask for.
        *flags: more `keras-nlg serve` flags (`--enable_batching`, ...).
        rest: also start the REST API.
        timeout: seconds to wait for the server to come up.

    Example:

    >>> with ServerProcess("export/shakespeare", "shakespeare") as server:
    ...     GrpcClient(server.grpc_target, "shakespeare").generate(["ROMEO:"])
    """

    def __init__(self, model_base_path, model_name, *flags, rest=True, timeout=240):
        command = [
            sys.executable,
            "-m",
            "keras_nlg.cli",
            "serve",
            "--port=0",
            "--host=127.0.0.1",
            f"--model_name={model_name}",
            f"--model_base_path={model_base_path}",
            *(["--rest_api_port=0"] if rest else []),
            *flags,
        ]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        self.log = []
        ports = {}
        deadline = time.monotonic() + timeout
        while len(ports) < (2 if rest else 1):
            line = self.process.stdout.readline()
            if not line or time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError(
                    "keras-nlg serve did not start:\n" + "".join(self.log[-20:])
                )
            self.log.append(line)
            if match := re.search(r"ModelServer at [\d.]+:(\d+)", line):
                ports["grpc"] = match.group(1)
            if match := re.search(r"REST API at:[\d.]+:(\d+)", line):
                ports["rest"] = match.group(1)
        threading.Thread(
            target=lambda: self.log.extend(iter(self.process.stdout.readline, "")),
            daemon=True,
        ).start()
        self.grpc_target = f"127.0.0.1:{ports['grpc']}"
        self.rest_url = f"http://127.0.0.1:{ports['rest']}" if rest else None

    @property
    def pid(self):
        return self.process.pid

    def stop(self, timeout=60):
        """SIGTERM (the server drains in-flight requests), then its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()
