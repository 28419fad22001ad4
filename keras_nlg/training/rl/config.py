"""`RLConfig`: the settings of RL fine-tuning and preference tuning, validated once."""

from __future__ import annotations

import dataclasses

from keras_nlg.argument_checks import check_number, check_positive_int, fail


class ConfigCopies:
    """`replace` and `to_dict` for the frozen dataclass configs of the
    sequence-level trainers (`RLConfig`, `AdversarialConfig`)."""

    def replace(self, **overrides):
        """A copy with `overrides` (`TypeError` for an unknown field)."""
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"Unknown {type(self).__name__} fields: {sorted(unknown)}")
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class RLConfig(ConfigCopies):
    """Settings of `rl_finetune` (RLOO) and `dpo`, validated when made.

    Args:
        steps: optimizer updates' batches of samples (RL) or of pairs (DPO).
        steps_per_epoch: steps between logs, TensorBoard and backups.
        prompts_per_step: prompts per RL batch (DPO: pairs per batch).
        samples_per_prompt: k ≥ 2 completions per prompt (RLOO's group).
        max_new_tokens: completion budget in tokens.
        learning_rate: Adam learning rate, gradients clipped to norm 1
            (default 1e-5 full, 1e-4 LoRA).
        kl_coef: coefficient of the per-token KL penalty to the starting
            model (≥ 0).
        normalize_advantages: divide advantages by their group's std (GRPO).
        updates_per_batch: gradient steps per batch of samples; above 1 the
            later ones are off-policy and PPO's ratio clipping applies.
        clip_ratio: PPO's ε (used when `updates_per_batch` > 1).
        beta: DPO's β > 0.
        lora_rank, lora_alpha: train rank-r LoRA adapters only (merged
            into the saved model), or every weight when None.
        max_minutes: stop after this many minutes (the model so far is saved).
        seed: seed of data order and samples.

    Raises:
        ValueError: naming the field and the value, for a value out of range.
    """

    steps: int = 100
    steps_per_epoch: int = 20
    prompts_per_step: int = 8
    samples_per_prompt: int = 4
    max_new_tokens: int = 64
    learning_rate: float | None = None
    kl_coef: float = 0.05
    normalize_advantages: bool = False
    updates_per_batch: int = 1
    clip_ratio: float = 0.2
    beta: float = 0.1
    lora_rank: int | None = None
    lora_alpha: float | None = None
    max_minutes: float | None = None
    seed: int = 0

    def __post_init__(self):
        for name in (
            "steps",
            "steps_per_epoch",
            "prompts_per_step",
            "max_new_tokens",
            "updates_per_batch",
        ):
            check_positive_int(name, getattr(self, name))
        k = self.samples_per_prompt
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            fail("samples_per_prompt", k, "a whole number >= 2 (RLOO's group)")
        if self.lora_rank is not None:
            check_positive_int("lora_rank", self.lora_rank)
        for name in ("learning_rate", "lora_alpha", "max_minutes"):
            check_number(name, getattr(self, name), 0, strict=True, allow_none=True)
        check_number("kl_coef", self.kl_coef, 0, strict=False)
        check_number("clip_ratio", self.clip_ratio, 0, strict=True)
        check_number("beta", self.beta, 0, strict=True)
        if not isinstance(self.normalize_advantages, bool):
            fail("normalize_advantages", self.normalize_advantages, "True or False")
        seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
            fail("seed", seed, "a whole number in [0, 2**32)")

    @property
    def resolved_learning_rate(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 1e-4 if self.lora_rank is not None else 1e-5
