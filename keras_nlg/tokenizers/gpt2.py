"""GPT-2's byte-level BPE tokenizer (keras-hub's, with our interface)."""

import json

import keras_hub
import tensorflow as tf

from keras_nlg.tokenizers.byte import END_OF_TEXT
from keras_nlg.tokenizers.strings import (
    as_string_tensor,
    as_token_ids,
    replace_invalid_utf8,
)


class GPT2Tokenizer:
    """GPT-2's byte-level BPE: `vocab.json` + `merges.txt`, `<|endoftext|>` = 50256.

    Runs keras-hub's `GPT2Tokenizer` (TensorFlow ops, so it works in
    `tf.data` and SavedModels) behind the interface every keras_nlg
    tokenizer shares. keras-hub converts eager outputs to Python lists; we
    call it inside `tf.function`s so results stay tensors, as everywhere
    else in keras_nlg. GPT-2 has no padding token: padded positions are
    masked, so padding reuses the end-of-text id.

    Args:
        vocabulary: dict piece → id (the content of `vocab.json`).
        merges: list of merge rules `"a b"` (the lines of `merges.txt`).

    Example:

    >>> tokenizer = GPT2Tokenizer.from_files("gpt2/vocab.json", "gpt2/merges.txt")
    >>> tokenizer.detokenize(tokenizer.tokenize("Hello world")).numpy()
    b'Hello world'
    """

    def __init__(self, vocabulary: dict, merges: list):
        if END_OF_TEXT not in vocabulary:
            raise ValueError(
                f"`vocabulary` must contain {END_OF_TEXT!r}. Received a vocabulary "
                f"of {len(vocabulary)} pieces without it."
            )
        self._layer = keras_hub.models.GPT2Tokenizer(
            vocabulary=dict(vocabulary), merges=list(merges)
        )
        self.vocabulary_size = int(self._layer.vocabulary_size())
        self.end_of_text_id = int(vocabulary[END_OF_TEXT])
        self.padding_id = self.end_of_text_id
        self.special_tokens = {END_OF_TEXT: self.end_of_text_id}
        self._tokenize = tf.function(
            self._layer.tokenize, input_signature=[tf.TensorSpec([None], tf.string)]
        )
        self._detokenize = tf.function(
            self._layer.detokenize,
            input_signature=[tf.RaggedTensorSpec([None, None], tf.int32, 1)],
        )

    @classmethod
    def from_files(cls, vocabulary_file, merges_file):
        """Reads GPT-2's `vocab.json` and `merges.txt` (Hugging Face names)."""
        try:
            with open(vocabulary_file, encoding="utf-8") as f:
                vocabulary = json.load(f)
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(
                f"Cannot read the GPT-2 vocabulary {vocabulary_file}: {error}"
            ) from None
        try:
            with open(merges_file, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as error:
            raise ValueError(
                f"Cannot read the GPT-2 merges {merges_file}: {error}"
            ) from None
        # The first line of merges.txt is a "#version" header.
        merges = [line for line in lines if line and not line.startswith("#version")]
        return cls(vocabulary, merges)

    def tokenize(self, inputs):
        strings = as_string_tensor(inputs)
        if strings.shape.rank == 0:
            return self._tokenize(strings[None])[0]
        return self._tokenize(strings)

    def detokenize(self, token_ids):
        vocabulary_size, end_of_text_id = self.vocabulary_size, self.end_of_text_id
        token_ids = as_token_ids(
            token_ids,
            lambda ids: (ids >= 0) & (ids < vocabulary_size) & (ids != end_of_text_id),
        )
        if isinstance(token_ids, tf.RaggedTensor):
            text = self._detokenize(token_ids)
        elif token_ids.shape.rank == 1:
            text = self._detokenize(tf.RaggedTensor.from_tensor(token_ids[None]))[0]
        else:
            text = self._detokenize(tf.RaggedTensor.from_tensor(token_ids))
        # A prefix may end inside a character split across byte-level pieces.
        return replace_invalid_utf8(text)

    def id_to_token(self, token_id):
        if not 0 <= token_id < self.vocabulary_size:
            raise ValueError(
                f"`token_id` must be in [0, {self.vocabulary_size}). "
                f"Received: token_id={token_id}"
            )
        return self._layer.id_to_token(token_id)

    def save_assets(self, directory):
        self._layer.save_assets(directory)

    @classmethod
    def load(cls, directory, config):
        layer = keras_hub.models.GPT2Tokenizer()
        layer.load_assets(directory)
        return cls(layer.vocabulary, layer.merges, **config)

    def get_config(self):
        return {}
