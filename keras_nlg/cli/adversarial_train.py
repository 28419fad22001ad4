"""`keras-nlg adversarial-train`: SeqGAN-style training of a model directory's
generator against a discriminator, on real texts (one per line)."""

import os

from keras_nlg.cli.common import (
    add_out_arguments,
    given_fields,
    non_negative_float,
    positive_float,
    positive_int,
)

# AdversarialConfig fields with a flag of the same name (dashes for
# underscores), their types and help (with the library's defaults). `int`
# where a range has exceptions (0 allowed, >= 2): AdversarialConfig checks and
# names them.
_FIELDS = {
    "steps": (positive_int, "adversarial rounds (default 100)"),
    "steps_per_epoch": (positive_int, "steps between logs and backups (default 10)"),
    "batch_size": (positive_int, "sequences per update (default 64)"),
    "sample_length": (int, "tokens per sequence, end included (default 32)"),
    "discriminator_pretrain_steps": (
        int,
        "discriminator updates before the first round (default 50)",
    ),
    "discriminator_steps": (
        positive_int,
        "discriminator updates per round (default 3)",
    ),
    "generator_steps": (positive_int, "generator updates per round (default 1)"),
    "mle_steps": (
        int,
        "likelihood updates on real text per round (default 0)",
    ),
    "credit": (str, "per-token credit: rollout (SeqGAN, default) or prefix"),
    "rollouts": (int, "Monte Carlo completions per prefix (default 8)"),
    "kl_coef": (non_negative_float, "KL penalty to the starting generator (default 0)"),
    "generator_learning_rate": (positive_float, "Adam learning rate (default 1e-4)"),
    "discriminator_learning_rate": (
        positive_float,
        "Adam learning rate (default 1e-4)",
    ),
    "discriminator": (str, "a new discriminator: transformer (default), lstm or cnn"),
    "discriminator_dim": (positive_int, "its width (default 64)"),
    "discriminator_layers": (positive_int, "its blocks, Transformer (default 2)"),
    "max_minutes": (positive_float, "stop after this many minutes (model saved)"),
    "seed": (int, "seed of data order, samples and new weights (default 0)"),
}


def add_parser(subparsers):
    command = subparsers.add_parser(
        "adversarial-train",
        help="adversarial (GAN) training of a trained model against a discriminator",
    )
    command.add_argument(
        "--model", required=True, metavar="DIR", help="a trained model directory"
    )
    command.add_argument(
        "--data", required=True, metavar="FILE", help="real texts, one per line"
    )
    add_out_arguments(command)
    command.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        default=None,
        help="don't subtract the batch-mean value per position",
    )
    for field, (kind, help_text) in _FIELDS.items():
        command.add_argument("--" + field.replace("_", "-"), type=kind, help=help_text)
    return command


def read_lines(path):
    """The non-empty lines of a text file (`ValueError` naming it if none)."""
    from keras_nlg.files import read_text_file

    lines = [line for line in read_text_file(path, "the data file").splitlines()]
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise ValueError(f"{path} holds no text (one example per line)")
    return lines


def run(args):
    from keras_nlg.training.adversarial import AdversarialConfig
    from keras_nlg.training.adversarial.train import adversarial_train

    config = AdversarialConfig(**given_fields(args, [*_FIELDS, "baseline"]))
    result = adversarial_train(
        args.model, read_lines(args.data), args.out, config, overwrite=args.overwrite
    )
    metrics = result.metrics
    print(
        f"discriminator accuracy: real {metrics['real_accuracy']:.3f}, fake "
        f"{metrics['fake_accuracy']:.3f}; generator reward "
        f"{metrics['reward_mean']:.4f} (last epoch)"
    )
    print(f"model directory: {os.path.abspath(result.out_dir)}")
