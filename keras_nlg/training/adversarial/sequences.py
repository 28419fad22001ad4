"""Fixed-length token sequences: real ones from data, fake ones from the
generator, and the Monte Carlo completions of their prefixes.

A GAN for text compares whole sequences, so both sides share one format
(`SequenceFormat`): each sequence is the first `length` tokens a generator
emits after `start_id`, ending at `end_of_text_id` (kept, stopping is part of
the text) or at `length` tokens; columns after the end hold `padding_id`,
and a boolean mask marks the real columns. The oracle benchmark has no end
token (`end_of_text_id=None`): every sequence is exactly `length` tokens.

Sampling is our compiled generation loop (`generation.engine`), called on
token ids: plain ancestral sampling at temperature 1, so the samples come
from the policy whose gradient the trainer takes. Completions of prefixes
(SeqGAN's rollouts) are one batch with every prefix length at once: rows are
left-padded prompts `[start, y_1 … y_t]` with a per-row budget of
`length - t` new tokens, so one compiled program serves every step.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from keras_nlg.generation.config import GenerationConfig
from keras_nlg.generation.engine import Processing, compiled_decode
from keras_nlg.generation.generate import config_knobs
from keras_nlg.generation.portable import row_seeds

_SAMPLING = Processing(do_sample=True)
# Texts per tokenizer call (one call per text costs ~3 ms each).
_TEXTS_PER_CALL = 1024
# Rows per compiled decode of completions: one program, and memory bounded
# (each row has its own cache and (rows, vocabulary) logits per step).
ROLLOUT_CHUNK = 4096
_NEVER = -1  # an end-of-text id no token equals (sequences without an end)


@dataclasses.dataclass(frozen=True)
class SequenceFormat:
    """How sequences look: `start_id`, optional `end_of_text_id`,
    `padding_id`, and `length` (tokens per sequence, the end token
    included)."""

    start_id: int
    end_of_text_id: int | None
    padding_id: int
    length: int

    def mask(self, token_ids) -> np.ndarray:
        """bool `(n, length)`: True up to and including each row's first end
        token (every column for a row without one)."""
        token_ids = np.asarray(token_ids)
        if self.end_of_text_id is None:
            return np.ones(token_ids.shape, bool)
        is_end = token_ids == self.end_of_text_id
        ended_before = np.cumsum(is_end, axis=1) - is_end  # ends strictly before
        return ended_before == 0

    def clean(self, token_ids) -> np.ndarray:
        """`token_ids` with `padding_id` after each row's end token."""
        token_ids = np.asarray(token_ids, np.int32)
        return np.where(self.mask(token_ids), token_ids, self.padding_id).astype(
            np.int32
        )

    def with_start(self, token_ids) -> np.ndarray:
        """`(n, length + 1)`: the start token, then the sequence (what a
        language model scores in one forward pass)."""
        token_ids = np.asarray(token_ids, np.int32)
        start = np.full((len(token_ids), 1), self.start_id, np.int32)
        return np.concatenate([start, token_ids], axis=1)


def encode_texts(tokenizer, texts, sequence_format: SequenceFormat) -> np.ndarray:
    """Real sequences from texts: each text's first `length - 1` tokens, then
    end-of-text (a text cut there keeps `length` tokens and no end, as a
    sample that ran out of budget does), padded. int32 `(n, length)`.

    Raises:
        ValueError: for a format without an end token (texts need one).
    """
    if sequence_format.end_of_text_id is None:
        raise ValueError(
            "Texts need a sequence format with an end-of-text token. Received: "
            "end_of_text_id=None"
        )
    length = sequence_format.length
    rows = np.full((len(texts), length), sequence_format.padding_id, np.int32)
    for start in range(0, len(texts), _TEXTS_PER_CALL):
        ragged = tokenizer.tokenize(list(texts[start : start + _TEXTS_PER_CALL]))
        for i, ids in enumerate(ragged.to_list(), start):
            ids = (ids + [sequence_format.end_of_text_id])[:length]
            rows[i, : len(ids)] = ids
    return rows


def decode(
    model,
    prompt_ids,
    prompt_mask,
    budgets,
    seed,
    sequence_format,
    temperature=1.0,
    capacity=None,
):
    """The engine's sampling loop on left-padded prompts.

    Returns `(tokens, log_probs)`: int32 `(n, C)` new tokens (`padding_id`
    after a row's end) and float32 `(n, C)` their log-probabilities under
    the model's own distribution; `C = capacity`, default `max(budgets)`.
    """
    rows = len(prompt_ids)
    capacity = capacity or int(np.max(budgets))
    padding_mask = np.concatenate(
        [np.asarray(prompt_mask, bool), np.ones((rows, capacity), bool)], axis=1
    )
    # Plain ancestral sampling: GenerationConfig's defaults filter nothing.
    config = GenerationConfig(do_sample=True, temperature=temperature)
    knobs = config_knobs(config, rows, np.asarray(budgets, np.int32))
    seeds = row_seeds(seed, rows)
    end = sequence_format.end_of_text_id
    state = compiled_decode(model, _SAMPLING)(
        tf.constant(np.asarray(prompt_ids, np.int32)),
        tf.constant(padding_mask),
        tf.constant(capacity),
        knobs,
        seeds,
        _NEVER if end is None else end,
        sequence_format.padding_id,
    )
    return np.asarray(state.tokens), np.asarray(state.log_probs)


