"""Prompt packing: ragged prompt ids → the left-padded block a decode loop takes.

One function for every runtime: `keras_nlg.generate` calls it eagerly on the
ids of its tokenized prompts, and the SavedModel calls it inside its serving
graph (where every size is a tensor). The loops want a rectangle: each prompt
right-aligned so that its last token sits in the last prompt column and new
tokens follow in the same columns for every row, a padding mask saying which
columns hold real tokens, and filler rows up to a bucketed row count (a
compiled loop is reused for every batch in its bucket). How the sizes are
bucketed is the caller's policy; this module only packs.
"""

import tensorflow as tf


def pack_prompts(
    prompts: tf.RaggedTensor,
    room,
    rows,
    prompt_length,
    total_length,
    end_of_text_id: int,
    padding_id: int,
):
    """Left-truncates, left-pads and fills prompts into fixed shapes.

    A prompt longer than `room` keeps its last `room` tokens; an empty one
    becomes a lone end-of-text token (a document start). Filler rows (from
    `B` to `rows`) hold one end-of-text token; their output is discarded.

    Args:
        prompts: int32 `tf.RaggedTensor` `(B, None)` of token ids.
        room: int32 scalar or `(B,)`, tokens a prompt may keep (≥ 1).
        rows: int32 scalar ≥ B, rows of the packed block.
        prompt_length: int32 scalar `P` ≥ the longest kept prompt.
        total_length: int32 scalar `S` ≥ `P`: prompt plus new-token columns.
        end_of_text_id, padding_id: the tokenizer's ids.

    Returns:
        `(prompt_ids, padding_mask, kept)`: int32 `(rows, P)` left-padded
        with `padding_id`; bool `(rows, S)`, False on padding columns; int32
        `(B,)` tokens kept per prompt.
    """
    prompts = tf.cast(prompts, tf.int32)
    lengths = tf.cast(prompts.row_lengths(), tf.int32)
    batch = tf.shape(lengths)[0]
    kept = tf.maximum(tf.minimum(lengths, room), 1)
    # "[eot] + prompt": its last `kept` tokens are the prompt's last `kept`,
    # or the lone end-of-text of an empty prompt.
    with_eot = tf.concat(
        [tf.fill([batch, 1], end_of_text_id), prompts.to_tensor(padding_id)], axis=1
    )
    columns = tf.range(prompt_length)[None, :]  # (1, P)
    first = prompt_length - kept[:, None]  # (B, 1): first real column
    source = lengths[:, None] + 1 - prompt_length + columns  # (B, P) into with_eot
    source = tf.clip_by_value(source, 0, tf.shape(with_eot)[1] - 1)
    prompt_ids = tf.where(
        columns >= first, tf.gather(with_eot, source, batch_dims=1), padding_id
    )
    padding_mask = tf.range(total_length)[None, :] >= first  # (B, S)
    filler = rows - batch
    prompt_ids = tf.concat(
        [prompt_ids, tf.fill([filler, prompt_length], end_of_text_id)], axis=0
    )
    padding_mask = tf.concat(
        [
            padding_mask,
            tf.broadcast_to(
                tf.range(total_length)[None, :] >= prompt_length - 1,
                [filler, total_length],
            ),
        ],
        axis=0,
    )
    return prompt_ids, padding_mask, kept
