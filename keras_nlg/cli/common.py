"""What every command module shares: argparse types, the one-line-error
parser, the check for flags that don't apply, and the quiet TensorFlow import.

Nothing here imports TensorFlow at module level, so `keras-nlg --help` (and
any usage error) answers without loading it.
"""

import argparse
import os
import sys

EXIT_BAD_INPUT = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (no usage block)."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def number(convert, description, accept=lambda value: True):
    """An argparse `type` that converts, then checks `accept` (a bound).

    Flags whose value the library checks (the generation settings) use
    `accept`'s default, so the library's message is the one users see.
    """

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        # `not accept(...)` also rejects NaN, for which every comparison fails.
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}")
        return value

    return parse


positive_int = number(int, "a positive integer", lambda value: value > 0)
positive_float = number(float, "a number > 0", lambda value: value > 0)
non_negative_float = number(float, "a number ≥ 0", lambda value: value >= 0)
non_negative_int = number(int, "an integer ≥ 0", lambda value: value >= 0)
integer = number(int, "an integer")
real = number(float, "a number")


def flag_bool(text):
    """TF Serving's boolean flags: `--flag`, `--flag=true`, `--flag=false`."""
    if text.lower() in ("true", "1"):
        return True
    if text.lower() in ("false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def reject_flags(flags, reason):
    """`ValueError` for the first flag given (not None) that doesn't apply."""
    for flag, value in flags.items():
        if value is not None:
            raise ValueError(f"{flag} {reason}")


def given(**values):
    """The keyword arguments whose flag was given (not None), for the library
    to apply its own defaults to the rest."""
    return {name: value for name, value in values.items() if value is not None}


def given_fields(args, names):
    """`given(...)` of the parsed flags whose destinations are `names`."""
    return given(**{name: getattr(args, name) for name in names})


# The training-schedule flags `train` and `finetune` share (their defaults
# differ, so each command passes its own help texts): numbers, then a switch.
_NUMBER_FIELDS = (
    "steps",
    "epochs",
    "minutes",
    "batch_size",
    "sequence_length",
    "learning_rate",
    "warmup_steps",
    "steps_per_epoch",
    "seed",
)
SCHEDULE_FIELDS = (*_NUMBER_FIELDS, "jit_compile")


def add_schedule_arguments(parser, help_texts):
    """Adds --steps | --epochs | --minutes, --batch-size, --sequence-length,
    --learning-rate, --warmup-steps, --steps-per-epoch, --seed and
    --[no-]jit-compile;
    `help_texts` maps a field of `SCHEDULE_FIELDS` to its help (with that
    command's default)."""
    length = parser.add_mutually_exclusive_group()
    types = {
        "seed": int,
        "learning_rate": positive_float,
        "minutes": positive_float,
        "warmup_steps": non_negative_int,
    }
    help_texts = {
        "minutes": "train to a time budget: the whole run takes about this many "
        "minutes, its steps and validation cadence sized to this machine's "
        "measured speed and the learning rate fully decayed",
        "warmup_steps": "linear learning-rate warm-up steps (default 5%% of "
        "training, at most 200)",
        **help_texts,
    }
    for field in _NUMBER_FIELDS:
        group = length if field in ("steps", "epochs", "minutes") else parser
        group.add_argument(
            "--" + field.replace("_", "-"),
            type=types.get(field, positive_int),
            help=help_texts.get(field),
        )
    parser.add_argument(
        "--jit-compile",
        action=argparse.BooleanOptionalAction,
        help="compile the train step with XLA (default: on one replica, for runs "
        "of 200 steps or a minute or more per batch shape; else Keras decides: "
        "off on a CPU-only machine)",
    )


def add_out_arguments(parser, metavar="DIR", help="model directory to write"):
    """Adds --out (required) and --overwrite (a finished --out is never
    replaced without it)."""
    parser.add_argument("--out", required=True, metavar=metavar, help=help)
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the finished model or export at --out (default: refuse)",
    )


def add_prompt_arguments(parser):
    """Adds --prompt TEXT and --prompt-file PATH (each repeatable)."""
    parser.add_argument("--prompt", action="append", metavar="TEXT")
    parser.add_argument(
        "--prompt-file",
        action="append",
        metavar="PATH",
        help="a UTF-8 file whose whole text is one prompt ('-': standard input), "
        "for prompts too long for a command line",
    )


def prompts_of(args) -> list[str]:
    """The --prompt texts, then the --prompt-file texts.

    Raises:
        ValueError: naming a prompt file that can't be read or isn't UTF-8.
    """
    prompts = list(args.prompt or [])
    for path in args.prompt_file or []:
        if path == "-":
            prompts.append(sys.stdin.read())
            continue
        try:
            with open(path, encoding="utf-8") as f:
                prompts.append(f.read())
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"Cannot read the prompt file {path}: {error}") from None
    return prompts


def import_tensorflow_quietly():
    """Imports TensorFlow with file descriptor 2 pointed at /dev/null.

    TensorFlow's C++ runtime prints several lines at import and device
    discovery (absl, oneDNN, CUDA probes) that TF_CPP_MIN_LOG_LEVEL no longer
    silences; without this, a one-line error would arrive under a screenful
    of noise.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow

        import keras_nlg.models  # noqa: F401

        # Device discovery logs a cuInit error on machines without a GPU.
        tensorflow.config.list_physical_devices()
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)
