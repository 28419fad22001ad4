"""`keras_nlg.generate`: prompts in, continuations out, on the compiled loop."""

from __future__ import annotations

import dataclasses
import logging
import math

import keras
import numpy as np
import tensorflow as tf

from keras_nlg.argument_checks import check_model_and_tokenizer, check_prompts
from keras_nlg.generation.beam_search import compiled_beam_search
from keras_nlg.generation.config import (
    GenerationConfig,
    fresh_seed,
    resolve_generation_config,
)
from keras_nlg.generation.engine import (
    DecodeKnobs,
    Processing,
    compiled_advance,
    compiled_decode,
    knobs_for_rows,
)
from keras_nlg.generation.packing import pack_prompts
from keras_nlg.generation.portable import row_seeds, sample_rows
from keras_nlg.generation.shapes import (
    MIN_BATCH_BUCKET,
    MIN_ROWS,
    block_lengths,
    bucket,
)
from keras_nlg.generation.stopping import ids_to_text

logger = logging.getLogger(__name__)

# With stop strings, the loop stops every this many tokens so that the host
# can look for them, mark the rows that hit one finished, and end the loop
# once every row is done (the compiled loop can't search detokenized text).
STOP_CHECK_TOKENS = 16


@dataclasses.dataclass
class Generation:
    """One generated continuation with its tokens and their log-probabilities.

    `token_ids` are exactly the tokens behind `text` (`keras_nlg.generation.
    stopping`): end-of-text is not among them, nothing after a stop string
    is, and `detokenize(token_ids)` equals `text` (the continuation, without
    the prompt), or is `text` followed by the start of the stop string when
    that begins inside the last token. `len(log_probs) == len(token_ids)`;
    `log_probs[i]` is log p(token_ids[i] | everything before) under the
    model's own distribution (before temperature, top-k, top-p, penalty).
    """

    text: str
    token_ids: list[int]
    log_probs: list[float]


def _prompt_tokens(tokenizer, prompt, room, truncate):
    ids = np.asarray(tokenizer.tokenize(prompt), np.int32).tolist()
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
    return ids


def pad_prompts(model, tokenizer, prompts, max_new_tokens, truncate, copies):
    """Tokenizes and packs `copies` rows per prompt into bucketed shapes.

    Returns `(prompt_ids (B, P), padding_mask (B, S))` as tensors, with `B`,
    `P` and `S` rounded up to buckets so that calls share compiled loops.
    """
    context_length = model.context_length
    if context_length is not None and max_new_tokens >= context_length:
        raise ValueError(
            f"`max_new_tokens` must leave room for the prompt in the context of "
            f"context_length={context_length}. Received: max_new_tokens="
            f"{max_new_tokens}"
        )
    room = None if context_length is None else context_length - max_new_tokens
    ids = [_prompt_tokens(tokenizer, p, room, truncate) for p in prompts]
    rows = [row for row in ids for _ in range(copies)]
    batch = max(bucket(len(ids), MIN_BATCH_BUCKET) * copies, MIN_ROWS)
    longest = min(max(max(len(row), 1) for row in rows), room or math.inf)
    prompt_length, total_length = block_lengths(longest, max_new_tokens, context_length)
    ragged = tf.RaggedTensor.from_row_lengths(
        np.asarray([token for row in rows for token in row], np.int32),
        np.asarray([len(row) for row in rows], np.int64),
    )
    prompt_ids, padding_mask, _ = pack_prompts(
        ragged,
        room if room is not None else longest,
        batch,
        prompt_length,
        total_length,
        tokenizer.end_of_text_id,
        tokenizer.padding_id,
    )
    return prompt_ids, padding_mask


def processing_of(config: GenerationConfig) -> Processing:
    """Which compiled loop runs `config` (see `engine.Processing`)."""
    return Processing(
        do_sample=config.do_sample,
        penalize=config.repetition_penalty != 1.0,
        no_repeat_ngram=config.no_repeat_ngram_size > 0,
    )


