"""Token streams → shuffled `(x, y)` next-token windows in `tf.data`."""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_nlg.argument_checks import check_positive_int

_DOCUMENTS_PER_CALL = 1024

# Validation is forward passes only, and Keras' evaluate loop costs about
# 15 ms per batch here (2 CPU cores) whatever the batch: the mini preset's
# 1,742 held-out windows of 64 tokens take 2.55 s in batches of 24 and 1.1 s
# in batches of 96. So a validation batch is this many training batches, as
# long as its logits fit in `MAX_VALIDATION_LOGITS` floats (256 MiB).
VALIDATION_BATCH_FACTOR = 4
MAX_VALIDATION_LOGITS = 2**26


def validation_batch_size(batch_size, sequence_length, vocabulary_size) -> int:
    """Windows per validation batch: `VALIDATION_BATCH_FACTOR` training
    batches, fewer if the logits would pass `MAX_VALIDATION_LOGITS` floats,
    at least one (e.g. GPT-2's 50,257-token vocabulary at 1,024 tokens).
    A whole number of training batches, so it splits over replicas and
    processes as the training batch does."""
    fits = MAX_VALIDATION_LOGITS // (sequence_length * vocabulary_size)
    return batch_size * max(1, min(VALIDATION_BATCH_FACTOR, fits // batch_size))


def tokenize_documents(texts: str | list[str], tokenizer) -> np.ndarray:
    """Tokenizes each text and joins them with end-of-text between documents.

    The end-of-text id is added here, as an id: a document containing the
    text "<|endoftext|>" stays one document (tokenizers never parse special
    tokens out of text). Returns an int32 NumPy array of the whole corpus.
    Texts are tokenized `_DOCUMENTS_PER_CALL` at a time (one tokenizer call
    per text cost ~3 ms each: 2 minutes for the E2E training set's 42,000).
    """
    if isinstance(texts, str):
        texts = [texts]
    pieces = []
    for start in range(0, len(texts), _DOCUMENTS_PER_CALL):
        ragged = tokenizer.tokenize(list(texts[start : start + _DOCUMENTS_PER_CALL]))
        values = np.asarray(ragged.flat_values, dtype=np.int32)
        ends = np.cumsum(np.asarray(ragged.row_lengths()))
        for begin, end in zip(np.concatenate([[0], ends[:-1]]), ends, strict=True):
            pieces.append(values[begin:end])
            pieces.append(np.asarray([tokenizer.end_of_text_id], dtype=np.int32))
    return np.concatenate(pieces[:-1])


@dataclasses.dataclass
class LanguageModelData:
    """Training and validation datasets plus their sizes (in windows)."""

    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    train_windows: int
    validation_windows: int
    sequence_length: int
    batch_size: int

    @property
    def steps_per_epoch(self):
        return self.train_windows // self.batch_size

    @property
    def batch_shapes(self):
        """Distinct training batch shapes: one (full, equal windows)."""
        return 1


def _example_fn(tokens, sequence_length):
    """Maps a window start to `(x, y)`, with `y` being `x` shifted by one token."""
    tokens = tf.constant(tokens)

    def to_example(start):
        # tf.slice with a constant size keeps the static shape (T + 1,).
        size = tf.constant([sequence_length + 1], start.dtype)
        window = tf.slice(tokens, tf.reshape(start, [1]), size)
        return window[:-1], window[1:]

    return to_example


def language_model_datasets(
    token_ids,
    sequence_length: int,
    batch_size: int,
    validation_fraction: float = 0.1,
    seed: int = 0,
    validation_batch_size: int | None = None,
) -> LanguageModelData:
    """Builds `(x, y)` datasets of `sequence_length` tokens from one stream.

    The stream is split by position: the first `1 - validation_fraction` of
    the tokens train, the rest validate, so no window of one split contains
    tokens of the other. Each split is cut into windows of
    `sequence_length + 1` tokens at a stride of `sequence_length`; the
    training windows are shuffled with `seed` (a new deterministic order each
    epoch) and batched with `drop_remainder=True` so every batch has a static
    shape.

    Args:
        token_ids: 1-D int array, the whole corpus.
        sequence_length: tokens per example.
        batch_size: examples per batch.
        validation_fraction: share of the stream held out, in [0, 1).
        seed: shuffle seed; the same seed gives the same batches.
        validation_batch_size: windows per validation batch (default
            `batch_size`; see `validation_batch_size()`).

    Returns:
        A `LanguageModelData`.
    """
    check_positive_int("sequence_length", sequence_length)
    check_positive_int("batch_size", batch_size)
    check_positive_int("validation_batch_size", validation_batch_size, allow_none=True)
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(
            "`validation_fraction` must be in [0, 1). "
            f"Received: validation_fraction={validation_fraction!r}"
        )
    token_ids = np.asarray(token_ids, dtype=np.int32)
    window = sequence_length + 1
    split = int(round(len(token_ids) * (1.0 - validation_fraction)))
    train_tokens, validation_tokens = token_ids[:split], token_ids[split:]
    if len(train_tokens) < window:
        raise ValueError(
            f"The training text has {len(train_tokens)} tokens, fewer than one window "
            f"of sequence_length + 1 = {window}. Use more text or a smaller "
            "sequence_length."
        )
    if validation_fraction and len(validation_tokens) < window:
        raise ValueError(
            f"The validation split has {len(validation_tokens)} tokens, fewer than one "
            f"window of {window}. Use more text, a larger validation_fraction or a "
            "smaller sequence_length."
        )

    def starts(tokens):
        return np.arange(0, len(tokens) - window + 1, sequence_length)

    train_starts = starts(train_tokens)
    if len(train_starts) < batch_size:
        raise ValueError(
            f"The training text gives {len(train_starts)} windows, fewer than one "
            "batch. "
            f"Use more text or a batch_size ≤ {len(train_starts)}. "
            f"Received: batch_size={batch_size}"
        )
    train = (
        tf.data.Dataset.from_tensor_slices(train_starts)
        .shuffle(len(train_starts), seed=seed, reshuffle_each_iteration=True)
        .map(
            _example_fn(train_tokens, sequence_length),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    validation, validation_windows = None, 0
    if validation_fraction:
        validation_starts = starts(validation_tokens)
        validation_windows = len(validation_starts)
        validation = (
            tf.data.Dataset.from_tensor_slices(validation_starts)
            .map(
                _example_fn(validation_tokens, sequence_length),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
            .batch(validation_batch_size or batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
    return LanguageModelData(
        train=train,
        validation=validation,
        train_windows=len(train_starts),
        validation_windows=validation_windows,
        sequence_length=sequence_length,
        batch_size=batch_size,
    )
