"""Fixtures of the SavedModel tests (the trained and exported model they share
with the serving tests is in tests/conftest.py)."""

import pytest
import tensorflow as tf

PROMPTS = ["ROMEO:", "", "KING:\nto be or not to be", "月光"]
SETTINGS = {
    "max_new_tokens": ([12], tf.int32),
    "min_new_tokens": ([0], tf.int32),
    "temperature": ([0.0], tf.float32),
    "top_k": ([0], tf.int32),
    "top_p": ([1.0], tf.float32),
    "min_p": ([0.0], tf.float32),
    "no_repeat_ngram_size": ([0], tf.int32),
    "seed": ([0], tf.int32),
}


def settings(**overrides):
    """The optional inputs as tensors: greedy, 12 new tokens, unless overridden."""
    values = {name: value for name, (value, _) in SETTINGS.items()}
    values.update(overrides)
    return {name: tf.constant(values[name], SETTINGS[name][1]) for name in values}


@pytest.fixture(scope="session")
def loaded(saved_model_dir):
    return tf.saved_model.load(saved_model_dir)
