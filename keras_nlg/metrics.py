"""`Perplexity`: the metric `fit` reports beside the loss.

Its own module, imported by `keras_nlg.models` (as `keras_nlg.schedules`
is), so a checkpoint saved compiled (`checkpoints/best.keras`) loads
wherever our models do, without importing the training package.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_nlg")
class Perplexity(keras.metrics.Metric):
    """exp(mean cross-entropy over the weighted tokens seen since a reset).

    Sums the per-token cross-entropy (nats, from Keras'
    `sparse_categorical_crossentropy`) times `sample_weight` (a loss mask:
    padding weighs 0) and the weights, over every batch, so batches of
    different lengths count by their tokens. The same quantity as
    `keras_hub.metrics.Perplexity` (the tests check it against it and a
    float64 NumPy reference). Why our own: importing keras_hub costs ~1.1 s of
    every training run's start on 2 CPU cores (its metrics import
    rouge-score and nltk), for this one metric; Keras' own cross-entropy
    metric averages per row, not per token.

    Inputs: `y_true` int token ids `[batch, length]`, `y_pred` logits (or
    probabilities with `from_logits=False`) `[batch, length, vocabulary]`,
    `sample_weight` `[batch, length]` or None. Result: a float scalar ≥ 1
    (1 before any token is seen).
    """

    def __init__(self, name="perplexity", dtype=None, from_logits=True):
        super().__init__(name=name, dtype=dtype)
        self.from_logits = from_logits
        self.total = self.add_variable((), "zeros", dtype=self.dtype, name="total")
        self.count = self.add_variable((), "zeros", dtype=self.dtype, name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        # In the metric's dtype (float32): bfloat16 logits would round the sum.
        nll = keras.losses.sparse_categorical_crossentropy(
            y_true, ops.cast(y_pred, self.dtype), from_logits=self.from_logits
        )
        if sample_weight is None:
            weight = ops.ones_like(nll)
        else:
            weight = ops.cast(sample_weight, self.dtype)
            weight = ops.broadcast_to(weight, ops.shape(nll))
        self.total.assign_add(ops.sum(nll * weight))
        self.count.assign_add(ops.sum(weight))

    def result(self):
        return ops.exp(ops.divide_no_nan(self.total, self.count))

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}
