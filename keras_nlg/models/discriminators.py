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
- `CNNDiscriminator`: SeqGAN's discriminator (Yu et al., AAAI 2017, after
  Kim, EMNLP 2014): convolutions of several widths over the embeddings,
  max-over-time pooling, a highway layer (Srivastava et al., 2015), dropout
  and a linear head. Every window is computed at once, so a step costs
  less than the LSTM's, and SeqGAN trained it on millions of examples.
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
_CNN = ("vocabulary_size", "embedding_dim", "filter_sizes", "num_filters", "dropout")
# SeqGAN's discriminator: window widths and the filters of each.
SEQGAN_FILTER_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
SEQGAN_NUM_FILTERS = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)


def _full_mask(token_ids, padding_mask):
    if padding_mask is None:
        return ops.ones(ops.shape(token_ids), "bool")
    return ops.cast(padding_mask, "bool")


class _Discriminator(keras.Model):
    """What the three share: dropout, then a linear head to one logit."""

    def _add_head(self, dropout):
        """Adds the dropout and the head, then builds the model."""
        self.dropout_layer = keras.layers.Dropout(dropout)
        self.head = keras.layers.Dense(1, name="head")
        self.build()

    def _logit(self, features, training):
        features = self.dropout_layer(features, training=training)
        return ops.cast(ops.squeeze(self.head(features), -1), "float32")


@keras.saving.register_keras_serializable(package="keras_nlg")
class TransformerDiscriminator(_Discriminator):
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
        self._add_head(dropout)

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
        return self._logit(pooled, training)

    def get_config(self):
        return {**super().get_config(), **settings_config(self, _TRANSFORMER)}


@keras.saving.register_keras_serializable(package="keras_nlg")
class LSTMDiscriminator(_Discriminator):
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
        self._add_head(dropout)

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
        return self._logit(state, training)

    def get_config(self):
        return {**super().get_config(), **settings_config(self, _LSTM)}


@keras.saving.register_keras_serializable(package="keras_nlg")
class CNNDiscriminator(_Discriminator):
    """Convolutions of several widths → max over time → highway → logit.

    Args:
        vocabulary_size: number of token ids (the generator's).
        embedding_dim: token embedding size.
        filter_sizes: the window widths (tokens), one convolution each.
        num_filters: filters per width (same length as `filter_sizes`).
        dropout: dropout before the head (SeqGAN: 0.25).
        **kwargs: base `keras.Model` arguments.

    Call arguments and return value: as `TransformerDiscriminator` (no
    length limit: `sequence_length` is None). Padding tokens embed as zeros
    and windows start only on real tokens, so a row shorter than a window
    still fills it (with zeros) and padding never changes the logit. (SeqGAN
    pads every sequence to one length and lets windows cover padding.)

    Example:

    >>> d = CNNDiscriminator(100, embedding_dim=8, filter_sizes=(2, 3),
    ...                      num_filters=(4, 4))
    >>> d(keras.ops.ones((2, 16), "int32")).shape
    (2,)
    """

    sequence_length = None

    def __init__(
        self,
        vocabulary_size,
        embedding_dim=64,
        filter_sizes=SEQGAN_FILTER_SIZES,
        num_filters=SEQGAN_NUM_FILTERS,
        dropout=0.25,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("vocabulary_size", vocabulary_size)
        check_positive_int("embedding_dim", embedding_dim)
        filter_sizes, num_filters = tuple(filter_sizes), tuple(num_filters)
        if not filter_sizes or len(filter_sizes) != len(num_filters):
            raise ValueError(
                "filter_sizes and num_filters must be non-empty and of the same "
                f"length. Received: filter_sizes={filter_sizes}, "
                f"num_filters={num_filters}"
            )
        for width, count in zip(filter_sizes, num_filters, strict=True):
            check_positive_int("filter_sizes", width)
            check_positive_int("num_filters", count)
        check_rate("dropout", dropout)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.filter_sizes, self.num_filters = filter_sizes, num_filters
        self.dropout = dropout
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, name="embedding"
        )
        self.convolutions = [
            keras.layers.Conv1D(count, width, activation="relu", name=f"conv_{width}")
            for width, count in zip(filter_sizes, num_filters, strict=True)
        ]
        features = sum(num_filters)
        self.transform_gate = keras.layers.Dense(
            features, activation="sigmoid", name="highway_gate"
        )
        self.highway = keras.layers.Dense(features, activation="relu", name="highway")
        self._add_head(dropout)

    def build(self, input_shape=None):
        if self.built:
            return
        self.embedding.build((None, None))
        for convolution in self.convolutions:
            convolution.build((None, None, self.embedding_dim))
        features = sum(self.num_filters)
        for layer in (self.transform_gate, self.highway, self.head):
            layer.build((None, features))
        self.built = True

    def call(self, token_ids, padding_mask=None, training=None):
        mask = _full_mask(token_ids, padding_mask)
        # Right-pad by the widest window less one: a window starts on every
        # real token, however much padding the input already had.
        extra = max(self.filter_sizes) - 1
        token_ids = ops.pad(token_ids, [[0, 0], [0, extra]])
        mask = ops.pad(mask, [[0, 0], [0, extra]], constant_values=False)
        real = ops.cast(mask, self.compute_dtype)
        x = self.embedding(token_ids) * real[..., None]
        pooled = []
        for convolution in self.convolutions:
            windows = convolution(x)  # (B, T - width + 1, filters)
            starts = mask[:, : ops.shape(windows)[1], None]
            pooled.append(ops.max(ops.where(starts, windows, -1e9), axis=1))
        features = ops.concatenate(pooled, axis=-1)
        gate = self.transform_gate(features)
        features = gate * self.highway(features) + (1.0 - gate) * features
        return self._logit(features, training)

    def get_config(self):
        config = settings_config(self, _CNN)
        config["filter_sizes"] = list(self.filter_sizes)
        config["num_filters"] = list(self.num_filters)
        return {**super().get_config(), **config}


DISCRIMINATORS = {
    "transformer": TransformerDiscriminator,
    "lstm": LSTMDiscriminator,
    "cnn": CNNDiscriminator,
}


def build_discriminator(kind: str, vocabulary_size: int, sequence_length: int, **sizes):
    """A discriminator by name (`"transformer"`, `"lstm"` or `"cnn"`), sized
    by `sizes`.

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
    return DISCRIMINATORS[kind](vocabulary_size, **sizes)
