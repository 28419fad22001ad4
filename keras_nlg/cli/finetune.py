"""`keras-nlg finetune`: continue training a model directory on new text."""

import os

from keras_nlg.cli.common import (
    SCHEDULE_FIELDS,
    add_out_arguments,
    add_schedule_arguments,
    given_fields,
    positive_float,
    positive_int,
)


def add_parser(subparsers):
    finetune = subparsers.add_parser(
        "finetune", help="continue training a model directory on new text"
    )
    finetune.add_argument("--model", required=True, metavar="DIR")
    finetune.add_argument("--data", required=True, nargs="+", metavar="PATH")
    add_out_arguments(finetune)
    finetune.add_argument(
        "--lora-rank",
        type=positive_int,
        help="train rank-R LoRA adapters only (merged into the saved model)",
    )
    finetune.add_argument("--lora-alpha", type=positive_float)
    add_schedule_arguments(
        finetune,
        {
            "steps": "optimizer steps (default 200)",
            "batch_size": "default 8",
            "learning_rate": "default 1e-4, or 1e-3 with --lora-rank",
            "steps_per_epoch": "default 200",
            "seed": "default 0",
        },
    )
    return finetune


def run(args):
    from keras_nlg.training import TrainingConfig, finetune

    config = TrainingConfig.for_finetune(
        **given_fields(args, SCHEDULE_FIELDS + ("lora_rank", "lora_alpha"))
    )
    result = finetune(args.model, args.data, args.out, config, overwrite=args.overwrite)
    metrics = result.metrics
    if "val_loss" in metrics:
        print(f"validation loss {metrics['val_loss']:.3f} nats/token")
    print(f"model directory: {os.path.abspath(result.out_dir)}")
