"""A GPT-style decoder-only Transformer language model."""

import keras
from keras import ops

from keras_nlg.argument_checks import (
    check_positive_int,
    check_rate,
    pop_renamed_argument,
)
from keras_nlg.layers import TokenAndPositionEmbedding, TransformerDecoderBlock
from keras_nlg.models.language_model import CacheSpec, LanguageModel
from keras_nlg.models.quantization import quantized_policies, resolve_policy_map


@keras.saving.register_keras_serializable(package="keras_nlg")
class TransformerLanguageModel(LanguageModel):
    """Decoder-only Transformer: token ids `(batch, length)` → logits.

    The defaults express GPT-2 exactly: learned absolute positions, pre-LN
    blocks with a final LayerNorm, tanh-approximated GELU, biases everywhere,
    LayerNorm epsilon 1e-5 and an output projection tied to the token
    embedding.

    Implements the `LanguageModel` contract. Generation and every export
    wrap one step, `call_with_cache`, on a static-shape cache made by
    `empty_cache`: a tuple with one pair of
    `(batch * num_heads, length, head_dim)` tensors (keys, values) per block.
    Separate tensors let XLA update each in place inside a decode loop and
    read it without copying; one stacked tensor was re-copied whole every
    step (measured: 1.6x slower at batch 8, see benchmarks/RESULTS.md).

    Args:
        vocabulary_size: number of token ids.
        context_length: context length (number of positions).
        num_layers: number of decoder blocks.
        num_heads: attention heads per block.
        hidden_dim: model width.
        intermediate_dim: MLP width.
        dropout: dropout rate (embeddings, attention, residual branches).
        tie_embeddings: project to the vocabulary with the transposed token
            embedding instead of a separate matrix.
        position_embedding: `"learned"` or `"sinusoidal"`.
        normalize_first: pre-LN (with a final LayerNorm) or post-LN.
        layer_norm_epsilon: LayerNorm epsilon.
        approximate_gelu: tanh-approximated GELU (GPT-2) or exact.
        use_bias: biases in the projections.
        scale_attention_weights: divide attention scores by √head_dim (as
            nearly every Transformer does; Hugging Face GPT-2's
            `scale_attn_weights`).
        scale_attention_by_inverse_layer_index: also divide block i's scores
            by i + 1 (Hugging Face GPT-2's `scale_attn_by_inverse_layer_idx`,
            used by the Stanford CRFM runs).
        **kwargs: base `keras.Model` arguments (`name`, `dtype`).

    Call arguments:
        token_ids: int tensor `(batch, length)`, `length ≤ context_length`.
        training: whether dropout is active.

    Returns float32 logits `(batch, length, vocabulary_size)`, also under a
    mixed-precision policy.

    Example:

    >>> model = TransformerLanguageModel(258, context_length=64, num_layers=2,
    ...     num_heads=2, hidden_dim=32, intermediate_dim=64)
    >>> model(keras.ops.ones((1, 8), "int32")).shape
    (1, 8, 258)
    """

    # `model.quantize("int8")` survives a save (see `models/quantization.py`).
    saves_quantized = True

    def __init__(
        self,
        vocabulary_size,
        context_length=None,
        num_layers=None,
        num_heads=None,
        hidden_dim=None,
        intermediate_dim=None,
        dropout=0.0,
        tie_embeddings=True,
        position_embedding="learned",
        normalize_first=True,
        layer_norm_epsilon=1e-5,
        approximate_gelu=True,
        use_bias=True,
        scale_attention_weights=True,
        scale_attention_by_inverse_layer_index=False,
        **kwargs,
    ):
        context_length = pop_renamed_argument(
            kwargs, "max_length", "context_length", context_length
        )
        super().__init__(**kwargs)
        check_positive_int("num_layers", num_layers)
        check_positive_int("hidden_dim", hidden_dim)
        check_positive_int("intermediate_dim", intermediate_dim)
        check_rate("dropout", dropout)
        if not isinstance(num_heads, int) or num_heads <= 0 or hidden_dim % num_heads:
            raise ValueError(
                "`num_heads` must be a positive integer that divides hidden_dim="
                f"{hidden_dim}. Received: num_heads={num_heads!r}"
            )
        self.vocabulary_size = vocabulary_size
        self.context_length = context_length
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.tie_embeddings = tie_embeddings
        self.position_embedding = position_embedding
        self.normalize_first = normalize_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.approximate_gelu = approximate_gelu
        self.use_bias = use_bias
        for name, value in (
            ("scale_attention_weights", scale_attention_weights),
            (
                "scale_attention_by_inverse_layer_index",
                scale_attention_by_inverse_layer_index,
            ),
        ):
            if not isinstance(value, bool):
                raise ValueError(f"`{name}` must be True or False. Received: {value!r}")
        self.scale_attention_weights = scale_attention_weights
        self.scale_attention_by_inverse_layer_index = (
            scale_attention_by_inverse_layer_index
        )
        # GPT-2's initialisation: N(0, 0.02) everywhere.
        initializer = keras.initializers.RandomNormal(stddev=0.02)

        self.embedding = TokenAndPositionEmbedding(
            vocabulary_size,
            context_length,
            hidden_dim,
            position_embedding=position_embedding,
            embeddings_initializer=initializer,
            dtype=self.dtype_policy,
            name="embedding",
        )
        self.embedding_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)
        self.blocks = [
            TransformerDecoderBlock(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                dropout=dropout,
                normalize_first=normalize_first,
                layer_norm_epsilon=layer_norm_epsilon,
                approximate_gelu=approximate_gelu,
                use_bias=use_bias,
                kernel_initializer=initializer,
                attention_scale=self._attention_scale(i),
                dtype=self.dtype_policy,
                name=f"block_{i}",
            )
            for i in range(num_layers)
        ]
        # Post-LN blocks already end in a LayerNorm.
        self.final_norm = (
            keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="final_norm"
            )
            if normalize_first
            else None
        )
        self.output_projection = (
            None
            if tie_embeddings
            else keras.layers.Dense(
                vocabulary_size,
                use_bias=False,
                kernel_initializer=initializer,
                dtype=self.dtype_policy,
                name="output_projection",
            )
        )
        # Built at construction (no input shape is needed) so that every
        # method, including a traced `call_with_cache`, finds its weights.
        self.build()
        resolve_policy_map(self)

    @classmethod
    def from_gpt2(cls, path):
        """A GPT-2 checkpoint from a local directory (Hugging Face or keras-hub).

        See `keras_nlg.models.gpt2_reader` for the files and
        `keras_nlg.models.gpt2_config` for what each config.json field does
        (honoured, refused by name, or ignored because it cannot change the
        logits); `keras-nlg import-gpt2` also writes the tokenizer into a
        model directory.

        Raises:
            ValueError: naming the file (and the config.json field and its
                value) when the checkpoint is damaged or uses an option we
                don't implement.
        """
        from keras_nlg.models.gpt2_reader import read_gpt2_checkpoint

        return read_gpt2_checkpoint(path, cls)[0]

    @property
    def head_dim(self):
        return self.hidden_dim // self.num_heads

    def _attention_scale(self, layer_index):
        """Block `layer_index`'s score factor; None is the layer's 1/√head_dim."""
        if self.scale_attention_weights and not (
            self.scale_attention_by_inverse_layer_index
        ):
            return None  # the default path, unchanged
        scale = 1.0 / self.head_dim**0.5 if self.scale_attention_weights else 1.0
        if self.scale_attention_by_inverse_layer_index:
            scale /= layer_index + 1
        return scale

    def build(self, input_shape=None):
        if self.built:  # `load_model` calls build again with the saved shape
            return
        hidden_shape = (None, None, self.hidden_dim)
        self.embedding.build((None, None))
        for block in self.blocks:
            block.build(hidden_shape)
        if self.final_norm is not None:
            self.final_norm.build(hidden_shape)
        if self.output_projection is not None:
            self.output_projection.build(hidden_shape)
        self.built = True

    def _logits(self, hidden):
        if self.final_norm is not None:
            hidden = self.final_norm(hidden)
        if self.output_projection is not None:
            logits = self.output_projection(hidden)
        else:
            logits = self.embedding.reverse(hidden)
        # Losses, sampling and beam scores want float32 even under mixed precision.
        return ops.cast(logits, "float32")

    def _check_length(self, length, start=0, capacity=None):
        """Fails loudly where XLA would clamp a slice and silently reuse slots."""
        capacity = capacity or self.context_length
        if (
            isinstance(length, int)
            and isinstance(start, int)
            and start + length > capacity
        ):
            raise ValueError(
                f"Positions {start}..{start + length - 1} do not fit a context of "
                f"{capacity} (context_length={self.context_length}). "
                f"Received: length={length}, cache_index={start}"
            )

    def call(self, token_ids, training=None):
        self._check_length(token_ids.shape[-1])
        x = self.embedding(token_ids)  # (B, T, D)
        x = self.embedding_dropout(x, training=training)
        for block in self.blocks:
            x = block(x, training=training)
        return self._logits(x)  # (B, T, V)

    def empty_cache(self, batch_size, length=None, dtype=None):
        """`num_layers` pairs of zero tensors `(batch * heads, length, head_dim)`.

        `length` (default `context_length`) is the number of cache columns;
        attention cost per step grows with it, so a generator sizes it to
        prompt + new tokens rather than the whole context. It may exceed
        `context_length` when left padding takes columns (not positions): a
        batch whose rows have different prompt lengths and token budgets.
        `batch_size` and `length` may be scalar tensors.
        """
        if isinstance(length, int) and length < 1:
            raise ValueError(f"`length` must be ≥ 1. Received: length={length}")
        if length is None:
            length = self.context_length
        shape = (batch_size * self.num_heads, length, self.head_dim)
        dtype = dtype or self.compute_dtype
        return tuple(
            (ops.zeros(shape, dtype), ops.zeros(shape, dtype))
            for _ in range(self.num_layers)
        )

    def cache_spec(self, batch_size, length=None, dtype=None):
        """Keys then values of each block, `kv_cache_{k,v}_{i}`; columns on axis 1."""
        length = self.context_length if length is None else length
        return CacheSpec.per_layer(
            "kv_cache_",
            "kv",
            self.num_layers,
            (batch_size * self.num_heads, length, self.head_dim),
            dtype or self.compute_dtype,
            position_axis=1,
            layout="[batch * heads, positions, head_dim] per layer: k then v",
        )

    def call_with_cache(self, token_ids, cache, cache_index, padding_mask=None):
        """One decode step: logits for `token_ids` given everything before them.

        Args:
            token_ids: int `(batch, length)`, the tokens of cache columns
                `cache_index … cache_index + length - 1` (a whole prompt for
                prefill, one token per step afterwards).
            cache: from `empty_cache` or a previous step.
            cache_index: int or scalar int tensor.
            padding_mask: optional boolean `(batch, context_length)`, False on the
                cache columns that hold a row's left padding (and True on all
                others, later ones included). Rows of a left-padded batch then
                get their own positions (column − padding) and never attend
                to padding, so each row decodes exactly as it would alone.

        Returns:
            `(logits, cache)`: float32 logits `(batch, length, vocab)` and the
            cache with these columns written.

        Raises:
            ValueError: if `cache_index` is a Python int and the columns run
                past `context_length`. A tensor index is not checked here (XLA
                would clamp it); the caller bounds its loop.
        """
        length = ops.shape(token_ids)[-1]
        self._check_length(length, cache_index, cache[0][0].shape[1])
        attention_mask = None
        if padding_mask is None:
            x = self.embedding(token_ids, start_index=cache_index)
        else:
            padding_mask = ops.cast(padding_mask, "bool")  # (B, S)
            padding = ops.sum(ops.cast(ops.logical_not(padding_mask), "int32"), axis=-1)
            columns = ops.arange(length) + ops.cast(cache_index, "int32")  # (T,)
            # Padding columns themselves get position 0; nothing attends to them.
            positions = ops.maximum(columns[None, :] - padding[:, None], 0)  # (B, T)
            # A row that ended early in a batch decoding on may run past the
            # context; its output is discarded, but its lookup must stay in range.
            positions = ops.minimum(positions, self.context_length - 1)
            x = self.embedding(token_ids, positions=positions)
            attention_mask = padding_mask[:, None, :]  # (B, 1, S), same for each query
        layer_caches = []
        for i, block in enumerate(self.blocks):
            x, layer_cache = block(
                x,
                attention_mask=attention_mask,
                cache=cache[i],
                cache_index=cache_index,
            )
            layer_caches.append(layer_cache)
        return self._logits(x), tuple(layer_caches)

    def attention_scores(self, token_ids):
        """Attention probabilities of every block, for visualisation.

        Returns a list (one per block) of float32 `(batch, num_heads, length,
        length)` tensors.
        """
        x = self.embedding(token_ids)
        scores = []
        for block in self.blocks:
            x, block_scores = block(x, return_attention_scores=True)
            scores.append(block_scores)
        return scores

    def get_config(self):
        config = super().get_config()
        quantized = quantized_policies(self)
        if quantized is not None:  # serialized: model directories keep JSON
            config["dtype"] = keras.saving.serialize_keras_object(quantized)
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "context_length": self.context_length,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "hidden_dim": self.hidden_dim,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "tie_embeddings": self.tie_embeddings,
                "position_embedding": self.position_embedding,
                "normalize_first": self.normalize_first,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "approximate_gelu": self.approximate_gelu,
                "use_bias": self.use_bias,
                "scale_attention_weights": self.scale_attention_weights,
                "scale_attention_by_inverse_layer_index": (
                    self.scale_attention_by_inverse_layer_index
                ),
            }
        )
        return config
