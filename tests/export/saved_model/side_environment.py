"""TF Serving's TensorFlow in a side virtualenv, for `test_tf_serving.py`.

Built once and kept under `~/.cache/keras_nlg/` (keyed by its requirements
and interpreter; built beside and renamed into place, under a file lock so
that parallel workers and a background build share one), downloaded from
PyPI like the test dependencies themselves. Downloading TensorFlow takes
minutes and little CPU, so `tests/conftest.py` starts
`python -m tests.export.saved_model.side_environment` in the background when
a session will run the TF Serving tests: the build overlaps other tests and
the fixture finds it done (or waits on the lock for the rest).
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys

TF_SERVING_VERSION = "2.20"
REQUIREMENTS = (
    f"tensorflow=={TF_SERVING_VERSION}.*",
    f"tensorflow-text=={TF_SERVING_VERSION}.*",
    f"tensorflow-serving-api=={TF_SERVING_VERSION}.*",
)
TEST_FILE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "test_tf_serving.py"
)


def _home_cache():
    # Not $XDG_CACHE_HOME: tests/conftest.py points it at a temporary folder.
    return os.path.join(os.path.expanduser("~"), ".cache")


def side_environment_python():
    """The side virtualenv's Python, built on first use."""
    # Keyed by the requirements and the interpreter the venv links to.
    identity = " ".join([*REQUIREMENTS, sys.version, os.path.realpath(sys.executable)])
    key = hashlib.sha256(identity.encode()).hexdigest()[:12]
    root = os.path.join(_home_cache(), "keras_nlg", f"tf-serving-{key}")
    python = os.path.join(root, "bin", "python")
    os.makedirs(os.path.dirname(root), exist_ok=True)
    with open(root + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isfile(os.path.join(root, "complete")) and _imports(python):
            return python
        scratch = root + ".partial"
        shutil.rmtree(scratch, ignore_errors=True)
        subprocess.run(
            [sys.executable, "-m", "venv", scratch], check=True, capture_output=True
        )
        environment = dict(os.environ)
        environment.setdefault("PIP_CACHE_DIR", os.path.join(_home_cache(), "pip"))
        installed = subprocess.run(
            [os.path.join(scratch, "bin", "python"), "-m", "pip", "install", "-q"]
            + list(REQUIREMENTS),
            capture_output=True,
            text=True,
            env=environment,
            timeout=1200,
        )
        assert installed.returncode == 0, installed.stderr[-3000:]
        with open(os.path.join(scratch, "complete"), "w") as f:
            f.write(" ".join(REQUIREMENTS) + "\n")
        shutil.rmtree(root, ignore_errors=True)
        os.rename(scratch, root)
    return python


def _imports(python):
    """Whether the side environment's TensorFlow still imports (a venv breaks
    when the interpreter it links to goes away)."""
    try:
        checked = subprocess.run(
            [python, "-c", "import tensorflow, tensorflow_text"],
            capture_output=True,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return checked.returncode == 0


if __name__ == "__main__":
    side_environment_python()
