"""Sequence classifiers that tell real text from generated: GAN discriminators.

Adversarial training (`keras_nlg.training.adversarial`) rewards a generator
with a discriminator's judgement. Both discriminators here take right-padded
token ids `(batch, length)` and a boolean `padding_mask` (True on real
tokens, end-of-text included) and return one logit per row: the log-odds that
the row is real text. They are ordinary Keras models (`get_config`,
`.keras` files, `safe_mode` loading), built from the same layers as our
language models:

- `TransformerDiscriminator`: our `TransformerDecoderBlock` with
  `use_causal_mask=False` (bidirectional attention, an encoder as in BERT),
  then a mean over the real positions and a linear head.
- `LSTMDiscriminator`: an embedding and an LSTM whose last real step's state
  feeds a linear head (padding steps carry the state through unchanged).
"""

import keras
from keras import ops

from keras_nlg.argument_checks import check_positive_int, check_rate
from keras_nlg.layers import TokenAndPositionEmbedding, TransformerDecoderBlock
from keras_nlg.layers.settings import settings_config

# The constructor settings each `get_config` records.
_TRANSFORMER = (
    *("vocabulary_size", "sequence_length", "num_layers", "num_heads"),
    *("hidden_dim", "intermediate_dim", "dropout"),
)
_LSTM = ("vocabulary_size", "embedding_dim", "units", "dropout")


def _full_mask(token_ids, padding_mask):
    if padding_mask is None:
        return ops.ones(ops.shape(token_ids), "bool")
    return ops.cast(padding_mask, "bool")


@keras.saving.register_keras_serializable(package="keras_nlg")
class TransformerDiscriminator(keras.Model):
    """Bidirectional Transformer encoder → masked mean → logit "real".

    Args:
        vocabulary_size: number of token ids (the generator's).
        sequence_length: the longest sequence it classifies (positions).
        num_layers, num_heads, hidden_dim, intermediate_dim: encoder size.
        dropout: dropout rate in the blocks and before the head.
        **kwargs: base `keras.Model` arguments.

    Call arguments:
        token_ids: int `(batch, length)`, `length ≤ sequence_length`.
        padding_mask: optional bool `(batch, length)`, True on real tokens
            (each row needs at least one); None means every token is real.
        training: whether dropout is active.

    Returns float32 logits `(batch,)`: `sigmoid(logit)` is the probability
    that the row is real.

    Example:

    >>> d = TransformerDiscriminator(100, sequence_length=16, hidden_dim=32)
    >>> d(keras.ops.ones((2, 16), "int32")).shape
    (2,)
    """

    def __init__(
        self,
        vocabulary_size,
        sequence_length,
        num_layers=2,
        num_heads=2,
        hidden_dim=64,
        intermediate_dim=128,
        dropout=0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("vocabulary_size", vocabulary_size),
            ("sequence_length", sequence_length),
            ("num_layers", num_layers),
            ("num_heads", num_heads),
            ("hidden_dim", hidden_dim),
            ("intermediate_dim", intermediate_dim),
        ):
            check_positive_int(name, value)
        check_rate("dropout", dropout)
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.embedding = TokenAndPositionEmbedding(
            vocabulary_size, sequence_length, hidden_dim, name="embedding"
        )
        self.blocks = [
            TransformerDecoderBlock(
                num_heads,
                intermediate_dim,
                dropout=dropout,
                use_causal_mask=False,
                name=f"encoder_block_{i}",
            )
            for i in range(num_layers)
        ]
        self.final_norm = keras.layers.LayerNormalization(
            epsilon=1e-5, name="final_norm"
        )
        self.dropout_layer = keras.layers.Dropout(dropout)
        self.head = keras.layers.Dense(1, name="head")
        self.build()

    def build(self, input_shape=None):
        if self.built:
            return
        self.embedding.build((None, None))
        for block in self.blocks:
            block.build((None, None, self.hidden_dim))
        self.final_norm.build((None, None, self.hidden_dim))
        self.head.build((None, self.hidden_dim))
        self.built = True

    def call(self, token_ids, padding_mask=None, training=None):
        mask = _full_mask(token_ids, padding_mask)  # (B, T)
        x = self.embedding(token_ids)
        attention_mask = ops.broadcast_to(
            mask[:, None, :],
            (ops.shape(mask)[0], ops.shape(mask)[1], ops.shape(mask)[1]),
        )
        for block in self.blocks:
            x = block(x, attention_mask=attention_mask, training=training)
        x = self.final_norm(x)
        weights = ops.cast(mask, x.dtype)[..., None]
        pooled = ops.sum(x * weights, axis=1) / ops.maximum(
            ops.sum(weights, axis=1), 1.0
        )
        pooled = self.dropout_layer(pooled, training=training)
        return ops.cast(ops.squeeze(self.head(pooled), -1), "float32")

    def get_config(self):
        return {**super().get_config(), **settings_config(self, _TRANSFORMER)}


@keras.saving.register_keras_serializable(package="keras_nlg")
class LSTMDiscriminator(keras.Model):
    """Embedding → LSTM (masked) → logit "real" from the last real step.

    Args:
        vocabulary_size: number of token ids (the generator's).
        embedding_dim: token embedding size.
        units: LSTM units.
        dropout: dropout on the embeddings and before the head.
        **kwargs: base `keras.Model` arguments.

    Call arguments and return value: as `TransformerDiscriminator` (no
    length limit: `sequence_length` is None).

    Example:

    >>> d = LSTMDiscriminator(100, embedding_dim=16, units=32)
    >>> d(keras.ops.ones((2, 16), "int32")).shape
    (2,)
    """

    sequence_length = None  # no positions, no limit

    def __init__(
        self, vocabulary_size, embedding_dim=64, units=64, dropout=0.1, **kwargs
    ):
        super().__init__(**kwargs)
        check_positive_int("vocabulary_size", vocabulary_size)
        check_positive_int("embedding_dim", embedding_dim)
        check_positive_int("units", units)
        check_rate("dropout", dropout)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.dropout = dropout
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, name="embedding"
        )
        self.recurrent = keras.layers.LSTM(units, name="lstm")
        self.dropout_layer = keras.layers.Dropout(dropout)
        self.head = keras.layers.Dense(1, name="head")
        self.build()

    def build(self, input_shape=None):
        if self.built:
            return
        self.embedding.build((None, None))
        self.recurrent.build((None, None, self.embedding_dim))
        self.head.build((None, self.units))
        self.built = True

    def call(self, token_ids, padding_mask=None, training=None):
        mask = _full_mask(token_ids, padding_mask)
        x = self.dropout_layer(self.embedding(token_ids), training=training)
        state = self.recurrent(x, mask=mask, training=training)
        state = self.dropout_layer(state, training=training)
        return ops.cast(ops.squeeze(self.head(state), -1), "float32")

    def get_config(self):
        return {**super().get_config(), **settings_config(self, _LSTM)}


DISCRIMINATORS = {
    "transformer": TransformerDiscriminator,
    "lstm": LSTMDiscriminator,
}


def build_discriminator(kind: str, vocabulary_size: int, sequence_length: int, **sizes):
    """A discriminator by name (`"transformer"` or `"lstm"`), sized by `sizes`.

    Raises:
        ValueError: for an unknown `kind`.
    """
    if kind not in DISCRIMINATORS:
        raise ValueError(
            f"`discriminator` must be one of {sorted(DISCRIMINATORS)}. "
            f"Received: discriminator={kind!r}"
        )
    if kind == "transformer":
        return TransformerDiscriminator(vocabulary_size, sequence_length, **sizes)
    return LSTMDiscriminator(vocabulary_size, **sizes)
