import numpy as np
import pytest
import tensorflow as tf

from keras_nlg.generation.logits_processors import apply_repetition_penalty
from keras_nlg.generation.sampling import select_next_token, truncate_logits


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
    filtered = truncate_logits(
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


def test_sampled_frequencies_follow_softmax():
    """20,000 rows, each its own seed: frequencies within 4 sigma of softmax."""
    logits = np.array([2.0, 1.0, 0.5, 0.0, -1.0, -3.0], np.float32)
    rows = 20_000
    seeds = np.stack([np.arange(rows), np.full(rows, 7)], axis=1).astype(np.int32)
    tokens = select_next_token(
        tf.constant(np.tile(logits, (rows, 1))),
        True,
        tf.constant(0.8),
        tf.constant(0),
        tf.constant(1.0),
        tf.constant(seeds),
        tf.constant(3),
    ).numpy()
    scaled = logits.astype(np.float64) / 0.8
    expected = np.exp(scaled - scaled.max())
    expected /= expected.sum()
    observed = np.bincount(tokens, minlength=len(logits)) / rows
    sigma = np.sqrt(expected * (1 - expected) / rows)
    assert np.all(np.abs(observed - expected) <= 4 * sigma + 1e-12), observed


def test_a_row_draws_the_same_token_in_any_batch():
    logits = np.random.default_rng(0).normal(size=(8, 40)).astype("float32")
    seeds = np.stack([np.arange(8) * 13, np.arange(8)], axis=1).astype(np.int32)
    # Per-row knobs: row 1 greedy (temperature 0), the others sampled.
    temperature = np.array([1.0, 0.0, 1.5, 1.0, 0.7, 1.0, 1.0, 2.0], np.float32)

    def draw(rows):
        return select_next_token(
            tf.constant(logits[rows]),
            True,
            tf.constant(temperature[rows]),
            tf.constant(np.full(len(rows), 10, np.int32)),
            tf.constant(np.full(len(rows), 0.9, np.float32)),
            tf.constant(seeds[rows]),
            tf.constant(5),
        ).numpy()

    whole = draw(np.arange(8))
    assert whole[1] == logits[1].argmax()
    np.testing.assert_array_equal(draw(np.array([6, 2, 5])), whole[[6, 2, 5]])
    assert len(set(draw(np.zeros(64, int)).tolist())) == 1  # same seed, same token


@pytest.mark.parametrize("jit_compile", [False, True])
def test_skipping_unneeded_filters_changes_no_token(jit_compile):
    """A batch runs the sort (top-k/top-p) and the draw only when some row
    needs them; a row's token must not depend on which branch ran."""
    logits = np.random.default_rng(1).normal(size=(6, 50)).astype("float32")
    logits[:, 7] = -np.inf  # a banned token
    seeds = np.stack([np.arange(6) * 7, np.arange(6) + 1], axis=1).astype(np.int32)
    temperature = np.array([1.0, 0.0, 0.8, 1.0, 0.0, 1.3], np.float32)
    top_k = np.array([0, 5, 0, 4, 0, 0], np.int32)  # rows 3 filters
    top_p = np.array([1.0, 0.5, 1.0, 1.0, 1.0, 0.8], np.float32)  # row 5 too

    @tf.function(jit_compile=jit_compile)
    def draw(logits, temperature, top_k, top_p, seeds):
        return select_next_token(logits, True, temperature, top_k, top_p, seeds, 2)

    def rows(index):
        index = np.array(index)
        return draw(
            logits[index], temperature[index], top_k[index], top_p[index], seeds[index]
        ).numpy()

    whole = rows(range(6))
    # Alone: rows 0 and 2 sample without filters, rows 1 and 4 are greedy.
    for row in range(6):
        assert rows([row])[0] == whole[row], row
    assert rows([1, 4]).tolist() == logits[[1, 4]].argmax(-1).tolist()
    assert rows([0, 2]).tolist() == whole[[0, 2]].tolist()
