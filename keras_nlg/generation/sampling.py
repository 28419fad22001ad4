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
batch.
"""

import tensorflow as tf


def _per_row(value):
    """A scalar or `(B,)` knob as `(1, 1)` or `(B, 1)`, to broadcast over V."""
    return tf.reshape(value, [-1, 1])


def filter_top_k_top_p(logits, top_k, top_p):
    """Sets logits outside the top-k and the top-p nucleus to -inf.

    `top_k` = 0 and `top_p` = 1 switch each filter off. Both are scalar or
    `(B,)` tensors; the cut-off is a logit threshold found on the sorted row,
    so no shape depends on them. Tokens tied with the threshold are kept.
    """
    vocabulary_size = tf.shape(logits)[-1]
    sorted_logits = tf.sort(logits, axis=-1, direction="DESCENDING")  # (B, V)
    ranks = tf.range(vocabulary_size)[None, :]  # (1, V)
    top_k = _per_row(top_k)
    k = tf.where(top_k > 0, tf.minimum(top_k, vocabulary_size), vocabulary_size)
    sorted_logits = tf.where(ranks < k, sorted_logits, -float("inf"))
    # Nucleus: the shortest prefix whose probability reaches top_p. A token is
    # kept when the mass before it is still below top_p (so the first always is).
    probabilities = tf.nn.softmax(sorted_logits, axis=-1)
    mass_before = tf.cumsum(probabilities, axis=-1, exclusive=True)
    # top_p = 1 keeps all: in float32 the cumulative mass can reach 1 before
    # the tail, which `mass_before < 1` alone would drop.
    top_p = _per_row(top_p)
    kept = ((mass_before < top_p) | (top_p >= 1.0)) & (ranks < k)
    last_kept = tf.reduce_sum(tf.cast(kept, tf.int32), axis=-1) - 1  # (B,)
    threshold = tf.gather(sorted_logits, last_kept, batch_dims=1)  # (B,)
    return tf.where(logits < threshold[:, None], -float("inf"), logits)


def filter_min_p(logits, min_p):
    """Sets logits of tokens less likely than `min_p` × the top token's to -inf.

    Min-p sampling (Nguyen et al. 2024, "Turning Up the Heat: Min-p
    Sampling"; Hugging Face's `MinPLogitsWarper`): p(token) ≥ min_p · p(top)
    ⇔ logit ≥ top logit + log(min_p), a test on logits that needs no
    softmax. `min_p` is a scalar or `(B,)` in [0, 1); 0 switches it off
    (log 0 = -inf keeps every token). The top token is always kept.
    """
    top = tf.reduce_max(logits, axis=-1, keepdims=True)  # (B, 1)
    threshold = top + tf.math.log(_per_row(min_p))
    return tf.where(logits < threshold, -float("inf"), logits)


def _mix(x):
    """A bijective 32-bit integer hash (Wellons' "lowbias32")."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))
    x = x * tf.constant(0x7FEB352D, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 15))
    x = x * tf.constant(0x846CA68B, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))


def uniform_noise(seeds, step, vocabulary_size):
    """Uniform float32 `(B, V)` in (0, 1), a function of each row's seed only.

    Args:
        seeds: int32 `(B, 2)`, one seed pair per row.
        step: scalar int32, the decode step.
        vocabulary_size: V.
    """
    seeds = tf.bitcast(seeds, tf.uint32)
    key = _mix(tf.bitcast(tf.cast(step, tf.int32), tf.uint32))
    key = _mix(tf.bitwise.bitwise_xor(key, seeds[:, :1]))  # (B, 1)
    key = _mix(tf.bitwise.bitwise_xor(key, seeds[:, 1:]))
    tokens = tf.bitcast(tf.range(vocabulary_size), tf.uint32)[None, :]  # (1, V)
    bits = _mix(tf.bitwise.bitwise_xor(key, _mix(tokens)))  # (B, V)
    # The top 24 bits, centred in their interval: never exactly 0 or 1.
    return (tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) + 0.5) * 2.0**-24


def select_next_token(
    logits, do_sample, temperature, top_k, top_p, seeds, step, min_p=0.0
):
    """Greedy argmax, or a sample after temperature, top-k, top-p and min-p.

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
    temperature = _per_row(temperature)
    sampling = temperature > 0  # (B, 1) or (1, 1)
    # A served batch is often all greedy, or samples without top-k/top-p;
    # the sort behind those filters is then a sizeable share of a decode
    # step (benchmarks/RESULTS.md, "Serving"), so each part runs only when
    # some row needs it. Either branch gives the same tokens.

    def draw():
        filtering = tf.reduce_any(
            sampling & ((_per_row(top_k) > 0) | (_per_row(top_p) < 1))
        )
        scaled = logits / tf.where(sampling, temperature, 1.0)
        filtered = tf.cond(
            filtering,
            lambda: filter_top_k_top_p(scaled, top_k, top_p),
            lambda: scaled,
        )
        filtered = filter_min_p(filtered, min_p)
        # Gumbel-max: argmax(logits + Gumbel noise) is a draw from softmax(logits).
        gumbel = -tf.math.log(
            -tf.math.log(uniform_noise(seeds, step, tf.shape(logits)[-1]))
        )
        sampled = tf.argmax(filtered + gumbel, axis=-1, output_type=tf.int32)
        return tf.where(sampling[:, 0], sampled, greedy)

    return tf.cond(tf.reduce_any(sampling), draw, lambda: greedy)
