"""AdamW with linear warm-up, cosine decay and global-norm clipping."""

import keras

from keras_nlg.schedules import WarmupCosineDecay


def warmup_cosine_schedule(
    peak_learning_rate: float,
    total_steps: int,
    warmup_steps: int,
    final_fraction: float = 0.1,
) -> WarmupCosineDecay:
    """Linear warm-up from 0 to the peak, then cosine decay to a fraction of it
    (see `WarmupCosineDecay`)."""
    return WarmupCosineDecay(
        peak_learning_rate, total_steps, warmup_steps, final_fraction
    )


def language_model_optimizer(
    peak_learning_rate: float,
    total_steps: int,
    warmup_steps: int,
    weight_decay: float = 0.1,
    global_clipnorm: float = 1.0,
) -> keras.optimizers.AdamW:
    """The GPT recipe: AdamW (β₂ = 0.95), no decay on biases and LayerNorm.

    Its learning rate follows a `WarmupCosineDecay`, kept as the optimizer's
    `schedule` attribute (`optimizer.learning_rate` is the current value).
    """
    schedule = warmup_cosine_schedule(peak_learning_rate, total_steps, warmup_steps)
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule,
        weight_decay=weight_decay,
        beta_2=0.95,
        global_clipnorm=global_clipnorm,
    )
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    optimizer.schedule = schedule
    return optimizer