def decode_arguments(
    config: GenerationConfig, tokenizer, rows: int, seed: int, real_rows: int
):
    """`(knobs, seeds, end_of_text_id, padding_id)` for a sampling loop.

    Rows from `real_rows` on are filler (padding the batch to its bucket):
    they decode one token, so that they never keep the loop running after
    every real row has ended.
    """
    budgets = np.where(np.arange(rows) < real_rows, config.max_new_tokens, 1)
    knobs = config_knobs(config, rows, budgets)
    return knobs, row_seeds(seed, rows), tokenizer.end_of_text_id, tokenizer.padding_id


def config_knobs(config: GenerationConfig, rows: int, max_new_tokens):
    """`DecodeKnobs` for `rows` rows: every knob is the `GenerationConfig`
    field of the same name, except the per-row budgets `max_new_tokens`."""
    settings = {name: getattr(config, name) for name in DecodeKnobs._fields}
    return knobs_for_rows(rows, **{**settings, "max_new_tokens": max_new_tokens})


def run_sampling(
    config,
    tokenizer,
    model,
    prompt_ids,
    padding_mask,
    until,
    seed,
    real_rows,
    state=None,
):
    """Prefills (unless `state` is given) and advances to step `until`.

    `until` travels as a tensor, so another step count never retraces.
    """
    arguments = decode_arguments(
        config, tokenizer, prompt_ids.shape[0], seed, real_rows
    )
    if state is None:
        # Prefill and decode in one compiled program, which may decode in
        # segments of growing cache length (see engine._cache_segments).
        decode = compiled_decode(model, processing_of(config))
        return decode(prompt_ids, padding_mask, tf.constant(until), *arguments)
    advance = compiled_advance(model, processing_of(config))
    return advance(state, padding_mask, tf.constant(until), *arguments)


def sample_until_done(
    config, tokenizer, model, prompt_ids, padding_mask, seed, real_rows
):
    """Runs the sampling loop until every real row has ended; the final state.

    Without stop strings: one compiled program (prefill and loop), which
    ends by itself once every row has emitted end-of-text or its budget.
    With stop strings: the same loop in chunks of `STOP_CHECK_TOKENS` tokens
    (`until` is a tensor: no retracing), the host marking the rows whose
    text holds a stop string finished between chunks, until all real rows
    are done or `max_new_tokens` is reached.
    """
    budget = config.max_new_tokens
    if not config.stop_strings:
        return run_sampling(
            config,
            tokenizer,
            model,
            prompt_ids,
            padding_mask,
            budget,
            seed,
            real_rows,
        )
    state, step = None, 0
    while True:
        step = min(step + STOP_CHECK_TOKENS, budget)
        state = run_sampling(
            config,
            tokenizer,
            model,
            prompt_ids,
            padding_mask,
            step,
            seed,
            real_rows,
            state,
        )
        if int(state.step) >= budget:  # the budget, or every row ended
            return state
        finished = np.asarray(state.finished).copy()
        tokens = np.asarray(state.tokens)
        for row in np.flatnonzero(~finished[:real_rows]):
            _, _, ended = ids_to_text(
                tokenizer, tokens[row, :step].tolist(), config.stop_strings
            )
            finished[row] = ended
        if finished[:real_rows].all():
            return state
        state = state._replace(finished=tf.constant(finished))


