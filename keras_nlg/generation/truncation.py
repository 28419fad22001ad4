"""Which tokens survive top-k, top-p and min-p: a logit threshold per row.

Every filter keeps the tokens whose logit reaches a per-row threshold (ties
with it are kept), so the three combine by taking the largest threshold:

- top-k: the k-th largest logit;
- top-p (nucleus; Holtzman et al. 2020, "The Curious Case of Neural Text
  Degeneration"): a token is kept while the probability of the tokens
  *strictly* more likely than it (renormalised over the top-k when top-k is
  on) is below `top_p`, so the most likely token always is;
- min-p (Nguyen et al. 2024, "Turning Up the Heat"; Hugging Face's
  `MinPLogitsWarper`): p ≥ min_p · p(top) ⇔ logit ≥ top + log(min_p).

The obvious way to find the nucleus sorts the whole row, and XLA's CPU sort
is slow: 13 ms for one GPT-2 row (V = 50,257), 120 ms for eight, against a
17 ms decode step (benchmarks/RESULTS.md, "Top-p"). So the thresholds come
from two cheaper places:

- `candidate_thresholds`: from the row's `NUM_CANDIDATES` largest logits
  (`top_k`, a partial selection, 0.3 ms). Exact whenever every kept token is
  a candidate, which `select_next_token` checks per row: the usual case for
  a trained model, whose nucleus is a handful of tokens.
- `full_row_thresholds`: otherwise. Under XLA, a bisection over the logits'
  float32 bit patterns (32 masked sums over the row, ~1.5 ms for a GPT-2
  row): the nucleus needs only "the mass above a logit", never an order.
  Outside XLA (a plain TensorFlow graph, a TFLite interpreter) TensorFlow's
  own sort kernel is fast, and the same rule is read off the sorted row.

The paths compute the same rule from the same probabilities; their sums of
those probabilities run in different orders, so a token whose preceding mass
equals `top_p` to float32 rounding (a relative 1e-7) may fall either side.
"""

import tensorflow as tf
from tensorflow.python.ops import control_flow_util

# How many of a row's largest logits `candidate_thresholds` keeps. TopK of
# 64 from 50,257 costs about as much as an argmax on this CPU (0.3 ms); 256
# costs 0.5 ms at batch 1 and 2.4 ms at batch 8.
NUM_CANDIDATES = 64


def per_row(value):
    """A scalar or `(B,)` knob as `(1, 1)` or `(B, 1)`, to broadcast over V."""
    return tf.reshape(value, [-1, 1])


def _knobs(logits, top_k, top_p, min_p):
    """`top_k` int32, `top_p` and `min_p` float32, each `(B, 1)`."""
    shape = tf.shape(logits[:, :1])
    return [
        tf.broadcast_to(per_row(tf.cast(knob, dtype)), shape)
        for knob, dtype in ((top_k, tf.int32), (top_p, tf.float32), (min_p, tf.float32))
    ]


def _order_keys(values):
    """int32 keys in the order of float32 `values` (a bijection).

    A float's bit pattern orders non-negative floats as integers; negative
    floats order backwards, so their 31 low bits are flipped.
    """
    bits = tf.bitcast(values, tf.int32)
    return tf.where(bits < 0, tf.bitwise.bitwise_xor(bits, 0x7FFFFFFF), bits)


def _from_order_keys(keys):
    """The float32 values of `_order_keys` keys (it is its own inverse)."""
    bits = tf.where(keys < 0, tf.bitwise.bitwise_xor(keys, 0x7FFFFFFF), keys)
    return tf.bitcast(bits, tf.float32)


def _smallest_passing_key(keys, passes):
    """Per row, the smallest key `t` of the row's range with `passes(t)`.

    `passes` maps int32 `(B, 1)` keys to bool `(B,)`, false below some key
    and true from it on, and true at the row's largest key. A bisection of
    at most 32 halvings of the int32 range.
    """
    low = tf.reduce_min(keys, axis=-1)
    high = tf.reduce_max(keys, axis=-1)

    def halve(low, high):
        # floor((low + high) / 2) without int32 overflow.
        half = tf.bitwise.right_shift
        middle = (
            half(low, 1)
            + half(high, 1)
            + tf.bitwise.bitwise_and(tf.bitwise.bitwise_and(low, high), 1)
        )
        ok = passes(middle[:, None])
        return tf.where(ok, low, middle + 1), tf.where(ok, middle, high)

    _, high = tf.while_loop(
        lambda low, high: tf.reduce_any(low < high),
        halve,
        (low, high),
        maximum_iterations=32,
    )
    return high


