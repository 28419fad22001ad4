"""Next-token selection inside the compiled decode loop.

keras-hub's samplers (`keras_hub.samplers.*`) each own a whole decode loop
and draw from a stateful `SeedGenerator`; our loop must run prefill, a per-row
end-of-text state, log-probabilities and per-call seeds inside one
`tf.function(jit_compile=True)`, with every sampling knob a runtime tensor (so
a served model takes `top_k`/`top_p` per request without a retrace). So the
selection step is ours: one function of float32 logits, written in TensorFlow
ops that XLA compiles.
"""

import tensorflow as tf


def apply_repetition_penalty(logits, seen, penalty):
    """CTRL's penalty: divide positive, multiply negative logits of seen tokens.

    `logits` float32 `(B, V)`, `seen` bool `(B, V)`, `penalty` scalar ≥ 1
    (1 = off).
    """
    penalized = tf.where(logits > 0, logits / penalty, logits * penalty)
    return tf.where(seen, penalized, logits)


def filter_top_k_top_p(logits, top_k, top_p):
    """Sets logits outside the top-k and the top-p nucleus to -inf.

    `top_k` = 0 and `top_p` = 1 switch each filter off. Both are scalar
    tensors; the cut-off is a logit threshold found on the sorted row, so no
    shape depends on them. Tokens tied with the threshold are kept.
    """
    vocabulary_size = tf.shape(logits)[-1]
    sorted_logits = tf.sort(logits, axis=-1, direction="DESCENDING")  # (B, V)
    ranks = tf.range(vocabulary_size)[None, :]  # (1, V)
    k = tf.where(top_k > 0, tf.minimum(top_k, vocabulary_size), vocabulary_size)
    sorted_logits = tf.where(ranks < k, sorted_logits, -float("inf"))
    # Nucleus: the shortest prefix whose probability reaches top_p. A token is
    # kept when the mass before it is still below top_p (so the first always is).
    probabilities = tf.nn.softmax(sorted_logits, axis=-1)
    mass_before = tf.cumsum(probabilities, axis=-1, exclusive=True)
    kept = tf.logical_and(mass_before < top_p, ranks < k)
    last_kept = tf.reduce_sum(tf.cast(kept, tf.int32), axis=-1) - 1  # (B,)
    threshold = tf.gather(sorted_logits, last_kept, batch_dims=1)  # (B,)
    return tf.where(logits < threshold[:, None], -float("inf"), logits)


def select_next_token(logits, do_sample, temperature, top_k, top_p, seed):
    """Greedy argmax, or a sample after temperature, top-k and top-p.

    Args:
        logits: float32 `(B, V)`, already repetition-penalized.
        do_sample: Python bool (a different compiled loop for each value).
        temperature, top_k, top_p: scalar tensors.
        seed: int32 `(2,)` stateless seed, unique per step.

    Returns:
        int32 `(B,)` token ids.
    """
    if not do_sample:
        return tf.argmax(logits, axis=-1, output_type=tf.int32)
    logits = filter_top_k_top_p(logits / temperature, top_k, top_p)
    return tf.cast(
        tf.random.stateless_categorical(logits, 1, seed=seed)[:, 0], tf.int32
    )
