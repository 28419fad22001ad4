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

import logging
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


__all__ = ["EXIT_BAD_INPUT", "build_parser", "main"]
