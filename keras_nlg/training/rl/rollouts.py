"""Rollouts: k samples per prompt from the compiled generator, packed for scoring.

The sampler is `keras_nlg.generate` itself (the XLA loop every runtime
uses), with plain ancestral sampling: `do_sample=True`, temperature 1, no
top-k/top-p, so the completions are drawn from the policy π whose gradient
the estimator takes. Completions are then packed as right-padded rows
`[prompt, completion, end-of-text?]` for one full forward pass
(`objectives.token_log_probs`), which recomputes their log-probabilities
under the current policy; `Rollouts.sampler_log_probs` keeps the sampler's
own for checks.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from keras_nlg.generation import GenerationConfig, generate

# Packed widths are rounded up to a multiple of this (within the most a
# prompt and the budget can take), so a handful of compiled scoring passes
# serve every batch while short completions aren't scored at full width.
WIDTH_STEP = 32


@dataclasses.dataclass
class Rollouts:
    """One batch of samples, `n = prompts × k` rows, the k of a prompt together.

    Attributes:
        completions: the `n` completion texts.
        token_ids: int32 `(n, W)`: prompt ids (an empty prompt: end-of-text),
            the completion's ids, end-of-text when the sample ended with it,
            then padding.
        completion_mask: float32 `(n, W - 1)`: 1 where column t - 1 of
            `token_log_probs` scores a completion token t (end-of-text
            included: stopping is an action too).
        sampler_log_probs: the sampler's log-probs of each completion's ids
            (without end-of-text), for checks.
    """

    completions: list[str]
    token_ids: np.ndarray
    completion_mask: np.ndarray
    sampler_log_probs: list[list[float]]


def text_ids(tokenizer, text: str) -> list[int]:
    """`tokenizer.tokenize(text)` as a list of ints."""
    return np.asarray(tokenizer.tokenize(text), np.int32).tolist()


def prompt_ids(tokenizer, prompt: str) -> list[int]:
    """The ids generation conditions on: the prompt's, or end-of-text if empty."""
    return text_ids(tokenizer, prompt) or [tokenizer.end_of_text_id]


def bucketed_width(columns: int, context_length=None) -> int:
    """`columns` rounded up to `WIDTH_STEP`, at most a context's forward pass
    plus its one scored-only last token (`context_length + 1`)."""
    width = WIDTH_STEP * math.ceil(columns / WIDTH_STEP)
    return width if context_length is None else min(width, context_length + 1)


def pack(prompts_ids, completions_ids, padding_id: int, width: int):
    """Right-padded `(token_ids, completion_mask)`; see `Rollouts`.

    Raises:
        ValueError: if a row doesn't fit in `width` columns.
    """
    token_ids = np.full((len(prompts_ids), width), padding_id, np.int32)
    mask = np.zeros((len(prompts_ids), width - 1), np.float32)
    for row, (prompt, completion) in enumerate(
        zip(prompts_ids, completions_ids, strict=True)
    ):
        ids = list(prompt) + list(completion)
        if len(ids) > width:
            raise ValueError(
                f"A prompt of {len(prompt)} tokens and a completion of "
                f"{len(completion)} don't fit in {width} columns."
            )
        token_ids[row, : len(ids)] = ids
        mask[row, len(prompt) - 1 : len(ids) - 1] = 1.0
    return token_ids, mask


def sample_rollouts(
    model, tokenizer, prompts, k: int, max_new_tokens: int, seed: int
) -> Rollouts:
    """Draws `k` completions per prompt and packs them (see module docstring).

    The rows are as wide as the batch's longest, rounded up to `WIDTH_STEP`
    (`bucketed_width`), so short completions aren't scored at full width.
    """
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=True,
        num_return_sequences=k,
        seed=seed,
    )
    samples = generate(model, tokenizer, list(prompts), config, return_details=True)
    each_prompt = [prompt_ids(tokenizer, prompt) for prompt in prompts]
    prompts_ids, completions_ids = [], []
    for i, sample in enumerate(samples):
        ids = list(sample.token_ids)
        if len(ids) < max_new_tokens:  # it stopped at end-of-text
            ids.append(tokenizer.end_of_text_id)
        prompts_ids.append(each_prompt[i // k])
        completions_ids.append(ids)
    longest = max(
        len(p) + len(c) for p, c in zip(prompts_ids, completions_ids, strict=True)
    )
    width = bucketed_width(longest, model.context_length)
    token_ids, mask = pack(prompts_ids, completions_ids, tokenizer.padding_id, width)
    return Rollouts(
        [s.text for s in samples], token_ids, mask, [s.log_probs for s in samples]
    )
