"""String-tensor helpers shared by the tokenizers."""

import numpy as np
import tensorflow as tf

REPLACEMENT_CHARACTER = 0xFFFD


def as_string_tensor(inputs):
    """Python str / list of str / numpy / tf.string → tf.string tensor."""
    if isinstance(inputs, (tf.Tensor, tf.RaggedTensor)):
        if inputs.dtype != tf.string:
            raise TypeError(
                f"`inputs` must be a tf.string tensor. Received: dtype={inputs.dtype!r}"
            )
        return inputs
    items = inputs.tolist() if isinstance(inputs, np.ndarray) else inputs
    flat = items if isinstance(items, (list, tuple)) else [items]
    for index, item in enumerate(flat):
        if not isinstance(item, (str, bytes)):
            raise TypeError(
                "`inputs` must be a string, a list of strings or a tf.string tensor. "
                f"Received: inputs={inputs!r:.200}"
            )
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as error:  # a lone surrogate, e.g. "\ud800"
                where = f"inputs[{index}]" if flat is items else "inputs"
                raise ValueError(
                    f"`{where}` is not valid Unicode text: {error.reason} at "
                    f"character {error.start}. Received: {where}={item!r:.200}"
                ) from None
    return tf.constant(items, dtype=tf.string)


def as_token_ids(token_ids, keep):
    """int32 ids (dense or ragged) with only those where `keep(ids)` is True.

    Detokenizers drop special and out-of-range ids this way: they carry no
    text, and an out-of-range id would fail inside a vocabulary lookup.
    """
    if isinstance(token_ids, (list, tuple)) and not token_ids:
        token_ids = tf.zeros([0], tf.int32)  # `[]` would convert to float32
    if isinstance(token_ids, (list, tuple)) and any(
        isinstance(row, (list, tuple, np.ndarray)) for row in token_ids
    ):
        # Rows of different lengths, as `tokenize` of a list gives back
        # (`.to_list()`): a ragged batch.
        rows = [np.asarray(row).tolist() for row in token_ids]
        try:
            token_ids = tf.ragged.constant(rows, dtype=None if any(rows) else tf.int32)
        except (TypeError, ValueError) as error:
            raise TypeError(
                "`token_ids` must be ids, a batch of id rows or a tensor. "
                f"Received: token_ids={token_ids!r:.200} ({error})"
            ) from None
    if not isinstance(token_ids, tf.RaggedTensor):
        token_ids = tf.convert_to_tensor(token_ids)
    if not token_ids.dtype.is_integer:
        raise TypeError(
            f"`token_ids` must be integers. Received: dtype={token_ids.dtype!r}"
        )
    token_ids = tf.cast(token_ids, tf.int32)
    kept = keep(token_ids)
    if isinstance(token_ids, tf.RaggedTensor) or token_ids.shape.rank > 1:
        return tf.ragged.boolean_mask(token_ids, kept)
    return tf.boolean_mask(token_ids, kept)


def replace_invalid_utf8(text):
    """`text` with each invalid UTF-8 sequence (e.g. a cut character) as U+FFFD.

    Streaming decodes prefixes of a generation, which may end inside a
    multi-byte character; callers then hold back the trailing U+FFFD.
    """
    return tf.strings.unicode_transcode(
        text,
        input_encoding="UTF-8",
        output_encoding="UTF-8",
        errors="replace",
        replacement_char=REPLACEMENT_CHARACTER,
        replace_control_characters=False,
    )
