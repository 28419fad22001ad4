"""SentencePiece (unigram or BPE) tokenizer trained on the user's files."""

import contextlib
import io
import os
import sys
import threading
import uuid

import sentencepiece
import tensorflow as tf
import tensorflow_text as tf_text
from google.protobuf.message import DecodeError
from sentencepiece import sentencepiece_model_pb2
from tensorflow_text.python.ops import sentencepiece_tokenizer as tf_text_sentencepiece

from keras_nlg.argument_checks import check_positive_int
from keras_nlg.tokenizers.byte import END_OF_TEXT, PADDING
from keras_nlg.tokenizers.strings import (
    as_string_tensor,
    as_token_ids,
    replace_invalid_utf8,
)

MODEL_TYPES = ("unigram", "bpe")
# Newline is a token of its own: training reads files line by line, so it
# never sees one, and generated text must be able to break lines.
_NEWLINE = "\n"
# SentencePiece writes a space as U+2581 inside pieces; a U+2581 the user
# wrote would come back as a space.
_META_SPACE = "\u2581"


# The trainer options every keras_nlg SentencePiece model shares: text is
# kept exactly (no normalisation, no dummy prefix, spaces and newlines
# kept), unknown characters fall back to bytes, and the special pieces sit
# at fixed ids (padding 0, unknown 1, end-of-text 2, no BOS).
_TRAINER_OPTIONS = dict(
    normalization_rule_name="identity",
    remove_extra_whitespaces=False,
    add_dummy_prefix=False,
    split_by_whitespace=True,
    byte_fallback=True,
    shuffle_input_sentence=True,
    user_defined_symbols=[_NEWLINE],
    pad_id=0,
    unk_id=1,
    eos_id=2,
    bos_id=-1,
    pad_piece=PADDING,
    eos_piece=END_OF_TEXT,
    minloglevel=2,
)


class _SharedModelResource(tf_text_sentencepiece._SentencepieceModelResource):
    """tensorflow-text's SentencePiece model resource, named in eager mode.

    tensorflow-text creates the model as a resource private to the eager op
    kernel that made it (its TODO b/318839908), and TensorFlow drops cached
    eager kernels whenever the global seed is set: `keras.utils.
    set_random_seed` (which `train`, `finetune` and `rl_finetune` call) then
    deleted every SentencePiece tokenizer already loaded in the process
    ("Resource ... SentencepieceResource does not exist"). A unique
    `shared_name` puts the resource in the resource manager instead, where it
    outlives the kernel. Inside a traced function (a SavedModel's
    initializer) the op is created as tensorflow-text creates it.
    """

    def __init__(self, model):
        self._shared_name = f"keras_nlg_sentencepiece_{uuid.uuid4().hex}"
        super().__init__(model, None)

    def _create_resource(self):
        if not tf.executing_eagerly():
            return super()._create_resource()
        with _quiet_stderr():
            return tf_text_sentencepiece.gen_sentencepiece_tokenizer.sentencepiece_op(
                model=self._model, shared_name=self._shared_name
            )


@contextlib.contextmanager
def _quiet_stderr():
    """Silences file descriptor 2 for a moment.

    The SentencePiece copy inside tensorflow-text's kernels logs "LOG(INFO)
    precompiled_charsmap is empty" to stderr when it loads a model, with no
    switch to turn it off (`sentencepiece.set_min_log_level` sets the
    Python package's copy only), and the CLI's errors must be one line.
    Failures still raise: the op reports them as exceptions, not logs.
    Threads share fd 2: the first to enter redirects it, the last to leave
    restores it. Without a stderr to silence (closed), it does nothing.
    """
    global _quiet_depth, _saved_stderr
    with _quiet_lock:
        if _quiet_depth == 0:
            try:
                if sys.stderr is not None:
                    sys.stderr.flush()
                _saved_stderr = os.dup(2)
                with open(os.devnull, "w") as devnull:
                    os.dup2(devnull.fileno(), 2)
            except (OSError, ValueError):  # no fd 2 to silence
                _saved_stderr = None
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _saved_stderr is not None:
                os.dup2(_saved_stderr, 2)
                os.close(_saved_stderr)
                _saved_stderr = None


_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_stderr = None