def in_xla():
    """Whether the graph being traced is compiled by XLA."""
    if tf.executing_eagerly():
        return False
    graph = tf.compat.v1.get_default_graph()
    return control_flow_util.GraphOrParentsInXlaContext(graph)


def take(values, index):
    """`values[b, index[b]]` as `(B, 1)`, for `values` `(B, N)`, `index` `(B,)`
    or `(B, 1)`.

    Under XLA a masked sum, not `tf.gather`: XLA computes `approx_max_k`/
    `top_k` as a partial selection only while their results feed slices and
    elementwise ops; a gather from them turns the selection back into a sort
    of the whole row (12 ms instead of 0.4 for a GPT-2 row).
    """
    if not in_xla():
        index = tf.reshape(index, [-1])
        return tf.gather(values, index, batch_dims=1)[:, None]
    ranks = tf.range(tf.shape(values)[-1])[None, :]
    picked = ranks == tf.reshape(index, [-1, 1])
    return tf.reduce_sum(
        tf.where(picked, values, tf.zeros_like(values)), axis=-1, keepdims=True
    )


def _largest(logits, k):
    """`(values, indices)` of the `k` largest logits per row, descending.

    Under XLA, `approx_max_k` with recall 1: outside TPUs XLA computes it
    exactly, as a partial selection (0.45 ms for a GPT-2 row), while its
    lowering of `top_k` sorts the whole row as soon as the indices are used
    (20 ms). `approx_max_k` has no TensorFlow kernel, so elsewhere `top_k`.
    """
    if in_xla():
        return tf.math.approx_max_k(logits, k, recall_target=1.0)
    return tf.math.top_k(logits, k)


def min_p_threshold(logits, min_p):
    """float32 `(B, 1)` min-p threshold of whole rows; `min_p` scalar or `(B,)`."""
    _, _, min_p = _knobs(logits, 0, 1.0, min_p)
    return _min_p_threshold(tf.reduce_max(logits, axis=-1, keepdims=True), min_p)


def _min_p_threshold(top_logit, min_p):
    """`(B, 1)` logit threshold of min-p (log 0 = -inf keeps every token)."""
    return top_logit + tf.math.log(min_p)


def _nucleus_from_sorted(sorted_logits, log_normaliser, top_k, top_p):
    """Top-k then top-p threshold `(B, 1)` from descending `(B, N)` logits.

    `log_normaliser` `(B, 1)` is log Σ exp over the tokens top-k keeps. The
    mass before a sorted position includes its tied predecessors, so a tie
    group is kept when its first member is: the strictly-more-likely rule.
    """
    ranks = tf.range(tf.shape(sorted_logits)[-1])[None, :]
    in_top_k = (top_k <= 0) | (ranks < top_k)
    probabilities = tf.where(in_top_k, tf.exp(sorted_logits - log_normaliser), 0.0)
    mass_before = tf.cumsum(probabilities, axis=-1, exclusive=True)
    kept = ((mass_before < top_p) | (top_p >= 1.0)) & in_top_k
    last_kept = tf.reduce_sum(tf.cast(kept, tf.int32), axis=-1) - 1
    return take(sorted_logits, last_kept)


def _top_k_log_normaliser(values, logits, top_k_threshold, top_k):
    """log Σ exp over the tokens top-k keeps (all of `logits` when it is off).

    `values` are the logits that may pass top-k: the whole row, or the
    candidates when every token top-k keeps is one of them.
    """
    masked = tf.where(values >= top_k_threshold, values, -float("inf"))
    return tf.where(
        top_k > 0,
        tf.reduce_logsumexp(masked, axis=-1, keepdims=True),
        tf.reduce_logsumexp(logits, axis=-1, keepdims=True),
    )


