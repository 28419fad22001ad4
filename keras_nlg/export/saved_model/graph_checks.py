"""In-graph input checks of the serving signatures.

A bad request must fail inside the graph with InvalidArgument and a message
that names the input and the value received: TF Serving (and `keras-nlg
serve`) return that to the client as INVALID_ARGUMENT. Each check is a
`tf.debugging.Assert` that the checked tensor depends on (`after`), so
nothing reads a value before its checks have run.
"""

import tensorflow as tf

from keras_nlg.export.wire_contract import MAX_PROMPT_BYTES


def check(condition, message, *values):
    """An InvalidArgument assertion whose message names the input and value."""
    return tf.debugging.Assert(condition, [message, *values], summarize=8)


def after(checks, tensor):
    """`tensor`, once `checks` have passed (nothing reads it before)."""
    with tf.control_dependencies(checks):
        return tf.identity(tensor)


def check_rows(rows, name, max_batch_size):
    """Checks that a request holds 1 to `max_batch_size` rows."""
    return [
        check(rows > 0, f"`{name}` must hold at least one row. Received rows:", rows),
        check(
            rows <= max_batch_size,
            f"`{name}` holds more rows than max_batch_size={max_batch_size}. "
            "Received rows:",
            rows,
        ),
    ]


def checked_texts(texts, name, max_batch_size):
    """`texts` once checked: rows, size, UTF-8."""
    checks = check_rows(tf.shape(texts)[0], name, max_batch_size)
    lengths = tf.strings.length(texts)  # bytes
    checks.append(
        check(
            tf.reduce_all(lengths <= MAX_PROMPT_BYTES),
            f"Each `{name}` must be at most {MAX_PROMPT_BYTES} bytes. Received "
            "lengths:",
            lengths,
        )
    )
    # Transcoding changes a string iff it holds invalid UTF-8.
    valid = tf.equal(
        tf.strings.unicode_transcode(
            texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
        ),
        texts,
    )
    checks.append(
        check(
            tf.reduce_all(valid),
            f"Each `{name}` must be valid UTF-8. Received valid rows:",
            valid,
        )
    )
    return after(checks, texts)