class SentencePieceTokenizer:
    """Subword tokenizer from a SentencePiece model, run by tensorflow-text ops.

    `train` learns a vocabulary from text files. Tokenization is lossless:
    no Unicode normalization, whitespace kept as is, and characters outside
    the vocabulary (rare Chinese characters, emoji) fall back to their UTF-8
    bytes, so `detokenize(tokenize(text)) == text` for any text. Ids 0, 1 and
    2 are `<pad>`, `<unk>` and `<|endoftext|>`.

    User text is text: `"<|endoftext|>"`, `"<pad>"`, `"<unk>"` or `"<0x41>"`
    in it are spelled in ordinary pieces, never read as the special or byte
    pieces of those names (SentencePiece parses only user-defined symbols,
    here just the newline). SentencePiece marks spaces with U+2581 "▁"
    inside its pieces, so a "▁" the user wrote would decode as a space: the
    constructor therefore stores spaces as spaces in the pieces and turns
    SentencePiece's whitespace escaping off (the same ids for text without
    "▁"; a "▁" is then spelled in bytes). Models loaded from a file must be
    lossless in the same way (identity normalization, no dummy prefix, no
    removal of extra whitespace, byte fallback), as `train` makes them.

    Tokenization runs in-graph (`tf.data`, SavedModels) with the
    tensorflow-text SentencePiece ops, which stock TF Serving lacks: a
    server must load the tensorflow-text op library.

    Args:
        proto: the serialized SentencePiece model (`bytes`).

    Raises:
        TypeError: if `proto` is not bytes.
        ValueError: if `proto` is not a SentencePiece model (empty,
            truncated, not a protobuf), lacks `<|endoftext|>` or `<pad>`, or
            is not lossless; `load` names the file.

    Example:

    >>> tokenizer = SentencePieceTokenizer.train(["poems.txt"], 2000)
    >>> ids = tokenizer.tokenize("春眠不覺曉")
    >>> tokenizer.detokenize(ids).numpy().decode()
    '春眠不覺曉'
    """

    asset_file = "sentencepiece.model"

    def __init__(self, proto: bytes, *, _source="`proto`"):
        if not isinstance(proto, bytes):
            raise TypeError(
                "`proto` must be the serialized SentencePiece model (bytes). "
                f"Received: proto of type {type(proto).__name__}"
            )
        self.proto = _lossless_proto(proto, _source)
        with _quiet_stderr():  # the op's model load logs (see `_quiet_stderr`)
            self._op = tf_text.SentencepieceTokenizer(
                model=self.proto, out_type=tf.int32
            )
        self._op._model_resource = _SharedModelResource(self.proto)
        self.resources = tf.Module()  # what a SavedModel must track
        self.resources.sentencepiece = self._op
        self.vocabulary_size = int(self._op.vocab_size())
        self.end_of_text_id = self._token_id(END_OF_TEXT)
        self.padding_id = self._token_id(PADDING)
        self.special_tokens = {
            END_OF_TEXT: self.end_of_text_id,
            PADDING: self.padding_id,
        }

    @classmethod
    def train(
        cls,
        files,
        vocabulary_size: int,
        model_type: str = "unigram",
        character_coverage: float = 0.9995,
        max_sentences: int = 2_000_000,
        hard_vocab_limit: bool = True,
    ):
        """Learns a vocabulary of `vocabulary_size` pieces from text files.

        keras-hub's `compute_sentence_piece_proto` would be the natural call,
        but it fixes NFKC normalization (which rewrites full-width Chinese
        punctuation such as "，" into ",") and offers no byte fallback, so its
        tokenizers can't round-trip Chinese text or emoji. This calls the
        same SentencePiece trainer with lossless settings.

        Args:
            files: path or list of paths of UTF-8 text files.
            vocabulary_size: number of pieces, including the 256 byte pieces
                and the special tokens.
            model_type: `"unigram"` or `"bpe"`.
            character_coverage: share of characters that get pieces of their
                own; the rest are spelled in bytes.
            max_sentences: lines sampled for training (bounds memory).
            hard_vocab_limit: SentencePiece's option: True, a text too small
                for `vocabulary_size` pieces is an error that says the most
                it allows; False, the trainer makes fewer pieces.

        Raises:
            ValueError: for a missing file, a bad setting, or a training
                that fails (SentencePiece's reason, e.g. "Vocabulary size
                too high (100000). Please set it to a value <= 273.").
        """
        files = [files] if isinstance(files, (str, os.PathLike)) else list(files)
        if not files:
            raise ValueError("`files` must name at least one text file. Received: []")
        for path in files:
            if not os.path.isfile(path):
                raise ValueError(f"`files` has no file {path!r}")
        check_positive_int("vocabulary_size", vocabulary_size)
        if model_type not in MODEL_TYPES:
            raise ValueError(
                f"`model_type` must be one of {MODEL_TYPES}. "
                f"Received: model_type={model_type!r}"
            )
        if not 0 < character_coverage <= 1:
            raise ValueError(
                "`character_coverage` must be in (0, 1]. "
                f"Received: character_coverage={character_coverage!r}"
            )
        proto = io.BytesIO()
        try:
            sentencepiece.SentencePieceTrainer.train(
                input=[os.fspath(path) for path in files],
                model_writer=proto,
                vocab_size=vocabulary_size,
                model_type=model_type,
                character_coverage=character_coverage,
                input_sentence_size=max_sentences,
                hard_vocab_limit=hard_vocab_limit,
                **_TRAINER_OPTIONS,
            )
        except RuntimeError as error:
            # The trainer's message says what was too small; keep its last
            # line, without the source location and check that precede it.
            reason = str(error).strip().splitlines()[-1].rpartition("] ")[2]
            raise ValueError(
                f"SentencePiece training failed for vocabulary_size={vocabulary_size}, "
                f"model_type={model_type!r}: {reason}"
            ) from None
        return cls(proto.getvalue())

    def _token_id(self, piece):
        return int(self._op.string_to_id(piece))

    def tokenize(self, inputs):
        strings = as_string_tensor(inputs)
        return self._op.tokenize(strings)

    def detokenize(self, token_ids):
        vocabulary_size = self.vocabulary_size
        token_ids = as_token_ids(
            token_ids, lambda ids: (ids >= 0) & (ids < vocabulary_size)
        )
        # A prefix may end inside a character spelled in byte pieces.
        return replace_invalid_utf8(self._op.detokenize(token_ids))

    def id_to_token(self, token_id):
        """The piece of one id (`<0xNN>` for a byte; spaces are spaces)."""
        if not 0 <= token_id < self.vocabulary_size:
            raise ValueError(
                f"`token_id` must be in [0, {self.vocabulary_size}). "
                f"Received: token_id={token_id}"
            )
        return self._op.id_to_string(tf.constant(token_id)).numpy().decode()

    def save_assets(self, directory):
        with open(os.path.join(directory, self.asset_file), "wb") as f:
            f.write(self.proto)

    @classmethod
    def load(cls, directory, config):
        """Reads `sentencepiece.model`; a bad file → `ValueError` naming it."""
        if config:
            raise TypeError(
                f"SentencePieceTokenizer takes no configuration. Received: {config}"
            )
        path = os.path.join(os.fspath(directory), cls.asset_file)
        try:
            with open(path, "rb") as f:
                proto = f.read()
        except OSError as error:
            raise ValueError(
                f"Cannot read the SentencePiece model {path}: {error}"
            ) from None
        return cls(proto, _source=path)

    def get_config(self):
        return {}


