"""`keras-nlg`: the command-line front end. Parses, calls the library, prints.

One module per command (`train`, `evaluate`, `import_gpt2`, `finetune`,
`rl_finetune`, `dpo`, `adversarial_train`, `export`, `serve`, `client`,
`generate`), each with `add_parser(subparsers)` and `run(args)`; `common`
holds what they share.
Defaults and rules about the settings themselves live in the library (e.g.
`GenerationConfig`), so every front end gives the same answer. The command
modules import the library inside `run`: `keras-nlg --help` never loads
TensorFlow.

Bad input never shows a traceback: it is one line on stderr and exit code 2.
"""

import atexit
import logging
import os
import sys

from keras_nlg.cli import (
    adversarial_train,
    client,
    dpo,
    evaluate,
    export,
    finetune,
    generate,
    import_gpt2,
    rl_finetune,
    serve,
    train,
)
from keras_nlg.cli.common import (
    EXIT_BAD_INPUT,
    ArgumentParser,
    import_tensorflow_quietly,
)

# In `keras-nlg --help` order.
_COMMANDS = (
    train,
    evaluate,
    import_gpt2,
    finetune,
    rl_finetune,
    dpo,
    adversarial_train,
    export,
    serve,
    client,
    generate,
)


def build_parser() -> ArgumentParser:
    """The `keras-nlg` parser; each command's subparser runs its module."""
    parser = ArgumentParser(
        prog="keras-nlg",
        description="Train and generate with keras_nlg language models.",
    )
    subparsers = parser.add_subparsers(
        dest="command", required=True, parser_class=ArgumentParser
    )
    for command in _COMMANDS:
        command.add_parser(subparsers).set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns the exit code (2: bad input, one line)."""
    args = build_parser().parse_args(argv)
    try:
        # What TensorFlow reads once, when its runtime starts (serve's XLA cache).
        if before_tensorflow := getattr(args, "before_tensorflow", None):
            before_tensorflow(args)
        import_tensorflow_quietly()
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        args.run(args)
    except (ValueError, TypeError, OSError) as error:
        message = " ".join(str(error).split())  # one line, whatever the library wrote
        print(f"keras-nlg {args.command}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except FloatingPointError as error:
        print(f"keras-nlg {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("keras-nlg: interrupted", file=sys.stderr)
        return 130
    return 0


def run_and_exit(argv: list[str] | None = None):
    """The console script and `python -m keras_nlg.cli`: `main`, then a fast
    exit with its code.

    A process that has imported TensorFlow spends about a second (2 CPU
    cores) in the interpreter's teardown, destroying TensorFlow's objects
    after the command's work is done. Once `main` has returned 0, every
    output is written, renamed into place and closed; this flushes the standard
    streams and logging, runs the `atexit` handlers (temporary directories'
    finalizers among them: `atexit._run_exitfuncs`, the standard library's
    own hook, as no public one exists) and ends the process with
    `os._exit`, skipping that teardown. Another exit code, or an unexpected
    exception (a bug: a traceback), leaves through the normal exit.
    """
    code = main(argv)
    if code != 0:
        # An error or Ctrl-C may leave writers unclosed (TensorBoard's flush
        # on close): the normal exit's teardown still finishes them.
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing to keep
            pass
    logging.shutdown()
    atexit._run_exitfuncs()
    os._exit(code)


__all__ = ["EXIT_BAD_INPUT", "build_parser", "main", "run_and_exit"]