def candidate_thresholds(logits, top_k, top_p, min_p):
    """Thresholds from the `NUM_CANDIDATES` largest logits, and if exact.

    Args:
        logits: float32 `(B, V)` (after temperature).
        top_k, top_p, min_p: scalar or `(B,)` tensors.

    Returns:
        `(threshold, exact, candidates, candidate_ids)`: float32 `(B, 1)`;
        bool `(B,)`, true where every kept token is a candidate (the
        threshold is then the full row's); float32 `(B, N)` descending and
        int32 `(B, N)` token ids, the `K = min(NUM_CANDIDATES, V)` largest
        logits (and, when V > K, one more column set to -inf).
    """
    vocabulary_size = logits.shape[-1]
    size = min(NUM_CANDIDATES, vocabulary_size)
    # One more than the candidates when the row is longer: the (K+1)-th
    # largest logit shows whether a kept token lies beyond them. It stays in
    # the arrays as -inf (slicing the selection's result would stop XLA
    # from computing it as a partial selection, see `take`).
    values, ids = _largest(logits, min(NUM_CANDIDATES + 1, vocabulary_size))
    outside = tf.reduce_min(values, axis=-1)
    if vocabulary_size > NUM_CANDIDATES:
        ranks = tf.range(NUM_CANDIDATES + 1)[None, :]
        candidates = tf.where(ranks < NUM_CANDIDATES, values, -float("inf"))
    else:
        candidates = values
    top_k, top_p, min_p = _knobs(logits, top_k, top_p, min_p)
    k_index = tf.clip_by_value(top_k - 1, 0, size - 1)
    top_k_threshold = tf.where(top_k > 0, take(candidates, k_index), -float("inf"))
    # With top-k on, its normaliser needs every token it keeps to be a
    # candidate; with top-k off it is over the whole row.
    top_k_exact = (top_k[:, 0] <= 0) | (
        (top_k[:, 0] <= size) & (top_k_threshold[:, 0] > outside)
    )
    log_normaliser = _top_k_log_normaliser(candidates, logits, top_k_threshold, top_k)
    threshold = tf.maximum(
        _nucleus_from_sorted(candidates, log_normaliser, top_k, top_p),
        _min_p_threshold(tf.reduce_max(values, axis=-1, keepdims=True), min_p),
    )
    exact = top_k_exact & (threshold[:, 0] > outside)
    if size == vocabulary_size:
        exact = tf.ones_like(exact)  # the candidates are the whole row
    return threshold, exact, candidates, ids


def full_row_thresholds(logits, top_k, top_p, min_p):
    """float32 `(B, 1)` threshold of top-k, top-p and min-p over whole rows.

    Bisection under XLA, a sort elsewhere (see the module docstring).
    """
    top_k, top_p, min_p = _knobs(logits, top_k, top_p, min_p)
    top_logit = tf.reduce_max(logits, axis=-1, keepdims=True)
    min_p_threshold = _min_p_threshold(top_logit, min_p)
    if not in_xla():
        sorted_logits = tf.sort(logits, axis=-1, direction="DESCENDING")
        k = tf.minimum(top_k, tf.shape(logits)[-1])
        top_k_threshold = tf.where(
            k > 0,
            take(sorted_logits, tf.maximum(k - 1, 0)),
            -float("inf"),
        )
        log_normaliser = _top_k_log_normaliser(logits, logits, top_k_threshold, top_k)
        nucleus = _nucleus_from_sorted(sorted_logits, log_normaliser, top_k, top_p)
        return tf.maximum(nucleus, min_p_threshold)

    keys = _order_keys(logits)

    def top_k_search():
        # The k-th largest: the smallest key with fewer than k keys above it.
        key = _smallest_passing_key(
            keys,
            lambda t: tf.reduce_sum(tf.cast(keys > t, tf.int32), axis=-1) < top_k[:, 0],
        )
        return tf.where(top_k > 0, _from_order_keys(key)[:, None], -float("inf"))

    top_k_threshold = tf.cond(
        tf.reduce_any(top_k > 0),
        top_k_search,
        lambda: tf.fill(tf.shape(top_logit), -float("inf")),
    )

    def nucleus_search():
        # Only here: a batch without top-p pays for no exponentials.
        log_normaliser = _top_k_log_normaliser(logits, logits, top_k_threshold, top_k)
        probabilities = tf.where(
            logits >= top_k_threshold, tf.exp(logits - log_normaliser), 0.0
        )
        key = _smallest_passing_key(
            keys,
            lambda t: (
                tf.reduce_sum(tf.where(keys > t, probabilities, 0.0), axis=-1)
                < top_p[:, 0]
            ),
        )
        return tf.where(top_p >= 1.0, -float("inf"), _from_order_keys(key)[:, None])

    nucleus = tf.cond(
        tf.reduce_any(top_p < 1.0),
        nucleus_search,
        lambda: tf.fill(tf.shape(top_logit), -float("inf")),
    )
    return tf.maximum(tf.maximum(nucleus, top_k_threshold), min_p_threshold)