def _lossless_proto(proto: bytes, source: str) -> bytes:
    """`proto` checked, with spaces as spaces in its pieces; else `ValueError`.

    The checks name `source` (the argument or the file). See the class
    docstring for why U+2581 is taken out of the pieces.
    """
    model = sentencepiece_model_pb2.ModelProto()
    try:
        model.ParseFromString(proto)
    except DecodeError:
        raise ValueError(
            f"{source} is not a SentencePiece model: its protobuf does not parse "
            f"({len(proto)} bytes; truncated or another kind of file?)"
        ) from None
    if not model.pieces:
        raise ValueError(
            f"{source} is not a SentencePiece model: it has no pieces "
            f"({len(proto)} bytes; empty or truncated?)"
        )
    if not (model.HasField("trainer_spec") and model.HasField("normalizer_spec")):
        raise ValueError(
            f"{source} is truncated: it has {len(model.pieces)} pieces but no "
            "trainer or normalizer settings"
        )
    pieces = {piece.piece for piece in model.pieces}
    for token in (END_OF_TEXT, PADDING):
        if token not in pieces:
            raise ValueError(
                f"{source} has no {token!r} piece (SentencePieceTokenizer.train "
                "makes one)"
            )
    normalizer, trainer = model.normalizer_spec, model.trainer_spec
    byte_pieces = sum(piece.type == piece.BYTE for piece in model.pieces)
    lossy = [
        reason
        for reason, present in [
            (f"normalization {normalizer.name!r}", normalizer.name != "identity"),
            ("a dummy prefix", normalizer.add_dummy_prefix),
            ("removal of extra whitespace", normalizer.remove_extra_whitespaces),
            ("no byte fallback", not trainer.byte_fallback or byte_pieces != 256),
        ]
        if present
    ]
    if lossy:
        raise ValueError(
            f"{source} does not round-trip text: it has {', '.join(lossy)}. "
            "Train it with SentencePieceTokenizer.train."
        )
    if normalizer.escape_whitespaces:
        for piece in model.pieces:
            if piece.type == piece.NORMAL:
                piece.piece = piece.piece.replace(_META_SPACE, " ")
        normalizer.escape_whitespaces = False
    proto = model.SerializeToString()
    try:
        sentencepiece.SentencePieceProcessor(model_proto=proto)
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[-1]
        raise ValueError(
            f"{source} is not a usable SentencePiece model: {reason}"
        ) from None
    return proto
