"""Scaled dot-product attention and multi-head attention with a static KV cache."""

import math

import keras
from keras import ops

from keras_nlg.validation import check_positive_int, check_rate

# Added to masked logits. Finite (not -inf) so that a fully masked row gives a
# uniform distribution instead of NaN; scores are always float32 here.
_MASKED_LOGIT = -1e9


def attention_weights(query, key, mask=None):
    """Returns softmax(QKᵀ/√d_k) in float32.

    Args:
        query: tensor `(..., query_length, key_dim)`.
        key: tensor `(..., key_length, key_dim)`.
        mask: optional boolean tensor broadcastable to
            `(..., query_length, key_length)`; `True` means "may attend".

    Returns:
        float32 tensor `(..., query_length, key_length)` whose rows sum to 1.
    """
    scores = ops.matmul(_scale(query), ops.swapaxes(key, -1, -2))
    return masked_softmax(scores, mask)


def _scale(query):
    # Scale the query rather than the scores: fewer multiplies, and it keeps
    # float16 products in range (the same choice as Keras' MultiHeadAttention).
    key_dim = ops.shape(query)[-1]
    return ops.multiply(query, ops.cast(1.0 / math.sqrt(key_dim), query.dtype))


def masked_softmax(scores, mask=None):
    """Softmax over the last axis in float32, where `mask` (True = keep) allows."""
    # Float32 even under mixed precision: float16 overflows on long sequences
    # and bfloat16 loses the small differences that matter.
    scores = ops.cast(scores, "float32")
    if mask is not None:
        scores = ops.where(ops.cast(mask, "bool"), scores, _MASKED_LOGIT)
    # exp(x - logsumexp(x)) is softmax; ops.softmax warns on a single key,
    # which is the normal first step of decoding.
    return ops.exp(scores - ops.logsumexp(scores, axis=-1, keepdims=True))


def scaled_dot_product_attention(query, key, value, mask=None):
    """softmax(QKᵀ/√d_k)·V with an optional boolean mask.

    Args:
        query: tensor `(..., query_length, key_dim)`.
        key: tensor `(..., key_length, key_dim)`.
        value: tensor `(..., key_length, value_dim)`.
        mask: optional boolean tensor broadcastable to
            `(..., query_length, key_length)`; `True` means "may attend".

    Returns:
        tensor `(..., query_length, value_dim)` in the dtype of `value`.

    Example:

    >>> q = k = v = keras.ops.eye(3)[None]
    >>> scaled_dot_product_attention(q, k, v).shape
    (1, 3, 3)
    """
    weights = attention_weights(query, key, mask)
    return ops.matmul(ops.cast(weights, value.dtype), value)


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

    The cache has the static shape `(batch, 2, max_length, num_heads, head_dim)`
    (keys at index 0, values at index 1) and is updated with
    `ops.slice_update` at `cache_index`, which lowers to dynamic-update-slice
    and compiles under XLA and TFLite builtins.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head for query and key.
        value_dim: size of each head for value; defaults to `key_dim`. A cache
            needs `value_dim == key_dim`.
        dropout: dropout rate on the attention probabilities.
        use_bias: whether the projections have biases.
        kernel_initializer: initializer for the projection kernels.
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
        cache: optional `(batch, 2, max_length, num_heads, key_dim)` tensor.
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
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("num_heads", num_heads)
        check_positive_int("key_dim", key_dim)
        check_positive_int("value_dim", value_dim, allow_none=True)
        check_rate("dropout", dropout)
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
        q = self.query_dense(query)  # (B, Tq, nh, hk)
        k = self.key_dense(key)  # (B, Tk, nh, hk)
        v = self.value_dense(value)  # (B, Tk, nh, hv)

        mask = None if attention_mask is None else ops.cast(attention_mask, "bool")
        if cache is not None:
            if cache_index is None:
                raise ValueError("`cache_index` is required when `cache` is given.")
            if self.value_dim != self.key_dim:
                raise ValueError(
                    "A cache needs value_dim == key_dim. Received: "
                    f"key_dim={self.key_dim}, value_dim={self.value_dim}"
                )
            new_kv = ops.stack([k, v], axis=1)  # (B, 2, Tq, nh, hk)
            zero = ops.zeros((), "int32")
            start = [zero, zero, ops.cast(cache_index, "int32"), zero, zero]
            cache = ops.slice_update(cache, start, ops.cast(new_kv, cache.dtype))
            k, v = cache[:, 0], cache[:, 1]  # (B, S, nh, hk) each
            cache_length = ops.shape(k)[1]
            if use_causal_mask:
                visible = causal_mask(query_length, cache_length, cache_index)
            else:
                # Every written slot, but none after the last written one:
                # those still hold zeros, not keys.
                written = ops.arange(cache_length) < cache_index + query_length
                visible = ops.broadcast_to(written[None], (query_length, cache_length))
            mask = (
                visible[None] if mask is None else ops.logical_and(mask, visible[None])
            )
        elif use_causal_mask:
            causal = causal_mask(query_length, ops.shape(k)[1])[None]
            mask = causal if mask is None else ops.logical_and(mask, causal)

        output, scores = self._compute_attention(q, k, v, mask, training)
        outputs = (output,)
        if return_attention_scores:
            outputs += (scores,)
        if cache is not None:
            outputs += (cache,)
        return outputs[0] if len(outputs) == 1 else outputs

    def _compute_attention(self, query, key, value, mask=None, training=None):
        """Attention per head; an override point for other attention kernels.

        `query` `(B, Tq, nh, hk)`, `key` `(B, Tk, nh, hk)`, `value`
        `(B, Tk, nh, hv)`, `mask` boolean broadcastable to `(B, Tq, Tk)`.
        Returns the projected output `(B, Tq, dim)` and the probabilities
        `(B, nh, Tq, Tk)` in float32.
        """
        # Einsums in the (B, T, nh, h) layout: no transposed copy of the
        # (possibly long, cached) keys and values per step.
        logits = ops.einsum("bqnh,bknh->bnqk", _scale(query), key)  # (B, nh, Tq, Tk)
        if mask is not None:
            mask = ops.expand_dims(mask, axis=1)  # (B, 1, Tq, Tk): same for each head
        scores = masked_softmax(logits, mask)  # float32
        dropped = self.dropout_layer(ops.cast(scores, value.dtype), training=training)
        context = ops.einsum("bnqk,bknh->bqnh", dropped, value)  # (B, Tq, nh, hv)
        return self.output_dense(context), scores

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
