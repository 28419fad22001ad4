"""Next-token selection inside the compiled decode loop.

keras-hub's samplers (`keras_hub.samplers.*`) each own a whole decode loop
and draw from a stateful `SeedGenerator`; our loop must run prefill, a per-row
end-of-text state, log-probabilities and per-call seeds inside one
`tf.function(jit_compile=True)`, with every sampling knob a runtime tensor (so
a served model takes `top_k`/`top_p` per request without a retrace). So the
selection step is ours: one function of float32 logits, written in TensorFlow
ops that XLA compiles.

Every knob may be a scalar or one value per row, and each row draws from its
own seed: TensorFlow's stateless random ops take one seed for a whole tensor,
so a row's sample would depend on the rows beside it (on a server, on which
requests the batcher put together). `uniform_noise` is therefore a
counter-based generator: an integer hash of (row seed, step, token) turned
into Gumbel noise, so row `r` with seed `s` draws the same tokens in any
batch (up to float32 ties, see `select_next_token`).
"""

import tensorflow as tf

from keras_nlg.generation.truncation import (
    candidate_thresholds,
    full_row_thresholds,
    in_xla,
    min_p_threshold,
    per_row,
    take,
)


def truncate_logits(logits, top_k, top_p, min_p=0.0):
    """`logits` with the tokens top-k, top-p and min-p remove set to -inf.

    Whole rows, the rules of `keras_nlg.generation.truncation`. `top_k` = 0,
    `top_p` = 1 and `min_p` = 0 switch each filter off; each is a scalar or
    `(B,)` tensor. Tokens tied with a threshold are kept.

    Args:
        logits: float32 `(B, V)`.

    Returns:
        float32 `(B, V)`.
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    threshold = full_row_thresholds(logits, top_k, top_p, min_p)
    return tf.where(logits < threshold, -float("inf"), logits)


def _mix(x):
    """A bijective 32-bit integer hash (Wellons' "lowbias32")."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))
    x = x * tf.constant(0x7FEB352D, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 15))
    x = x * tf.constant(0x846CA68B, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))


def uniform_noise(seeds, step, token_ids):
    """Uniform float32 in (0, 1) per (row, token): of the row's seed only.

    Args:
        seeds: int32 `(B, 2)`, one seed pair per row.
        step: scalar int32, the decode step.
        token_ids: int32 `(1, N)` or `(B, N)`, the tokens to draw for (a
            token's value does not depend on which others are drawn).

    Returns:
        float32 `(B, N)`.
    """
    seeds = tf.bitcast(seeds, tf.uint32)
    key = _mix(tf.bitcast(tf.cast(step, tf.int32), tf.uint32))
    key = _mix(tf.bitwise.bitwise_xor(key, seeds[:, :1]))  # (B, 1)
    key = _mix(tf.bitwise.bitwise_xor(key, seeds[:, 1:]))
    tokens = tf.bitcast(tf.cast(token_ids, tf.int32), tf.uint32)
    bits = _mix(tf.bitwise.bitwise_xor(key, _mix(tokens)))  # (B, N)
    # The top 24 bits, centred in their interval: never exactly 0 or 1.
    return (tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) + 0.5) * 2.0**-24


def _gumbel(seeds, step, token_ids):
    return -tf.math.log(-tf.math.log(uniform_noise(seeds, step, token_ids)))


def _first_argmax(values):
    """`argmax` over the last axis as a max, then the first index equal to it.

    The same index as `tf.argmax`. XLA fuses a whole Gumbel-noise computation
    into a single argmax reduction and runs its logarithms unvectorised there
    (8.2 ms for eight GPT-2 rows, 1.9 ms this way). A plain graph runs one
    kernel per op, so there the single pass of `tf.argmax` is cheaper.
    """
    if not in_xla():
        return tf.argmax(values, axis=-1, output_type=tf.int32)
    top = tf.reduce_max(values, axis=-1, keepdims=True)
    return tf.argmax(tf.cast(values >= top, tf.int32), axis=-1, output_type=tf.int32)


