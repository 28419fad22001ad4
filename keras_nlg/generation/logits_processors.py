"""Logits processors of the compiled decode loop: bans and penalties.

These change the scores before a token is chosen, greedy or sampled, in
Hugging Face's order: `min_new_tokens` (end-of-text banned too early), the
repetition penalty, then `no_repeat_ngram_size`. Like the samplers in
`sampling.py`, each is written in TensorFlow ops that XLA compiles inside the
loop, every setting a runtime tensor (a scalar or one value per row) so a
served model takes them per request without a retrace, and each runs only in
the loops that switch it on (see `engine.Processing`).

The end-of-text ban and the repetition penalty are written in `keras.ops`,
so the JAX loop (`portable.py`) runs the very same functions; the n-gram
bans, which only the TensorFlow loops offer, in TensorFlow ops.
"""

from keras import ops


def per_row(value, rows):
    """A scalar or `(B,)` setting as `(B,)`."""
    return ops.broadcast_to(ops.reshape(value, [-1]), [rows])


def ban_end_of_text(scores, num_generated, min_new_tokens, end_of_text_id):
    """End-of-text gets -inf in rows with fewer than `min_new_tokens` tokens.

    Hugging Face's `MinNewTokensLengthLogitsProcessor`. `scores` float32
    `(B, V)`; `num_generated` scalar int32 (tokens generated so far, all rows
    alike); `min_new_tokens` int32 scalar or `(B,)`.
    """
    rows, vocabulary_size = ops.shape(scores)[0], ops.shape(scores)[1]
    too_early = num_generated < per_row(min_new_tokens, rows)  # (B,)
    is_end = ops.equal(ops.arange(vocabulary_size), end_of_text_id)[None, :]
    return ops.where(ops.logical_and(too_early[:, None], is_end), -float("inf"), scores)


def apply_repetition_penalty(logits, seen, penalty):
    """CTRL's penalty: divide positive, multiply negative logits of seen tokens.

    `logits` float32 `(B, V)`, `seen` bool `(B, V)`, `penalty` scalar or
    `(B,)` ≥ 1 (1 = off). Keskar et al. 2019, "CTRL", section 4.1.
    """
    penalty = ops.reshape(penalty, [-1, 1])
    penalized = ops.where(logits > 0, logits / penalty, logits * penalty)
    return ops.where(seen, penalized, logits)


def repeated_ngram_bans(sequence, valid, length, ngram_size, vocabulary_size):
    """Tokens that would complete an n-gram already in the sequence.

    Hugging Face's `NoRepeatNGramLogitsProcessor`, except that padding
    columns are never part of an n-gram. The next token goes to position
    `length`; token `sequence[j]` (j < length) is banned when the `n - 1`
    tokens before it equal the last `n - 1` tokens, all of them real. `n` = 1
    bans every token already present; `n` = 0 bans nothing.

    Args:
        sequence: int32 `(B, S)`, prompt then generated tokens; columns from
            `length` on are not read.
        valid: bool `(B, S)`, False on padding columns.
        length: scalar int32, the filled columns.
        ngram_size: int32 scalar or `(B,)`, n per row (0 = off).
        vocabulary_size: V.

    Returns:
        bool `(B, V)`.
    """
    import tensorflow as tf  # only the TensorFlow loops ban n-grams

    rows, columns = tf.shape(sequence)[0], tf.shape(sequence)[1]
    n = per_row(ngram_size, rows)
    positions = tf.range(columns)  # j

    def compare(k, match):
        # The k-th token back before j against the k-th token back from the end.
        before = positions - 1 - k  # (S,)
        safe_before = tf.maximum(before, 0)
        before_tokens = tf.gather(sequence, safe_before, axis=1)  # (B, S)
        before_valid = tf.gather(valid, safe_before, axis=1) & (before >= 0)
        tail = length - 1 - k
        safe_tail = tf.maximum(tail, 0)
        tail_tokens = sequence[:, safe_tail]  # (B,)
        tail_valid = valid[:, safe_tail] & (tail >= 0)
        same = before_valid & tail_valid[:, None]
        same &= tf.equal(before_tokens, tail_tokens[:, None])
        needed = (k < n - 1)[:, None]  # rows whose n-gram reaches this far back
        return k + 1, match & (same | ~needed)

    # At most `length` comparisons: an n-gram longer than the sequence can't
    # repeat (and a huge n from a client costs no more than that).
    _, match = tf.while_loop(
        lambda k, _: k < tf.minimum(tf.reduce_max(n) - 1, length),
        compare,
        (tf.constant(0), tf.ones([rows, columns], tf.bool)),
    )
    fits = (n > 0) & (n - 1 <= length)  # (B,)
    banned_position = match & valid & (positions < length)[None, :] & fits[:, None]
    row_ids = tf.broadcast_to(tf.range(rows)[:, None], [rows, columns])
    indices = tf.stack([tf.reshape(row_ids, [-1]), tf.reshape(sequence, [-1])], 1)
    counts = tf.scatter_nd(
        indices,
        tf.reshape(tf.cast(banned_position, tf.int32), [-1]),
        [rows, vocabulary_size],
    )
    return counts > 0
