"""`AdversarialTrainer`: SeqGAN-style training as a Keras model trained by `fit`.

Each `fit` step is one discriminator update while the discriminator is
pre-trained, then one adversarial round: `discriminator_steps` updates of
the discriminator (real sequences against fresh samples), `generator_steps`
policy-gradient updates of the generator with per-token credit from the
discriminator (`credit.py`), then `mle_steps` likelihood updates on real
data. Sampling, Monte Carlo completions and the credit arithmetic run on the
host between compiled programs (the engine's sampling loop, the
discriminator's forward pass, the updates), so the step runs eagerly, as the
RL trainer's does. Because it is a `keras.Model`, progress bars, callbacks,
`BackupAndRestore` (both models, both optimizers and the step count) and
TensorBoard work as in every recipe.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_nlg.training.adversarial.credit import (
    discriminator_loss,
    prefix_masks,
    rollout_values,
    token_advantages,
)
from keras_nlg.training.adversarial.sequences import (
    complete_prefixes,
    padded_chunks,
    sample_sequences,
)
from keras_nlg.training.rl.objectives import policy_loss, token_log_probs
from keras_nlg.training.rl.step_trainer import StepTrainer

LOGGED = (
    *("discriminator_loss", "real_accuracy", "fake_accuracy"),
    *("generator_loss", "reward_mean", "reward_std", "kl", "mle_loss"),
)
# Rows per discriminator forward pass when scoring many completions: one
# compiled shape, bounded memory.
SCORE_CHUNK = 2048
_DISCRIMINATOR, _GENERATOR, _REAL, _MLE = range(4)  # seed streams


def _seed(*parts) -> int:
    return int(np.random.default_rng(list(parts)).integers(2**31 - 1))


class AdversarialTrainer(StepTrainer):
    """Trains `generator` against `discriminator` (see the module docstring).

    Args:
        generator: a keras_nlg language model (`call_with_cache`); trained.
        discriminator: a model `(token_ids, padding_mask) -> logits (B,)`
            (`keras_nlg.models.discriminators`); trained.
        real_sequences: int32 `(n, sample_length)` real sequences in
            `sequence_format` (`sequences.encode_texts`, or token data).
        sequence_format: a `sequences.SequenceFormat`.
        config: an `AdversarialConfig`.
        reference: the frozen starting generator, needed when
            `config.kl_coef` > 0.
        detokenize: optional `ids -> text` for the samples shown in logs.

    `compile()` gives the policy-gradient updates an optimizer (`optimizer`),
    and the discriminator's updates and the likelihood updates their own
    (`discriminator_optimizer`, `mle_optimizer`: likelihood gradients would
    otherwise dominate Adam's second moments and shrink the policy-gradient
    steps). All three are in the backups, with the step count: a resumed
    run draws the same batches and samples as one that never stopped
    (dropout masks aside: Keras' random state is not in a backup). `fit`
    stops after `config.total_steps` steps.
    It always runs eagerly.

    Raises:
        ValueError: with no real sequences, fewer than `batch_size`, rows of
            another length, a discriminator whose `sequence_length` is shorter
            than the samples, a generator whose context can't hold the start
            token and a whole sample, or `kl_coef` > 0 without `reference`.
    """

    samples_on_host = True

    def __init__(
        self,
        generator,
        discriminator,
        real_sequences,
        sequence_format,
        config,
        reference=None,
        detokenize=None,
    ):
        super().__init__()
        real = np.asarray(real_sequences, np.int32)
        length = sequence_format.length
        if real.ndim != 2 or len(real) == 0:
            raise ValueError(
                "Adversarial training needs real sequences: an int array of shape "
                f"(n, {length}) with n >= 1. Received: shape={list(real.shape)}"
            )
        if length != config.sample_length:
            raise ValueError(
                f"`sample_length` must equal the sequence format's length {length}. "
                f"Received: sample_length={config.sample_length}"
            )
        if real.shape[1] != length:
            raise ValueError(
                f"Real sequences must have sample_length={length} columns. "
                f"Received: shape={list(real.shape)}"
            )
        if len(real) < config.batch_size:
            raise ValueError(
                f"`batch_size` must be at most the {len(real)} real sequences. "
                f"Received: batch_size={config.batch_size}"
            )
        limit = getattr(discriminator, "sequence_length", None)
        if limit is not None and limit < length:
            raise ValueError(
                f"The discriminator's context ({limit} tokens) is shorter than the "
                f"samples: sample_length={length}"
            )
        context = getattr(generator, "context_length", None)
        if context is not None and context < length + 1:
            raise ValueError(
                f"The generator's context ({context} tokens) can't hold the start "
                f"token and a sample of sample_length={length} tokens."
            )
        if config.kl_coef and reference is None:
            raise ValueError(
                "`kl_coef` > 0 needs the frozen `reference` generator. Received: "
                f"kl_coef={config.kl_coef}, reference=None"
            )
        if reference is generator:
            raise ValueError(
                "`reference` must be a separate copy of the starting generator "
                "(it is frozen); received the generator itself."
            )
        self.generator = generator
        self.discriminator = discriminator
        self.reference = reference
        if reference is not None:
            reference.trainable = False
        self.real_sequences = real
        self.real_mask = sequence_format.mask(real)
        self.sequence_format = sequence_format
        self.settings = config
        self.detokenize = detokenize or (lambda ids: " ".join(map(str, ids)))
        self.last_samples = []
        self.completed_steps = self.add_weight(
            shape=(),
            dtype="int64",
            initializer="zeros",
            trainable=False,
            name="completed_steps",
        )
        self.track(LOGGED)
        self._discriminate = tf.function(
            lambda ids, mask: tf.sigmoid(discriminator(ids, mask)),
            jit_compile=True,
            autograph=False,
        )
        self._score = tf.function(
            lambda ids: token_log_probs(generator, ids),
            jit_compile=True,
            autograph=False,
        )
        if reference is not None:
            self._score_reference = tf.function(
                lambda ids: token_log_probs(reference, ids),
                jit_compile=True,
                autograph=False,
            )
        # Plain graphs for the updates, as the RL trainer's (faster to
        # trace; the models are small).
        self._update_discriminator = tf.function(
            self._discriminator_step, autograph=False
        )
        self._update_generator = tf.function(self._generator_step, autograph=False)
        self._update_mle = tf.function(self._mle_step, autograph=False)
        self.built = True

    def call(self, token_ids, training=False):
        return self.generator(token_ids, training=training)

    def compile(
        self, optimizer=None, *, discriminator_optimizer=None, mle_optimizer=None, **kw
    ):
        """Adam for each kind of update unless given: the policy-gradient
        (`optimizer`) and likelihood updates at `generator_learning_rate`,
        the discriminator's at `discriminator_learning_rate`; gradients
        clipped to global norm 5, as SeqGAN's."""
        settings = self.settings

        def adam(learning_rate):
            return keras.optimizers.Adam(learning_rate, global_clipnorm=5.0)

        super().compile(optimizer or adam(settings.generator_learning_rate), **kw)
        self.discriminator_optimizer = discriminator_optimizer or adam(
            settings.discriminator_learning_rate
        )
        self.mle_optimizer = mle_optimizer or adam(settings.generator_learning_rate)
        self.optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.mle_optimizer.build(self.generator.trainable_variables)

    @property
    def extra_optimizers(self):
        """The optimizers besides `optimizer`, for `TrainingState` snapshots."""
        return [self.discriminator_optimizer, self.mle_optimizer]

    # The compiled updates.
    def _discriminator_step(self, real_ids, real_mask, fake_ids, fake_mask):
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            loss, real_accuracy, fake_accuracy = discriminator_loss(
                self.discriminator(real_ids, real_mask, training=True),
                self.discriminator(fake_ids, fake_mask, training=True),
            )
        self.discriminator_optimizer.apply(tape.gradient(loss, variables), variables)
        return loss, real_accuracy, fake_accuracy

    def generator_loss(self, ids, mask, advantages):
        """The policy-gradient loss `-mean_i Σ_t A_it log π(y_it)` of sampled
        sequences `ids` (start token first) with constant advantages: the
        discriminator reaches the generator only through them."""
        # Dropout off: the policy that sampled, scored exactly.
        log_probs = token_log_probs(self.generator, ids)
        return policy_loss(log_probs, log_probs, advantages, mask)[0]

    def _generator_step(self, ids, mask, advantages):
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            loss = self.generator_loss(ids, mask, advantages)
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    def _mle_step(self, ids, mask):
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            log_probs = token_log_probs(self.generator, ids, training=True)
            loss = -tf.reduce_sum(log_probs * mask) / tf.reduce_sum(mask)
        self.mle_optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    # Host-side pieces.
    def discriminate(self, token_ids, mask) -> np.ndarray:
        """`D`: the discriminator's probability "real", float64 `(n,)`, scored
        in chunks of `SCORE_CHUNK` rows (one compiled shape)."""
        arrays = [np.asarray(token_ids, np.int32), np.asarray(mask, bool)]
        out = [
            np.asarray(self._discriminate(ids, rows))[:real]
            for (ids, rows), real in padded_chunks(arrays, SCORE_CHUNK)
        ]
        return np.concatenate(out).astype("float64")

    def token_values(self, token_ids, mask, seed) -> np.ndarray:
        """`Q_t` `(n, L)` of sampled sequences under the configured credit."""
        settings, fmt = self.settings, self.sequence_format
        n, length = token_ids.shape
        if settings.credit == "prefix":
            masks = prefix_masks(mask)
            scores = self.discriminate(np.repeat(token_ids, length, 0), masks)
            return scores.reshape(n, length)
        completed = complete_prefixes(
            self.generator, token_ids, settings.rollouts, seed, fmt
        )
        flat = completed.reshape(-1, length)
        scores = self.discriminate(flat, fmt.mask(flat))
        return rollout_values(
            scores.reshape(n, length - 1, settings.rollouts),
            self.discriminate(token_ids, mask),
        )

    def _real_batch(self, step, index, stream=_REAL):
        rng = np.random.default_rng([self.settings.seed, stream, step, index])
        rows = rng.choice(len(self.real_sequences), self.settings.batch_size, False)
        return self.real_sequences[rows], self.real_mask[rows]

    def _train_discriminator(self, step, index):
        real_ids, real_mask = self._real_batch(step, index)
        fake_ids, fake_mask = sample_sequences(
            self.generator,
            self.settings.batch_size,
            _seed(self.settings.seed, _DISCRIMINATOR, step, index),
            self.sequence_format,
        )
        values = self._update_discriminator(real_ids, real_mask, fake_ids, fake_mask)
        self.update(**dict(zip(LOGGED[:3], values, strict=True)))

    def _train_generator(self, step, index):
        settings, fmt = self.settings, self.sequence_format
        seed = _seed(settings.seed, _GENERATOR, step, index)
        token_ids, mask = sample_sequences(
            self.generator, settings.batch_size, seed, fmt
        )
        values = self.token_values(token_ids, mask, seed + 1)
        ids = fmt.with_start(token_ids)
        log_probs = reference = None
        if settings.kl_coef:
            log_probs = np.asarray(self._score(ids))
            reference = np.asarray(self._score_reference(ids))
        advantages, kl = token_advantages(
            values, mask, log_probs, reference, settings.kl_coef, settings.baseline
        )
        loss = self._update_generator(
            ids, mask.astype("float32"), tf.constant(advantages, tf.float32)
        )
        rewards = values[:, -1]  # D(y) of the whole samples
        self.update(
            generator_loss=loss,
            reward_mean=rewards.mean(),
            reward_std=rewards.std(),
            kl=kl.mean(),
        )
        self.last_samples = [
            ("", self.detokenize(row[m].tolist()), float(r))
            for row, m, r in zip(token_ids, mask, rewards, strict=True)
        ]

    def _train_mle(self, step, index):
        real_ids, real_mask = self._real_batch(step, index, _MLE)
        ids = self.sequence_format.with_start(real_ids)
        loss = self._update_mle(ids, real_mask.astype("float32"))
        self.update(mle_loss=loss)

    def train_step(self, data):
        settings = self.settings
        step = int(self.completed_steps.numpy())
        if step >= settings.total_steps:
            # `fit`'s epochs may round the step count up: nothing more to do.
            self.stop_training = True
            return self.logs()
        if step < settings.discriminator_pretrain_steps:
            self._train_discriminator(step, 0)
        else:
            for index in range(settings.discriminator_steps):
                self._train_discriminator(step, index)
            for index in range(settings.generator_steps):
                self._train_generator(step, index)
            for index in range(settings.mle_steps):
                self._train_mle(step, index)
        self.completed_steps.assign_add(1)
        # Epoch means of the steps that ran each update: 0 for the
        # generator's during discriminator pre-training, `kl` 0 without a KL
        # penalty.
        return self.logs()
