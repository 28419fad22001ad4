"""Scaled dot-product attention and multi-head attention with a static KV cache."""

import contextlib
import math

import keras
from keras import ops

from keras_nlg.argument_checks import check_positive_int, check_rate
from keras_nlg.layers.column_update import update_columns
from keras_nlg.layers.settings import settings_config

# Added to masked logits. Finite (not -inf) so that a fully masked row gives a
# uniform distribution instead of NaN; scores are always float32 here.
_MASKED_LOGIT = -1e9
# The constructor settings `get_config` records.
_SETTINGS = (
    *("num_heads", "key_dim", "value_dim", "dropout", "use_bias"),
    *("kernel_initializer", "attention_scale"),
)


def attention_weights(query, key, mask=None, scale=None):
    """Returns softmax(scale·QKᵀ) in float32, by default scale = 1/√d_k.

    Args:
        query: tensor `(..., query_length, key_dim)`.
        key: tensor `(..., key_length, key_dim)`.
        mask: optional boolean tensor broadcastable to
            `(..., query_length, key_length)`; `True` means "may attend".
        scale: optional Python float multiplying the scores instead of
            1/√key_dim (GPT-2 variants that don't scale, or also divide by
            the layer number).

    Returns:
        float32 tensor `(..., query_length, key_length)` whose rows sum to 1.
    """
    return masked_softmax(einsum_scores(_scale(query, scale), key), mask)


def einsum_scores(query, key):
    """QKᵀ as an einsum over the last axes of both, `(..., Tq, Tk)`.

    Not matmul(q, kᵀ): XLA then reads the keys where they lie instead of
    writing a transposed copy of the whole cache every decode step.
    """
    return ops.einsum("...qd,...kd->...qk", query, key)


def _scale(query, scale=None):
    # Scale the query rather than the scores: fewer multiplies, and it keeps
    # float16 products in range (the same choice as Keras' MultiHeadAttention).
    if scale is None:
        scale = 1.0 / math.sqrt(ops.shape(query)[-1])
    return ops.multiply(query, ops.cast(scale, query.dtype))


_bounded_masking = False


@contextlib.contextmanager
def bounded_masking():
    """Traces `masked_softmax` without the −1e9 fill, for integer kernels.

    Filling masked scores with −1e9 is exact in float, but a quantizer that
    sees that fill in a tensor's range (full-int8 TFLite) spends all its
    levels on it and every real score rounds to the same value. Inside this
    context, masked scores are replaced by the row's smallest score and
    zeroed after the exponential instead: the same probabilities, with
    every tensor's range that of real scores. The export path traces under
    it; training and generation don't change.
    """
    global _bounded_masking
    previous, _bounded_masking = _bounded_masking, True
    try:
        yield
    finally:
        _bounded_masking = previous


def masked_softmax(scores, mask=None):
    """Softmax over the last axis in float32, where `mask` (True = keep) allows."""
    # Float32 even under mixed precision: float16 overflows on long sequences
    # and bfloat16 loses the small differences that matter.
    scores = ops.cast(scores, "float32")
    if mask is not None and _bounded_masking:
        keep = ops.cast(mask, "bool")
        floor = ops.min(scores, axis=-1, keepdims=True)
        scores = ops.where(keep, scores, floor)
        peak = ops.max(scores, axis=-1, keepdims=True)
        weights = ops.where(keep, ops.exp(scores - peak), 0.0)
        # A row with nothing to attend (left padding) gets zeros, not NaN.
        total = ops.maximum(ops.sum(weights, axis=-1, keepdims=True), 1e-30)
        return weights / total
    if mask is not None:
        scores = ops.where(ops.cast(mask, "bool"), scores, _MASKED_LOGIT)
    # exp(x - max) / Σ exp(x - max) is softmax; ops.softmax warns on a single
    # key, which is the normal first step of decoding, and exp(x - logsumexp)
    # is twice the ops in a graph run without XLA (a served decode step).
    weights = ops.exp(scores - ops.max(scores, axis=-1, keepdims=True))
    return weights / ops.sum(weights, axis=-1, keepdims=True)


def scaled_dot_product_attention(query, key, value, mask=None, scale=None):
    """softmax(QKᵀ/√d_k)·V with an optional boolean mask.

    Args:
        query: tensor `(..., query_length, key_dim)`.
        key: tensor `(..., key_length, key_dim)`.
        value: tensor `(..., key_length, value_dim)`.
        mask: optional boolean tensor broadcastable to
            `(..., query_length, key_length)`; `True` means "may attend".
        scale: optional float replacing 1/√key_dim (see `attention_weights`).

    Returns:
        tensor `(..., query_length, value_dim)` in the dtype of `value`.

    Example:

    >>> q = k = v = keras.ops.eye(3)[None]
    >>> scaled_dot_product_attention(q, k, v).shape
    (1, 3, 3)
    """
    weights = attention_weights(query, key, mask, scale)
    return ops.matmul(ops.cast(weights, value.dtype), value)


