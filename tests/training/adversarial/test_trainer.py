"""`AdversarialTrainer` on tiny LSTM generators: the credit it computes, that
a fixed discriminator's preference is learned, that no gradient crosses the
discrete samples, seeds, resume, and the impossible settings."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_nlg.models import LSTMLanguageModel, TransformerDiscriminator
from keras_nlg.training.adversarial import (
    AdversarialConfig,
    AdversarialTrainer,
    SequenceFormat,
    complete_prefixes,
    discriminator_loss,
    sample_sequences,
)
from keras_nlg.training.checkpoints import RunBackup
from keras_nlg.training.rl.objectives import token_log_probs
from keras_nlg.training.rl.run import step_dataset

FORMAT = SequenceFormat(start_id=0, end_of_text_id=None, padding_id=0, length=6)
FAVOURITE = 3
TOY = AdversarialConfig(
    steps=4,
    steps_per_epoch=2,
    batch_size=16,
    sample_length=6,
    discriminator_pretrain_steps=0,
    discriminator_steps=1,
    rollouts=2,
    generator_learning_rate=2e-2,
    discriminator_learning_rate=1e-9,
)


class FavouriteToken(keras.Model):
    """A fixed "ideal" discriminator: the logit is 6 × (share of FAVOURITE
    among the real tokens) − 3. Its one weight only scales that; a learning
    rate of 1e-9 keeps it fixed."""

    sequence_length = None

    def __init__(self):
        super().__init__()
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

    def call(self, token_ids, padding_mask=None, training=None):
        mask = ops.cast(padding_mask, "float32")
        hits = ops.cast(ops.equal(token_ids, FAVOURITE), "float32") * mask
        share = ops.sum(hits, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)
        return self.scale * (6.0 * share - 3.0)


def _generator(seed=0, vocabulary=8):
    keras.utils.set_random_seed(seed)
    return LSTMLanguageModel(vocabulary, embedding_dim=8, units=16)


def _real(n=64, seed=0, vocabulary=8):
    return np.random.default_rng(seed).integers(0, vocabulary, (n, 6)).astype("int32")


def _trainer(generator, discriminator, config=TOY, **kwargs):
    trainer = AdversarialTrainer(
        generator, discriminator, _real(), FORMAT, config, **kwargs
    )
    trainer.compile()
    return trainer


def _share(generator, seed=123):
    ids, _ = sample_sequences(generator, 512, seed, FORMAT)
    return float(np.mean(ids == FAVOURITE))


def test_rollout_credit_is_the_mean_reward_over_the_completions():
    generator, discriminator = _generator(), FavouriteToken()
    trainer = _trainer(generator, discriminator, TOY.replace(rollouts=3))
    ids, mask = sample_sequences(generator, 5, 1, FORMAT)
    values = trainer.token_values(ids, mask, seed=11)

    def reward(rows):  # the stub's probability, in float64
        share = np.mean(rows == FAVOURITE, axis=-1)
        return 1 / (1 + np.exp(-(6 * share - 3)))

    completed = complete_prefixes(generator, ids, 3, 11, FORMAT)
    np.testing.assert_allclose(values[:, :-1], reward(completed).mean(-1), atol=1e-6)
    np.testing.assert_allclose(values[:, -1], reward(ids), atol=1e-6)
    by_prefix = _trainer(generator, discriminator, TOY.replace(credit="prefix"))
    values = by_prefix.token_values(ids, mask, seed=11)
    for t in range(1, 7):
        np.testing.assert_allclose(values[:, t - 1], reward(ids[:, :t]), atol=1e-6)


@pytest.mark.parametrize("credit", ["rollout", "prefix"])
def test_a_fixed_discriminator_preference_is_learned(credit):
    generator = _generator(2)
    before = _share(generator)
    trainer = _trainer(
        generator, FavouriteToken(), TOY.replace(steps=16, credit=credit)
    )
    history = trainer.fit(step_dataset(), epochs=8, steps_per_epoch=2, verbose=0)
    after = _share(generator)
    assert after > before + 0.15, (before, after)
    rewards = history.history["reward_mean"]
    assert rewards[-1] > rewards[0]


def test_the_reward_reaches_the_generator_only_as_reinforce_weights():
    generator = _generator()
    discriminator = TransformerDiscriminator(8, 6, num_layers=1, hidden_dim=16)
    trainer = _trainer(generator, discriminator)
    ids, mask = sample_sequences(generator, 4, 0, FORMAT)
    assert ids.dtype == np.int32  # discrete: nothing to differentiate through
    with tf.GradientTape() as tape:
        reward = tf.reduce_sum(discriminator(ids, mask))
    assert all(g is None for g in tape.gradient(reward, generator.trainable_variables))

    advantages = np.random.default_rng(0).normal(size=(4, 6))
    with_start = FORMAT.with_start(ids)
    variables = generator.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        loss = trainer.generator_loss(with_start, mask.astype("float32"), advantages)
    assert all(
        g is None for g in tape.gradient(loss, discriminator.trainable_variables)
    )
    gradients = tape.gradient(loss, variables)
    # REINFORCE, row by row: -(1/B) Σ_i Σ_t A_it ∇ log π(y_it), each token's
    # log-probability differentiated on its own.
    expected = [np.zeros(v.shape, "float64") for v in variables]
    for i in range(4):
        for t in range(6):
            with tf.GradientTape() as row_tape:
                log_prob = token_log_probs(generator, with_start[i : i + 1])[0, t]
            for e, g in zip(
                expected, row_tape.gradient(log_prob, variables), strict=True
            ):
                e -= (
                    advantages[i, t]
                    * np.asarray(tf.convert_to_tensor(g), "float64")
                    / 4
                )
    for g, e in zip(gradients, expected, strict=True):
        np.testing.assert_allclose(np.asarray(tf.convert_to_tensor(g)), e, atol=2e-5)


def test_discriminator_update_matches_the_float64_bias_gradient():
    """The head's bias gradient is Σ ∂loss/∂logit (logit = w·h + b), which
    float64 NumPy computes from the discriminator's logits alone."""
    generator = _generator()
    discriminator = TransformerDiscriminator(
        8, 6, num_layers=1, hidden_dim=16, dropout=0.0
    )
    trainer = _trainer(generator, discriminator)
    real, fake = _real(4, 1), _real(4, 2)
    mask = np.ones((4, 6), bool)
    real_logits = np.asarray(discriminator(real, mask), "float64")
    fake_logits = np.asarray(discriminator(fake, mask), "float64")
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    expected = (-(1 - sigmoid(real_logits)).sum() + sigmoid(fake_logits).sum()) / 8
    with tf.GradientTape() as tape:
        loss, _, _ = discriminator_loss(
            discriminator(real, mask, training=True),
            discriminator(fake, mask, training=True),
        )
    bias = discriminator.head.bias
    np.testing.assert_allclose(tape.gradient(loss, bias)[0], expected, rtol=1e-4)
    # The trainer's own update moves the bias against that gradient.
    before = float(bias.numpy()[0])
    trainer._discriminator_step(real, mask, fake, mask)
    assert np.sign(before - float(bias.numpy()[0])) == np.sign(expected)


