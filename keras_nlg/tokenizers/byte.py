"""UTF-8 byte tokenizer in core TensorFlow string ops."""

import numpy as np
import tensorflow as tf

END_OF_TEXT = "<|endoftext|>"
PADDING = "<pad>"
_REPLACEMENT_CHARACTER = 0xFFFD


def _as_string_tensor(inputs):
    """Python str / list of str / numpy / tf.string → tf.string tensor."""
    if isinstance(inputs, (tf.Tensor, tf.RaggedTensor)):
        if inputs.dtype != tf.string:
            raise TypeError(
                f"`inputs` must be a tf.string tensor. Received: dtype={inputs.dtype!r}"
            )
        return inputs
    items = inputs.tolist() if isinstance(inputs, np.ndarray) else inputs
    flat = items if isinstance(items, (list, tuple)) else [items]
    for item in flat:
        if not isinstance(item, (str, bytes)):
            raise TypeError(
                "`inputs` must be a string, a list of strings or a tf.string tensor. "
                f"Received: inputs={inputs!r}"
            )
    return tf.constant(items, dtype=tf.string)


class ByteTokenizer:
    """Text ↔ UTF-8 byte ids, plus end-of-text and padding tokens.

    Ids 0–255 are bytes, 256 is `<|endoftext|>` and 257 is `<pad>`. It needs
    no vocabulary file and only core TensorFlow ops, so it runs in
    `tf.data`, inside a SavedModel and in stock TF Serving.

    `tokenize` takes a Python string (→ int32 tensor `(length,)`), or a list
    of strings / a `tf.string` tensor `(batch,)` (→ `tf.RaggedTensor`
    `(batch, None)`). `detokenize` inverts it exactly for any valid UTF-8
    text, drops special tokens, and turns a cut multi-byte sequence into
    U+FFFD instead of raising.

    Example:

    >>> tokenizer = ByteTokenizer()
    >>> tokenizer.tokenize("hé").numpy().tolist()
    [104, 195, 169]
    >>> tokenizer.detokenize([104, 195, 169]).numpy().decode()
    'hé'
    """

    vocabulary_size = 258
    end_of_text_id = 256
    padding_id = 257
    special_tokens = {END_OF_TEXT: 256, PADDING: 257}

    def tokenize(self, inputs):
        strings = _as_string_tensor(inputs)
        pieces = tf.strings.bytes_split(strings)  # (..., None) one-byte strings
        # reshape, not [:, 0]: decode_raw of zero pieces has shape (0, 0).
        return tf.ragged.map_flat_values(
            lambda flat: tf.cast(
                tf.reshape(tf.io.decode_raw(flat, tf.uint8), [-1]), tf.int32
            ),
            pieces,
        )

    def detokenize(self, token_ids):
        if not isinstance(token_ids, tf.RaggedTensor):
            token_ids = tf.convert_to_tensor(token_ids)
        if not token_ids.dtype.is_integer:
            raise TypeError(
                f"`token_ids` must be integers. Received: dtype={token_ids.dtype!r}"
            )
        token_ids = tf.cast(token_ids, tf.int32)
        # Special tokens and out-of-range ids carry no text.
        is_byte = tf.logical_and(token_ids >= 0, token_ids < 256)
        if isinstance(token_ids, tf.RaggedTensor) or token_ids.shape.rank > 1:
            token_ids = tf.ragged.boolean_mask(token_ids, is_byte)
        else:
            token_ids = tf.boolean_mask(token_ids, is_byte)
        byte_strings = tf.constant([bytes([i]) for i in range(256)])
        text = tf.strings.reduce_join(tf.gather(byte_strings, token_ids), axis=-1)
        return tf.strings.unicode_transcode(
            text,
            input_encoding="UTF-8",
            output_encoding="UTF-8",
            errors="replace",
            replacement_char=_REPLACEMENT_CHARACTER,
            replace_control_characters=False,
        )

    def id_to_token(self, token_id):
        """Readable name of one id: the byte as `<0xNN>` or the special token."""
        for token, special_id in self.special_tokens.items():
            if token_id == special_id:
                return token
        if not 0 <= token_id < 256:
            raise ValueError(
                f"`token_id` must be in [0, 258). Received: token_id={token_id}"
            )
        return f"<0x{token_id:02X}>"

    def get_config(self):
        return {}
