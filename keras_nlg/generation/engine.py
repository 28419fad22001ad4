"""The compiled decode loop: prefill once, then one cached step per token.

Each loop is a `tf.function(jit_compile=True)` around a `tf.while_loop` over
the model's static-shape cache (the `call_with_cache` contract of
`keras_nlg.models.LanguageModel`). Every shape depends only on the (batch,
prompt-length) bucket and every setting is a tensor (`DecodeKnobs`), so
repeated calls in the same bucket never retrace; what a loop computes at all
is fixed per compiled loop (`Processing`), so the common case carries no
bookkeeping for penalties it doesn't use. Sampling runs as `prefill` then
`advance` (up to a step given as a tensor): `generate` does both in one
program (`compiled_decode`), streaming advances a few tokens per call with
the state kept on the device, and the SavedModel runs `compiled_served_decode`
with every setting per row. Beam search is `beam_search.py`.
"""

import math
from typing import NamedTuple

import tensorflow as tf
from keras import ops

from keras_nlg.generation.logits_processors import (
    apply_repetition_penalty,
    ban_end_of_text,
    per_row,
    repeated_ngram_bans,
)
from keras_nlg.generation.sampling import select_next_token
from keras_nlg.generation.tracing import traced_once
from keras_nlg.layers.column_update import update_columns


class DecodeState(NamedTuple):
    """What the decode loop carries from one step to the next.

    `tokens` int32 and `log_probs` float32 `(B, C)` are the output buffers
    (C = capacity for new tokens), `seen` bool `(B, V)` the tokens present so
    far (for the repetition penalty), `finished` bool `(B,)`, `prompt_ids`
    int32 `(B, P)` (for n-gram bans), `step` the tokens generated so far.
    """

    step: tf.Tensor
    last_logits: tf.Tensor
    cache: object
    seen: tf.Tensor
    finished: tf.Tensor
    tokens: tf.Tensor
    log_probs: tf.Tensor
    prompt_ids: tf.Tensor


class DecodeKnobs(NamedTuple):
    """The runtime settings of a loop: tensors, each a scalar or one per row.

    Their meaning is that of the `GenerationConfig` field of the same name;
    `max_new_tokens` is each row's budget (`(B,)`), and when sampling a row
    with `temperature` 0 takes the argmax (a served batch mixes greedy and
    sampled requests).
    """

    max_new_tokens: tf.Tensor
    min_new_tokens: tf.Tensor
    temperature: tf.Tensor
    top_k: tf.Tensor
    top_p: tf.Tensor
    min_p: tf.Tensor
    repetition_penalty: tf.Tensor
    no_repeat_ngram_size: tf.Tensor


class Processing(NamedTuple):
    """What a compiled loop computes (Python bools, one loop per combination)."""

    do_sample: bool = False
    penalize: bool = False  # repetition penalty
    no_repeat_ngram: bool = False


def _prefill(model, prompt_ids, padding_mask, padding_id, cache_length=None):
    """Runs the prompts through the model; returns the initial `DecodeState`.

    Args:
        prompt_ids: int32 `(B, P)`, left-padded with `padding_id`.
        padding_mask: bool `(B, S)`, False on padding columns; `S - P` is the
            static capacity for new tokens.
        cache_length: cache columns, `S` by default; fewer for the first of
            several decode segments (see `_cache_segments`).
    """
    # Static where known; a served SavedModel traces with unknown dims.
    batch, prompt_length = ops.shape(prompt_ids)
    total_length = ops.shape(padding_mask)[1]
    capacity = total_length - prompt_length
    cache_length = cache_length or total_length
    cache = model.empty_cache(batch, cache_length)
    logits, cache = model.call_with_cache(
        prompt_ids, cache, 0, padding_mask[:, :cache_length]
    )
    in_prompt = tf.one_hot(
        prompt_ids, model.vocabulary_size, on_value=True, off_value=False
    )  # (B, P, V)
    seen = tf.reduce_any(
        tf.logical_and(in_prompt, padding_mask[:, :prompt_length, None]), axis=1
    )
    return DecodeState(
        step=tf.constant(0),
        last_logits=logits[:, -1],
        cache=cache,
        seen=seen,
        finished=tf.zeros([batch], tf.bool),
        tokens=tf.fill([batch, capacity], tf.constant(padding_id, tf.int32)),
        log_probs=tf.zeros([batch, capacity], tf.float32),
        prompt_ids=prompt_ids,
    )


