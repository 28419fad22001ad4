"""UTF-8 byte tokenizer in core TensorFlow string ops."""

import tensorflow as tf

from keras_nlg.tokenizers.strings import (
    as_string_tensor,
    as_token_ids,
    replace_invalid_utf8,
)

END_OF_TEXT = "<|endoftext|>"
PADDING = "<pad>"


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
    resources = tf.Module()  # no lookup tables to track in a SavedModel

    def tokenize(self, inputs):
        strings = as_string_tensor(inputs)
        pieces = tf.strings.bytes_split(strings)  # (..., None) one-byte strings
        # reshape, not [:, 0]: decode_raw of zero pieces has shape (0, 0).
        return tf.ragged.map_flat_values(
            lambda flat: tf.cast(
                tf.reshape(tf.io.decode_raw(flat, tf.uint8), [-1]), tf.int32
            ),
            pieces,
        )

    def detokenize(self, token_ids):
        # Special tokens and out-of-range ids carry no text.
        token_ids = as_token_ids(token_ids, lambda ids: (ids >= 0) & (ids < 256))
        byte_strings = tf.constant([bytes([i]) for i in range(256)])
        text = tf.strings.reduce_join(tf.gather(byte_strings, token_ids), axis=-1)
        return replace_invalid_utf8(text)

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
