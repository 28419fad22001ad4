"""`dpo()`: Direct Preference Optimization on (prompt, chosen, rejected) pairs.

Same log-probability machinery as RL fine-tuning (`objectives`): each
completion, followed by end-of-text, is packed after its prompt and scored
by one forward pass. The frozen reference's sequence log-probs are computed
once before training; the update is an ordinary graph-mode Keras
`train_step` (no sampling) that picks its pairs by step, so `fit`,
callbacks, resuming and TensorBoard work as in every recipe. Loss: Rafailov
et al. (NeurIPS 2023), equation 7.
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import tensorflow as tf

from keras_nlg.files import read_text_file
from keras_nlg.training.fit import TrainResult, check_out_dir
from keras_nlg.training.lora import enable_lora
from keras_nlg.training.rl.config import RLConfig
from keras_nlg.training.rl.objectives import dpo_loss, token_log_probs
from keras_nlg.training.rl.rollouts import (
    bucketed_width,
    pack,
    prompt_ids,
    text_ids,
)
from keras_nlg.training.rl.run import (
    batch_of_step,
    check_batch_size,
    compile_trainer,
    epochs_of,
    fit_trainer,
    load_start,
    save_tuned,
)
from keras_nlg.training.rl.step_trainer import StepTrainer

PAIR_FIELDS = ("prompt", "chosen", "rejected")


def read_pairs(path: str) -> list[dict]:
    """Reads a JSONL file of `{"prompt", "chosen", "rejected"}` objects.

    Raises:
        ValueError: naming the file and line for bad JSON, a missing field,
            a value that is not a string, or a file without pairs.
    """
    pairs = []
    for number, line in enumerate(
        read_text_file(path, "the preference pairs").splitlines(), start=1
    ):
        if not line.strip():
            continue
        try:
            pair = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}, line {number}: not JSON ({error.msg})") from None
        pairs.append(check_pair(pair, f"{path}, line {number}"))
    if not pairs:
        raise ValueError(f"{path} holds no preference pairs.")
    return pairs


def check_pair(pair, where: str) -> dict:
    """The pair if it has the three string fields, else a `ValueError` at `where`."""
    if not isinstance(pair, dict) or any(
        not isinstance(pair.get(name), str) for name in PAIR_FIELDS
    ):
        raise ValueError(
            f"{where}: a pair needs string fields {list(PAIR_FIELDS)}. "
            f"Received: {pair!r:.120}"
        )
    return {name: pair[name] for name in PAIR_FIELDS}


def _sequence_log_probs(model, packed, batch_size=32):
    """Each side's sequence log-probs (completion tokens summed) under `model`,
    float32 `(pairs,)`: `[(chosen), (rejected)]` for `pack_pairs`' output."""
    score = tf.function(
        lambda ids: token_log_probs(model, ids), jit_compile=True, autograph=False
    )
    sides = []
    for token_ids, mask in (packed[:2], packed[2:]):
        totals = [
            np.sum(
                score(tf.constant(token_ids[i : i + batch_size])).numpy()
                * mask[i : i + batch_size],
                -1,
            )
            for i in range(0, len(token_ids), batch_size)
        ]
        sides.append(np.concatenate(totals).astype("float32"))
    return sides


class DPOTrainer(StepTrainer):
    """Trains `policy` by DPO on packed pairs and their reference log-probs.

    `pairs` is `(chosen, chosen_mask, rejected, rejected_mask, ref_chosen,
    ref_rejected)` for every pair; `order` `(steps, batch)` names the pairs
    of each update. A step picks its batch by the optimizer's step count, so
    a run resumed by `BackupAndRestore` continues the same sequence; `fit`
    iterates a dummy dataset (`step_dataset`).
    """

    def __init__(self, policy, beta: float, pairs, order):
        super().__init__()
        self.policy = policy
        self.beta = beta
        self._pairs = [tf.constant(array) for array in pairs]
        self._order = tf.constant(order, tf.int32)
        self.track(("loss", "margin", "accuracy"))
        self.built = True  # the policy is built; BackupAndRestore needs this

    def call(self, token_ids, training=False):
        return self.policy(token_ids, training=training)

    def train_step(self, data):
        step = tf.cast(self.optimizer.iterations, tf.int32) % tf.shape(self._order)[0]
        batch = tf.gather(self._order, step)
        chosen, chosen_mask, rejected, rejected_mask, ref_chosen, ref_rejected = [
            tf.gather(array, batch) for array in self._pairs
        ]
        variables = self.policy.trainable_variables
        # Dropout off, as the reference's log-probs were computed.
        with tf.GradientTape() as tape:
            chosen_lp = tf.reduce_sum(
                token_log_probs(self.policy, chosen) * chosen_mask, -1
            )
            rejected_lp = tf.reduce_sum(
                token_log_probs(self.policy, rejected) * rejected_mask,
                -1,
            )
            loss, margins = dpo_loss(
                chosen_lp, rejected_lp, ref_chosen, ref_rejected, self.beta
            )
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        self.update(
            loss=loss, margin=margins, accuracy=tf.cast(margins > 0, tf.float32)
        )
        return self.logs()


