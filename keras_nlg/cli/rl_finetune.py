"""`keras-nlg rl-finetune`: RLOO fine-tuning of a model directory with a reward."""

import os

from keras_nlg.cli.common import (
    add_out_arguments,
    given,
    non_negative_float,
    positive_float,
    positive_int,
)

# The RLConfig fields with a flag of the same name (dashes for underscores).
RL_FIELDS = (
    "steps",
    "steps_per_epoch",
    "prompts_per_step",
    "samples_per_prompt",
    "max_new_tokens",
    "learning_rate",
    "kl_coef",
    "updates_per_batch",
    "clip_ratio",
    "lora_rank",
    "lora_alpha",
    "max_minutes",
    "seed",
)
_TYPES = {
    "learning_rate": positive_float,
    "kl_coef": non_negative_float,
    "clip_ratio": positive_float,
    "beta": positive_float,
    "lora_alpha": positive_float,
    "max_minutes": positive_float,
    "seed": int,
    # k is checked by RLConfig (k >= 2), which names the field.
    "samples_per_prompt": int,
}


# Help texts, with RLConfig's defaults (the library holds them).
_HELP = {
    "steps": "updates (default 100)",
    "steps_per_epoch": "steps between logs, TensorBoard and backups (default 20)",
    "prompts_per_step": "prompts per RL batch, or pairs per DPO batch (default 8)",
    "samples_per_prompt": "k >= 2 samples per prompt, RLOO's group (default 4)",
    "max_new_tokens": "completion budget (default 64)",
    "learning_rate": "Adam learning rate (default 1e-5, or 1e-4 with --lora-rank)",
    "kl_coef": "KL penalty to the starting model, in the reward (default 0.05)",
    "updates_per_batch": "gradient steps per batch; > 1 uses PPO clipping (default 1)",
    "clip_ratio": "PPO's epsilon (default 0.2)",
    "beta": "DPO's beta (default 0.1)",
    "lora_rank": "train rank-R LoRA adapters only (merged into the saved model)",
    "lora_alpha": "LoRA scale numerator (default: the rank)",
    "max_minutes": "stop after this many minutes (the model so far is saved)",
    "seed": "seed of prompt order and samples (default 0)",
}


def add_rl_arguments(parser, fields):
    for field in fields:
        parser.add_argument(
            "--" + field.replace("_", "-"),
            type=_TYPES.get(field, positive_int),
            help=_HELP.get(field),
        )


def rl_config(args, fields):
    from keras_nlg.training.rl import RLConfig

    return RLConfig(**given(**{name: getattr(args, name) for name in fields}))


def add_parser(subparsers):
    command = subparsers.add_parser(
        "rl-finetune",
        help="RL fine-tuning (RLOO + KL) with rewards: slot errors, BLEU, words...",
    )
    command.add_argument("--model", required=True, metavar="DIR")
    source = command.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompts", metavar="FILE", help="one prompt per line")
    source.add_argument(
        "--task",
        choices=["e2e"],
        help="E2E: prompts are the bundled training MRs (or --data CSV)",
    )
    command.add_argument("--data", metavar="CSV", help="with --task e2e: an E2E CSV")
    command.add_argument(
        "--reward",
        required=True,
        metavar="SPEC",
        help='e.g. "slot_error:1.0,bleu:0.5"; names: slot_error, bleu, rouge_l, '
        "length=MIN-MAX, required_words=A|B, forbidden_words=A|B, classifier=DIR",
    )
    add_out_arguments(command)
    command.add_argument(
        "--normalize-advantages",
        action="store_true",
        default=None,
        help="divide advantages by their group's std (GRPO)",
    )
    add_rl_arguments(command, RL_FIELDS)
    return command


def prompts_and_references(args):
    """`(prompts, reward_prompts, references)` from --prompts or --task e2e."""
    from keras_nlg.files import read_text_file

    if args.task is None:
        if args.data is not None:
            raise ValueError("--data goes with --task e2e (use --prompts FILE)")
        lines = [
            line
            for line in read_text_file(args.prompts, "the prompts file").splitlines()
            if line
        ]
        if not lines:
            raise ValueError(f"{args.prompts} holds no prompts (one per line)")
        return lines, lines, None
    from keras_nlg import datasets
    from keras_nlg.data.e2e import prompt_text, read_e2e_csv

    data = read_e2e_csv(args.data or datasets.e2e_path("train"))
    mrs = list(data.meaning_representations)
    return [prompt_text(mr) for mr in mrs], mrs, [list(r) for r in data.references]


def run(args):
    from keras_nlg.training.rl import parse_rewards, rl_finetune

    config = rl_config(args, RL_FIELDS)
    if args.normalize_advantages:
        config = config.replace(normalize_advantages=True)
    reward = parse_rewards(args.reward)
    prompts, reward_prompts, references = prompts_and_references(args)
    result = rl_finetune(
        args.model,
        prompts,
        args.out,
        reward,
        config,
        references=references,
        reward_prompts=reward_prompts,
        overwrite=args.overwrite,
    )
    metrics = result.metrics
    print(
        f"reward {metrics['reward_mean']:.4f} (last epoch), KL {metrics['kl']:.4f} "
        "nats/sequence"
    )
    print(f"model directory: {os.path.abspath(result.out_dir)}")
