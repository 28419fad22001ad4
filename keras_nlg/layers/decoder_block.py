"""A GPT-style Transformer decoder block: causal self-attention then an MLP."""

import keras
from keras import ops

from keras_nlg.argument_checks import check_positive_int, check_rate
from keras_nlg.layers.attention import MultiHeadAttention, check_attention_scale
from keras_nlg.layers.settings import settings_config

# The constructor settings `get_config` records.
_SETTINGS = (
    *("num_heads", "intermediate_dim", "dropout", "normalize_first"),
    *("layer_norm_epsilon", "approximate_gelu", "use_bias"),
    *("kernel_initializer", "attention_scale", "use_causal_mask"),
)


@keras.saving.register_keras_serializable(package="keras_nlg")
class TransformerDecoderBlock(keras.layers.Layer):
    """Causal self-attention and a GELU MLP, each with a residual connection.

    With `normalize_first=True` (pre-LN, GPT-2):
    `h = x + Drop(Attn(LN₁(x)))`, `y = h + Drop(MLP(LN₂(h)))`.
    With `normalize_first=False` (post-LN, the original Transformer):
    `h = LN₁(x + Drop(Attn(x)))`, `y = LN₂(h + Drop(MLP(h)))`.

    Args:
        num_heads: attention heads; must divide the input size.
        intermediate_dim: hidden size of the MLP.
        dropout: dropout rate on attention probabilities and on both
            residual branches.
        normalize_first: pre-LN when True, post-LN when False.
        layer_norm_epsilon: LayerNorm epsilon (GPT-2 uses 1e-5).
        approximate_gelu: tanh approximation of GELU (GPT-2) or exact erf.
        use_bias: biases in all projections.
        kernel_initializer: initializer of all kernels.
        attention_scale: factor multiplying the attention scores; None (the
            default) is 1/√head_dim (see `MultiHeadAttention`).
        use_causal_mask: each position attends only to itself and earlier
            ones (a decoder). False makes the block an encoder block
            (bidirectional attention, as in BERT), e.g. for the
            discriminators of `keras_nlg.models.discriminators`.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `(batch, length, hidden_dim)`.
        attention_mask: optional boolean `(batch, length, key_length)`, ANDed
            with the causal mask (if used).
        cache: optional pair (keys, values) of `(batch * num_heads,
            cache_length, head_dim)` tensors (see `MultiHeadAttention`).
        cache_index: position of `inputs[:, 0]` in the cache.
        return_attention_scores: also return the attention probabilities.
        training: whether dropout is active.

    Returns:
        `outputs`, then the attention scores if requested, then the new cache
        if `cache` was given.

    Example:

    >>> block = TransformerDecoderBlock(num_heads=2, intermediate_dim=64)
    >>> block(keras.random.normal((2, 8, 32))).shape
    (2, 8, 32)
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        normalize_first=True,
        layer_norm_epsilon=1e-5,
        approximate_gelu=True,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        attention_scale=None,
        use_causal_mask=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(use_causal_mask, bool):
            raise TypeError(
                "`use_causal_mask` must be True or False. "
                f"Received: use_causal_mask={use_causal_mask!r}"
            )
        self.use_causal_mask = use_causal_mask
        check_positive_int("num_heads", num_heads)
        check_positive_int("intermediate_dim", intermediate_dim)
        check_rate("dropout", dropout)
        check_attention_scale(attention_scale)
        self.attention_scale = attention_scale
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.normalize_first = normalize_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.approximate_gelu = approximate_gelu
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        if hidden_dim % self.num_heads:
            raise ValueError(
                f"The input size must be divisible by num_heads={self.num_heads}. "
                f"Received: input_shape={tuple(input_shape)}"
            )

        def layer_norm(name):
            norm = keras.layers.LayerNormalization(
                epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
            )
            norm.build(input_shape)
            return norm

        def dense(units, name):
            return keras.layers.Dense(
                units,
                use_bias=self.use_bias,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy,
                name=name,
            )

        self.attention_norm = layer_norm("attention_norm")
        self.attention = MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=hidden_dim // self.num_heads,
            dropout=self.dropout,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            attention_scale=self.attention_scale,
            dtype=self.dtype_policy,
            name="attention",
        )
        self.attention.build(input_shape)
        self.mlp_norm = layer_norm("mlp_norm")
        self.mlp_in = dense(self.intermediate_dim, "mlp_in")
        self.mlp_in.build(input_shape)
        self.mlp_out = dense(hidden_dim, "mlp_out")
        self.mlp_out.build(tuple(input_shape[:-1]) + (self.intermediate_dim,))
        self.residual_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy
        )
        self.built = True

    def call(
        self,
        inputs,
        attention_mask=None,
        cache=None,
        cache_index=None,
        return_attention_scores=False,
        training=None,
    ):
        x = self.attention_norm(inputs) if self.normalize_first else inputs
        attended = self.attention(
            x,
            x,
            attention_mask=attention_mask,
            use_causal_mask=self.use_causal_mask,
            return_attention_scores=return_attention_scores,
            cache=cache,
            cache_index=cache_index,
            training=training,
        )
        attended = attended if isinstance(attended, tuple) else (attended,)
        output, extras = attended[0], attended[1:]  # extras: (scores?, cache?)
        h = inputs + self.residual_dropout(output, training=training)
        if not self.normalize_first:
            h = self.attention_norm(h)

        x = self.mlp_norm(h) if self.normalize_first else h
        # The MLP on rows (B·T, d): each Dense is then one MatMul, where Keras
        # multiplies a rank-3 input with tf.tensordot (13 ops per Dense in a
        # graph run without XLA, e.g. each step of the GPU-safe SavedModel).
        shape = ops.shape(x)
        x = self.mlp_in(ops.reshape(x, (-1, shape[-1])))
        x = keras.activations.gelu(x, approximate=self.approximate_gelu)
        x = ops.reshape(self.mlp_out(x), shape)
        outputs = h + self.residual_dropout(x, training=training)
        if not self.normalize_first:
            outputs = self.mlp_norm(outputs)
        return (outputs, *extras) if extras else outputs

    def get_config(self):
        return {**super().get_config(), **settings_config(self, _SETTINGS)}