def pair_order(num_pairs: int, batch_size: int, steps: int, seed: int):
    """`(steps, batch_size)` pair indices, `run.batch_of_step` for each step.

    Raises:
        ValueError: if there are fewer pairs than `batch_size`.
    """
    check_batch_size(num_pairs, batch_size, "pairs")
    rows = [batch_of_step(num_pairs, batch_size, step, seed) for step in range(steps)]
    return np.asarray(rows, np.int32)


def pack_pairs(tokenizer, pairs, context_length):
    """`(chosen ids, chosen mask, rejected ids, rejected mask)`, one width."""
    prompts = [prompt_ids(tokenizer, p["prompt"]) for p in pairs]
    sides = {}
    for side in ("chosen", "rejected"):
        sides[side] = [
            text_ids(tokenizer, p[side]) + [tokenizer.end_of_text_id] for p in pairs
        ]
    longest = max(
        len(prompt) + len(completion)
        for side in sides.values()
        for prompt, completion in zip(prompts, side, strict=True)
    )
    if context_length is not None and longest > context_length + 1:
        raise ValueError(
            f"The longest prompt + completion has {longest - 1} tokens, more than "
            f"the model's context of {context_length}."
        )
    width = bucketed_width(longest, context_length)
    packed = []
    for side in ("chosen", "rejected"):
        packed.extend(pack(prompts, sides[side], tokenizer.padding_id, width))
    return packed


def dpo(
    model_dir: str,
    pairs,
    out_dir: str,
    config: RLConfig | None = None,
    *,
    callbacks: list | None = None,
    verbose="auto",
    overwrite: bool = False,
    **overrides,
) -> TrainResult:
    """DPO fine-tuning of a model directory on preference pairs.

    Args:
        model_dir: a keras_nlg model directory (also the frozen reference).
        pairs: a JSONL path or a list of `{"prompt", "chosen", "rejected"}`.
        out_dir: the model directory to write (not `model_dir`).
        config: an `RLConfig` (`beta`, `steps`, `steps_per_epoch`,
            `prompts_per_step` = pairs per batch, `learning_rate`,
            `lora_rank`); default `RLConfig()`.
        callbacks, verbose, overwrite: as in `keras_nlg.training.train`.
        **overrides: `RLConfig` fields.

    Returns:
        A `TrainResult`; `history` holds `loss`, `margin` (mean implicit
        reward margin) and `accuracy` (share of pairs with margin > 0).

    Raises:
        ValueError: for invalid settings, malformed pairs (naming the file
            and line or the pair), or pairs that don't fit the context.
    """
    config = (config or RLConfig()).replace(**overrides)
    if isinstance(pairs, (str, os.PathLike)):
        pairs = read_pairs(os.fspath(pairs))
    else:
        if not pairs:
            raise ValueError("`pairs` is empty: DPO needs preference pairs.")
        pairs = [check_pair(p, f"pairs[{i}]") for i, p in enumerate(pairs)]
    check_out_dir(out_dir, overwrite, model_dir)
    keras.utils.set_random_seed(config.seed)
    start = load_start(model_dir)
    policy, tokenizer = start.policy, start.tokenizer
    packed = pack_pairs(tokenizer, pairs, getattr(policy, "context_length", None))
    chosen, chosen_mask, rejected, rejected_mask = packed
    # The reference is the starting model: its log-probs, before any update.
    ref_chosen, ref_rejected = _sequence_log_probs(policy, packed)
    if config.lora_rank is not None:
        enable_lora(policy, config.lora_rank, config.lora_alpha)
    epochs, epoch_steps = epochs_of(config)
    order = pair_order(
        len(pairs), config.prompts_per_step, epochs * epoch_steps, config.seed
    )
    trainer = DPOTrainer(
        policy,
        config.beta,
        (chosen, chosen_mask, rejected, rejected_mask, ref_chosen, ref_rejected),
        order,
    )
    compile_trainer(trainer, policy, config)
    run = fit_trainer(trainer, out_dir, config, callbacks, verbose)
    return save_tuned(start, out_dir, config, {"dpo": {"pairs": len(pairs)}}, run)
