"""Running `keras-nlg` in a fresh process, and the tiny training flags."""

import os
import subprocess
import sys

KERAS_NLG = os.path.join(os.path.dirname(sys.executable), "keras-nlg")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_FLAGS = [
    "--preset",
    "tiny",
    "--steps",
    "4",
    "--steps-per-epoch",
    "2",
    "--batch-size",
    "4",
    "--sequence-length",
    "32",
    "--max-new-tokens",
    "20",
]


def run_cli(*args):
    """`keras-nlg ARGS` in a new process (the console script if installed)."""
    command = (
        [KERAS_NLG]
        if os.path.exists(KERAS_NLG)
        else [sys.executable, "-m", "keras_nlg.cli"]
    )
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=300, cwd=REPO
    )


def assert_one_line_exit_2(completed, expected):
    """Bad input: exit code 2 and one line on stderr naming `expected`."""
    assert completed.returncode == 2, completed.stderr
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, completed.stderr
    assert "Traceback" not in completed.stderr
    assert expected in lines[0], completed.stderr


def assert_main_one_line_exit_2(argv, expected, capsys):
    """The same check in-process (`keras_nlg.cli.main`): no new TensorFlow
    start per case. Each command keeps one fresh-process case, which also
    checks that nothing else reaches stderr."""
    from keras_nlg.cli import main

    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's usage errors exit from the parser
        code = exit.code
    assert code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert expected in lines[0], err