def select_next_token(
    logits, do_sample, temperature, top_k, top_p, seeds, step, min_p=0.0
):
    """Greedy argmax, or a sample after temperature, top-k, top-p and min-p.

    A sample is the Gumbel-max draw over the tokens the filters keep: the
    kept token with the largest logit + Gumbel noise (noise from
    `uniform_noise`, so a function of the row's seed). When every sampled
    row's kept tokens lie among its `NUM_CANDIDATES` largest logits (see
    `truncation.candidate_thresholds`), only those are considered and the
    noise is drawn for them alone; otherwise the whole row is. Both give the
    same token, except that a token whose preceding mass equals `top_p` to
    float32 rounding, or two kept tokens with exactly equal noisy logits, may
    resolve differently (the paths sum and order in different orders); so a
    row's token is independent of its batch up to such float32 ties.

    Args:
        logits: float32 `(B, V)`, already processed (bans, penalty; see
            `logits_processors`).
        do_sample: Python bool (a different compiled loop for each value).
            When sampling, rows with `temperature` 0 still take the argmax
            (a served batch mixes greedy and sampled requests).
        temperature, top_k, top_p, min_p: scalar or `(B,)` tensors.
        seeds: int32 `(B, 2)` per-row seeds.
        step: scalar int32 decode step (a fresh draw each step).

    Returns:
        int32 `(B,)` token ids.
    """
    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
    if not do_sample:
        return greedy
    temperature = per_row(temperature)
    sampling = temperature > 0  # (B, 1) or (1, 1)

    def draw():
        scaled = logits / tf.where(sampling, temperature, 1.0)
        threshold, exact, candidates, ids = candidate_thresholds(
            scaled, top_k, top_p, min_p
        )

        def from_candidates():
            noisy = candidates + _gumbel(seeds, step, ids)
            best = tf.argmax(
                tf.where(candidates >= threshold, noisy, -float("inf")),
                axis=-1,
                output_type=tf.int32,
            )
            return take(ids, best)[:, 0]

        def from_whole_rows():
            # The sort or search behind top-k/top-p runs only when some
            # sampled row asks for them (a served batch often doesn't).
            filtering = tf.reduce_any(
                sampling & ((per_row(top_k) > 0) | (per_row(top_p) < 1))
            )
            row_threshold = tf.cond(
                filtering,
                lambda: full_row_thresholds(scaled, top_k, top_p, min_p),
                lambda: min_p_threshold(scaled, min_p),
            )
            token_ids = tf.range(tf.shape(scaled)[-1])[None, :]
            noisy = scaled + _gumbel(seeds, step, token_ids)
            return _first_argmax(
                tf.where(scaled >= row_threshold, noisy, -float("inf"))
            )

        return tf.cond(
            tf.reduce_all(exact | ~sampling[:, 0]), from_candidates, from_whole_rows
        )

    def draw_untruncated():
        # No sampled row keeps fewer than all tokens (no top-k, top-p or
        # min-p): the Gumbel-max draw over the whole row, the same token
        # `from_whole_rows` gives, without the candidates' partial sort
        # (which cost 3/4 of a step for 10,000 rows over 5,000 tokens).
        scaled = logits / tf.where(sampling, temperature, 1.0)
        token_ids = tf.range(tf.shape(scaled)[-1])[None, :]
        return _first_argmax(scaled + _gumbel(seeds, step, token_ids))

    def sample():
        truncating = tf.reduce_any(
            sampling
            & ((per_row(top_k) > 0) | (per_row(top_p) < 1) | (per_row(min_p) > 0))
        )
        sampled = tf.cond(truncating, draw, draw_untruncated)
        return tf.where(sampling[:, 0], sampled, greedy)

    return tf.cond(tf.reduce_any(sampling), sample, lambda: greedy)
