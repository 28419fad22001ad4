"""The sequence-level objectives: RLOO advantages, the policy loss, DPO.

Every RL and preference trainer in `keras_nlg.training.rl` scores sampled or
given completions the same way: a batch of right-padded rows `token_ids`
(prompt, then completion, then padding) and a `completion_mask` marking the
completion tokens whose log-probability counts. Right padding keeps a causal
model's positions and attention exact for every real token, so one full
forward pass scores the whole batch, for the Transformer and the LSTM alike.

Sources: RLOO (Kool et al., "Buy 4 REINFORCE samples, get a baseline for
free!", ICLR 2019 workshop; Ahmadian et al., ACL 2024); the same estimator as
the "new SCST" of Luo (2020). Group normalisation of advantages as in GRPO
(Shao et al., 2024, DeepSeekMath). PPO's clipped ratio (Schulman et al.,
2017). The KL penalty to the starting model is folded into the reward, as in
RLOO: r - β Σ_t (log π - log π_ref). DPO: Rafailov et al., NeurIPS 2023,
equation 7.
"""

from __future__ import annotations

import numpy as np
from keras import ops


def leave_one_out_advantages(rewards, normalize: bool = False, epsilon=1e-6):
    """RLOO advantages: each sample's reward minus the mean of its group's others.

    Args:
        rewards: float array `(num_prompts, k)`, k ≥ 2 samples per prompt.
        normalize: divide each group's advantages by the group's reward
            standard deviation (+ `epsilon`), GRPO-style.

    Returns:
        float64 array `(num_prompts, k)`:
        `A[p, i] = r[p, i] - mean_{j != i} r[p, j] = k / (k - 1) * (r[p, i] - mean_p)`.
        A group whose rewards are all equal gets zero advantages (and so
        no policy gradient).

    Raises:
        ValueError: for fewer than 2 samples per prompt or non-finite rewards.
    """
    rewards = np.asarray(rewards, dtype="float64")
    if rewards.ndim != 2 or rewards.shape[1] < 2:
        raise ValueError(
            "`rewards` must have shape (num_prompts, k) with k >= 2 samples per "
            f"prompt. Received: shape={rewards.shape}"
        )
    if not np.all(np.isfinite(rewards)):
        raise ValueError(f"`rewards` must be finite. Received: {rewards.tolist()}")
    k = rewards.shape[1]
    # Advantages don't change when a group's rewards shift together; taking
    # the first out first makes a group of equal rewards exactly 0 (no
    # rounding left to become a gradient).
    rewards = rewards - rewards[:, :1]
    others_mean = (rewards.sum(axis=1, keepdims=True) - rewards) / (k - 1)
    advantages = rewards - others_mean
    if normalize:
        advantages = advantages / (rewards.std(axis=1, keepdims=True) + epsilon)
    return advantages


def token_log_probs(model, token_ids, training=False, return_entropy=False):
    """log π(token_ids[:, t] | token_ids[:, :t]) for t ≥ 1, from one forward pass.

    Args:
        model: a language model: `model(token_ids)` → logits `(B, T, V)`.
        token_ids: int32 `(B, T)`, right-padded.
        return_entropy: also return each next-token distribution's entropy.

    Returns:
        float32 `(B, T - 1)`: column t - 1 scores token t; with
        `return_entropy`, `(log_probs, entropy)`, the entropy in nats, same shape.
    """
    logits = ops.cast(model(token_ids[:, :-1], training=training), "float32")
    log_probs = ops.log_softmax(logits, axis=-1)
    targets = ops.expand_dims(token_ids[:, 1:], -1)
    chosen = ops.squeeze(ops.take_along_axis(log_probs, targets, axis=-1), -1)
    if not return_entropy:
        return chosen
    return chosen, -ops.sum(ops.exp(log_probs) * log_probs, axis=-1)


