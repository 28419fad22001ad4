"""`Perplexity` against keras-hub's metric and a float64 NumPy reference."""

import keras
import keras_hub
import numpy as np

from keras_nlg.metrics import Perplexity


def numpy_perplexity(batches):
    """exp(sum of w * -log softmax(logits)[y] / sum of w), in float64."""
    total = weight = 0.0
    for y, logits, w in batches:
        logits = logits.astype(np.float64)
        shifted = logits - logits.max(-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        nll = -np.take_along_axis(log_probs, y[..., None], -1)[..., 0]
        w = np.ones_like(nll) if w is None else w
        total += (nll * w).sum()
        weight += w.sum()
    return np.exp(total / weight)


def test_matches_keras_hub_and_numpy_with_and_without_weights():
    rng = np.random.default_rng(0)
    batches = []
    for rows, length in ((2, 5), (3, 4)):  # unequal token counts per batch
        y = rng.integers(0, 7, (rows, length)).astype("int32")
        logits = rng.normal(0, 2, (rows, length, 7)).astype("float32")
        w = (rng.random((rows, length)) > 0.3).astype("float32")
        batches.append((y, logits, w))
    for weighted in (True, False):
        ours, theirs = Perplexity(), keras_hub.metrics.Perplexity(from_logits=True)
        for y, logits, w in batches:
            ours.update_state(y, logits, sample_weight=w if weighted else None)
            theirs.update_state(y, logits, sample_weight=w if weighted else None)
        expected = numpy_perplexity(
            [(y, logits, w if weighted else None) for y, logits, w in batches]
        )
        np.testing.assert_allclose(float(ours.result()), expected, rtol=1e-5)
        np.testing.assert_allclose(
            float(ours.result()), float(theirs.result()), rtol=1e-5
        )


def test_config_round_trip_and_reset():
    metric = Perplexity(name="ppl")
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(metric)
    )
    assert isinstance(clone, Perplexity) and clone.name == "ppl"
    metric.update_state(np.array([[1]]), np.array([[[0.0, 0.0]]], "float32"))
    np.testing.assert_allclose(float(metric.result()), 2.0, rtol=1e-6)
    metric.reset_state()
    assert float(metric.result()) == 1.0  # exp(0): nothing seen yet
