"""Token plus absolute position embeddings."""

import math

import keras
from keras import ops

from keras_nlg.argument_checks import check_positive_int, pop_renamed_argument

POSITION_EMBEDDINGS = ("learned", "sinusoidal")


def sinusoidal_positions(positions, dim, dtype="float32"):
    """Sinusoidal embeddings `(..., dim)` of Vaswani et al. (2017) for `positions`.

    Even channels hold sin(pos / 10000^(2i/dim)), odd channels the cosine.
    """
    positions = ops.cast(positions, "float32")[..., None]  # (..., 1)
    channel_pairs = ops.cast(ops.arange(dim // 2), "float32")  # (dim/2,)
    inverse_freq = ops.exp(channel_pairs * (-2.0 * math.log(10000.0) / dim))
    angles = positions * inverse_freq  # (..., dim/2)
    table = ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1)  # (..., dim/2, 2)
    return ops.cast(ops.reshape(table, (*ops.shape(angles)[:-1], dim)), dtype)


@keras.saving.register_keras_serializable(package="keras_nlg")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Sum of a token embedding and an absolute position embedding.

    Args:
        vocabulary_size: number of token ids.
        context_length: longest sequence (number of positions).
        embedding_dim: output size.
        position_embedding: `"learned"` (a trainable table, as in GPT-2) or
            `"sinusoidal"` (fixed, no weights).
        embeddings_initializer: initializer of the learned tables.
        **kwargs: base layer arguments.

    Call arguments:
        token_ids: int tensor `(batch, length)`.
        start_index: absolute position of `token_ids[:, 0]` (an int or a
            scalar tensor), so cached decoding embeds position `cache_index`.
        positions: optional int tensor `(batch, length)` of each token's
            position, overriding `start_index` (rows of a left-padded batch
            start at different positions).

    The token table is `token_embeddings` (`(vocabulary_size, embedding_dim)`)
    so a language model can tie its output projection to it.

    Example:

    >>> embed = TokenAndPositionEmbedding(258, context_length=64, embedding_dim=32)
    >>> embed(keras.ops.ones((2, 10), "int32")).shape
    (2, 10, 32)
    """

    def __init__(
        self,
        vocabulary_size,
        context_length=None,
        embedding_dim=None,
        position_embedding="learned",
        embeddings_initializer="glorot_uniform",
        **kwargs,
    ):
        context_length = pop_renamed_argument(
            kwargs, "max_length", "context_length", context_length
        )
        super().__init__(**kwargs)
        check_positive_int("vocabulary_size", vocabulary_size)
        check_positive_int("context_length", context_length)
        check_positive_int("embedding_dim", embedding_dim)
        if position_embedding not in POSITION_EMBEDDINGS:
            raise ValueError(
                f"`position_embedding` must be one of {POSITION_EMBEDDINGS}. "
                f"Received: position_embedding={position_embedding!r}"
            )
        if position_embedding == "sinusoidal" and embedding_dim % 2:
            raise ValueError(
                "Sinusoidal positions need an even `embedding_dim`. "
                f"Received: embedding_dim={embedding_dim}"
            )
        self.vocabulary_size = vocabulary_size
        self.context_length = context_length
        self.embedding_dim = embedding_dim
        self.position_embedding = position_embedding
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape=None):
        self.token_embeddings = self.add_weight(
            name="token_embeddings",
            shape=(self.vocabulary_size, self.embedding_dim),
            initializer=self.embeddings_initializer,
        )
        if self.position_embedding == "learned":
            self.position_embeddings = self.add_weight(
                name="position_embeddings",
                shape=(self.context_length, self.embedding_dim),
                initializer=self.embeddings_initializer,
            )
        self.built = True

    def call(self, token_ids, start_index=0, positions=None):
        tokens = ops.take(self.token_embeddings, ops.cast(token_ids, "int32"), axis=0)
        if positions is None:
            length = ops.shape(token_ids)[-1]
            positions = ops.arange(length) + ops.cast(start_index, "int32")  # (T,)
        positions = ops.cast(positions, "int32")
        if self.position_embedding == "learned":
            # A gather, so positions may be tensors under XLA.
            embedded = ops.take(self.position_embeddings, positions, axis=0)
        else:
            embedded = sinusoidal_positions(positions, self.embedding_dim)
        return ops.cast(tokens, self.compute_dtype) + ops.cast(
            embedded, self.compute_dtype
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.embedding_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "context_length": self.context_length,
                "embedding_dim": self.embedding_dim,
                "position_embedding": self.position_embedding,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
            }
        )
        return config