def generate(
    model,
    tokenizer,
    prompts: str | list[str],
    generation_config: GenerationConfig | None = None,
    *,
    return_full_text: bool = False,
    return_details: bool = False,
    truncate: bool = True,
    **overrides,
) -> list[str] | list[Generation]:
    """Continues each prompt with the compiled, cached decode loop.

    The settings are `generation_config` (default: the model's own
    `model.generation_config`, read from its directory's
    `generation_config.json` by `keras_nlg.load`, else `GenerationConfig()`:
    greedy, 64 new tokens) with the keyword `overrides` applied, Hugging
    Face style: `generate(model, tokenizer, "Hi", do_sample=True, top_p=0.9)`.
    See `GenerationConfig` for every setting and the order the logits
    processors run in. A row ends at the tokenizer's end-of-text token,
    after `max_new_tokens`, or where a stop string begins, and decoding
    ends once every row has ended. The text, token ids and log-probs of a
    result agree by one rule (`keras_nlg.generation.stopping`): `token_ids`
    are the fewest tokens whose text starts with `text`, so they end with
    the token in which the stop string begins when it begins inside one.
    With beams, stop strings cut the best hypotheses after the search.

    Args:
        model: a `keras_nlg.models.LanguageModel`.
        tokenizer: its tokenizer.
        prompts: a string or a list of strings (an empty prompt starts from
            end-of-text). Row r of the batch (prompt i's j-th sequence is row
            i * num_return_sequences + j) samples from (seed, r), whatever
            else is in the batch.
        generation_config: a `GenerationConfig`, or None.
        return_full_text: prepend each prompt to its continuation.
        return_details: return `Generation` objects (text, the token ids
            behind it, one log-probability per id) instead of strings.
        truncate: left-truncate prompts that don't fit the context (with a
            logged warning); with False, raise instead.
        **overrides: `GenerationConfig` fields (`stop` is a deprecated alias
            of `stop_strings`).

    Returns:
        `len(prompts) * num_return_sequences` results, the sequences of each
        prompt together and in prompt order.

    Raises:
        ValueError: for a setting out of range (naming it and the value), or
            a prompt that doesn't fit with `truncate=False`.
        TypeError: for prompts that are not strings or an unknown setting.
    """
    check_model_and_tokenizer(model, tokenizer)
    config = resolve_generation_config(model, generation_config, overrides)
    prompts = check_prompts(prompts)
    config.check_vocabulary(tokenizer.vocabulary_size)
    seed = fresh_seed(config)
    per_prompt = config.num_return_sequences
    prompt_ids, padding_mask = pad_prompts(
        model,
        tokenizer,
        prompts,
        config.max_new_tokens,
        truncate,
        copies=config.num_beams if config.num_beams > 1 else per_prompt,
    )
    if keras.backend.backend() != "tensorflow":
        tokens, log_probs = sample_rows(
            model,
            config,
            prompt_ids,
            padding_mask,
            seed,
            len(prompts) * per_prompt,
            tokenizer.end_of_text_id,
            tokenizer.padding_id,
        )
    elif config.num_beams > 1:
        search = compiled_beam_search(model, config.num_beams)
        tokens, log_probs, _ = search(
            prompt_ids,
            padding_mask,
            tf.constant(config.max_new_tokens),
            tf.constant(config.min_new_tokens),
            tf.constant(float(config.length_penalty)),
            tokenizer.end_of_text_id,
            tokenizer.padding_id,
        )
        # (prompts, beams, capacity) → the best num_return_sequences, as rows.
        tokens = np.asarray(tokens)[:, :per_prompt].reshape(-1, tokens.shape[-1])
        log_probs = np.asarray(log_probs)[:, :per_prompt]
        log_probs = log_probs.reshape(-1, log_probs.shape[-1])
    else:
        state = sample_until_done(
            config,
            tokenizer,
            model,
            prompt_ids,
            padding_mask,
            seed,
            real_rows=len(prompts) * per_prompt,
        )
        tokens, log_probs = np.asarray(state.tokens), np.asarray(state.log_probs)

    results = []
    for row in range(len(prompts) * per_prompt):
        ids, text, _ = ids_to_text(
            tokenizer,
            tokens[row, : config.max_new_tokens].tolist(),
            config.stop_strings,
        )
        if return_full_text:
            text = prompts[row // per_prompt] + text
        if return_details:
            results.append(Generation(text, ids, log_probs[row, : len(ids)].tolist()))
        else:
            results.append(text)
    return results