def test_seeded_runs_are_identical_and_a_resumed_run_matches(tmp_path):
    # Pre-training ends mid-epoch 2, and every kind of update moves weights.
    config = TOY.replace(
        discriminator_pretrain_steps=3,
        steps=3,
        mle_steps=1,
        discriminator_learning_rate=1e-2,
    )

    def run(epochs, backup_dir=None):
        generator = _generator(5)
        keras.utils.set_random_seed(5)
        # Dropout off: its random state is not part of a backup.
        discriminator = TransformerDiscriminator(
            8, 6, num_layers=1, hidden_dim=16, dropout=0.0
        )
        trainer = _trainer(generator, discriminator, config)
        callbacks = [RunBackup(str(backup_dir))] if backup_dir else []
        trainer.fit(
            step_dataset(), epochs=epochs, steps_per_epoch=2, callbacks=callbacks,
            shuffle=False, verbose=0,
        )  # fmt: skip
        return trainer

    def state(trainer):
        optimizers = [trainer.optimizer, *trainer.extra_optimizers]
        return trainer.get_weights() + [
            v.numpy() for optimizer in optimizers for v in optimizer.variables
        ]

    whole = run(3)
    assert int(whole.completed_steps.numpy()) == 6
    for a, b in zip(state(whole), state(run(3)), strict=True):
        np.testing.assert_array_equal(a, b)
    run(1, tmp_path / "backup")  # stops after epoch 1; its backup remains
    resumed = run(3, tmp_path / "backup")
    assert int(resumed.completed_steps.numpy()) == 6
    for a, b in zip(state(whole), state(resumed), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_fit_stops_at_the_configured_rounds():
    trainer = _trainer(_generator(), FavouriteToken(), TOY.replace(steps=3))
    history = trainer.fit(step_dataset(), epochs=2, steps_per_epoch=2, verbose=0)
    assert int(trainer.completed_steps.numpy()) == 3
    assert int(trainer.optimizer.iterations.numpy()) == 3  # one update per round
    assert len(history.history["reward_mean"]) == 2


@pytest.mark.parametrize(
    "change, expected",
    [
        (dict(real=np.zeros((0, 6), "int32")), "needs real sequences"),
        (dict(real=np.zeros((20, 5), "int32")), "sample_length=6 columns"),
        (dict(real=np.zeros((8, 6), "int32")), "at most the 8 real sequences"),
        (dict(discriminator_length=4), "discriminator's context (4 tokens)"),
        (dict(config=TOY.replace(kl_coef=0.1)), "kl_coef=0.1, reference=None"),
        (dict(config=TOY.replace(sample_length=7)), "sample_length=7"),
    ],
)
def test_impossible_settings_are_named(change, expected):
    discriminator = TransformerDiscriminator(
        8, change.get("discriminator_length", 6), num_layers=1, hidden_dim=16
    )
    with pytest.raises(
        ValueError, match=expected.replace("(", r"\(").replace(")", r"\)")
    ):
        AdversarialTrainer(
            _generator(),
            discriminator,
            change.get("real", _real()),
            FORMAT,
            change.get("config", TOY),
        )


@pytest.mark.parametrize(
    "field, value",
    [
        ("rollouts", 0),
        ("sample_length", 1),
        ("credit", "bogus"),
        ("discriminator", "gru"),
        ("kl_coef", -1.0),
        ("generator_learning_rate", 0.0),
        ("mle_steps", -1),
        ("batch_size", 0),
    ],
)
def test_config_names_the_bad_field_and_value(field, value):
    with pytest.raises(ValueError, match=f"`{field}`.*Received: {field}={value!r}"):
        AdversarialConfig(**{field: value})