def sample_sequences(
    model, count: int, seed: int, sequence_format: SequenceFormat, temperature=1.0
):
    """`count` sequences sampled from `model` after the start token.

    `temperature` > 0 divides the logits (1: the model's own distribution,
    what training samples from; other values for evaluation sweeps).

    Returns `(token_ids, mask)`: int32 `(count, length)` and bool, as
    `SequenceFormat.mask`.
    """
    prompt = np.full((count, 1), sequence_format.start_id, np.int32)
    budgets = np.full(count, sequence_format.length, np.int32)
    tokens, _ = decode(
        model,
        prompt,
        np.ones((count, 1), bool),
        budgets,
        seed,
        sequence_format,
        temperature,
    )
    tokens = sequence_format.clean(tokens)
    return tokens, sequence_format.mask(tokens)


def padded_chunks(arrays, size: int):
    """Yields `(parts, real)`: the same `size` rows (fewer if the arrays are
    shorter) of each array, the last chunk padded by repeating its final
    row, and how many rows are real. One compiled shape serves every chunk."""
    total = len(arrays[0])
    size = min(size, total)
    for start in range(0, total, size):
        parts = [array[start : start + size] for array in arrays]
        real = len(parts[0])
        if real < size:
            parts = [
                np.concatenate([a, np.repeat(a[-1:], size - real, 0)]) for a in parts
            ]
        yield parts, real


def prefix_prompts(token_ids, sequence_format):
    """The prompts that continue every prefix `y_1 … y_t`, `t = 1 … L - 1`.

    Returns `(prompts, prompt_mask, budgets)`: int32 `(n, L - 1, L)` rows
    `[pad … pad, start, y_1 … y_t]` (left-padded), their bool masks, and
    int32 `(n, L - 1)` new-token budgets `L - t`; a prefix that already holds
    the end token is complete, and gets a one-token budget whose token the
    caller drops.
    """
    token_ids = np.asarray(token_ids, np.int32)
    n, length = token_ids.shape
    prompts = np.full((n, length - 1, length), sequence_format.padding_id, np.int32)
    prompt_mask = np.zeros(prompts.shape, bool)
    for t in range(1, length):
        prompts[:, t - 1, length - 1 - t] = sequence_format.start_id
        prompts[:, t - 1, length - t :] = token_ids[:, :t]
        prompt_mask[:, t - 1, length - 1 - t :] = True
    # The mask is False from the column after the end token.
    ended = ~sequence_format.mask(token_ids)[:, 1:]
    budgets = np.where(ended, 1, length - np.arange(1, length)[None, :])
    return prompts, prompt_mask, budgets.astype(np.int32)


def complete_prefixes(model, token_ids, rollouts: int, seed: int, sequence_format):
    """SeqGAN's Monte Carlo search: `rollouts` completions of every prefix.

    For each sequence `y` (`(n, L)`) and each prefix length `t` in
    `1 … L - 1`, `rollouts` rows continue `y_1 … y_t` with the model to the
    full length (`prefix_prompts`); a prefix that already ended is kept as it
    is. The `n · (L - 1) · rollouts` rows are decoded `ROLLOUT_CHUNK` at a
    time (the last chunk padded), chunk c drawing from its own seed.

    Returns int32 `(n, L - 1, rollouts, L)`: `[i, t - 1, r]` is `y_1 … y_t`
    followed by completion r, cleaned after its end token.
    """
    token_ids = np.asarray(token_ids, np.int32)
    n, length = token_ids.shape
    rows = [
        np.repeat(array.reshape(n * (length - 1), *array.shape[2:]), rollouts, 0)
        for array in prefix_prompts(token_ids, sequence_format)
    ]
    new = []
    for index, (part, real) in enumerate(padded_chunks(rows, ROLLOUT_CHUNK)):
        chunk_seed = int(np.random.default_rng([seed, index]).integers(2**31 - 1))
        tokens, _ = decode(
            model, *part, chunk_seed, sequence_format, capacity=length - 1
        )
        new.append(tokens[:real])
    new = np.concatenate(new).reshape(n, length - 1, rollouts, length - 1)
    completed = np.empty((n, length - 1, rollouts, length), np.int32)
    for t in range(1, length):
        completed[:, t - 1, :, :t] = token_ids[:, None, :t]
        completed[:, t - 1, :, t:] = new[:, t - 1, :, : length - t]
    completed = sequence_format.clean(completed.reshape(-1, length))
    return completed.reshape(n, length - 1, rollouts, length)
