"""Child processes that start with TensorFlow and keras_nlg already imported.

Some tests need a real separate process: one that `kill -9` stops at a
chosen instant, or two MultiWorkerMirroredStrategy workers talking over
loopback. A fresh `python` pays about 10 s of imports on the 2-core CI
machine before it does anything, which was most of those tests' time. So a
zygote process imports TensorFlow, Keras and `keras_nlg.training` once (no
TensorFlow runtime starts on import: no device, no thread pool, no
collective) and forks a child per job, which then runs the job's script as
`python SCRIPT ARGS` would. Wait statuses are the children's own, so a test
still sees -9 for a SIGKILL.

The idea is Android's zygote and the forkserver of Python's
`multiprocessing`; neither runs a script with its own argv, environment,
working directory and captured output, hence this small module. Only for
jobs on the TensorFlow backend (Keras is already imported with it), and
never for a test about what a fresh process prints or imports (the CLI's
one-line errors keep `subprocess`).

Protocol: one JSON object a line on the zygote's stdin, one answer a line
on its stdout. `{"spawn": {...}}` answers `{"pid": N}`; `{"wait": N,
"timeout": S}` answers `{"returncode": R}` (R < 0: killed by signal -R),
killing the child with SIGKILL first when S seconds pass
(`{"returncode": R, "timed_out": true}`).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Zygote:
    """The test side: starts the zygote lazily, spawns and waits for jobs."""

    def __init__(self):
        self.process = None
        self.outputs = tempfile.mkdtemp(prefix="keras-nlg-zygote-")

    def _ask(self, request):
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.zygote"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"the zygote died (exit {self.process.wait()})")
        return json.loads(answer)

    def popen(self, args, env=None, cwd=ROOT):
        """`subprocess.Popen(args)`-like for `args = [sys.executable, SCRIPT,
        *ARGS]` or `[sys.executable, "-c", CODE]`; stdout and stderr are
        captured as text. `env` holds variables to set in the child."""
        if args[0] != sys.executable:
            raise ValueError(f"args must start with sys.executable, got {args[0]!r}")
        stdout = tempfile.mktemp(dir=self.outputs, suffix=".out")
        stderr = tempfile.mktemp(dir=self.outputs, suffix=".err")
        job = dict(
            argv=list(args[1:]),
            env=dict(env or {}),
            cwd=str(cwd),
            stdout=stdout,
            stderr=stderr,
        )
        pid = self._ask({"spawn": job})["pid"]
        return Forked(self, pid, list(args), stdout, stderr)

    def run(self, args, env=None, cwd=ROOT, timeout=300):
        """`subprocess.run(args, capture_output=True, text=True)`-like."""
        process = self.popen(args, env=env, cwd=cwd)
        stdout, stderr = process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)

    def close(self):
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait(timeout=30)
            self.process = None
        shutil.rmtree(self.outputs, ignore_errors=True)


class Forked:
    """One forked job: `pid`, `returncode` and `communicate()` as in Popen."""

    def __init__(self, zygote, pid, args, stdout, stderr):
        self.zygote, self.pid, self.args = zygote, pid, args
        self.stdout_path, self.stderr_path = stdout, stderr
        self.returncode = None

    def communicate(self, timeout=None):
        if self.returncode is None:
            answer = self.zygote._ask({"wait": self.pid, "timeout": timeout})
            self.returncode = answer["returncode"]
            if answer.get("timed_out"):
                raise subprocess.TimeoutExpired(self.args, timeout)
        outputs = []
        for path in (self.stdout_path, self.stderr_path):
            with open(path, encoding="utf-8", errors="replace") as f:
                outputs.append(f.read())
        return tuple(outputs)


def _run_job(job):
    """In the forked child: the job's `python ARGV` as its own process."""
    for fd, path, flags in (
        (0, os.devnull, os.O_RDONLY),
        (1, job["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, job["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        os.dup2(os.open(path, flags, 0o644), fd)
    os.environ.update(job["env"])
    os.chdir(job["cwd"])
    import runpy
    import traceback

    code = 0
    try:
        if job["argv"][0] == "-c":
            sys.argv = ["-c", *job["argv"][2:]]
            sys.path[0] = ""
            exec(compile(job["argv"][1], "<string>", "exec"), {"__name__": "__main__"})
        else:
            sys.argv = list(job["argv"])
            sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
            runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as exit:
        if isinstance(exit.code, int) or exit.code is None:
            code = exit.code or 0
        else:
            print(exit.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _wait(pid, timeout):
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return {"returncode": os.waitstatus_to_exitcode(status)}
        if deadline is not None and time.monotonic() > deadline:
            os.kill(pid, 9)
            _, status = os.waitpid(pid, 0)
            return {"returncode": os.waitstatus_to_exitcode(status), "timed_out": True}
        time.sleep(0.02)


def main():
    import keras  # noqa: F401  (the imports every job would otherwise pay)
    import numpy  # noqa: F401
    import tensorflow  # noqa: F401

    import keras_nlg.training  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        if "spawn" in request:
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                _run_job(request["spawn"])
            answer = {"pid": pid}
        else:
            answer = _wait(request["wait"], request.get("timeout"))
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
