"""A third `LanguageModel`, defined only here, for the exporters' contract tests.

Neither a KV cache nor a recurrent state: its cache is one int32 `(batch,
length)` tensor of the token ids seen (column = position), and its logits
depend on the current and the previous token. If the SavedModel and TFLite
exports serve it unchanged, they read the contract, not our two classes.
"""

import keras
import numpy as np
from keras import ops

from keras_nlg.model_directory import save_model_directory
from keras_nlg.models import CacheSpec, CacheTensor, LanguageModel
from keras_nlg.tokenizers import ByteTokenizer


@keras.saving.register_keras_serializable(package="keras_nlg_tests")
class PreviousTokenLanguageModel(LanguageModel):
    """logits(t) = Dense(tanh([embed(x_t); embed(x_{t-1})])).

    Cache columns hold `vocabulary_size` ("no token") where nothing was
    seen: empty columns and a row's left padding, so the first real token
    of every row has no previous token, as in a full pass.
    """

    def __init__(self, vocabulary_size, context_length=64, hidden_dim=16, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.context_length = context_length
        self.hidden_dim = hidden_dim
        # One more row: the embedding of "no previous token".
        self.embedding = keras.layers.Embedding(
            vocabulary_size + 1, hidden_dim, dtype=self.dtype_policy, name="embedding"
        )
        self.output_projection = keras.layers.Dense(
            vocabulary_size, dtype=self.dtype_policy, name="output_projection"
        )
        self.build()

    def build(self, input_shape=None):
        if self.built:
            return
        self.embedding.build((None, None))
        self.output_projection.build((None, None, 2 * self.hidden_dim))
        self.built = True

    def _logits(self, token_ids, previous):
        features = ops.concatenate(
            [self.embedding(token_ids), self.embedding(previous)], axis=-1
        )
        return ops.cast(self.output_projection(ops.tanh(features)), "float32")

    def call(self, token_ids, training=None):
        token_ids = ops.cast(token_ids, "int32")
        none = ops.full_like(token_ids[:, :1], self.vocabulary_size)
        previous = ops.concatenate([none, token_ids[:, :-1]], axis=1)
        return self._logits(token_ids, previous)

    def empty_cache(self, batch_size, length=None, dtype=None):
        length = self.context_length if length is None else length
        return ops.full((batch_size, length), self.vocabulary_size, "int32")

    def cache_spec(self, batch_size, length=None, dtype=None):
        length = self.context_length if length is None else length
        return CacheSpec(
            tensors=(CacheTensor("seen_token_ids", (batch_size, length), "int32"),),
            position_axis=1,
            layout="[batch, positions]: the token ids seen",
        )

    def call_with_cache(self, token_ids, cache, cache_index, padding_mask=None):
        token_ids = ops.cast(token_ids, "int32")
        batch, length = ops.shape(token_ids)
        start = ops.cast(cache_index, "int32")
        seen = token_ids
        if padding_mask is not None:
            real = ops.slice(
                ops.cast(padding_mask, "bool"), [0, start], [batch, length]
            )
            seen = ops.where(real, token_ids, self.vocabulary_size)
        cache = ops.slice_update(cache, [0, start], seen)
        # Column c's previous token is column c - 1's ("no token" before 0).
        none = ops.full_like(cache[:, :1], self.vocabulary_size)
        shifted = ops.concatenate([none, cache], axis=1)
        previous = ops.slice(shifted, [0, start], [batch, length])
        return self._logits(token_ids, previous), cache

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "context_length": self.context_length,
            "hidden_dim": self.hidden_dim,
        }


def save_previous_token_model(directory, context_length=64, seed=0):
    """An untrained model directory whose greedy text is printable ASCII.

    Random weights, but the output bias rules out every byte outside
    32..126, so text compares equal however each runtime decodes bytes.
    """
    keras.utils.set_random_seed(seed)
    tokenizer = ByteTokenizer()
    model = PreviousTokenLanguageModel(
        tokenizer.vocabulary_size, context_length=context_length
    )
    ids = np.arange(tokenizer.vocabulary_size)
    printable = (ids >= 32) & (ids <= 126) | (ids == tokenizer.end_of_text_id)
    bias = np.where(printable, 0.0, -30.0).astype("float32")
    model.output_projection.bias.assign(bias)
    config = {
        "arch": "previous_token",
        "model": {"class_name": type(model).__name__, "config": model.get_config()},
        "tokenizer": {"class_name": type(tokenizer).__name__},
    }
    save_model_directory(directory, model, tokenizer, config)
    return directory
