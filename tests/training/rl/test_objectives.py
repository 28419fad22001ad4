"""RLOO, the policy loss and DPO against float64 NumPy computations."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nlg.training.rl import (
    dpo_loss,
    kl_penalized_rewards,
    leave_one_out_advantages,
    policy_loss,
    token_log_probs,
)

VOCAB = 5


class TrainableBigram(keras.Model):
    """logits(next | last) = W[last]: a model whose gradient NumPy can write."""

    def __init__(self, table):
        super().__init__()
        self.table = self.add_weight(
            shape=table.shape, initializer=keras.initializers.Constant(table)
        )

    def call(self, token_ids, training=False):
        return tf.gather(self.table, token_ids)


def dense(gradient):
    return tf.convert_to_tensor(gradient).numpy()  # gather's IndexedSlices


def log_softmax64(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def np_token_log_probs(table, ids):
    log_p = log_softmax64(table[ids[:, :-1]])
    return np.take_along_axis(log_p, ids[:, 1:, None], -1)[..., 0]


def np_gradient(table, ids, dloss_dlp):
    """d loss / d table, given d loss / d log p(token t) for every (row, t)."""
    grad = np.zeros_like(table)
    p = np.exp(log_softmax64(table[ids[:, :-1]]))
    for b in range(ids.shape[0]):
        for t in range(ids.shape[1] - 1):
            onehot = np.eye(table.shape[1])[ids[b, t + 1]]
            grad[ids[b, t]] += dloss_dlp[b, t] * (onehot - p[b, t])
    return grad


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    table = rng.normal(size=(VOCAB, VOCAB))
    reference = table + rng.normal(scale=0.3, size=table.shape)
    ids = rng.integers(0, VOCAB, size=(6, 7)).astype("int32")
    mask = np.zeros((6, 6))
    for row, start in enumerate([0, 1, 2, 0, 3, 1]):
        mask[row, start : start + 4] = 1.0
    return table, reference, ids, mask


def test_leave_one_out_advantages_equal_the_definition():
    rewards = np.array([[1.0, 0.0, 0.5, 2.0], [3.0, 3.0, 3.0, 3.0]])
    expected = np.array(
        [[r - np.mean(np.delete(row, i)) for i, r in enumerate(row)] for row in rewards]
    )
    np.testing.assert_allclose(leave_one_out_advantages(rewards), expected)
    assert not leave_one_out_advantages(rewards)[1].any()  # equal rewards → 0
    normalized = leave_one_out_advantages(rewards, normalize=True)
    np.testing.assert_allclose(normalized[0], expected[0] / (rewards[0].std() + 1e-6))


@pytest.mark.parametrize(
    "rewards, match",
    [([[1.0], [2.0]], "k >= 2"), ([[1.0, np.nan]], "finite"), ([1.0, 2.0], "shape")],
)
def test_advantages_refuse_bad_rewards(rewards, match):
    with pytest.raises(ValueError, match=match):
        leave_one_out_advantages(rewards)


def _loss_gradient(model, ids, mask, old, advantages, clip):
    with tf.GradientTape() as tape:
        log_probs = token_log_probs(model, tf.constant(ids))
        loss, clip_fraction = policy_loss(log_probs, old, advantages, mask, clip)
    return float(loss), dense(tape.gradient(loss, model.table)), clip_fraction


@pytest.mark.parametrize("clip", [None, 0.2])
def test_policy_loss_and_gradient_equal_float64_numpy(batch, clip):
    table, _, ids, mask = batch
    advantages = np.array([1.0, -0.5, 0.25, -1.0, 0.0, 2.0])
    lp = np_token_log_probs(table, ids)
    # The samples came from a slightly different policy, so some ratios
    # leave the clip range.
    old = lp + np.random.default_rng(1).normal(scale=0.3, size=lp.shape)
    ratio = np.exp(lp - old)
    a = advantages[:, None]
    surrogate = ratio * a
    # d surrogate / d lp = ratio * A where the unclipped term is the min.
    active = np.ones_like(ratio)
    if clip is not None:
        clipped = np.clip(ratio, 1 - clip, 1 + clip) * a
        active = (surrogate <= clipped) | ((ratio >= 1 - clip) & (ratio <= 1 + clip))
        surrogate = np.minimum(surrogate, clipped)
    loss = np.mean(-(surrogate * mask).sum(1))
    dloss_dlp = mask * (-ratio * a * active) / len(ids)

    model = TrainableBigram(table.astype("float32"))
    got_loss, got_grad, clip_fraction = _loss_gradient(
        model,
        ids,
        mask.astype("float32"),
        old.astype("float32"),
        advantages.astype("float32"),
        clip,
    )
    np.testing.assert_allclose(got_loss, loss, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_grad, np_gradient(table, ids, dloss_dlp), atol=1e-5)
    if clip is not None:  # the test exercises both sides of the clip
        outside = (np.abs(ratio - 1) > clip) * mask
        np.testing.assert_allclose(float(clip_fraction), outside.sum() / mask.sum())
        assert 0 < float(clip_fraction) < 1


def test_fresh_samples_give_the_reinforce_gradient(batch):
    """ratio = 1: the gradient is -mean_i A_i Σ_t ∇ log π(t)."""
    table, _, ids, mask = batch
    advantages = np.array([1.0, -0.5, 0.25, -1.0, 0.0, 2.0])
    lp = np_token_log_probs(table, ids).astype("float32")
    model = TrainableBigram(table.astype("float32"))
    _, grad, _ = _loss_gradient(
        model, ids, mask.astype("float32"), lp, advantages.astype("float32"), None
    )
    expected = np_gradient(table, ids, -mask * advantages[:, None] / len(ids))
    np.testing.assert_allclose(grad, expected, atol=1e-5)


def test_the_kl_penalty_is_folded_into_the_rewards(batch):
    """r' = r - β Σ_t (log π - log π_ref), and the RLOO gradient of r' is the
    score-function gradient of E[r] - β KL(π || π_ref) (float64 reference)."""
    table, reference_table, ids, mask = batch
    rewards = np.array([1.0, 0.0, 0.5, 2.0, -1.0, 0.25])
    lp = np_token_log_probs(table, ids)
    ref = np_token_log_probs(reference_table, ids)
    shaped, kl = kl_penalized_rewards(rewards, lp, ref, mask, 0.3)
    np.testing.assert_allclose(kl, ((lp - ref) * mask).sum(1))
    np.testing.assert_allclose(shaped, rewards - 0.3 * kl)
    # Equal rewards and a policy equal to the reference: no update at all.
    same, zero_kl = kl_penalized_rewards(np.ones(6), lp, lp, mask, 0.3)
    assert not zero_kl.any() and not leave_one_out_advantages(same.reshape(2, 3)).any()


def test_zero_advantage_gives_zero_policy_gradient(batch):
    table, _, ids, mask = batch
    rewards = np.full((2, 3), 0.7)  # every group's rewards equal
    advantages = leave_one_out_advantages(rewards).reshape(-1).astype("float32")
    lp = np_token_log_probs(table, ids).astype("float32")
    model = TrainableBigram(table.astype("float32"))
    _, grad, _ = _loss_gradient(
        model, ids, mask.astype("float32"), lp, advantages, None
    )
    assert not np.any(grad)


def test_dpo_loss_and_gradient_equal_float64_numpy(batch):
    table, reference_table, ids, mask = batch
    chosen, rejected = ids[:3], ids[3:]
    chosen_mask, rejected_mask = mask[:3], mask[3:]
    beta = 0.5

    def sequence(t, x, m):
        return (np_token_log_probs(t, x) * m).sum(1)

    ref_c = sequence(reference_table, chosen, chosen_mask)
    ref_r = sequence(reference_table, rejected, rejected_mask)
    margin = beta * (
        (sequence(table, chosen, chosen_mask) - ref_c)
        - (sequence(table, rejected, rejected_mask) - ref_r)
    )
    loss = np.mean(np.log1p(np.exp(-margin)))
    # d loss / d margin = -σ(-m) / B; d margin / d lp_chosen = β, rejected -β.
    dm = -1 / (1 + np.exp(margin)) / len(margin)
    expected = np_gradient(
        table, chosen, chosen_mask * (beta * dm)[:, None]
    ) + np_gradient(table, rejected, rejected_mask * (-beta * dm)[:, None])

    model = TrainableBigram(table.astype("float32"))
    with tf.GradientTape() as tape:
        lc = tf.reduce_sum(token_log_probs(model, chosen) * chosen_mask, -1)
        lr = tf.reduce_sum(token_log_probs(model, rejected) * rejected_mask, -1)
        got, margins = dpo_loss(
            lc, lr, ref_c.astype("float32"), ref_r.astype("float32"), beta
        )
    grad = dense(tape.gradient(got, model.table))
    np.testing.assert_allclose(float(got), loss, rtol=1e-5)
    np.testing.assert_allclose(margins.numpy(), margin, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grad, expected, atol=1e-5)
