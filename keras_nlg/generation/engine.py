"""The compiled decode loops: prefill once, then one cached step per token.

Each loop is a `tf.function(jit_compile=True)` around a `tf.while_loop` over
the model's static-shape cache. Every shape depends only on the (batch,
prompt-length) bucket and every knob is a tensor, so repeated calls in the
same bucket never retrace. Sampling runs as `prefill` then `advance` (up to a
step given as a tensor): `generate` does both in one program (`decode`), and
streaming then advances a few tokens per call with the state kept on the
device.
"""

import math
import weakref

import tensorflow as tf
from keras import ops

from keras_nlg.generation.sampling import apply_repetition_penalty, select_next_token
from keras_nlg.models.transformer import TransformerLanguageModel

# Traced functions per model: decode and advance (greedy / sampled), one beam
# search per beam width, and the reference generator's forward pass.
_COMPILED = weakref.WeakKeyDictionary()


def _prefill(model, prompt_ids, padding_mask, padding_id, cache_length=None):
    """Runs the prompts through the model; returns the initial decode state.

    Args:
        prompt_ids: int32 `(B, P)`, left-padded with `padding_id`.
        padding_mask: bool `(B, S)`, False on padding columns; `S - P` is the
            static capacity for new tokens.
        cache_length: cache columns, `S` by default; fewer for the first of
            several decode segments (see `_cache_segments`).

    Returns:
        The state `(step, last_logits, cache, seen, finished, tokens,
        log_probs)`: `tokens` int32 and `log_probs` float32 `(B, S - P)`
        buffers, `seen` bool `(B, V)` for the repetition penalty.
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
    return (
        tf.constant(0),
        logits[:, -1],
        cache,
        seen,
        tf.zeros([batch], tf.bool),
        tf.fill([batch, capacity], tf.constant(padding_id, tf.int32)),
        tf.zeros([batch, capacity], tf.float32),
    )


def _advance(
    model,
    state,
    padding_mask,
    until,
    max_new_tokens,
    temperature,
    top_k,
    top_p,
    repetition_penalty,
    seeds,
    end_of_text_id,
    padding_id,
    do_sample,
    penalize,
    cache_length=None,
):
    """Decodes from `state` until step `until` or until every row has ended.

    `until`, the sampling knobs (scalars or one per row), `max_new_tokens`
    (int32 `(B,)`, each row's budget) and `seeds` (int32 `(B, 2)`) are
    tensors; `do_sample` and `penalize` (repetition penalty on) are Python
    bools, each combination its own compiled loop, so the common case
    carries no penalty bookkeeping. A row ends at end-of-text or after its
    budget, and gets `padding_id` afterwards. `log_probs` holds each token's
    log-probability under the model's unmodified distribution. A Transformer
    cache shorter than the padding mask (a decode segment) is passed as
    `cache_length`; `until` must then stop before its end. Returns the new
    state (its `step` is `until`, or past it once all ended).
    """
    tokens = state[5]
    capacity = ops.shape(tokens)[1]
    prompt_length = ops.shape(padding_mask)[1] - capacity
    model_mask = padding_mask[:, :cache_length] if cache_length else padding_mask
    vocabulary_size = model.vocabulary_size
    never = capacity + 1  # a step past the capacity: "all rows ended"

    def keep_going(step, *_):
        return step < until

    def body(step, last_logits, cache, seen, finished, tokens, log_probs):
        scores = last_logits
        if penalize:
            scores = apply_repetition_penalty(last_logits, seen, repetition_penalty)
        token = select_next_token(
            scores, do_sample, temperature, top_k, top_p, seeds, step
        )
        log_prob = tf.gather(tf.nn.log_softmax(last_logits), token, batch_dims=1)
        token = tf.where(finished, padding_id, token)  # (B,)
        log_prob = tf.where(finished, 0.0, log_prob)
        tokens = ops.slice_update(tokens, [0, step], token[:, None])
        log_probs = ops.slice_update(log_probs, [0, step], log_prob[:, None])
        finished = finished | (token == end_of_text_id) | (step + 1 >= max_new_tokens)
        if penalize:
            seen = tf.logical_or(
                seen, tf.one_hot(token, vocabulary_size, on_value=True, off_value=False)
            )
        logits, cache = model.call_with_cache(
            token[:, None], cache, prompt_length + step, model_mask
        )
        step = tf.where(tf.reduce_all(finished), never, step + 1)
        return step, logits[:, -1], cache, seen, finished, tokens, log_probs

    return tf.while_loop(keep_going, body, state, maximum_iterations=capacity)


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

    `(None,)` (one segment over the whole cache, whatever its kind) unless
    `model` is a Transformer whose cache has at least
    `_MIN_COLUMNS_PER_WIDTH × hidden_dim` columns: below that, attention is a
    small share of a step and more loops would cost compile time for little.
    """
    if (
        not isinstance(model, TransformerLanguageModel)
        or not isinstance(total_length, int)
        or total_length < _MIN_COLUMNS_PER_WIDTH * model.hidden_dim
    ):
        return (None,)
    capacity = total_length - prompt_length
    return tuple(
        prompt_length + math.ceil(capacity * (i + 1) / _CACHE_SEGMENTS)
        for i in range(_CACHE_SEGMENTS)
    )


def _grow_cache(cache, length):
    """A Transformer cache with zero columns appended up to `length`."""
    return tf.nest.map_structure(
        lambda c: tf.pad(c, [[0, 0], [0, length - c.shape[1]], [0, 0]]), cache
    )


def _decode(model, prompt_ids, padding_mask, until, *arguments, do_sample, penalize):
    """Prefill, then `_advance` to `until`, in segments (see `_cache_segments`).

    `arguments` are those of `_advance` after `until`. Returns the same state
    as `_prefill` then `_advance` would, cache of full length included.
    """
    prompt_length = prompt_ids.shape[1]
    lengths = _cache_segments(model, prompt_length, padding_mask.shape[1])
    padding_id = arguments[-1]
    state = _prefill(model, prompt_ids, padding_mask, padding_id, lengths[0])
    for length in lengths:
        segment_until = until
        if length is not None:
            state = (*state[:2], _grow_cache(state[2], length), *state[3:])
            segment_until = tf.minimum(until, length - prompt_length)
        state = _advance(
            model,
            state,
            padding_mask,
            segment_until,
            *arguments,
            do_sample,
            penalize,
            cache_length=length,
        )
    return state


def traced_once(model, key, function, **tf_function_options):
    """`tf.function` of `function(model, ...)`, made once per model and key.

    XLA-compiled unless `tf_function_options` say otherwise. The cache holds
    only a weak reference, so it never keeps a model alive.
    """
    functions = _COMPILED.setdefault(model, {})
    if key not in functions:
        model_ref = weakref.ref(model)
        functions[key] = tf.function(
            lambda *arguments: function(model_ref(), *arguments),
            **{"jit_compile": True, **tf_function_options},
        )
    return functions[key]


def compiled_advance(model, do_sample, penalize=False):
    """XLA-compiled `_advance` for `model`: greedy or sampled, with or without
    the repetition penalty."""
    return traced_once(
        model,
        ("advance", do_sample, penalize),
        lambda model, *arguments: _advance(model, *arguments, do_sample, penalize),
    )


def compiled_decode(model, do_sample, penalize=False):
    """XLA-compiled `_decode` for `model`: prefill and advance in one program."""
    return traced_once(
        model,
        ("decode", do_sample, penalize),
        lambda model, *arguments: _decode(
            model, *arguments, do_sample=do_sample, penalize=penalize
        ),
    )


def _beam_decode(
    model,
    prompt_ids,
    padding_mask,
    max_new_tokens,
    length_penalty,
    end_of_text_id,
    padding_id,
    num_beams,
):
    """Beam search over `num_beams` copies of each prompt.

    `prompt_ids` / `padding_mask` hold each prompt `num_beams` times in a row
    (`B = prompts × beams`). A hypothesis that emits end-of-text joins its
    prompt's pool of finished ones, scored by sum of log-probabilities /
    length^length_penalty (length = generated tokens before end-of-text);
    the search of a prompt stops when the best alive beam can no longer beat
    its worst finished one (Hugging Face's `early_stopping=False` rule).

    Returns:
        `(tokens, log_probs, scores)`: int32 `(P, K, C)`, float32 `(P, K, C)`
        and float32 `(P, K)` for the `K` best hypotheses of each prompt, best
        first (`C` = capacity for new tokens).
    """
    rows, prompt_length = prompt_ids.shape
    prompts = rows // num_beams
    capacity = padding_mask.shape[1] - prompt_length
    vocabulary_size = model.vocabulary_size
    neg_inf = tf.constant(-1e9, tf.float32)

    cache = model.empty_cache(rows, padding_mask.shape[1])
    logits, cache = model.call_with_cache(prompt_ids, cache, 0, padding_mask)
    # Only the first copy of each prompt is alive at the start: otherwise the
    # K identical beams would fill the beam with the same continuation.
    beam_scores = tf.tile(
        tf.concat([[0.0], tf.fill([num_beams - 1], neg_inf)], 0)[None], [prompts, 1]
    )  # (P, K)

    def normalize(scores, lengths):
        return scores / tf.pow(
            tf.maximum(tf.cast(lengths, tf.float32), 1.0), length_penalty
        )

    def keep_going(step, last_logits, cache, beam_scores, tokens, log_probs, done, *_):
        return tf.logical_and(
            step < max_new_tokens, tf.logical_not(tf.reduce_all(done))
        )

    def body(
        step,
        last_logits,
        cache,
        beam_scores,
        tokens,
        log_probs,
        done,
        pool_tokens,
        pool_log_probs,
        pool_scores,
    ):
        token_log_probs = tf.reshape(
            tf.nn.log_softmax(last_logits), [prompts, num_beams, vocabulary_size]
        )
        candidates = tf.reshape(
            beam_scores[:, :, None] + token_log_probs, [prompts, -1]
        )  # (P, K·V)
        # 2K candidates always hold K that don't end the text.
        top_scores, top_indices = tf.math.top_k(candidates, k=2 * num_beams)
        top_beams = top_indices // vocabulary_size  # (P, 2K)
        top_tokens = top_indices % vocabulary_size
        ends = tf.equal(top_tokens, end_of_text_id)
        top_rows = top_beams + tf.range(prompts)[:, None] * num_beams  # global rows
        top_token_log_probs = tf.gather_nd(
            tf.reshape(token_log_probs, [rows, vocabulary_size]),
            tf.stack([top_rows, top_tokens], axis=-1),
        )  # (P, 2K)

        # Finished: candidates that end here join the pool (tokens so far).
        ended_scores = tf.where(
            tf.logical_and(ends, tf.logical_not(done)[:, None]),
            normalize(top_scores, step),
            neg_inf,
        )
        all_scores = tf.concat([pool_scores, ended_scores], axis=1)  # (P, 3K)
        all_tokens = tf.concat([pool_tokens, tf.gather(tokens, top_rows)], axis=1)
        all_log_probs = tf.concat(
            [pool_log_probs, tf.gather(log_probs, top_rows)], axis=1
        )
        pool_scores, best = tf.math.top_k(all_scores, k=num_beams)
        pool_tokens = tf.gather(all_tokens, best, batch_dims=1)
        pool_log_probs = tf.gather(all_log_probs, best, batch_dims=1)

        # Alive: the K best candidates that don't end the text.
        alive_scores, alive = tf.math.top_k(
            tf.where(ends, neg_inf, top_scores), k=num_beams
        )
        source_rows = tf.reshape(tf.gather(top_rows, alive, batch_dims=1), [-1])  # (B,)
        new_tokens = tf.reshape(tf.gather(top_tokens, alive, batch_dims=1), [-1])
        new_log_probs = tf.reshape(
            tf.gather(top_token_log_probs, alive, batch_dims=1), [-1]
        )
        tokens = ops.slice_update(
            tf.gather(tokens, source_rows), [0, step], new_tokens[:, None]
        )
        log_probs = ops.slice_update(
            tf.gather(log_probs, source_rows), [0, step], new_log_probs[:, None]
        )
        # Each beam continues its source's cache.
        cache = tf.nest.map_structure(lambda c: _gather_rows(c, source_rows), cache)
        # A prompt is done when its pool is full and no alive beam can beat it.
        best_alive = normalize(alive_scores[:, 0], step + 1)
        done = tf.logical_or(
            done,
            tf.logical_and(
                pool_scores[:, -1] > neg_inf, best_alive <= pool_scores[:, -1]
            ),
        )
        logits, cache = model.call_with_cache(
            new_tokens[:, None], cache, prompt_length + step, padding_mask
        )
        return (
            step + 1,
            logits[:, -1],
            cache,
            alive_scores,
            tokens,
            log_probs,
            done,
            pool_tokens,
            pool_log_probs,
            pool_scores,
        )

    empty_tokens = tf.fill([rows, capacity], tf.constant(padding_id, tf.int32))
    (
        step,
        _,
        _,
        beam_scores,
        tokens,
        log_probs,
        done,
        pool_tokens,
        pool_log_probs,
        pool_scores,
    ) = tf.while_loop(
        keep_going,
        body,
        (
            tf.constant(0),
            logits[:, -1],
            cache,
            beam_scores,
            empty_tokens,
            tf.zeros([rows, capacity], tf.float32),
            tf.zeros([prompts], tf.bool),
            tf.fill([prompts, num_beams, capacity], tf.constant(padding_id, tf.int32)),
            tf.zeros([prompts, num_beams, capacity], tf.float32),
            tf.fill([prompts, num_beams], neg_inf),
        ),
        maximum_iterations=capacity,
    )
    # Beams still alive when the length ran out compete with the finished
    # pool; those of prompts that were done before are not candidates.
    alive_scores = tf.where(done[:, None], neg_inf, normalize(beam_scores, step))
    alive_tokens = tf.reshape(tokens, [prompts, num_beams, capacity])
    alive_log_probs = tf.reshape(log_probs, [prompts, num_beams, capacity])
    scores, best = tf.math.top_k(
        tf.concat([pool_scores, alive_scores], axis=1), k=num_beams
    )
    tokens = tf.gather(tf.concat([pool_tokens, alive_tokens], 1), best, batch_dims=1)
    log_probs = tf.gather(
        tf.concat([pool_log_probs, alive_log_probs], 1), best, batch_dims=1
    )
    return tokens, log_probs, scores


def _gather_rows(cache, rows):
    """`cache` rows `rows` of the batch, for caches whose first axis holds the
    batch rows, each possibly as a block (the Transformer's `batch * heads`)."""
    blocks = tf.concat([[tf.shape(rows)[0], -1], tf.shape(cache)[1:]], axis=0)
    gathered = tf.gather(tf.reshape(cache, blocks), rows)
    return tf.reshape(gathered, tf.shape(cache))


def compiled_beam_search(model, num_beams):
    """XLA-compiled `_beam_decode` for `model` and beam width."""
    return traced_once(
        model,
        ("beam", num_beams),
        lambda model, *arguments: _beam_decode(model, *arguments, num_beams),
    )


def _decode_rows(
    model,
    prompt_ids,
    padding_mask,
    max_new_tokens,
    temperature,
    top_k,
    top_p,
    seeds,
    end_of_text_id,
    padding_id,
):
    """Prefill, then decode with a budget and sampling knobs per row.

    The served path: rows of one batch may come from different requests.
    `max_new_tokens`, `temperature` (0 = greedy), `top_k`, `top_p` are
    `(B,)`, `seeds` `(B, 2)`; shapes may be unknown when traced. Returns
    `(tokens, log_probs)`, `(B, C)` each.
    """
    state = _prefill(model, prompt_ids, padding_mask, padding_id)
    state = _advance(
        model,
        state,
        padding_mask,
        tf.reduce_max(max_new_tokens),
        max_new_tokens,
        temperature,
        top_k,
        top_p,
        tf.constant(1.0),
        seeds,
        end_of_text_id,
        padding_id,
        True,
        False,
    )
    return state[5], state[6]


def compiled_decode_rows(model, jit_compile=True):
    """`_decode_rows` for `model`, XLA-compiled unless `jit_compile` is False."""
    return traced_once(
        model, ("rows", jit_compile), _decode_rows, jit_compile=jit_compile
    )