def _scores(state, knobs, padding_mask, processing, end_of_text_id, vocab_size):
    """The step's logits after the processors that `processing` switches on."""
    scores = ban_end_of_text(
        state.last_logits, state.step, knobs.min_new_tokens, end_of_text_id
    )
    if processing.penalize:
        scores = apply_repetition_penalty(scores, state.seen, knobs.repetition_penalty)
    if processing.no_repeat_ngram:
        sequence = tf.concat([state.prompt_ids, state.tokens], axis=1)  # (B, S)
        length = tf.shape(state.prompt_ids)[1] + state.step
        n = knobs.no_repeat_ngram_size
        banned = tf.cond(
            tf.reduce_any(n > 0),
            lambda: repeated_ngram_bans(sequence, padding_mask, length, n, vocab_size),
            lambda: tf.zeros_like(state.seen),
        )
        scores = tf.where(banned, -float("inf"), scores)
    return scores


def _advance(
    model,
    state,
    padding_mask,
    until,
    knobs,
    seeds,
    end_of_text_id,
    padding_id,
    processing,
    cache_length=None,
):
    """Decodes from `state` until step `until` or until every row has ended.

    `until` and the `DecodeKnobs` are tensors, `seeds` int32 `(B, 2)`,
    `processing` a `Processing` (Python bools). A row ends at end-of-text or
    after its budget, and gets `padding_id` afterwards. `log_probs` holds
    each token's log-probability under the model's unmodified distribution.
    A Transformer cache shorter than the padding mask (a decode segment) is
    passed as `cache_length`; `until` must then stop before its end. Returns
    the new state (its `step` is `until`, or past it once all ended).
    """
    capacity = ops.shape(state.tokens)[1]
    prompt_length = ops.shape(padding_mask)[1] - capacity
    model_mask = padding_mask[:, :cache_length] if cache_length else padding_mask
    vocabulary_size = model.vocabulary_size
    never = capacity + 1  # a step past the capacity: "all rows ended"

    def keep_going(state):
        return state.step < until

    def body(state):
        scores = _scores(
            state, knobs, padding_mask, processing, end_of_text_id, vocabulary_size
        )
        token = select_next_token(
            scores,
            processing.do_sample,
            knobs.temperature,
            knobs.top_k,
            knobs.top_p,
            seeds,
            state.step,
            knobs.min_p,
        )
        step = state.step
        log_prob = tf.gather(tf.nn.log_softmax(state.last_logits), token, batch_dims=1)
        token = tf.where(state.finished, padding_id, token)  # (B,)
        log_prob = tf.where(state.finished, 0.0, log_prob)
        tokens = update_columns(state.tokens, step, token[:, None])
        log_probs = update_columns(state.log_probs, step, log_prob[:, None])
        finished = (
            state.finished
            | (token == end_of_text_id)
            | (step + 1 >= knobs.max_new_tokens)
        )
        seen = state.seen
        if processing.penalize:
            seen = seen | tf.one_hot(
                token, vocabulary_size, on_value=True, off_value=False
            )
        logits, cache = model.call_with_cache(
            token[:, None], state.cache, prompt_length + step, model_mask
        )
        step = tf.where(tf.reduce_all(finished), never, step + 1)
        last_logits = logits[:, -1]
        return (
            DecodeState(
                step,
                last_logits,
                cache,
                seen,
                finished,
                tokens,
                log_probs,
                state.prompt_ids,
            ),
        )

    (state,) = tf.while_loop(keep_going, body, (state,), maximum_iterations=capacity)
    return state


# Decode segments: attention reads every cache column each step, filled or
# not. Where the cache is long next to the model's width (the attention of a
# width-256 model over 1,000 columns is a quarter of its step time), a
# generation decodes in segments over caches of growing length instead, so
# that on average a step reads ~5/8 of the columns. A loop's shapes are
# fixed, so each segment is its own loop in the same XLA program; compile
# time grows with their number (small preset, 1,024 new tokens: 5.2 s with
# one, 7.7 s with four, for 580 → 607 tok/s), and growing the cache costs
# one copy per segment.
_CACHE_SEGMENTS = 4
_MIN_COLUMNS_PER_WIDTH = 3


