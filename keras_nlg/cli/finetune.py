"""`keras-nlg finetune`: continue training a model directory on new text."""

import os

from keras_nlg.cli.common import given, positive_float, positive_int


def add_parser(subparsers):
    finetune = subparsers.add_parser(
        "finetune", help="continue training a model directory on new text"
    )
    finetune.add_argument("--model", required=True, metavar="DIR")
    finetune.add_argument("--data", required=True, nargs="+", metavar="PATH")
    finetune.add_argument("--out", required=True, metavar="DIR")
    finetune.add_argument(
        "--lora-rank",
        type=positive_int,
        help="train rank-R LoRA adapters only (merged into the saved model)",
    )
    finetune.add_argument("--lora-alpha", type=positive_float)
    length = finetune.add_mutually_exclusive_group()
    length.add_argument(
        "--steps", type=positive_int, help="optimizer steps (default 200)"
    )
    length.add_argument("--epochs", type=positive_int)
    finetune.add_argument("--batch-size", type=positive_int, help="default 8")
    finetune.add_argument("--sequence-length", type=positive_int)
    finetune.add_argument(
        "--learning-rate",
        type=positive_float,
        help="default 1e-4, or 1e-3 with --lora-rank",
    )
    finetune.add_argument("--steps-per-epoch", type=positive_int, help="default 200")
    finetune.add_argument("--seed", type=int, help="default 0")
    return finetune


def run(args):
    from keras_nlg.training import TrainingConfig, finetune

    config = TrainingConfig.for_finetune(
        **given(
            steps=args.steps,
            epochs=args.epochs,
            batch_size=args.batch_size,
            sequence_length=args.sequence_length,
            learning_rate=args.learning_rate,
            lora_rank=args.lora_rank,
            lora_alpha=args.lora_alpha,
            steps_per_epoch=args.steps_per_epoch,
            seed=args.seed,
        )
    )
    result = finetune(args.model, args.data, args.out, config)
    metrics = result.metrics
    if "val_loss" in metrics:
        print(f"validation loss {metrics['val_loss']:.3f} nats/token")
    print(f"model directory: {os.path.abspath(result.out_dir)}")
