"""`keras_nlg.generate`: prompts in, continuations out, on the compiled loop."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from keras_nlg.generation.engine import (
    compiled_advance,
    compiled_beam_search,
    compiled_decode,
)
from keras_nlg.validation import check_int_range, check_positive_int, check_prompts

logger = logging.getLogger(__name__)

# Prompt lengths and batch sizes are padded up to powers of two (at least
# these), so a handful of compiled loops serve every call.
MIN_PROMPT_BUCKET = 8
MIN_BATCH_BUCKET = 1
CACHE_STEP = 16
# A loop decodes at least two rows. With one, XLA:CPU fuses the reshape of
# each (hidden, heads, head_dim) attention kernel into an elemental loop that
# reads the kernel column by column (~5 GB/s, 17 of a GPT-2 step's 44 ms);
# with two it calls its matrix kernels. A filler row beside a single prompt
# took GPT-2 batch-1 greedy from 23.0 to 38.8 tok/s (benchmarks/RESULTS.md).
MIN_ROWS = 2


@dataclasses.dataclass
class Generation:
    """One generated continuation with its tokens and their log-probabilities.

    `log_probs[i]` is log p(token_ids[i] | everything before) under the
    model's own distribution (before temperature, top-k, top-p, penalty).
    """

    text: str
    token_ids: list[int]
    log_probs: list[float]


def _bucket(size, minimum):
    return max(minimum, 1 << max(0, math.ceil(math.log2(max(size, 1)))))


def check_generation_arguments(
    vocabulary_size,
    max_new_tokens,
    do_sample,
    temperature,
    top_k,
    top_p,
    repetition_penalty,
    num_beams,
    num_return_sequences,
    stop,
):
    """`ValueError`/`TypeError` naming the first bad argument of `generate`."""
    check_positive_int("max_new_tokens", max_new_tokens)
    check_positive_int("num_beams", num_beams)
    if num_beams > 1 and do_sample:
        raise ValueError(
            "Beam search is deterministic; sampling within beams is not supported. "
            f"Received: num_beams={num_beams}, do_sample=True"
        )
    if do_sample and not temperature > 0:
        raise ValueError(
            "`temperature` must be > 0 when sampling (use do_sample=False for "
            f"greedy). Received: temperature={temperature!r}"
        )
    check_int_range("top_k", top_k, 0, vocabulary_size, " (0 = off)")
    if not 0 < top_p <= 1:
        raise ValueError(f"`top_p` must be in (0, 1]. Received: top_p={top_p!r}")
    if not repetition_penalty >= 1:
        raise ValueError(
            "`repetition_penalty` must be ≥ 1 (1 = off). "
            f"Received: repetition_penalty={repetition_penalty!r}"
        )
    check_positive_int("num_return_sequences", num_return_sequences)
    if num_beams > 1 and num_return_sequences > num_beams:
        raise ValueError(
            "Beam search returns at most num_beams sequences. "
            f"Received: num_return_sequences={num_return_sequences}, "
            f"num_beams={num_beams}"
        )
    if num_return_sequences > 1 and not do_sample and num_beams == 1:
        raise ValueError(
            "Greedy decoding returns the same sequence every time; use "
            "do_sample=True for several sequences. "
            f"Received: num_return_sequences={num_return_sequences}, do_sample=False"
        )
    if stop is not None and (
        isinstance(stop, str) or not all(isinstance(s, str) and s for s in stop)
    ):
        raise TypeError(
            f"`stop` must be a list of non-empty strings. Received: stop={stop!r}"
        )


def _prompt_tokens(tokenizer, prompt, room, truncate):
    ids = np.asarray(tokenizer.tokenize(prompt), np.int32).tolist()
    if not ids:
        return [tokenizer.end_of_text_id]  # an empty prompt starts a document
    if room is not None and len(ids) > room:
        if not truncate:
            raise ValueError(
                f"The prompt has {len(ids)} tokens, more than the {room} that fit "
                "before the new tokens in the context. Shorten it, lower "
                "max_new_tokens, or pass truncate=True. "
                f"Received: prompt={prompt[:40]!r}…"
            )
        logger.warning(
            "Prompt of %d tokens left-truncated to the last %d to fit the context.",
            len(ids),
            room,
        )
        ids = ids[-room:]
    return ids


def _cut_at_stop(text, stop):
    cuts = [text.find(s) for s in stop or () if s in text]
    return text[: min(cuts)] if cuts else text


def _decode_row(tokenizer, ids, stop):
    """Generated ids → `(ids before end-of-text, text, ended)`.

    `ended` says the row ended here: at end-of-text or at a stop string.
    """
    ended = tokenizer.end_of_text_id in ids
    if ended:
        ids = ids[: ids.index(tokenizer.end_of_text_id)]
    text = tokenizer.detokenize(np.asarray(ids, np.int32)).numpy().decode("utf-8")
    cut = _cut_at_stop(text, stop)
    return ids, cut, ended or cut != text


def _pad_prompts(model, tokenizer, prompts, max_new_tokens, truncate, copies):
    """Tokenizes and left-pads `copies` rows per prompt into bucketed shapes.

    Returns `(prompt_ids (B, P), padding_mask (B, S))` as tensors, with `B`,
    `P` and `S` rounded up to buckets so that calls share compiled loops.
    """
    max_length = getattr(model, "max_length", None)
    if max_length is not None and max_new_tokens >= max_length:
        raise ValueError(
            f"`max_new_tokens` must leave room for the prompt in the context of "
            f"max_length={max_length}. Received: max_new_tokens={max_new_tokens}"
        )
    room = None if max_length is None else max_length - max_new_tokens
    prompt_ids = [_prompt_tokens(tokenizer, p, room, truncate) for p in prompts]
    rows = [ids for ids in prompt_ids for _ in range(copies)]
    batch = max(_bucket(len(prompt_ids), MIN_BATCH_BUCKET) * copies, MIN_ROWS)
    longest = max(len(ids) for ids in rows)
    prompt_length = _bucket(longest, MIN_PROMPT_BUCKET)
    if room is not None and prompt_length > room:
        prompt_length = longest  # a rare shape: exact, rather than no room
    # The cache holds prompt + new tokens, in steps of 64, within the context.
    needed = prompt_length + max_new_tokens
    total_length = CACHE_STEP * math.ceil(needed / CACHE_STEP)
    if max_length is not None:
        total_length = min(total_length, max_length)
    padded = np.full((batch, prompt_length), tokenizer.padding_id, np.int32)
    padding_mask = np.ones((batch, total_length), bool)
    for row, ids in enumerate(rows):
        padded[row, prompt_length - len(ids) :] = ids
        padding_mask[row, : prompt_length - len(ids)] = False
    for row in range(len(rows), batch):  # filler rows, discarded by the caller
        padded[row, -1] = tokenizer.end_of_text_id
        padding_mask[row, : prompt_length - 1] = False
    return tf.constant(padded), tf.constant(padding_mask)


def _sample(
    model,
    tokenizer,
    padded,
    padding_mask,
    until,
    max_new_tokens,
    do_sample,
    temperature,
    top_k,
    top_p,
    repetition_penalty,
    seed,
    state=None,
):
    """Prefills (unless `state` is given) and advances to step `until`.

    Rows end after `max_new_tokens` (≥ `until`; streaming advances in chunks).
    """
    do_sample, penalize = bool(do_sample), repetition_penalty != 1.0
    if state is None:
        # Prefill and decode in one compiled program, which may decode in
        # segments of growing cache length (see engine._cache_segments).
        decode, start = compiled_decode(model, do_sample, penalize), padded
    else:
        decode, start = compiled_advance(model, do_sample, penalize), state
    rows = padded.shape[0]
    return decode(
        start,
        padding_mask,
        tf.constant(until),
        tf.fill([rows], max_new_tokens),
        tf.constant(float(temperature)),
        tf.constant(top_k),
        tf.constant(float(top_p)),
        tf.constant(float(repetition_penalty)),
        # Row r draws from (seed, r): the same in any batch (see sampling.py).
        tf.stack([tf.fill([rows], seed % (2**31 - 1)), tf.range(rows)], axis=1),
        tokenizer.end_of_text_id,
        tokenizer.padding_id,
    )


def generate(
    model,
    tokenizer,
    prompts: str | list[str],
    max_new_tokens: int = 64,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    repetition_penalty: float = 1.0,
    num_beams: int = 1,
    length_penalty: float = 1.0,
    num_return_sequences: int = 1,
    stop: list[str] | None = None,
    seed: int | None = None,
    return_full_text: bool = False,
    return_details: bool = False,
    truncate: bool = True,
) -> list[str] | list[Generation]:
    """Continues each prompt with the compiled, cached decode loop.

    Argument names follow Hugging Face `generate()`. Greedy unless
    `do_sample`; sampling applies the repetition penalty, then temperature,
    then top-k and top-p (both may be on). Generation of a row ends at the
    tokenizer's end-of-text token or after `max_new_tokens`; `stop` strings
    then cut the text at their first occurrence (the stop string itself is
    not returned).

    Args:
        model: a `TransformerLanguageModel` or `LSTMLanguageModel`.
        tokenizer: its tokenizer.
        prompts: a string or a list of strings (an empty prompt starts from
            end-of-text).
        max_new_tokens: tokens to generate at most, per sequence.
        do_sample: sample instead of taking the argmax.
        temperature: divides the logits when sampling (> 0).
        top_k: sample among the k most likely tokens (0 = off).
        top_p: sample from the smallest set of tokens with this much
            probability, in (0, 1] (1 = off).
        repetition_penalty: ≥ 1; CTRL-style penalty on tokens already in the
            prompt or the output (1 = off; not applied in beam search).
        num_beams: beam width; > 1 runs beam search (deterministic).
        length_penalty: beam scores are log-probability / length^this; > 0
            favours longer, < 0 shorter sequences.
        num_return_sequences: sequences per prompt: samples with
            `do_sample`, the best beams (≤ `num_beams`) in beam search.
        stop: strings that end the text.
        seed: seed of the sampling: the same seed and the same prompts give
            the same text; row r of the batch (prompt i's j-th sequence is
            row i * num_return_sequences + j) draws from (seed, r), whatever
            else is in the batch. None draws a fresh seed.
        return_full_text: prepend each prompt to its continuation.
        return_details: return `Generation` objects (text, token ids,
            per-token log-probabilities) instead of strings.
        truncate: left-truncate prompts that don't fit the context (with a
            logged warning); with False, raise instead.

    Returns:
        `len(prompts) * num_return_sequences` results, the sequences of each
        prompt together and in prompt order.
    """
    prompts = check_prompts(prompts)
    check_generation_arguments(
        tokenizer.vocabulary_size,
        max_new_tokens,
        do_sample,
        temperature,
        top_k,
        top_p,
        repetition_penalty,
        num_beams,
        num_return_sequences,
        stop,
    )
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31 - 1))
    padded, padding_mask = _pad_prompts(
        model,
        tokenizer,
        prompts,
        max_new_tokens,
        truncate,
        copies=(num_beams if num_beams > 1 else num_return_sequences),
    )
    if num_beams > 1:
        search = compiled_beam_search(model, num_beams)
        tokens, log_probs, _ = search(
            padded,
            padding_mask,
            tf.constant(max_new_tokens),
            tf.constant(float(length_penalty)),
            tokenizer.end_of_text_id,
            tokenizer.padding_id,
        )
        # (prompts, beams, capacity) → the best num_return_sequences, as rows.
        keep = num_return_sequences
        tokens = np.asarray(tokens)[:, :keep].reshape(-1, tokens.shape[-1])
        log_probs = np.asarray(log_probs)[:, :keep].reshape(-1, log_probs.shape[-1])
    else:
        state = _sample(
            model,
            tokenizer,
            padded,
            padding_mask,
            max_new_tokens,
            max_new_tokens,
            do_sample,
            temperature,
            top_k,
            top_p,
            repetition_penalty,
            seed,
        )
        tokens, log_probs = np.asarray(state[5]), np.asarray(state[6])

    results = []
    for row, prompt_index in enumerate(
        i for i in range(len(prompts)) for _ in range(num_return_sequences)
    ):
        ids, text, _ = _decode_row(
            tokenizer, tokens[row, :max_new_tokens].tolist(), stop
        )
        if return_full_text:
            text = prompts[prompt_index] + text
        if return_details:
            results.append(Generation(text, ids, log_probs[row, : len(ids)].tolist()))
        else:
            results.append(text)
    return results


def _complete_prefix(text, ended, stop):
    """The part of `text` that later tokens cannot change.

    Holds back trailing U+FFFD (maybe a multi-byte character cut in half, to
    be completed by the next token) and, with stop strings, the last
    `len(longest stop) - 1` characters (maybe the start of a stop string).
    """
    if ended:
        return text
    text = text.rstrip("\ufffd")
    hold = max((len(s) for s in stop or ()), default=1) - 1
    return text[: len(text) - hold]


def generate_stream(
    model,
    tokenizer,
    prompt: str,
    max_new_tokens: int = 64,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    repetition_penalty: float = 1.0,
    stop: list[str] | None = None,
    seed: int | None = None,
    truncate: bool = True,
    tokens_per_chunk: int = 4,
) -> Iterator[str]:
    """Yields the continuation of one prompt piece by piece as it is decoded.

    The same compiled loop as `generate`, advanced `tokens_per_chunk` tokens
    per call with its state kept on the device. A piece never ends inside a
    multi-byte character or inside a possible stop string, and the pieces
    join to exactly what `generate` returns for the same arguments and seed.
    Arguments are those of `generate` (one prompt, no beams).
    """
    if not isinstance(prompt, str):
        raise TypeError(f"`prompt` must be one string. Received: prompt={prompt!r}")
    check_generation_arguments(
        tokenizer.vocabulary_size,
        max_new_tokens,
        do_sample,
        temperature,
        top_k,
        top_p,
        repetition_penalty,
        1,
        1,
        stop,
    )
    check_positive_int("tokens_per_chunk", tokens_per_chunk)
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31 - 1))
    padded, padding_mask = _pad_prompts(
        model, tokenizer, [prompt], max_new_tokens, truncate, copies=1
    )
    state, emitted, step = None, "", 0
    while True:
        step = min(step + tokens_per_chunk, max_new_tokens)
        state = _sample(
            model,
            tokenizer,
            padded,
            padding_mask,
            step,
            max_new_tokens,
            do_sample,
            temperature,
            top_k,
            top_p,
            repetition_penalty,
            seed,
            state=state,
        )
        _, text, ended = _decode_row(
            tokenizer, np.asarray(state[5])[0, :step].tolist(), stop
        )
        ended = ended or step >= max_new_tokens
        text = _complete_prefix(text, ended, stop)
        if len(text) > len(emitted):
            yield text[len(emitted) :]
            emitted = text
        if ended:
            return
