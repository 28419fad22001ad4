import numpy as np
import pytest
import tensorflow as tf

from keras_nlg.generation.sampling import apply_repetition_penalty, filter_top_k_top_p


def reference_keep(logits, top_k, top_p):
    """float64 NumPy: which tokens survive top-k then top-p."""
    logits = np.asarray(logits, np.float64)
    order = np.argsort(-logits)
    keep = np.zeros_like(logits, bool)
    k = top_k or len(logits)
    candidates = order[:k]
    probs = np.exp(logits[candidates] - logits[candidates].max())
    probs /= probs.sum()
    mass = 0.0
    for token, p in zip(candidates, probs, strict=True):
        if mass >= top_p:
            break
        keep[token] = True
        mass += p
    return keep


@pytest.mark.parametrize(
    "top_k, top_p", [(0, 1.0), (5, 1.0), (0, 0.5), (10, 0.8), (3, 0.01)]
)
def test_filter_matches_numpy(top_k, top_p):
    logits = np.random.default_rng(top_k).normal(size=(4, 50)).astype("float32") * 3
    filtered = filter_top_k_top_p(
        tf.constant(logits), tf.constant(top_k), tf.constant(top_p)
    )
    kept = np.isfinite(np.asarray(filtered))
    for row in range(4):
        np.testing.assert_array_equal(
            kept[row], reference_keep(logits[row], top_k, top_p)
        )
    np.testing.assert_array_equal(np.asarray(filtered)[kept], logits[kept])


def test_repetition_penalty():
    logits = tf.constant([[2.0, -2.0, 1.0]])
    seen = tf.constant([[True, True, False]])
    np.testing.assert_allclose(
        apply_repetition_penalty(logits, seen, 2.0), [[1.0, -4.0, 1.0]]
    )
    np.testing.assert_allclose(apply_repetition_penalty(logits, seen, 1.0), logits)
