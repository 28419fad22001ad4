"""Top-k/top-p/min-p without the full sort: the same tokens as float64 NumPy.

Three ways to find a row's threshold: from its `NUM_CANDIDATES` largest
logits, by bisection over the whole row (under XLA), by sorting it (plain
graphs). Each is checked against a float64 NumPy reference on distributions
whose nucleus is small, large, and exactly at the candidates' edge, and the
sampler's token against a float64 Gumbel-max over the reference's kept set.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_nlg.generation.sampling import select_next_token, uniform_noise
from keras_nlg.generation.truncation import (
    NUM_CANDIDATES,
    candidate_thresholds,
    full_row_thresholds,
)

VOCABULARY_SIZE = 3000


def reference_keep(logits, top_k, top_p, min_p=0.0):
    """float64: top-k (ties kept), then the nucleus over the top-k's
    renormalised distribution (a token is kept while the mass of the tokens
    strictly more likely is below top_p), then min-p."""
    logits = np.asarray(logits, np.float64)
    keep = np.isfinite(logits)
    if top_k:
        keep &= logits >= np.sort(logits)[::-1][top_k - 1]
    probabilities = np.where(keep, np.exp(logits - logits.max()), 0.0)
    probabilities /= probabilities.sum()
    if top_p < 1.0:
        mass_above = np.array([probabilities[logits > value].sum() for value in logits])
        keep &= mass_above < top_p
    if min_p > 0.0:
        keep &= logits >= logits.max() + np.log(min_p)
    return keep


def rows_with_nucleus(sizes, top_p=0.9, seed=0):
    """Logits `(len(sizes), V)` whose top-p nucleus has exactly `sizes[i]`
    tokens: the top tokens share `top_p` in a ratio, the rest is flat."""
    rng = np.random.default_rng(seed)
    rows = []
    for size in sizes:
        head = rng.uniform(1.0, 2.0, size)
        head = np.sort(head)[::-1] / head.sum() * top_p
        # Move a little mass from the last head token to the others so the
        # mass before it stays below top_p and the mass after reaches it.
        head[-1] *= 1.0 + 1e-3
        head[:-1] *= (top_p - head[-1]) / head[:-1].sum()
        head[:-1] += 1e-4 / (size - 1) if size > 1 else 0.0
        tail = np.full(
            VOCABULARY_SIZE - size, (1.0 - head.sum()) / (VOCABULARY_SIZE - size)
        )
        assert tail.max() < head.min()
        row = np.log(np.concatenate([head, tail]))
        rows.append(rng.permutation(row))
    return np.array(rows, np.float32)


def kept_by(threshold, logits):
    return np.asarray(logits) >= np.asarray(threshold)


@pytest.fixture(params=[False, True], ids=["sort", "xla-bisection"])
def full_rows(request):
    return tf.function(full_row_thresholds, jit_compile=request.param)


@pytest.mark.parametrize(
    "sizes", [[1, 5, 20], [NUM_CANDIDATES - 1, NUM_CANDIDATES, NUM_CANDIDATES + 1]]
)
def test_nucleus_at_the_candidates_edge(sizes, full_rows):
    logits = rows_with_nucleus(sizes)
    for row, size in enumerate(sizes):
        assert reference_keep(logits[row], 0, 0.9).sum() == size
    threshold, exact, _, _ = tf.function(candidate_thresholds, jit_compile=True)(
        logits, 0, 0.9, 0.0
    )
    full = full_rows(logits, 0, 0.9, 0.0)
    for row, size in enumerate(sizes):
        expected = reference_keep(logits[row], 0, 0.9)
        np.testing.assert_array_equal(kept_by(full[row], logits[row]), expected)
        # Candidates are exact up to NUM_CANDIDATES kept tokens, and say so.
        assert bool(exact[row]) == (size <= NUM_CANDIDATES), size
        if exact[row]:
            np.testing.assert_array_equal(
                kept_by(threshold[row], logits[row]), expected
            )


@pytest.mark.parametrize(
    "top_k, top_p, min_p",
    [
        (0, 0.9, 0.0),  # a large nucleus (flat rows): beyond the candidates
        (0, 0.3, 0.0),
        (10, 0.9, 0.0),
        (NUM_CANDIDATES, 1.0, 0.0),
        (200, 0.95, 0.0),  # top-k beyond the candidates
        (2000, 0.5, 0.0),
        (0, 1.0, 0.05),
        (50, 0.8, 0.01),
    ],
)
def test_whole_row_thresholds_match_numpy(top_k, top_p, min_p, full_rows):
    rng = np.random.default_rng(top_k + int(top_p * 100))
    scales = np.array([0.3, 1.0, 3.0, 8.0])[:, None]  # flat to peaked
    logits = (rng.normal(size=(4, VOCABULARY_SIZE)) * scales).astype(np.float32)
    logits[0, 5] = -np.inf  # a banned token
    full = full_rows(logits, top_k, top_p, min_p)
    candidates = tf.function(candidate_thresholds, jit_compile=True)
    threshold, exact, _, _ = candidates(logits, top_k, top_p, min_p)
    for row in range(len(logits)):
        expected = reference_keep(logits[row], top_k, top_p, min_p)
        np.testing.assert_array_equal(kept_by(full[row], logits[row]), expected)
        if exact[row]:
            np.testing.assert_array_equal(
                kept_by(threshold[row], logits[row]), expected
            )
    # The flattest row's nucleus never fits among the candidates; the most
    # peaked row's kept set does whenever it is small and top-k is within.
    assert top_p < 0.5 or top_k or not exact[0]
    small = reference_keep(logits[3], top_k, top_p, min_p).sum() < NUM_CANDIDATES
    if small and top_k < NUM_CANDIDATES:
        assert exact[3]


def test_ties_across_the_candidates_edge_fall_back():
    """Tokens tied with the last candidate: top-k of exactly the candidates
    must keep the tied tokens beyond them too, so candidates can't answer."""
    logits = np.full((1, VOCABULARY_SIZE), -5.0, np.float32)
    logits[0, : NUM_CANDIDATES - 1] = np.linspace(3.0, 1.0, NUM_CANDIDATES - 1)
    logits[0, 100:110] = 0.5  # ten tokens tied for the K-th place
    _, exact, _, _ = candidate_thresholds(logits, NUM_CANDIDATES, 1.0, 0.0)
    assert not exact[0]
    expected = reference_keep(logits[0], NUM_CANDIDATES, 1.0)
    assert expected.sum() == NUM_CANDIDATES - 1 + 10
    for jit in (False, True):
        full = tf.function(full_row_thresholds, jit_compile=jit)(
            logits, NUM_CANDIDATES, 1.0, 0.0
        )
        np.testing.assert_array_equal(kept_by(full[0], logits[0]), expected)


