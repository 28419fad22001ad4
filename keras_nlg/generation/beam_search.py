"""Beam search: the compiled loop that keeps the `num_beams` best hypotheses.

One `tf.function(jit_compile=True)` per model and beam width, over the same
`call_with_cache` step as sampling (`engine.py`); each beam's cache row
follows its source beam.
"""

from typing import NamedTuple

import tensorflow as tf
from keras import ops

from keras_nlg.generation.logits_processors import ban_end_of_text
from keras_nlg.generation.tracing import traced_once


class BeamState(NamedTuple):
    """The beam loop's state. `B` = prompts × beams rows, `K` = beams,
    `C` = capacity for new tokens."""

    step: tf.Tensor  # tokens generated so far
    last_logits: tf.Tensor  # (B, V)
    cache: object
    beam_scores: tf.Tensor  # (P, K) sum of log-probabilities of alive beams
    tokens: tf.Tensor  # (B, C) alive beams' tokens
    log_probs: tf.Tensor  # (B, C)
    done: tf.Tensor  # (P,) the prompt's search is over
    pool_tokens: tf.Tensor  # (P, K, C) finished hypotheses, best first
    pool_log_probs: tf.Tensor  # (P, K, C)
    pool_scores: tf.Tensor  # (P, K) their normalized scores


def _beam_decode(
    model,
    prompt_ids,
    padding_mask,
    max_new_tokens,
    min_new_tokens,
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
    `max_new_tokens`, `min_new_tokens` (end-of-text banned before it) and
    `length_penalty` are scalar tensors.

    Returns:
        `(tokens, log_probs, scores)`: int32 `(P, K, C)`, float32 `(P, K, C)`
        and float32 `(P, K)` for the `K` best hypotheses of each prompt, best
        first (`C` = capacity for new tokens). A finished hypothesis's tokens
        end with end-of-text, then padding; `log_probs` hold each token's
        log-probability before it (0 from end-of-text on), and its score
        counts end-of-text's too (Hugging Face's rule).
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

    def keep_going(state):
        return (state.step < max_new_tokens) & ~tf.reduce_all(state.done)

    def body(state):
        step, cache, done, tokens, log_probs = (
            state.step,
            state.cache,
            state.done,
            state.tokens,
            state.log_probs,
        )
        pool_tokens, pool_log_probs, pool_scores = (
            state.pool_tokens,
            state.pool_log_probs,
            state.pool_scores,
        )
        # End-of-text is banned before min_new_tokens (-inf: never chosen).
        token_log_probs = ban_end_of_text(
            tf.nn.log_softmax(state.last_logits), step, min_new_tokens, end_of_text_id
        )
        token_log_probs = tf.reshape(
            token_log_probs, [prompts, num_beams, vocabulary_size]
        )
        candidates = tf.reshape(
            state.beam_scores[:, :, None] + token_log_probs, [prompts, -1]
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
        # A finished hypothesis keeps its end-of-text (at column `step`), so
        # that its tokens say where it ends, as a sampled row's do.
        ended_tokens = ops.slice_update(
            tf.gather(tokens, top_rows),
            [0, 0, step],
            tf.fill([prompts, 2 * num_beams, 1], end_of_text_id),
        )
        all_tokens = tf.concat([pool_tokens, ended_tokens], axis=1)
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
        next_state = BeamState(
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
        return (next_state,)

    padding = tf.constant(padding_id, tf.int32)
    start = BeamState(
        step=tf.constant(0),
        last_logits=logits[:, -1],
        cache=cache,
        beam_scores=beam_scores,
        tokens=tf.fill([rows, capacity], padding),
        log_probs=tf.zeros([rows, capacity], tf.float32),
        done=tf.zeros([prompts], tf.bool),
        pool_tokens=tf.fill([prompts, num_beams, capacity], padding),
        pool_log_probs=tf.zeros([prompts, num_beams, capacity], tf.float32),
        pool_scores=tf.fill([prompts, num_beams], neg_inf),
    )
    (end,) = tf.while_loop(keep_going, body, (start,), maximum_iterations=capacity)
    step, beam_scores, tokens, log_probs, done = (
        end.step,
        end.beam_scores,
        end.tokens,
        end.log_probs,
        end.done,
    )
    pool_tokens, pool_log_probs, pool_scores = (
        end.pool_tokens,
        end.pool_log_probs,
        end.pool_scores,
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
        per_shape=True,
    )