def check_attention_scale(attention_scale):
    """`ValueError` unless `attention_scale` is None or a finite number > 0."""
    if attention_scale is None:
        return
    if (
        isinstance(attention_scale, bool)
        or not isinstance(attention_scale, int | float)
        or not math.isfinite(attention_scale)
        or attention_scale <= 0
    ):
        raise ValueError(
            "`attention_scale` must be None or a finite number > 0. "
            f"Received: attention_scale={attention_scale!r}"
        )


def causal_mask(query_length, key_length, query_offset=0):
    """Boolean mask `(query_length, key_length)`: query i sees keys j ≤ offset + i.

    `query_offset` is the absolute position of the first query, so the same
    mask serves a full pass (offset 0) and a cached step (offset = cache index).
    """
    query_positions = ops.arange(query_length) + query_offset
    key_positions = ops.arange(key_length)
    return ops.greater_equal(query_positions[:, None], key_positions[None, :])


@keras.saving.register_keras_serializable(package="keras_nlg")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention with an optional fixed-size key/value cache.

    Concat(head₁, …, head_h)·W^O with headᵢ = Attention(Q·W_iQ, K·W_iK, V·W_iV).
    The projections are `keras.layers.EinsumDense` layers with the same shapes
    as `keras.layers.MultiHeadAttention`, so weights transfer one to one and
    Keras' `enable_lora()` works on them.

    The cache is a pair `(key_cache, value_cache)` of static-shape tensors
    `(batch * num_heads, context_length, head_dim)`, updated at `cache_index`
    by `layers.column_update.update_columns`: dynamic-update-slice (in place)
    under XLA and in TFLite, `TensorStridedSliceUpdate` (native GPU kernels)
    in a plain graph. The layout is what lets a decode loop update it in
    place: with positions first, or keys and values in one tensor, XLA wrote
    a transposed or sliced copy of the whole cache every step, and with batch
    and heads as two axes XLA:CPU duplicated the update into the reshape that
    merges them for the attention matmuls, copying each cache tensor twice
    per step (benchmarks/RESULTS.md).

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head for query and key.
        value_dim: size of each head for value; defaults to `key_dim`. A cache
            needs `value_dim == key_dim`.
        dropout: dropout rate on the attention probabilities.
        use_bias: whether the projections have biases.
        kernel_initializer: initializer for the projection kernels.
        attention_scale: the factor multiplying the query-key scores; None
            (the default) is 1/√key_dim. GPT-2 checkpoints trained without
            that scaling, or also dividing by the layer number
            (`scale_attn_by_inverse_layer_idx`), set it.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        query: `(batch, query_length, dim)`.
        value: `(batch, key_length, dim)`; for self-attention, the query again.
        key: optional `(batch, key_length, dim)`; defaults to `value`.
        attention_mask: optional boolean `(batch, query_length, key_length)`,
            `True` = attend. With a cache, `key_length` is the cache length.
        use_causal_mask: mask out keys after each query position.
        return_attention_scores: also return the attention probabilities
            `(batch, num_heads, query_length, key_length)`.
        cache: optional pair of `(batch * num_heads, context_length, key_dim)`
            tensors (keys, values; row `b * num_heads + h` is head h of
            batch row b).
            `query` then holds the new positions only, and keys and values
            are read from the updated cache.
        cache_index: int, absolute position of `query[:, 0]` in the cache.
        training: whether dropout is active.

    Returns:
        `output`, then the attention scores if `return_attention_scores`,
        then the new cache if `cache` was given (a tuple when more than one).

    Example:

    >>> mha = MultiHeadAttention(num_heads=2, key_dim=8)
    >>> x = keras.random.normal((1, 5, 16))
    >>> mha(x, x, use_causal_mask=True).shape
    (1, 5, 16)
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        attention_scale=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("num_heads", num_heads)
        check_positive_int("key_dim", key_dim)
        check_positive_int("value_dim", value_dim, allow_none=True)
        check_rate("dropout", dropout)
        check_attention_scale(attention_scale)
        self.attention_scale = attention_scale
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim or key_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        output_dim = query_shape[-1]

        def projection(name, equation, output_shape, bias_axes):
            return keras.layers.EinsumDense(
                equation,
                output_shape=output_shape,
                bias_axes=bias_axes if self.use_bias else None,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy,
                name=name,
            )

        # Same creation order and shapes as keras.layers.MultiHeadAttention.
        self.query_dense = projection(
            "query", "btd,dnh->btnh", (None, self.num_heads, self.key_dim), "nh"
        )
        self.query_dense.build(query_shape)
        self.key_dense = projection(
            "key", "btd,dnh->btnh", (None, self.num_heads, self.key_dim), "nh"
        )
        self.key_dense.build(key_shape)
        self.value_dense = projection(
            "value", "btd,dnh->btnh", (None, self.num_heads, self.value_dim), "nh"
        )
        self.value_dense.build(value_shape)
        self.output_dense = projection(
            "attention_output", "btnh,nhd->btd", (None, output_dim), "d"
        )
        self.output_dense.build((None, None, self.num_heads, self.value_dim))
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.built = True

    def call(
        self,
        query,
        value,
        key=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        cache=None,
        cache_index=None,
        training=None,
    ):
        key = value if key is None else key
        query_length = ops.shape(query)[1]
        # Head-major (B, nh, T, h), the cache's layout.
        q = ops.transpose(self.query_dense(query), (0, 2, 1, 3))  # (B, nh, Tq, hk)
        k = ops.transpose(self.key_dense(key), (0, 2, 1, 3))  # (B, nh, Tk, hk)
        v = ops.transpose(self.value_dense(value), (0, 2, 1, 3))  # (B, nh, Tk, hv)

        mask = None if attention_mask is None else ops.cast(attention_mask, "bool")
        if cache is None:
            if use_causal_mask:
                causal = causal_mask(query_length, ops.shape(k)[2])[None]
                mask = causal if mask is None else ops.logical_and(mask, causal)
            if mask is not None:
                mask = mask[:, None]  # (B, 1, Tq, Tk): the same for every head
            context, scores = self._compute_attention(q, k, v, mask, training)
            output = self._merge_heads(context)
            return (output, scores) if return_attention_scores else output

        if cache_index is None:
            raise ValueError("`cache_index` is required when `cache` is given.")
        if self.value_dim != self.key_dim:
            raise ValueError(
                "A cache needs value_dim == key_dim. Received: "
                f"key_dim={self.key_dim}, value_dim={self.value_dim}"
            )
        # (B·nh, S, h) each; columns < cache_index hold earlier positions.
        key_cache, value_cache = cache
        batch = ops.shape(q)[0]
        cache_index = ops.cast(cache_index, "int32")
        cache_length = ops.shape(key_cache)[1]
        q, k, v = (
            ops.reshape(t, (-1, query_length, self.key_dim)) for t in (q, k, v)
        )  # (B·nh, Tq, h)
        # Write the new positions, then attend to the updated cache (in place
        # under XLA, see the class docstring).
        key_cache = update_columns(key_cache, cache_index, k)
        value_cache = update_columns(value_cache, cache_index, v)
        columns = ops.arange(cache_length)[None, :]  # (1, S)
        if use_causal_mask:
            positions = cache_index + ops.arange(query_length)[:, None]  # (Tq, 1)
            visible = (columns <= positions)[None]  # (1, Tq, S)
        else:
            visible = (columns < cache_index + query_length)[None]  # (1, 1, S)
        if mask is not None:
            visible = ops.logical_and(mask, visible)  # (B | 1, Tq | 1, S)
        visible = ops.reshape(
            ops.broadcast_to(
                visible[:, None],
                (batch, self.num_heads, query_length, cache_length),
            ),
            (-1, query_length, cache_length),
        )  # (B·nh, Tq, S)
        context, scores = self._compute_attention(
            q, key_cache, value_cache, visible, training
        )
        output = self._merge_heads(
            ops.reshape(context, (batch, self.num_heads, query_length, self.value_dim))
        )
        cache = (key_cache, value_cache)
        if not return_attention_scores:
            return output, cache
        scores = ops.reshape(
            scores, (batch, self.num_heads, query_length, cache_length)
        )
        return output, scores, cache

    def _compute_attention(self, query, key, value, mask, training=None):
        """Attention of head-major tensors; an override point for other kernels.

        `query` `(..., Tq, hk)`, `key` `(..., Tk, hk)`, `value` `(..., Tk, hv)`
        with the same leading (batch and head) axes, `mask` boolean
        broadcastable to `(..., Tq, Tk)` or None. Returns the context
        `(..., Tq, hv)` and the probabilities `(..., Tq, Tk)` in float32.
        """
        scores = attention_weights(query, key, mask, self.attention_scale)  # float32
        dropped = self.dropout_layer(ops.cast(scores, value.dtype), training=training)
        return ops.matmul(dropped, value), scores

    def _merge_heads(self, context):
        """`(B, nh, Tq, hv)` → the output projection of `(B, Tq, nh, hv)`."""
        return self.output_dense(ops.transpose(context, (0, 2, 1, 3)))

    def get_config(self):
        return {**super().get_config(), **settings_config(self, _SETTINGS)}
