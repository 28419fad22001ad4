"""RLOO, the policy loss and DPO against float64 NumPy computations."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nlg.training.rl import (
    dpo_loss,
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


def _loss_gradient(model, ids, mask, old, reference, advantages, kl_coef, clip):
    with tf.GradientTape() as tape:
        log_probs = token_log_probs(model, tf.constant(ids))
        loss, stats = policy_loss(
            log_probs, old, reference, advantages, mask, kl_coef, clip
        )
    return float(loss), dense(tape.gradient(loss, model.table)), stats


@pytest.mark.parametrize("clip", [None, 0.2])
def test_policy_loss_and_gradient_equal_float64_numpy(batch, clip):
    table, reference_table, ids, mask = batch
    advantages = np.array([1.0, -0.5, 0.25, -1.0, 0.0, 2.0])
    kl_coef = 0.3
    lp = np_token_log_probs(table, ids)
    ref = np_token_log_probs(reference_table, ids)
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
    q = ref - lp
    k3 = np.exp(q) - q - 1
    loss = np.mean(-(surrogate * mask).sum(1) + kl_coef * (k3 * mask).sum(1))
    dloss_dlp = mask * (-ratio * a * active + kl_coef * (1 - np.exp(q))) / len(ids)

    model = TrainableBigram(table.astype("float32"))
    got_loss, got_grad, stats = _loss_gradient(
        model,
        ids,
        mask.astype("float32"),
        old.astype("float32"),
        ref.astype("float32"),
        advantages.astype("float32"),
        kl_coef,
        clip,
    )
    np.testing.assert_allclose(got_loss, loss, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_grad, np_gradient(table, ids, dloss_dlp), atol=1e-5)
    np.testing.assert_allclose(float(stats["kl"]), (k3 * mask).sum(1).mean(), rtol=1e-5)
    if clip is not None:  # the test exercises both sides of the clip
        assert 0 < float(stats["clip_fraction"]) < 1


def test_fresh_samples_give_the_reinforce_gradient(batch):
    """ratio = 1: the gradient is -mean_i A_i Σ_t ∇ log π(t) (kl_coef 0)."""
    table, _, ids, mask = batch
    advantages = np.array([1.0, -0.5, 0.25, -1.0, 0.0, 2.0])
    lp = np_token_log_probs(table, ids).astype("float32")
    model = TrainableBigram(table.astype("float32"))
    _, grad, _ = _loss_gradient(
        model,
        ids,
        mask.astype("float32"),
        lp,
        lp,
        advantages.astype("float32"),
        0,
        None,
    )
    expected = np_gradient(table, ids, -mask * advantages[:, None] / len(ids))
    np.testing.assert_allclose(grad, expected, atol=1e-5)


def test_zero_advantage_gives_zero_policy_gradient(batch):
    table, _, ids, mask = batch
    rewards = np.full((2, 3), 0.7)  # every group's rewards equal
    advantages = leave_one_out_advantages(rewards).reshape(-1).astype("float32")
    lp = np_token_log_probs(table, ids).astype("float32")
    model = TrainableBigram(table.astype("float32"))
    _, grad, _ = _loss_gradient(
        model, ids, mask.astype("float32"), lp, lp, advantages, 0.0, None
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