def kl_penalized_rewards(rewards, log_probs, reference_log_probs, mask, kl_coef):
    """Rewards minus `kl_coef` × each sample's KL estimate, as RLOO does.

    `r'_i = r_i - kl_coef * Σ_t (log π(t) - log π_ref(t))` over the completion
    tokens t of sample i, with π the policy that sampled (Ahmadian et al.,
    2024, section 3): the KL to the starting model becomes part of the return,
    so REINFORCE's gradient of `E[r'] ` is that of
    `E[r] - kl_coef * KL(π || π_ref)` for whole sequences, later tokens'
    divergence included. (A per-token `k3` term added to the loss instead
    would follow the gradient of the reverse divergence, KL(π_ref || π).)

    Args:
        rewards: `(n,)`.
        log_probs, reference_log_probs, mask: `(n, T)`; see `policy_loss`.
        kl_coef: ≥ 0.

    Returns:
        `(shaped_rewards, kl)`: float64 `(n,)` each; `kl` is the per-sample
        estimate `Σ_t (log π - log π_ref)` (its mean is the KL in nats).
    """
    difference = np.asarray(log_probs, "float64") - np.asarray(
        reference_log_probs, "float64"
    )
    kl = (difference * np.asarray(mask, "float64")).sum(axis=-1)
    return np.asarray(rewards, "float64") - kl_coef * kl, kl


def policy_loss(log_probs, old_log_probs, advantages, completion_mask, clip_ratio=None):
    """The RLOO policy-gradient loss, per sequence, averaged over sequences.

    For sequence i with advantage A_i and completion tokens t:
    `loss_i = -Σ_t surrogate_t`, where `surrogate_t = ρ_t A_i`, or PPO's
    `min(ρ_t A_i, clip(ρ_t, 1 ± clip_ratio) A_i)` when `clip_ratio` is set,
    with `ρ_t = exp(log π(t) - log π_old(t))`. At the first update on fresh
    samples ρ = 1 and the gradient is REINFORCE's, `-A_i Σ_t ∇ log π(t)`
    (summed over tokens: the sequence's log-probability, no length
    normalisation). The KL penalty is in the advantages
    (`kl_penalized_rewards`). With per-token advantages `A_{i,t}` replace
    `A_i` by `A_{i,t}` (REINFORCE with reward to go).

    Args:
        log_probs: float32 `(B, T)` under the current policy (differentiable).
        old_log_probs: `(B, T)` under the policy that sampled (constants).
        advantages: `(B,)` sequence advantages, or `(B, T)` one per token
            (per-token credit, as adversarial training's `Q_t`).
        completion_mask: `(B, T)`, 1 on completion tokens, else 0.
        clip_ratio: PPO's ε, or None for no clipping.

    Returns:
        `(loss, clip_fraction)`: the scalar loss and the share of completion
        tokens whose ratio is outside `1 ± clip_ratio` (0 without clipping).
    """
    mask = ops.cast(completion_mask, "float32")
    advantages = ops.cast(advantages, "float32")
    if len(advantages.shape) == 1:
        advantages = ops.expand_dims(advantages, -1)
    ratio = ops.exp(log_probs - ops.stop_gradient(old_log_probs))
    surrogate = ratio * advantages
    clip_fraction = ops.zeros(())
    if clip_ratio is not None:
        clipped = ops.clip(ratio, 1.0 - clip_ratio, 1.0 + clip_ratio) * advantages
        surrogate = ops.minimum(surrogate, clipped)
        outside = ops.cast(ops.abs(ratio - 1.0) > clip_ratio, "float32")
        clip_fraction = ops.sum(outside * mask) / ops.maximum(ops.sum(mask), 1.0)
    return ops.mean(-ops.sum(surrogate * mask, axis=-1)), clip_fraction


def dpo_loss(
    chosen_log_probs,
    rejected_log_probs,
    reference_chosen_log_probs,
    reference_rejected_log_probs,
    beta=0.1,
):
    """DPO: `-log σ(β[(log π(y_w) - log π_ref(y_w)) - (log π(y_l) - log π_ref(y_l))])`.

    Args:
        chosen_log_probs, rejected_log_probs: `(B,)` sequence log-probs
            (summed over completion tokens) under the policy.
        reference_chosen_log_probs, reference_rejected_log_probs: `(B,)`
            under the frozen reference.
        beta: the KL strength β > 0 (Rafailov et al., 2023).

    Returns:
        `(loss, margins)`: the mean loss and each pair's implicit reward
        margin `β[(…chosen) - (…rejected)]`, `(B,)`.
    """
    margin = beta * (
        (chosen_log_probs - ops.stop_gradient(reference_chosen_log_probs))
        - (rejected_log_probs - ops.stop_gradient(reference_rejected_log_probs))
    )
    # -log σ(m) = softplus(-m), stable for large |m|.
    return ops.mean(ops.softplus(-margin)), margin
