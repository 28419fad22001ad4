"""`AdversarialConfig`: the settings of adversarial (GAN) training, checked once."""

from __future__ import annotations

import dataclasses

from keras_nlg.argument_checks import check_number, check_positive_int, fail, is_int
from keras_nlg.training.rl.config import ConfigCopies

CREDITS = ("rollout", "prefix")
DISCRIMINATOR_KINDS = ("transformer", "lstm", "cnn")


@dataclasses.dataclass(frozen=True)
class AdversarialConfig(ConfigCopies):
    """Settings of `adversarial_train` and `AdversarialTrainer`, validated when made.

    A run is `discriminator_pretrain_steps` discriminator-only steps, then
    `steps` adversarial rounds; each round takes `discriminator_steps`
    discriminator updates (real vs freshly sampled), `generator_steps`
    policy-gradient updates of the generator, then `mle_steps` likelihood
    updates on real data.

    Args:
        steps: adversarial rounds.
        steps_per_epoch: `fit` steps between logs, TensorBoard and backups.
        batch_size: sequences per update (real and fake each, for the
            discriminator).
        sample_length: tokens per sequence, end-of-text included (real
            texts are cut there too).
        discriminator_pretrain_steps: discriminator updates before the
            first round (≥ 0).
        discriminator_steps, generator_steps: updates per round (≥ 1).
        mle_steps: teacher-forced likelihood updates on real data per round
            (≥ 0), which keep the generator near the data.
        credit: `"rollout"` (SeqGAN's Monte Carlo completions of each prefix)
            or `"prefix"` (the discriminator applied to each prefix).
        rollouts: completions per prefix for `"rollout"` (≥ 1; SeqGAN: 16).
        baseline: subtract each token position's batch-mean value.
        kl_coef: β ≥ 0 of the KL penalty to the starting generator.
        generator_learning_rate, discriminator_learning_rate: Adam learning
            rates (gradients clipped to global norm 5, as SeqGAN).
        discriminator: `"transformer"`, `"lstm"` or `"cnn"` (SeqGAN's; for a new
            discriminator).
        discriminator_dim: its width (hidden size, LSTM units, CNN embedding).
        discriminator_layers: its encoder blocks (Transformer only).
        max_minutes: stop after this many minutes (the models so far are saved).
        seed: seed of the data order, the samples and the discriminator's
            initial weights.

    Raises:
        ValueError: naming the field and the value, for a value out of range.
    """

    steps: int = 100
    steps_per_epoch: int = 10
    batch_size: int = 64
    sample_length: int = 32
    discriminator_pretrain_steps: int = 50
    discriminator_steps: int = 3
    generator_steps: int = 1
    mle_steps: int = 0
    credit: str = "rollout"
    rollouts: int = 8
    baseline: bool = True
    kl_coef: float = 0.0
    generator_learning_rate: float = 1e-4
    discriminator_learning_rate: float = 1e-4
    discriminator: str = "transformer"
    discriminator_dim: int = 64
    discriminator_layers: int = 2
    max_minutes: float | None = None
    seed: int = 0

    def __post_init__(self):
        for name in (
            *("steps", "steps_per_epoch", "batch_size", "discriminator_steps"),
            *("generator_steps", "discriminator_dim", "discriminator_layers"),
        ):
            check_positive_int(name, getattr(self, name))
        if not is_int(self.rollouts) or self.rollouts < 1:
            fail(
                "rollouts",
                self.rollouts,
                "a whole number >= 1 (completions per prefix)",
            )
        if not is_int(self.sample_length) or self.sample_length < 2:
            fail("sample_length", self.sample_length, "a whole number >= 2")
        for name in ("discriminator_pretrain_steps", "mle_steps"):
            value = getattr(self, name)
            if not is_int(value) or value < 0:
                fail(name, value, "a whole number >= 0")
        if self.credit not in CREDITS:
            fail("credit", self.credit, f"one of {list(CREDITS)}")
        if self.discriminator not in DISCRIMINATOR_KINDS:
            fail(
                "discriminator",
                self.discriminator,
                f"one of {list(DISCRIMINATOR_KINDS)}",
            )
        if not isinstance(self.baseline, bool):
            fail("baseline", self.baseline, "True or False")
        check_number("kl_coef", self.kl_coef, 0, strict=False)
        for name in ("generator_learning_rate", "discriminator_learning_rate"):
            check_number(name, getattr(self, name), 0, strict=True)
        check_number("max_minutes", self.max_minutes, 0, strict=True, allow_none=True)
        if not is_int(self.seed) or not 0 <= self.seed < 2**32:
            fail("seed", self.seed, "a whole number in [0, 2**32)")

    @property
    def total_steps(self) -> int:
        """`fit` steps: the discriminator's pre-training, then the rounds."""
        return self.discriminator_pretrain_steps + self.steps