def gumbel_max_reference(logits, keep, seeds, step):
    """float64 Gumbel-max over `keep`, from the sampler's own uniforms."""
    uniforms = uniform_noise(
        tf.constant(seeds), tf.constant(step), tf.range(logits.shape[-1])[None, :]
    ).numpy()
    noisy = logits.astype(np.float64) - np.log(-np.log(uniforms.astype(np.float64)))
    return np.where(keep, noisy, -np.inf).argmax(-1)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_sampled_token_is_the_gumbel_max_over_the_kept_tokens(jit_compile):
    """Peaked rows take the candidates' path, a flat one sends the whole
    batch to the full rows; every row's token is the float64 Gumbel-max over
    the reference's kept set, in the batch and alone."""
    rng = np.random.default_rng(3)
    rows = 24
    scales = np.where(np.arange(rows) % 8 == 0, 0.3, 6.0)[:, None]
    logits = (rng.normal(size=(rows, VOCABULARY_SIZE)) * scales).astype(np.float32)
    seeds = np.stack([np.arange(rows) * 31, np.arange(rows) + 5], 1).astype(np.int32)
    top_k = rng.choice([0, 0, 20, 500], rows).astype(np.int32)
    top_p = rng.choice([0.5, 0.9, 1.0], rows).astype(np.float32)
    min_p = rng.choice([0.0, 0.0, 0.02], rows).astype(np.float32)
    temperature = np.float32(0.8)

    @tf.function(jit_compile=jit_compile)
    def draw(logits, top_k, top_p, min_p, seeds):
        return select_next_token(
            logits, True, temperature, top_k, top_p, seeds, 7, min_p=min_p
        )

    def tokens(index):
        return draw(
            logits[index], top_k[index], top_p[index], min_p[index], seeds[index]
        ).numpy()

    scaled = logits / temperature
    expected = [
        gumbel_max_reference(
            scaled[row],
            reference_keep(scaled[row], top_k[row], top_p[row], min_p[row]),
            seeds[row : row + 1],
            7,
        )[0]
        for row in range(rows)
    ]
    np.testing.assert_array_equal(tokens(np.arange(rows)), expected)
    peaked = np.flatnonzero(scales[:, 0] > 1)
    np.testing.assert_array_equal(tokens(peaked), np.array(expected)[peaked])
    for row in (0, 1):
        assert tokens(np.array([row]))[0] == expected[row]


