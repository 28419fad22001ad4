"""The adversarial objectives: the discriminator's loss, and per-token credit
for the generator from the discriminator's judgement.

The generator's tokens are discrete, so no gradient flows from the
discriminator into it; the generator is trained by the policy gradient of
`keras_nlg.training.rl.objectives.policy_loss` with per-token advantages
built here (SeqGAN: Yu et al., "SeqGAN: Sequence Generative Adversarial Nets
with Policy Gradient", AAAI 2017, equations 4-8):

- the reward of a whole sequence is `D(y)`, the discriminator's probability
  that it is real;
- the value of token t, `Q_t`, is the mean of `D` over Monte Carlo
  completions of the prefix `y_1 … y_t` by the generator (`rollouts`), or,
  cheaper and biased, `D` applied to the prefix itself (`prefix`, as the
  "reward at every generation step" variants do); the last token's is `D(y)`;
- an optional KL penalty to the starting model is subtracted as reward to
  go, `β Σ_{s ≥ t} (log π(y_s) − log π_ref(y_s))`, so the gradient is that of
  `E[D] − β KL(π ‖ π_ref)`;
- a baseline is subtracted to cut variance without bias: for each token,
  the mean value of the same position over the *other* sequences of the
  batch that reach it (leave one out, as RLOO; a mean that included the
  sequence itself would shrink its gradient by 1 − 1/n).
"""

from __future__ import annotations

import numpy as np
from keras import ops


def discriminator_loss(real_logits, fake_logits):
    """Binary cross-entropy, real labelled 1 and fake 0, from logits.

    `0.5 · (mean softplus(−real) + mean softplus(fake))`: the mean over the
    two equal halves of a batch (Goodfellow et al., 2014, equation 1, with
    `−log σ(x) = softplus(−x)` and `−log(1 − σ(x)) = softplus(x)`).

    Args:
        real_logits, fake_logits: float32 `(B,)` discriminator logits.

    Returns:
        `(loss, real_accuracy, fake_accuracy)`: the scalar loss and the share
        of each half the discriminator classifies right (logit > 0 is "real").
    """
    loss = 0.5 * (
        ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))
    )
    real_accuracy = ops.mean(ops.cast(real_logits > 0, "float32"))
    fake_accuracy = ops.mean(ops.cast(fake_logits <= 0, "float32"))
    return loss, real_accuracy, fake_accuracy


def rollout_values(completion_rewards, sequence_rewards):
    """SeqGAN's `Q_t` from Monte Carlo completions.

    Args:
        completion_rewards: `(n, L - 1, rollouts)`: `D` of each completion
            of each prefix `y_1 … y_t`, `t = 1 … L - 1`
            (`sequences.complete_prefixes`).
        sequence_rewards: `(n,)`: `D(y)` of the whole sequences.

    Returns:
        float64 `(n, L)`: column `t - 1` is the mean over the completions of
        prefix t; the last column is `D(y)`. (A prefix that already ended
        has every completion equal to `y`, so its value is `D(y)`.)
    """
    means = np.asarray(completion_rewards, "float64").mean(axis=-1)
    whole = np.asarray(sequence_rewards, "float64")[:, None]
    return np.concatenate([means, whole], axis=1)


def prefix_masks(mask):
    """`(n · L, L)` masks of every prefix of every sequence (prefix t keeps
    columns `0 … t - 1`), for scoring each prefix with the discriminator.
    Row `i · L + t - 1` is prefix t of sequence i."""
    mask = np.asarray(mask, bool)
    n, length = mask.shape
    keep = np.tril(np.ones((length, length), bool))  # row t - 1 keeps t columns
    return (mask[:, None, :] & keep[None]).reshape(n * length, length)


def token_advantages(
    values,
    mask,
    log_probs=None,
    reference_log_probs=None,
    kl_coef: float = 0.0,
    baseline: bool = True,
):
    """Per-token advantages for the policy gradient (see module docstring).

    Args:
        values: `(n, L)` the tokens' `Q_t`.
        mask: bool `(n, L)`, True on each sequence's real tokens.
        log_probs, reference_log_probs: `(n, L)` log-probabilities of the
            tokens under the sampling policy and the frozen starting model
            (needed when `kl_coef` > 0).
        kl_coef: β ≥ 0.
        baseline: subtract, from each token's return, the mean return at the
            same position of the other sequences that reach it (none when
            it is the only one).

    Returns:
        `(advantages, kl)`: float64 `(n, L)` (0 on padding), and `(n,)`
        each sequence's KL estimate `Σ_t (log π − log π_ref)` in nats.
    """
    mask = np.asarray(mask, bool)
    weights = mask.astype("float64")
    returns = np.asarray(values, "float64") * weights
    kl = np.zeros(len(mask))
    if kl_coef:
        difference = (
            np.asarray(log_probs, "float64")
            - np.asarray(reference_log_probs, "float64")
        ) * weights
        kl = difference.sum(axis=1)
        to_go = np.cumsum(difference[:, ::-1], axis=1)[:, ::-1]
        returns = returns - kl_coef * to_go
    if baseline:
        counts = weights.sum(axis=0, keepdims=True)
        others = (returns.sum(axis=0, keepdims=True) - returns) / np.maximum(
            counts - 1.0, 1.0
        )
        returns = (returns - np.where(counts > 1, others, 0.0)) * weights
    return returns, kl
