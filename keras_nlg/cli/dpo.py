"""`keras-nlg dpo`: preference tuning (DPO) on (prompt, chosen, rejected) pairs."""

import os

from keras_nlg.cli.common import add_out_arguments
from keras_nlg.cli.rl_finetune import add_rl_arguments, rl_config

DPO_FIELDS = (
    "steps",
    "steps_per_epoch",
    "prompts_per_step",
    "learning_rate",
    "beta",
    "lora_rank",
    "lora_alpha",
    "seed",
)


def add_parser(subparsers):
    command = subparsers.add_parser(
        "dpo", help="preference tuning (DPO) on a JSONL file of pairs"
    )
    command.add_argument("--model", required=True, metavar="DIR")
    command.add_argument(
        "--pairs",
        required=True,
        metavar="FILE",
        help='JSONL: {"prompt": ..., "chosen": ..., "rejected": ...} per line',
    )
    add_out_arguments(command)
    add_rl_arguments(command, DPO_FIELDS)
    return command


def run(args):
    from keras_nlg.training.rl import dpo

    result = dpo(
        args.model,
        args.pairs,
        args.out,
        rl_config(args, DPO_FIELDS),
        overwrite=args.overwrite,
    )
    metrics = result.metrics
    print(
        f"DPO loss {metrics['loss']:.4f}, margin {metrics['margin']:.4f}, "
        f"accuracy {metrics['accuracy']:.2%} (last epoch)"
    )
    print(f"model directory: {os.path.abspath(result.out_dir)}")
