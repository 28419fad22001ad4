"""`keras-nlg train`: a language model on text files, or the E2E recipe."""

import argparse
import os

from keras_nlg.cli.common import (
    SCHEDULE_FIELDS,
    add_out_arguments,
    add_schedule_arguments,
    given,
    given_fields,
    positive_float,
    positive_int,
    reject_flags,
)

# Literal here so that parsing needs no TensorFlow import; the library checks
# them again (keras_nlg.models.ARCHITECTURES, training.TRAINING_TOKENIZERS).
ARCHES = ("transformer", "lstm")
TOKENIZERS = ("byte", "sentencepiece")


def add_parser(subparsers):
    train = subparsers.add_parser("train", help="train a language model on text files")
    train.add_argument(
        "--task",
        choices=("lm", "e2e"),
        default="lm",
        help="lm: language model on text files; e2e: MR → text on E2E CSVs",
    )
    train.add_argument(
        "--arch", choices=ARCHES, help="default transformer (the only one for e2e)"
    )
    train.add_argument(
        "--data",
        nargs="+",
        metavar="PATH",
        help="UTF-8 text files (default: Tiny Shakespeare); with --task e2e one "
        "CSV in the E2E format (default: the bundled training set)",
    )
    train.add_argument(
        "--validation-data",
        metavar="CSV",
        help="--task e2e: CSV for the validation loss (default: bundled dev set)",
    )
    train.add_argument(
        "--init",
        metavar="DIR",
        help="--task e2e: start from this pre-trained model directory",
    )
    train.add_argument(
        "--delexicalize",
        action=argparse.BooleanOptionalAction,
        help="--task e2e: train with placeholders for name/near, put back after "
        "decoding by evaluate (default: off)",
    )
    train.add_argument(
        "--max-minutes",
        type=positive_float,
        help="stop after this many minutes of training steps",
    )
    add_out_arguments(train)
    train.add_argument("--preset", help="model size (tiny, small, ...; default small)")
    add_schedule_arguments(
        train,
        {
            "steps": "optimizer steps (default 1000; --task e2e: 6 epochs)",
            "epochs": "passes over the data",
            "batch_size": "default 32",
            "steps_per_epoch": "steps between validation, logs and backups "
            "(default 200; --task e2e: 500; --minutes: the budget decides)",
            "seed": "default 0",
        },
    )
    train.add_argument("--validation-steps", type=positive_int)
    train.add_argument(
        "--documents",
        choices=("file", "line"),
        help="one document per file (default) or per non-empty line "
        "(end-of-text between them: short texts one per line)",
    )
    train.add_argument(
        "--sample-prompt",
        help="prompt of the printed and TensorBoard samples (default ROMEO:)",
    )
    train.add_argument(
        "--max-new-tokens",
        type=positive_int,
        help="length of the printed sample (default 300)",
    )
    train.add_argument(
        "--tokenizer",
        choices=TOKENIZERS,
        help="sentencepiece: train a SentencePiece model on --data first "
        "(default: byte; --task e2e: sentencepiece)",
    )
    train.add_argument(
        "--vocab-size",
        type=positive_int,
        help="SentencePiece vocabulary size (default 8000; --task e2e: 2000)",
    )
    return train


def _config_flags(args):
    """The `TrainingConfig` fields given on the command line (both tasks)."""
    fields = ("arch", "preset", "validation_steps", "tokenizer", "max_minutes")
    fields += ("documents",)
    return given(
        **given_fields(args, SCHEDULE_FIELDS + fields),
        vocabulary_size=args.vocab_size,
        delexicalize=args.delexicalize,
    )


def run(args):
    if args.task == "e2e":
        return _run_e2e(args)
    reject_flags(
        {"--validation-data": args.validation_data, "--init": args.init},
        "applies to --task e2e only",
    )
    from keras_nlg.generation import sample_continuation
    from keras_nlg.training import COMMAND_LINE_SAMPLE_TOKENS, TrainingConfig, train

    config = TrainingConfig.for_command_line(
        **_config_flags(args), **given(sample_prompt=args.sample_prompt)
    )
    result = train(args.out, config, data_paths=args.data, overwrite=args.overwrite)
    sample = sample_continuation(
        result.model,
        result.tokenizer,
        config.sample_prompt,
        args.max_new_tokens or COMMAND_LINE_SAMPLE_TOKENS,
        config.seed,
    )
    metrics = result.metrics
    print(f"\n--- sample ---\n{config.sample_prompt}{sample}\n--------------")
    if "val_loss" in metrics:
        print(
            f"validation loss {metrics['val_loss']:.3f} nats/token "
            f"({metrics['val_bits_per_token']:.3f} bits/token)"
        )
    print(f"model directory: {os.path.abspath(result.out_dir)}")
    print(f"TensorBoard logs: {os.path.abspath(result.log_dir)}")
    print(f"  view them with: tensorboard --logdir {result.log_dir}")


def _run_e2e(args):
    from keras_nlg.training import TrainingConfig, train_e2e

    # The printed sample is --task lm's; the E2E rules on the other flags
    # (--arch, --sequence-length, one --data CSV, ...) are TrainingConfig's
    # and train_e2e's.
    reject_flags(
        {
            "--sample-prompt": args.sample_prompt,
            "--max-new-tokens": args.max_new_tokens,
        },
        "does not apply to --task e2e (it validates on all of --validation-data "
        "and samples a dev MR)",
    )
    config = TrainingConfig.for_e2e(**_config_flags(args))
    result = train_e2e(
        args.out,
        config,
        train_csv=args.data,
        validation_csv=args.validation_data,
        init_model_dir=args.init,
        overwrite=args.overwrite,
    )
    metrics = result.metrics
    if "val_loss" in metrics:
        print(f"validation loss {metrics['val_loss']:.3f} nats/token (text part)")
    print(f"model directory: {os.path.abspath(result.out_dir)}")
    print(
        f"score it: keras-nlg evaluate --task e2e --model {result.out_dir} "
        "--data DEV_OR_TEST.csv --output outputs.txt"
    )