@pytest.mark.parametrize("jit_compile", [False, True])
def test_candidates_draw_among_several_kept_tokens(jit_compile):
    """Every row's nucleus (2–40 tokens) lies among its candidates, so the
    batch takes the candidates' path; the draw over them must still be the
    Gumbel-max over the whole kept set, for many seeds."""
    sizes = [2, 3, 5, 8, 13, 21, 34, 40]
    logits = rows_with_nucleus(sizes, seed=4)
    _, exact, _, _ = candidate_thresholds(logits, 0, 0.9, 0.0)
    assert np.all(exact)

    @tf.function(jit_compile=jit_compile)
    def draw(seeds):
        return select_next_token(logits, True, 1.0, 0, 0.9, seeds, 11)

    keep = np.array([reference_keep(row, 0, 0.9) for row in logits])
    drawn = set()
    for seed in range(12):
        seeds = np.stack([np.full(len(sizes), seed), np.arange(len(sizes))], 1)
        seeds = seeds.astype(np.int32)
        tokens = draw(seeds).numpy()
        expected = [
            gumbel_max_reference(logits[row], keep[row], seeds[row : row + 1], 11)[0]
            for row in range(len(sizes))
        ]
        np.testing.assert_array_equal(tokens, expected)
        drawn.update(tokens[1:].tolist())
    assert len(drawn) > len(sizes)  # the draws vary: not an argmax in disguise


@pytest.mark.parametrize("vocabulary_size", [20, NUM_CANDIDATES, NUM_CANDIDATES + 1])
def test_vocabularies_at_or_below_the_candidate_count(vocabulary_size):
    """The candidates are then the whole row (or all but one token)."""
    rng = np.random.default_rng(vocabulary_size)
    logits = (rng.normal(size=(4, vocabulary_size)) * 2).astype(np.float32)
    logits[1, : vocabulary_size // 2] = -np.inf  # fewer finite logits than K
    temperature = np.array([1.0, 0.7, 0.0, 1.3], np.float32)  # row 2 greedy
    seeds = np.stack([np.arange(4), np.arange(4) * 3], 1).astype(np.int32)

    @tf.function(jit_compile=True)
    def draw(top_k, top_p):
        return select_next_token(logits, True, temperature, top_k, top_p, seeds, 2)

    for top_k, top_p in ((0, 1.0), (0, 0.8), (5, 0.95)):
        tokens = draw(top_k, top_p).numpy()
        for row in range(4):
            if temperature[row] == 0:
                assert tokens[row] == logits[row].argmax()
                continue
            scaled = logits[row] / temperature[row]
            keep = reference_keep(scaled, top_k, top_p)
            expected = gumbel_max_reference(scaled, keep, seeds[row : row + 1], 2)[0]
            assert tokens[row] == expected, (top_k, top_p, row)
