"""GPT-2's byte-level BPE tokenizer (keras-hub's, with our interface)."""

import json
import os

import tensorflow as tf

from keras_nlg.tokenizers.byte import END_OF_TEXT
from keras_nlg.tokenizers.gpt2_files import (
    VERSION_PREFIX,
    byte_pair_merge,
    byte_symbols,
    check_merges,
    check_vocabulary,
    read_merges,
    read_vocabulary,
)
from keras_nlg.tokenizers.strings import (
    as_string_tensor,
    as_token_ids,
    replace_invalid_utf8,
)

# The file names keras-hub's `save_assets` uses; `load` reads what we saved.
VOCABULARY_ASSET, MERGES_ASSET = "vocabulary.json", "merges.txt"
# keras-hub's in-graph pre-tokenizer loses these characters: tensorflow-text's
# `regex_split` stops at NUL, and U+096C (Devanagari digit six) is its
# internal marker, deleted wherever it forms a pre-token. We cut the text at
# them and insert their ids ourselves.
LOST_CHARACTERS = ("\x00", "\u096c")


class GPT2Tokenizer:
    """GPT-2's byte-level BPE: `vocab.json` + `merges.txt`, `<|endoftext|>` = 50256.

    Runs keras-hub's `GPT2Tokenizer` (TensorFlow ops, so it works in
    `tf.data` and SavedModels) behind the interface every keras_nlg
    tokenizer shares. keras-hub converts eager outputs to Python lists; we
    call it inside `tf.function`s so results stay tensors, as everywhere
    else in keras_nlg. GPT-2 has no padding token: padded positions are
    masked, so padding reuses the end-of-text id. `resources` is a
    `tf.Module` of keras-hub's lookup tables: a SavedModel whose functions
    tokenize must track it (`keras.export.ExportArchive.track`).

    User text is text: the string `"<|endoftext|>"` in it is tokenized as
    the characters it is made of, never as the end-of-text id (keras-hub's
    default, `unsplittable_tokens`, would parse it and `detokenize` would
    then drop it). Our code adds end-of-text ids itself, as ids, where a
    document or a generation ends. So `detokenize(tokenize(text)) == text`
    for any text. The ids equal Hugging Face's GPT-2 tokenizer's (with
    special tokens not parsed), except around NUL and U+096C, which we
    tokenize as words of their own (see `LOST_CHARACTERS`).

    A `merges.txt` with no rules (just its `#version` header) is a valid
    BPE: every token is then a single byte symbol of the vocabulary.

    Args:
        vocabulary: dict piece → id (the content of `vocab.json`): ids
            0 … n-1, with `<|endoftext|>` and GPT-2's 256 byte symbols.
        merges: list of merge rules `"a b"` (the lines of `merges.txt`;
            `#version` header lines are skipped).

    Raises:
        ValueError: naming the argument, or the file for `from_files` and
            `load`, when the vocabulary or a merge rule is unusable.

    Example:

    >>> tokenizer = GPT2Tokenizer.from_files("gpt2/vocab.json", "gpt2/merges.txt")
    >>> tokenizer.detokenize(tokenizer.tokenize("Hello world")).numpy()
    b'Hello world'
    """

    def __init__(self, vocabulary: dict, merges: list, *, _sources=None):
        vocabulary_source, merges_source = _sources or ("`vocabulary`", "`merges`")
        check_vocabulary(vocabulary, vocabulary_source, END_OF_TEXT)
        if isinstance(merges, (str, bytes)) or not hasattr(merges, "__iter__"):
            raise ValueError(
                f"{merges_source} must be a list of merge rules 'a b'. "
                f"Received: {type(merges).__name__}"
            )
        numbered = [
            rule if isinstance(rule, tuple) else (None, rule)
            for rule in merges
            if isinstance(rule, tuple) or not str(rule).startswith(VERSION_PREFIX)
        ]
        self.vocabulary = dict(vocabulary)
        self.merges = check_merges(numbered, vocabulary, merges_source)
        # keras-hub builds a lookup table of the merges, which fails for an
        # empty list: give it a rule that can never apply (a BPE word is made
        # of byte symbols and their merges, never of this special token).
        layer_merges = self.merges or [f"{END_OF_TEXT} {END_OF_TEXT}"]
        # `unsplittable_tokens=[]`: no special token is parsed out of text.
        # `_allow_python_workflow=False`: we only run the in-graph path, so
        # keras-hub needn't build its Hugging Face tokenizers copy as well.
        # Imported here: keras-hub costs ~1 s of every process's start
        # (CLI, serving), and only this tokenizer needs it.
        import keras_hub

        self._layer = keras_hub.models.GPT2Tokenizer(
            vocabulary=self.vocabulary,
            merges=layer_merges,
            unsplittable_tokens=[],
            _allow_python_workflow=False,
        )
        self.vocabulary_size = len(self.vocabulary)
        self.end_of_text_id = int(vocabulary[END_OF_TEXT])
        self.padding_id = self.end_of_text_id
        self.special_tokens = {END_OF_TEXT: self.end_of_text_id}
        self._lost_character_ids = [self._word_ids(c) for c in LOST_CHARACTERS]
        self.resources = _lookup_tables(self._layer)
        self._tokenize = tf.function(
            self._tokenize_batch, input_signature=[tf.TensorSpec([None], tf.string)]
        )
        self._detokenize = tf.function(
            self._layer.detokenize,
            input_signature=[tf.RaggedTensorSpec([None, None], tf.int32, 1)],
        )

    def _word_ids(self, word):
        """The BPE ids of `word` taken as one pre-token, computed in Python."""
        symbols = byte_symbols()
        ranks = {tuple(rule.split(" ")): i for i, rule in enumerate(self.merges)}
        pieces = byte_pair_merge([symbols[b] for b in word.encode("utf-8")], ranks)
        return [self.vocabulary[piece] for piece in pieces]

    @classmethod
    def from_files(cls, vocabulary_file, merges_file):
        """Reads GPT-2's `vocab.json` and `merges.txt` (Hugging Face names).

        Raises:
            ValueError: naming the file (and line) that is missing, not
                UTF-8, not JSON, empty, or holds unusable pieces or rules.
        """
        vocabulary_file, merges_file = map(os.fspath, (vocabulary_file, merges_file))
        return cls(
            read_vocabulary(vocabulary_file),
            read_merges(merges_file),
            _sources=(vocabulary_file, merges_file),
        )

    def _tokenize_batch(self, strings):
        """`(batch,)` strings → `(batch, None)` ids, around `LOST_CHARACTERS`."""
        segments = strings
        for character in LOST_CHARACTERS:
            segments = tf.strings.split(segments, sep=character)
        # `segments` is (batch, n_NUL, n_U+096C) strings free of lost characters.
        ids = self._layer.tokenize(segments.flat_values)
        ids = segments.with_flat_values(ids.with_row_splits_dtype(tf.int64))
        nul_ids, six_ids = self._lost_character_ids
        ids = ids.with_values(_join(ids.values, six_ids))  # (batch, n_NUL, None)
        return _join(ids, nul_ids)  # (batch, None)

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
        """Writes `vocabulary.json` and `merges.txt` (keras-hub's asset names)."""
        self.save_files(
            os.path.join(directory, VOCABULARY_ASSET),
            os.path.join(directory, MERGES_ASSET),
        )

    def save_files(self, vocabulary_file, merges_file):
        """Writes the vocabulary (JSON) and merges (`#version: 0.2` header)
        files that `from_files` reads (Hugging Face's `vocab.json` format)."""
        with open(vocabulary_file, "w", encoding="utf-8") as f:
            json.dump(self.vocabulary, f, ensure_ascii=False)
        with open(merges_file, "w", encoding="utf-8") as f:
            f.write("".join(f"{line}\n" for line in ["#version: 0.2", *self.merges]))

    @classmethod
    def load(cls, directory, config):
        """Reads what `save_assets` wrote; a bad file → `ValueError` naming it."""
        if config:
            raise TypeError(f"GPT2Tokenizer takes no configuration. Received: {config}")
        directory = os.fspath(directory)
        return cls.from_files(
            os.path.join(directory, VOCABULARY_ASSET),
            os.path.join(directory, MERGES_ASSET),
        )

    def get_config(self):
        return {}


def _join(segments, separator):
    """`(rows, segments, tokens)` → `(rows, tokens)`, `separator` between segments."""
    separator = tf.constant(separator, tf.int32)
    inner = segments.values  # (all segments, tokens)
    tails = tf.RaggedTensor.from_tensor(
        tf.tile(separator[None], [inner.nrows(), 1]), row_splits_dtype=tf.int64
    )
    joined = segments.with_values(tf.concat([inner, tails], axis=1)).merge_dims(1, 2)
    # Every row has at least one segment: drop the separator after its last.
    keep = joined.row_lengths() - tf.size(separator, out_type=tf.int64)
    positions = tf.ragged.range(joined.row_lengths())
    return tf.ragged.boolean_mask(joined, positions < keep[:, None])


def _lookup_tables(layer):
    """A `tf.Module` holding the lookup tables keras-hub's tokenizer made.

    Keras layers don't report these to a SavedModel, and keras-hub keeps
    them in private attributes: collect every resource or module attribute.
    """
    resources = tf.Module()
    resources.tables = [
        value
        for value in vars(layer).values()
        if isinstance(value, (tf.saved_model.experimental.TrackableResource, tf.Module))
    ]
    return resources
