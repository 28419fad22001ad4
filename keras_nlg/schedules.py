"""`WarmupCosineDecay`: the learning-rate schedule of every keras_nlg run.

Its own module, imported by `keras_nlg.models`, so a checkpoint saved with
its optimizer (`checkpoints/best.keras`) loads wherever our models do,
without importing the training package.
"""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_nlg")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to the peak, then cosine decay to a fraction of it.

    At optimizer step `t` (warm-up `W` steps, `T` steps in all, peak `η`,
    final fraction `α`): `η·t/W` while `t < W`, then
    `η·(α + (1 − α)·(1 + cos(π·min(t − W, T − W)/(T − W)))/2)` — the same
    values as `keras.optimizers.schedules.CosineDecay(0, T − W, α,
    warmup_target=η, warmup_steps=W)` (GPT-2/3's schedule, Radford et al.
    2019; Brown et al. 2020).

    Why not Keras' `CosineDecay` itself: it holds the step counts as Python
    numbers, which become constants of the traced (XLA-compiled) train step.
    Here they live in variables, so a time-budgeted run
    (`keras_nlg.training.budget`) sizes the schedule with `set_steps` after
    the first, traced step, without tracing again.

    Args:
        peak_learning_rate: float > 0.
        total_steps: int > `warmup_steps`.
        warmup_steps: int ≥ 0.
        final_fraction: float in [0, 1], `α` above.

    Raises:
        ValueError: if `total_steps` ≤ `warmup_steps`, `warmup_steps` < 0,
            `peak_learning_rate` ≤ 0 or `final_fraction` outside [0, 1].
    """

    def __init__(
        self,
        peak_learning_rate: float,
        total_steps: int,
        warmup_steps: int,
        final_fraction: float = 0.1,
    ):
        _check_steps(total_steps, warmup_steps)
        if not 0 < peak_learning_rate < math.inf:
            raise ValueError(
                "`peak_learning_rate` must be a finite number > 0. "
                f"Received: peak_learning_rate={peak_learning_rate!r}"
            )
        if not 0 <= final_fraction <= 1:
            raise ValueError(
                "`final_fraction` must be in [0, 1]. "
                f"Received: final_fraction={final_fraction!r}"
            )
        self.peak_learning_rate = float(peak_learning_rate)
        self.final_fraction = float(final_fraction)
        self._total = keras.Variable(
            float(total_steps), trainable=False, name="total_steps"
        )
        self._warmup = keras.Variable(
            float(warmup_steps), trainable=False, name="warmup_steps"
        )

    @property
    def total_steps(self) -> int:
        return int(self._total.numpy())

    @property
    def warmup_steps(self) -> int:
        return int(self._warmup.numpy())

    def set_steps(self, total_steps: int, warmup_steps: int) -> None:
        """Re-sizes the schedule (takes effect at the next step; no retrace)."""
        _check_steps(total_steps, warmup_steps)
        self._total.assign(float(total_steps))
        self._warmup.assign(float(warmup_steps))

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = ops.convert_to_tensor(self._warmup)
        total = ops.convert_to_tensor(self._total)
        decay_steps = ops.maximum(total - warmup, 1.0)
        progress = ops.minimum(ops.maximum(step - warmup, 0.0), decay_steps)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * progress / decay_steps))
        alpha = self.final_fraction
        decayed = self.peak_learning_rate * (alpha + (1.0 - alpha) * cosine)
        warming = self.peak_learning_rate * step / ops.maximum(warmup, 1.0)
        return ops.where(step < warmup, warming, decayed)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "final_fraction": self.final_fraction,
        }


def _check_steps(total_steps, warmup_steps):
    if not isinstance(warmup_steps, int | float) or warmup_steps < 0:
        raise ValueError(
            f"`warmup_steps` must be ≥ 0. Received: warmup_steps={warmup_steps!r}"
        )
    if not isinstance(total_steps, int | float) or total_steps <= warmup_steps:
        raise ValueError(
            f"`total_steps` must exceed warmup_steps={warmup_steps}. "
            f"Received: total_steps={total_steps!r}"
        )
