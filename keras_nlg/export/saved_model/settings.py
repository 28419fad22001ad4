"""The optional generation inputs of `serving_default` and `generate_ids`.

The one place that says which settings the signatures serve, their default
values, the value a filler row decodes with, and the rule each value must
follow. The endpoints, the checks and the decode call all loop over
`SERVED_SETTINGS`, so serving another `GenerationConfig` field means one
entry here (and its knob in the decode loop). Names and dtypes are the wire
contract's (`keras_nlg.export.wire_contract.GENERATION_INPUTS`).
"""

import logging

import tensorflow as tf

from keras_nlg.export.saved_model.graph_checks import after, check
from keras_nlg.export.wire_contract import GENERATION_INPUTS
from keras_nlg.generation.config import GenerationConfig

logger = logging.getLogger(__name__)

# name -> value a filler row (padding the batch to its bucket) decodes with:
# one greedy token. Each setting may be sent as `[1]` (one value for the
# whole request) or `[batch]`; the defaults come from the export's
# `GenerationConfig` (`served_defaults`).
SERVED_SETTINGS = {
    "max_new_tokens": 1,
    "min_new_tokens": 0,
    "temperature": 0.0,  # 0 = greedy
    "top_k": 0,  # 0 = off
    "top_p": 1.0,  # 1 = off
    "min_p": 0.0,  # 0 = off
    "no_repeat_ngram_size": 0,  # 0 = off
    "seed": 0,
}
assert set(SERVED_SETTINGS) == set(GENERATION_INPUTS)
# GenerationConfig fields the served loop doesn't run; a config that sets
# them is refused (or, read from the model directory, served without them).
UNSERVED_FIELDS = ("num_beams", "repetition_penalty", "num_return_sequences")


def served_defaults(config: GenerationConfig, from_directory: bool = False) -> dict:
    """The SignatureDef default of each optional input, from `config`.

    Sampling settings become the defaults only with `do_sample` (otherwise
    temperature 0: greedy); a None seed becomes 0. `stop_strings` are a
    client-side cut and are not served (a logged warning says so).

    Raises:
        ValueError: if `config` sets a field the served loop doesn't run
            (`UNSERVED_FIELDS`), unless `from_directory`, where such fields
            are left out with a logged warning (an E2E model's beam width
            applies to `keras_nlg.generate`, not to the served signature).
    """
    default = GenerationConfig()
    for name in UNSERVED_FIELDS:
        if getattr(config, name) != getattr(default, name):
            if not from_directory:
                raise ValueError(
                    f"The SavedModel's signatures decode greedily or by "
                    f"sampling, one sequence per prompt: `{name}` is not served. "
                    f"Received: {name}={getattr(config, name)!r}"
                )
            logger.warning(
                "generation_config.json sets %s=%r, which the SavedModel does "
                "not serve; exporting without it.",
                name,
                getattr(config, name),
            )
    if config.stop_strings:
        # The served text and num_generated_tokens stay in agreement; only a
        # client that cuts at these strings gets what `generate` returns.
        logger.warning(
            "stop_strings=%r are not served: the SavedModel returns text up to "
            "end-of-text or max_new_tokens, and clients cut it at them.",
            list(config.stop_strings),
        )
    return {
        "max_new_tokens": config.max_new_tokens,
        "min_new_tokens": config.min_new_tokens,
        "temperature": config.temperature if config.do_sample else 0.0,
        "top_k": config.top_k,
        "top_p": config.top_p,
        "min_p": config.min_p,
        "no_repeat_ngram_size": config.no_repeat_ngram_size,
        "seed": config.seed or 0,
    }


def dtype_of(name):
    return tf.dtypes.as_dtype(GENERATION_INPUTS[name])


def setting_specs():
    """The `TensorSpec`s of the optional inputs, in `SERVED_SETTINGS` order."""
    return [
        tf.TensorSpec([None], dtype_of(name), name=name) for name in SERVED_SETTINGS
    ]


def default_values(defaults):
    """`served_defaults` as `[1]` tensors (the SignatureDef's defaults)."""
    return {
        name: tf.constant([defaults[name]], dtype_of(name)) for name in SERVED_SETTINGS
    }


def filler_value(name):
    """What a filler row (padding the batch to its bucket) decodes with."""
    return tf.constant(SERVED_SETTINGS[name], dtype_of(name))


def _rules(max_new_tokens_limit, vocabulary_size):
    """name -> (holds(values) -> bool tensor, message) for settings with a rule."""
    limit = max_new_tokens_limit
    return {
        "max_new_tokens": (
            lambda n: (n >= 1) & (n <= limit),
            f"`max_new_tokens` must be in [1, {limit}]. Received:",
        ),
        "temperature": (
            lambda t: tf.math.is_finite(t) & (t >= 0),
            "`temperature` must be ≥ 0 (0 = greedy). Received:",
        ),
        "top_k": (
            lambda k: (k >= 0) & (k <= vocabulary_size),
            f"`top_k` must be in [0, {vocabulary_size}] (0 = off). Received:",
        ),
        "top_p": (
            lambda p: (p > 0) & (p <= 1),
            "`top_p` must be in (0, 1] (1 = off). Received:",
        ),
        "min_new_tokens": (
            lambda n: (n >= 0) & (n <= limit),
            f"`min_new_tokens` must be in [0, {limit}] (0 = off). Received:",
        ),
        "min_p": (
            lambda p: (p >= 0) & (p < 1),
            "`min_p` must be in [0, 1) (0 = off). Received:",
        ),
        "no_repeat_ngram_size": (
            lambda n: n >= 0,
            "`no_repeat_ngram_size` must be ≥ 0 (0 = off). Received:",
        ),
    }


def checked_settings(rows, settings, max_new_tokens_limit, vocabulary_size):
    """Each setting checked and broadcast to `(rows,)`."""
    values = {}
    for name in SERVED_SETTINGS:
        value = settings[name]
        size = tf.size(value)
        size_check = check(
            (size == 1) | (size == rows),
            f"`{name}` must hold 1 value or one per row. Received sizes "
            "(setting, rows):",
            size,
            rows,
        )
        with tf.control_dependencies([size_check]):
            values[name] = tf.broadcast_to(tf.reshape(value, [-1]), [rows])
    checks = [
        check(tf.reduce_all(holds(values[name])), message, values[name])
        for name, (holds, message) in _rules(
            max_new_tokens_limit, vocabulary_size
        ).items()
    ]
    return {name: after(checks, value) for name, value in values.items()}
