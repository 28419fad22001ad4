"""The compiled decode loop: prefill once, then one cached step per token.

The whole loop is one `tf.function(jit_compile=True)` around a
`tf.while_loop` over the model's static-shape cache. Every shape depends only
on the (batch, prompt-length) bucket, and every sampling knob is a tensor, so
repeated calls in the same bucket never retrace.
"""

import weakref

import tensorflow as tf
from keras import ops

from keras_nlg.generation.sampling import apply_repetition_penalty, select_next_token

# One compiled loop per model and sampling mode (greedy vs sampled).
_LOOPS = weakref.WeakKeyDictionary()


def _decode(
    model,
    prompt_ids,
    padding_mask,
    max_new_tokens,
    temperature,
    top_k,
    top_p,
    repetition_penalty,
    seed,
    end_of_text_id,
    padding_id,
    do_sample,
):
    """Generates up to `max_new_tokens` after left-padded prompts.

    Args:
        prompt_ids: int32 `(B, P)`, left-padded with `padding_id`.
        padding_mask: bool `(B, S)`, False on padding columns; `S - P` is the
            static capacity for new tokens.
        max_new_tokens ... seed: scalar tensors (`seed` is int32 `(2,)`).

    Returns:
        `(tokens, log_probs)`: int32 `(B, S - P)` (padding after a row's
        end-of-text) and float32 `(B, S - P)` log-probabilities of each token
        under the model's unmodified distribution.
    """
    batch, prompt_length = prompt_ids.shape
    capacity = padding_mask.shape[1] - prompt_length
    vocabulary_size = model.vocabulary_size

    cache = model.empty_cache(batch)
    logits, cache = model.call_with_cache(prompt_ids, cache, 0, padding_mask)
    prompt_columns = padding_mask[:, :prompt_length]
    seen = tf.reduce_any(
        tf.logical_and(
            tf.one_hot(prompt_ids, vocabulary_size, on_value=True, off_value=False),
            prompt_columns[:, :, None],
        ),
        axis=1,
    )  # (B, V): tokens the repetition penalty applies to

    def keep_going(step, *_):
        return step < max_new_tokens

    def body(step, last_logits, cache, seen, finished, tokens, log_probs):
        scores = apply_repetition_penalty(last_logits, seen, repetition_penalty)
        token = select_next_token(
            scores,
            do_sample,
            temperature,
            top_k,
            top_p,
            tf.stack([seed[0], seed[1] + step]),
        )  # (B,)
        log_prob = tf.gather(tf.nn.log_softmax(last_logits), token, batch_dims=1)
        token = tf.where(finished, padding_id, token)
        log_prob = tf.where(finished, 0.0, log_prob)
        tokens = ops.slice_update(tokens, [0, step], token[:, None])
        log_probs = ops.slice_update(log_probs, [0, step], log_prob[:, None])
        finished = tf.logical_or(finished, token == end_of_text_id)
        seen = tf.logical_or(
            seen, tf.one_hot(token, vocabulary_size, on_value=True, off_value=False)
        )
        logits, cache = model.call_with_cache(
            token[:, None], cache, prompt_length + step, padding_mask
        )
        # Stop early once every row has ended: max_new_tokens becomes moot.
        step = tf.where(tf.reduce_all(finished), max_new_tokens, step + 1)
        return step, logits[:, -1], cache, seen, finished, tokens, log_probs

    _, _, _, _, _, tokens, log_probs = tf.while_loop(
        keep_going,
        body,
        (
            tf.constant(0),
            logits[:, -1],
            cache,
            seen,
            tf.zeros([batch], tf.bool),
            tf.fill([batch, capacity], tf.constant(padding_id, tf.int32)),
            tf.zeros([batch, capacity], tf.float32),
        ),
        maximum_iterations=capacity,
    )
    return tokens, log_probs


def compiled_decode_loop(model, do_sample):
    """The XLA-compiled `_decode` for `model` (traced once per bucket)."""
    loops = _LOOPS.setdefault(model, {})
    if do_sample not in loops:
        model_ref = weakref.ref(model)  # the cache must not keep the model alive

        def decode(prompt_ids, padding_mask, *arguments):
            return _decode(model_ref(), prompt_ids, padding_mask, *arguments, do_sample)

        loops[do_sample] = tf.function(decode, jit_compile=True)
    return loops[do_sample]
