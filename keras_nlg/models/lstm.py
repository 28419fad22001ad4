"""The LSTM baseline language model."""

import keras
from keras import ops

from keras_nlg.argument_checks import check_positive_int, check_rate
from keras_nlg.models.language_model import CacheSpec, LanguageModel


@keras.saving.register_keras_serializable(package="keras_nlg")
class LSTMLanguageModel(LanguageModel):
    """Embedding → stacked LSTM → Dense logits.

    Implements the `LanguageModel` contract with no context limit
    (`context_length` is None): `call_with_cache(token_ids, states,
    cache_index)` where `states` is one tensor `(batch, num_layers, 2, units)`
    holding `(h, c)` of every layer (from `empty_cache`). A recurrent state
    needs no position: `cache_index` only locates the `padding_mask` columns.
    Flattened (`flatten_cache`, the TFLite signatures) it is `h` then `c` of
    each layer, `(batch, units)` each.

    Args:
        vocabulary_size: number of token ids.
        embedding_dim: token embedding size.
        units: LSTM units per layer.
        num_layers: stacked LSTM layers.
        dropout: dropout on the embeddings, between layers and before the
            output projection (outside the cells, so the fused cuDNN kernel
            stays usable).
        **kwargs: base `keras.Model` arguments.

    Call arguments:
        token_ids: int tensor `(batch, length)`.
        training: whether dropout is active.

    Returns float32 logits `(batch, length, vocabulary_size)`.

    Example:

    >>> model = LSTMLanguageModel(258, embedding_dim=16, units=32, num_layers=1)
    >>> model(keras.ops.ones((1, 8), "int32")).shape
    (1, 8, 258)
    """

    # No context limit: generators never crop the prompt.
    context_length = None

    def __init__(
        self,
        vocabulary_size,
        embedding_dim,
        units,
        num_layers=1,
        dropout=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("vocabulary_size", vocabulary_size)
        check_positive_int("embedding_dim", embedding_dim)
        check_positive_int("units", units)
        check_positive_int("num_layers", num_layers)
        check_rate("dropout", dropout)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.num_layers = num_layers
        self.dropout = dropout
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, dtype=self.dtype_policy, name="embedding"
        )
        self.recurrent_layers = [
            keras.layers.LSTM(
                units,
                return_sequences=True,
                return_state=True,
                dtype=self.dtype_policy,
                name=f"lstm_{i}",
            )
            for i in range(num_layers)
        ]
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy)
        self.output_projection = keras.layers.Dense(
            vocabulary_size, dtype=self.dtype_policy, name="output_projection"
        )
        # Built at construction (no input shape is needed) so that every
        # method, including a traced `call_with_cache`, finds its weights.
        self.build()

    def build(self, input_shape=None):
        if self.built:  # `load_model` calls build again with the saved shape
            return
        self.embedding.build((None, None))
        features = self.embedding_dim
        for layer in self.recurrent_layers:
            layer.build((None, None, features))
            features = self.units
        self.output_projection.build((None, None, self.units))
        self.built = True

    def _run(self, token_ids, states=None, mask=None, training=None):
        x = self.embedding(token_ids)  # (B, T, E)
        new_states = []
        for i, layer in enumerate(self.recurrent_layers):
            x = self.dropout_layer(x, training=training)
            initial_state = (
                None if states is None else [states[:, i, 0], states[:, i, 1]]
            )
            # Masked (padding) steps carry the state through unchanged.
            x, h, c = layer(
                x, initial_state=initial_state, mask=mask, training=training
            )
            new_states.append(ops.stack([h, c], axis=1))  # (B, 2, units)
        x = self.dropout_layer(x, training=training)
        logits = ops.cast(self.output_projection(x), "float32")  # (B, T, V)
        return logits, ops.stack(new_states, axis=1)  # (B, L, 2, units)

    def call(self, token_ids, training=None):
        return self._run(token_ids, training=training)[0]

    def empty_cache(self, batch_size, length=None, dtype=None):
        """Zero states `(batch, num_layers, 2, units)`; `length` is unused."""
        return ops.zeros(
            (batch_size, self.num_layers, 2, self.units), dtype or self.compute_dtype
        )

    def cache_spec(self, batch_size, length=None, dtype=None):
        """`state_h_{i}`, `state_c_{i}` per layer, `(batch, units)`; no positions."""
        return CacheSpec.per_layer(
            "state_",
            "hc",
            self.num_layers,
            (batch_size, self.units),
            dtype or self.compute_dtype,
            position_axis=None,
            layout="[batch, units] per layer: h then c",
        )

    def flatten_cache(self, cache):
        return [cache[:, i, s] for i in range(self.num_layers) for s in range(2)]

    def unflatten_cache(self, tensors):
        layers = [
            ops.stack([tensors[2 * i], tensors[2 * i + 1]], axis=1)
            for i in range(self.num_layers)
        ]
        return ops.stack(layers, axis=1)  # (B, L, 2, units)

    def call_with_cache(self, token_ids, cache, cache_index=None, padding_mask=None):
        """Advances the LSTM over `token_ids` from the states in `cache`.

        `padding_mask` (boolean `(batch, columns)`, False on left padding) is
        read at columns `cache_index … cache_index + length - 1`, so padded
        rows keep their states until their first real token. Returns
        `(logits, states)`.
        """
        mask = None
        if padding_mask is not None:
            batch, length = ops.shape(token_ids)  # dynamic in a served graph
            mask = ops.slice(
                ops.cast(padding_mask, "bool"),
                [0, ops.cast(cache_index, "int32")],
                [batch, length],
            )
        return self._run(token_ids, states=cache, mask=mask)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "units": self.units,
                "num_layers": self.num_layers,
                "dropout": self.dropout,
            }
        )
        return config
