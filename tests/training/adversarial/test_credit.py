"""The adversarial objectives against float64 NumPy references."""

import numpy as np
import pytest
import tensorflow as tf

from keras_nlg.training.adversarial import (
    discriminator_loss,
    prefix_masks,
    rollout_values,
    token_advantages,
)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_discriminator_loss_and_its_gradient_match_float64():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=5) * 3, rng.normal(size=5) * 3
    real_t, fake_t = tf.constant(real, tf.float32), tf.constant(fake, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch([real_t, fake_t])
        loss, real_accuracy, fake_accuracy = discriminator_loss(real_t, fake_t)
    grad_real, grad_fake = tape.gradient(loss, [real_t, fake_t])
    # Binary cross-entropy over the 10 examples, real labelled 1, fake 0.
    expected = -(np.log(_sigmoid(real)).sum() + np.log(1 - _sigmoid(fake)).sum()) / 10
    np.testing.assert_allclose(float(loss), expected, rtol=1e-6)
    np.testing.assert_allclose(grad_real, -(1 - _sigmoid(real)) / 10, rtol=1e-5)
    np.testing.assert_allclose(grad_fake, _sigmoid(fake) / 10, rtol=1e-5)
    assert float(real_accuracy) == pytest.approx(np.mean(real > 0))
    assert float(fake_accuracy) == pytest.approx(np.mean(fake <= 0))


def test_rollout_values_are_the_mean_over_completions_then_the_whole_reward():
    rewards = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    whole = np.array([0.25, 0.75])
    values = rollout_values(rewards, whole)
    assert values.shape == (2, 4)
    for i in range(2):
        for t in range(3):
            assert values[i, t] == np.mean(rewards[i, t])
        assert values[i, 3] == whole[i]


def test_prefix_masks_keep_each_prefix_of_the_real_tokens():
    mask = np.array([[True, True, True], [True, True, False]])
    masks = prefix_masks(mask)
    assert masks.shape == (6, 3)
    expected = [
        [1, 0, 0], [1, 1, 0], [1, 1, 1],
        [1, 0, 0], [1, 1, 0], [1, 1, 0],
    ]  # fmt: skip
    np.testing.assert_array_equal(masks, np.array(expected, bool))


def _reference_advantages(values, mask, log_probs, reference, beta, baseline):
    """Loops in float64: reward to go with the KL, then minus the mean of the
    other sequences' returns at the same position."""
    n, length = values.shape
    returns = np.zeros((n, length))
    for i in range(n):
        for t in range(length):
            if not mask[i, t]:
                continue
            kl_to_go = sum(
                log_probs[i, s] - reference[i, s]
                for s in range(t, length)
                if mask[i, s]
            )
            returns[i, t] = values[i, t] - beta * kl_to_go
    if baseline:
        advantages = returns.copy()
        for t in range(length):
            rows = [i for i in range(n) if mask[i, t]]
            for i in rows:
                others = [returns[j, t] for j in rows if j != i]
                if others:
                    advantages[i, t] -= sum(others) / len(others)
        return advantages
    return returns


@pytest.mark.parametrize("beta", [0.0, 0.3])
@pytest.mark.parametrize("baseline", [False, True])
def test_token_advantages_match_a_float64_loop(beta, baseline):
    rng = np.random.default_rng(1)
    values = rng.uniform(size=(4, 5))
    mask = np.array(
        [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 0]], bool
    )
    log_probs, reference = rng.normal(size=(2, 4, 5))
    advantages, kl = token_advantages(
        values, mask, log_probs, reference, kl_coef=beta, baseline=baseline
    )
    expected = _reference_advantages(values, mask, log_probs, reference, beta, baseline)
    np.testing.assert_allclose(advantages, expected, atol=1e-12)
    assert (advantages[~mask] == 0).all()
    if beta:
        np.testing.assert_allclose(kl, ((log_probs - reference) * mask).sum(axis=1))