def _cache_segments(model, prompt_length, total_length):
    """Cache lengths of the decode segments; the last is `total_length`.

    `(None,)` (one segment over the whole cache) unless the model's cache is
    per-position (`cache_spec(...).position_axis`, columns that can grow)
    and has at least `_MIN_COLUMNS_PER_WIDTH × hidden_dim` columns: below
    that, attention is a small share of a step and more loops would cost
    compile time for little.
    """
    width = getattr(model, "hidden_dim", None)
    if (
        not width
        or not isinstance(total_length, int)
        or total_length < _MIN_COLUMNS_PER_WIDTH * width
        or model.cache_spec(1, 1).position_axis is None
    ):
        return (None,)
    capacity = total_length - prompt_length
    return tuple(
        prompt_length + math.ceil(capacity * (i + 1) / _CACHE_SEGMENTS)
        for i in range(_CACHE_SEGMENTS)
    )


def _grow_cache(cache, length, axis):
    """A per-position cache with zero (empty) columns appended along `axis`."""

    def grow(tensor):
        paddings = [[0, 0]] * len(tensor.shape)
        paddings[axis] = [0, length - tensor.shape[axis]]
        return tf.pad(tensor, paddings)

    return tf.nest.map_structure(grow, cache)


def _decode(model, prompt_ids, padding_mask, until, *arguments, processing):
    """Prefill, then `_advance` to `until`, in segments (see `_cache_segments`).

    `arguments` are those of `_advance` after `until` (knobs, seeds,
    end_of_text_id, padding_id). Returns the same state as `_prefill` then
    `_advance` would, cache of full length included.
    """
    prompt_length = prompt_ids.shape[1]
    lengths = _cache_segments(model, prompt_length, padding_mask.shape[1])
    padding_id = arguments[-1]
    state = _prefill(model, prompt_ids, padding_mask, padding_id, lengths[0])
    for length in lengths:
        segment_until = until
        if length is not None:
            axis = model.cache_spec(1, 1).position_axis
            state = state._replace(cache=_grow_cache(state.cache, length, axis))
            segment_until = tf.minimum(until, length - prompt_length)
        state = _advance(
            model,
            state,
            padding_mask,
            segment_until,
            *arguments,
            processing,
            cache_length=length,
        )
    return state


def compiled_advance(model, processing: Processing):
    """XLA-compiled `_advance` for `model`, one per `Processing`.

    Called as `(state, padding_mask, until, knobs, seeds, end_of_text_id,
    padding_id)`.
    """
    return traced_once(
        model,
        ("advance", processing),
        lambda model, *arguments: _advance(model, *arguments, processing),
        per_shape=True,
    )


def compiled_decode(model, processing: Processing):
    """XLA-compiled `_decode` for `model`: prefill and advance in one program.

    Called as `(prompt_ids, padding_mask, until, knobs, seeds,
    end_of_text_id, padding_id)`.
    """
    return traced_once(
        model,
        ("decode", processing),
        lambda model, *arguments: _decode(model, *arguments, processing=processing),
        per_shape=True,
    )


def _served_decode(
    model, prompt_ids, padding_mask, knobs, seeds, end_of_text_id, padding_id
):
    """Prefill, then decode with every setting per row (the served path).

    Rows of one batch may come from different requests, so every knob is
    `(B,)`, sampling is on (rows with temperature 0 are greedy) and n-gram
    bans are compiled in (skipped at run time when no row asks for them);
    the repetition penalty is not served. Shapes may be unknown when traced.
    Returns `(tokens, log_probs)`, `(B, C)` each.
    """
    processing = Processing(do_sample=True, no_repeat_ngram=True)
    state = _prefill(model, prompt_ids, padding_mask, padding_id)
    state = _advance(
        model,
        state,
        padding_mask,
        tf.reduce_max(knobs.max_new_tokens),
        knobs,
        seeds,
        end_of_text_id,
        padding_id,
        processing,
    )
    return state.tokens, state.log_probs


def compiled_served_decode(model, jit_compile=True):
    """`_served_decode` for `model`, XLA-compiled unless `jit_compile` is False."""
    return traced_once(
        model, ("served", jit_compile), _served_decode, jit_compile=jit_compile
    )


def knobs_for_rows(rows, **settings):
    """`DecodeKnobs` with each given setting broadcast to `(rows,)` tensors."""
    dtypes = {
        "max_new_tokens": tf.int32,
        "min_new_tokens": tf.int32,
        "top_k": tf.int32,
        "no_repeat_ngram_size": tf.int32,
    }
    return DecodeKnobs(
        **{
            name: per_row(tf.cast(settings[name], dtypes.get(name, tf.float32)), rows)
            for name in DecodeKnobs._fields
        }
    )
