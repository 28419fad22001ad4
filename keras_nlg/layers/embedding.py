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
    so a language model can tie its output projection to it: `reverse(hidden)`
    `(..., embedding_dim)` → logits `(..., vocabulary_size)`.

    `quantize("int8")` (what Keras' `model.quantize("int8")` calls) stores the
    token table as int8 with one float32 scale per row (abs-max, Keras'
    `abs_max_quantize`); lookups dequantize the rows they take, and `reverse`
    quantizes `hidden` per position the same way and multiplies int8 by int8
    into int32, as Keras' own int8 `ReversibleEmbedding` does. Ours and not
    Keras' layer because the table's name and place are those our saved
    models, checkpoints and converters already use. The position table stays
    float32 (one row per token is read). Other modes raise
    `NotImplementedError` (Keras then leaves the layer as it is, with a
    warning).

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
        if self.quantization_mode == "int8":
            self._int8_build()
        else:
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

    def _int8_build(self):
        self._is_quantized = True  # as Keras' `quantized_build` marks it
        self.token_embeddings = self.add_weight(
            name="token_embeddings",
            shape=(self.vocabulary_size, self.embedding_dim),
            initializer="zeros",
            dtype="int8",
            trainable=False,
        )
        self.token_embeddings_scale = self.add_weight(
            name="token_embeddings_scale",
            shape=(self.vocabulary_size, 1),
            initializer="ones",
            trainable=False,
        )

    def quantize(self, mode=None, type_check=True, config=None):
        if mode != "int8":
            raise NotImplementedError(
                "TokenAndPositionEmbedding quantizes to int8 only. "
                f"Received: mode={mode}"
            )
        values, scale = keras.quantizers.abs_max_quantize(
            self.token_embeddings, axis=-1, to_numpy=True
        )
        # The position table was built first and stays; the new variables
        # come after it, in the order `build` creates them in int8 mode.
        del self.token_embeddings  # untracked by Keras' __delattr__
        self._int8_build()
        self.token_embeddings.assign(values)
        self.token_embeddings_scale.assign(scale)
        # Marked first: setting a quantized policy on an unmarked built layer
        # makes Keras call `quantize` again.
        self._is_quantized = True
        if self.dtype_policy.quantization_mode is None:
            self.dtype_policy = f"int8_from_{self.dtype_policy.name}"

    def _int8_call(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def _token_vectors(self, token_ids):
        token_ids = ops.cast(token_ids, "int32")
        vectors = ops.take(self.token_embeddings, token_ids, axis=0)
        if self.quantization_mode == "int8":
            scale = ops.take(self.token_embeddings_scale, token_ids, axis=0)
            vectors = ops.divide(ops.cast(vectors, "float32"), scale)
        return vectors

    def reverse(self, hidden):
        """Logits `(..., vocabulary_size)` of `hidden` `(..., embedding_dim)`
        against the token table (a tied output projection)."""
        if self.quantization_mode != "int8":
            table = ops.cast(self.token_embeddings, hidden.dtype)  # (V, D)
            # Contract with the (V, D) table directly: a transposed copy of a
            # GPT-2-sized table (154 MB) per decode step is pure waste.
            return ops.einsum("btd,vd->btv", hidden, table)
        values, hidden_scale = keras.quantizers.abs_max_quantize(hidden, axis=-1)
        logits = ops.cast(
            ops.einsum("btd,vd->btv", values, self.token_embeddings), "float32"
        )
        table_scale = ops.reshape(self.token_embeddings_scale, (1, 1, -1))
        return ops.divide(
            logits, ops.multiply(ops.cast(hidden_scale, "float32"), table_scale)
        )

    def call(self, token_ids, start_index=0, positions=None):
        tokens = self._token_vectors(token_ids)
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
