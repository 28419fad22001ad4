"""`keras-nlg import-gpt2`: a local GPT-2 checkpoint into a model directory.

A damaged or unsupported checkpoint is one `ValueError` naming the file (and
the config.json field), which `keras_nlg.cli.main` prints as one line with
exit code 2; nothing is left at `--out`.
"""

import os


def add_parser(subparsers):
    import_gpt2 = subparsers.add_parser(
        "import-gpt2",
        help="convert a local GPT-2 checkpoint (Hugging Face or keras-hub) "
        "into a model directory",
    )
    import_gpt2.add_argument("--checkpoint", required=True, metavar="PATH")
    import_gpt2.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="the model directory to write (must not exist, or be empty); "
        "written whole or not at all",
    )
    return import_gpt2


def run(args):
    from keras_nlg.models.gpt2_checkpoint import import_gpt2

    loaded = import_gpt2(args.checkpoint, args.out)
    print(
        f"imported GPT-2 ({loaded.model.count_params():,} parameters, "
        f"{loaded.model.num_layers} layers, context {loaded.model.context_length}) "
        f"into {os.path.abspath(args.out)}"
    )
