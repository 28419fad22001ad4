"""`RLOOTrainer`: RL fine-tuning as a Keras model whose `train_step` samples.

Each step: draw k completions for each of a batch of prompts with the
compiled generator (`rollouts.sample_rollouts`), score them with the user's
reward on the host, turn rewards into leave-one-out advantages, score the
samples under the sampling policy and the frozen starting model (one
forward pass each), then take `updates_per_batch` gradient steps of
`objectives.policy_loss`. Sampling and Python rewards can't live inside a
traced graph, so the step runs eagerly (`run_eagerly=True`); the forward
passes and the update are XLA-compiled functions of fixed shapes.

Because it is a `keras.Model` trained by `fit`, progress bars, callbacks,
`BackupAndRestore`, checkpoints and TensorBoard work as in every recipe.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_nlg.training.rl.objectives import (
    leave_one_out_advantages,
    policy_loss,
    token_log_probs,
)
from keras_nlg.training.rl.rewards import check_rewards
from keras_nlg.training.rl.rollouts import packed_width, prompt_ids, sample_rollouts

# Sample seeds: (run seed, step) → one 31-bit seed per step.
_SEED_STRIDE = 1_000_003


def log_probs_and_entropy(model, token_ids):
    """`token_log_probs` and each next-token distribution's entropy (nats),
    both `(B, T - 1)`, from one forward pass."""
    logits = tf.cast(model(token_ids[:, :-1], training=False), tf.float32)
    log_p = tf.nn.log_softmax(logits, axis=-1)
    chosen = tf.gather(log_p, token_ids[:, 1:], batch_dims=2)
    return chosen, -tf.reduce_sum(tf.exp(log_p) * log_p, axis=-1)


class RLOOTrainer(keras.Model):
    """Trains `policy` by RLOO with a KL penalty to `reference` (see module doc).

    Args:
        policy: the language model to train (its trainable weights: all, or
            LoRA adapters).
        reference: the frozen starting model (same architecture).
        tokenizer: their tokenizer.
        prompt_texts: what the generator continues, one per prompt.
        sources: what the reward sees as each prompt (the E2E MR; default
            the prompt text).
        references: per prompt, a list of reference texts (may be empty).
        reward: `reward(prompts, completions, references) -> [n]`
            (`keras_nlg.training.rl.rewards`).
        config: an `RLConfig`.

    `fit` takes a dataset of prompt indices (int64 batches of
    `config.prompts_per_step`); see `prompt_index_dataset`.
    """

    def __init__(
        self,
        policy,
        reference,
        tokenizer,
        prompt_texts,
        sources,
        references,
        reward,
        config,
    ):
        super().__init__()
        self.policy = policy
        self.reference = reference
        reference.trainable = False
        self.tokenizer = tokenizer
        self.prompt_texts = list(prompt_texts)
        self.sources = list(sources)
        self.references = [list(r) for r in references]
        self.reward = reward
        self.settings = config
        longest = max(len(prompt_ids(tokenizer, p)) for p in self.prompt_texts)
        context = getattr(policy, "context_length", None)
        if context is not None and longest + config.max_new_tokens > context:
            raise ValueError(
                f"The longest prompt has {longest} tokens; with max_new_tokens="
                f"{config.max_new_tokens} it doesn't fit the model's context of "
                f"{context} tokens. Lower max_new_tokens or shorten the prompts."
            )
        self.max_width = packed_width(longest, config.max_new_tokens, context)
        self.last_samples = []
        self._score_policy = tf.function(
            lambda ids: log_probs_and_entropy(policy, ids), jit_compile=True
        )
        self._score_reference = tf.function(
            lambda ids: token_log_probs(reference, ids), jit_compile=True
        )
        self._update = tf.function(self._update_step, jit_compile=True)
        self.built = True  # the policy is built; BackupAndRestore needs this

    def call(self, token_ids, training=False):
        return self.policy(token_ids, training=training)

    def _update_step(self, token_ids, mask, old_log_probs, reference_log_probs, adv):
        variables = self.policy.trainable_variables
        with tf.GradientTape() as tape:
            # Dropout off: the ratio and the KL compare the policy that
            # sampled with itself and the reference, all deterministic (a
            # dropout mask would make both non-zero at the first step).
            log_probs = token_log_probs(self.policy, token_ids)
            loss, stats = policy_loss(
                log_probs,
                old_log_probs,
                reference_log_probs,
                adv,
                mask,
                kl_coef=self.settings.kl_coef,
                clip_ratio=(
                    self.settings.clip_ratio
                    if self.settings.updates_per_batch > 1
                    else None
                ),
            )
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply(gradients, variables)
        return loss, stats

    def train_step(self, data):
        settings = self.settings
        k = settings.samples_per_prompt
        indices = np.asarray(data).reshape(-1).tolist()
        step = int(self.optimizer.iterations.numpy()) // settings.updates_per_batch
        seed = (settings.seed * _SEED_STRIDE + step) % (2**31 - 1)
        rollouts = sample_rollouts(
            self.policy,
            self.tokenizer,
            [self.prompt_texts[i] for i in indices],
            k,
            settings.max_new_tokens,
            seed,
            self.max_width,
        )
        sources = [self.sources[i] for i in indices for _ in range(k)]
        references = [self.references[i] for i in indices for _ in range(k)]
        n = len(rollouts.completions)
        rewards = check_rewards(
            self.reward, self.reward(sources, rollouts.completions, references), n
        )
        advantages = leave_one_out_advantages(
            rewards.reshape(-1, k), settings.normalize_advantages
        ).reshape(-1)
        token_ids = tf.constant(rollouts.token_ids)
        mask = tf.constant(rollouts.completion_mask)
        old, token_entropy = self._score_policy(token_ids)
        reference = self._score_reference(token_ids)
        adv = tf.constant(advantages, tf.float32)
        for _ in range(settings.updates_per_batch):
            loss, stats = self._update(token_ids, mask, old, reference, adv)
        self.last_samples = list(
            zip(sources, rollouts.completions, rewards.tolist(), strict=True)
        )
        tokens = float(rollouts.completion_mask.sum())
        return {
            "loss": loss,
            "reward_mean": float(rewards.mean()),
            "reward_std": float(rewards.std()),
            "kl": stats["kl"],
            "entropy": float(tf.reduce_sum(token_entropy * mask)) / max(tokens, 1.0),
            "advantage_mean": float(advantages.mean()),
            "advantage_std": float(advantages.std()),
            "clip_fraction": stats["clip_fraction"],
            "completion_tokens": tokens / n,
        }


def prompt_index_dataset(num_prompts: int, batch_size: int, seed: int):
    """Shuffled prompt indices, reshuffled each pass, in full batches, forever.

    Raises:
        ValueError: if there are fewer prompts than `batch_size`.
    """
    if num_prompts < batch_size:
        raise ValueError(
            f"`prompts_per_step` ({batch_size}) is more than the {num_prompts} "
            "prompts given. Received: prompts_per_step="
            f"{batch_size}"
        )
    return (
        tf.data.Dataset.range(num_prompts)
        .shuffle(num_prompts, seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
    )
