"""Warm-up requests: the file TF Serving replays before serving a version.

The decode loop compiles once per (rows, prompt length, new-token) bucket,
seconds each; replaying typical requests at load time pays that before the
version takes traffic (`assets.extra/tf_serving_warmup_requests`, TF
Serving's name, also read by `keras-nlg serve`).
"""

import os

import numpy as np
import tensorflow as tf

from keras_nlg.export import wire_contract as wire
from keras_nlg.generation.shapes import MIN_PROMPT_BUCKET


def _record(model_name, signature, inputs):
    """One serialized `PredictionLog` holding a `PredictRequest`."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
    )
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )
    return log.SerializeToString()


def warmup_requests(signatures, model_name, prompt_lengths):
    """PredictionLog records that compile the shapes of typical traffic.

    `generate_ids` reaches each (rows, prompt length) bucket exactly
    whatever the tokenizer, and shares the compiled loop with
    `serving_default`; then `serving_default` and `score` once per row
    bucket. All at the default `max_new_tokens`.
    """
    row_buckets = [int(rows) for rows in signatures.batch_buckets.numpy()]
    # A token that is neither end-of-text nor padding.
    token = min(
        {0, 1, 2, 3}
        - {signatures.tokenizer.end_of_text_id, signatures.tokenizer.padding_id}
    )
    records = [
        _record(
            model_name,
            wire.GENERATE_IDS,
            {
                wire.TOKEN_IDS: np.full([rows, length], token, np.int32),
                wire.PROMPT_LENGTH: np.full([rows], length, np.int32),
            },
        )
        for rows in row_buckets
        for length in prompt_lengths
    ]
    for rows in row_buckets:
        hello = np.array([b"Hello"] * rows)
        records.append(_record(model_name, wire.SERVING_DEFAULT, {wire.PROMPT: hello}))
        records.append(_record(model_name, wire.SCORE, {wire.TEXT: hello}))
    return records


def write_warmup_file(
    version_dir, signatures, model_name, prompt_lengths, max_new_tokens
):
    """Writes the warm-up requests for the `prompt_lengths` that fit."""
    # Longer prompts are cut to the room beside the default new tokens
    # (their shapes are those of the smallest bucket holding it).
    room = int(signatures.prompt_room(tf.constant([max_new_tokens]))[0])
    lengths = [n for n in prompt_lengths if n <= max(room, MIN_PROMPT_BUCKET)]
    path = os.path.join(version_dir, wire.WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for request in warmup_requests(signatures, model_name, lengths):
            writer.write(request)
