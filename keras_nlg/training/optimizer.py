"""AdamW with linear warm-up, cosine decay and global-norm clipping."""

import keras


def warmup_cosine_schedule(
    peak_learning_rate: float,
    total_steps: int,
    warmup_steps: int,
    final_fraction: float = 0.1,
) -> keras.optimizers.schedules.CosineDecay:
    """Linear warm-up from 0 to the peak, then cosine decay to a fraction of it."""
    if warmup_steps < 0 or total_steps <= warmup_steps:
        raise ValueError(
            f"`total_steps` must exceed warmup_steps={warmup_steps}. "
            f"Received: total_steps={total_steps}"
        )
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        warmup_target=peak_learning_rate,
        warmup_steps=warmup_steps,
        decay_steps=total_steps - warmup_steps,
        alpha=final_fraction,
    )


def language_model_optimizer(
    peak_learning_rate: float,
    total_steps: int,
    warmup_steps: int,
    weight_decay: float = 0.1,
    global_clipnorm: float = 1.0,
) -> keras.optimizers.AdamW:
    """The GPT recipe: AdamW (β₂ = 0.95), no decay on biases and LayerNorm."""
    optimizer = keras.optimizers.AdamW(
        learning_rate=warmup_cosine_schedule(
            peak_learning_rate, total_steps, warmup_steps
        ),
        weight_decay=weight_decay,
        beta_2=0.95,
        global_clipnorm=global_clipnorm,
    )
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer
