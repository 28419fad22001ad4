import keras
import numpy as np
import pytest

from keras_nlg.layers import (
    MultiHeadAttention,
    causal_mask,
    scaled_dot_product_attention,
)
from tests.backend import BACKEND, index, xla_compiled
from tests.layers.layer_harness import run_layer_test

# The three-token example of notebooks/02_attention.ipynb ("the cat sat").
WORKED_X = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 2.0, 0.0, 2.0], [1.0, 1.0, 1.0, 1.0]])
WORKED_WQ = np.array(
    [[1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0]]
)
WORKED_WK = np.array(
    [[0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]]
)
WORKED_WV = np.array(
    [[0.0, 2.0, 0.0], [0.0, 3.0, 0.0], [1.0, 0.0, 3.0], [1.0, 1.0, 0.0]]
)


def numpy_attention(q, k, v, mask=None):
    """float64 reference: softmax(QKᵀ/√d)·V."""
    q, k, v = (np.asarray(t, np.float64) for t in (q, k, v))
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ v


@pytest.mark.parametrize("use_mask", [False, True])
def test_sdpa_matches_float64_numpy(use_mask):
    rng = np.random.default_rng(0)
    q = rng.normal(size=(2, 3, 5, 8)).astype("float32")
    k = rng.normal(size=(2, 3, 7, 8)).astype("float32")
    v = rng.normal(size=(2, 3, 7, 4)).astype("float32")
    mask = rng.random((2, 1, 5, 7)) > 0.3 if use_mask else None
    if use_mask:
        mask[..., 0] = True  # every query sees at least one key
    actual = scaled_dot_product_attention(q, k, v, mask=mask)
    np.testing.assert_allclose(actual, numpy_attention(q, k, v, mask), atol=1e-5)


def test_sdpa_worked_three_token_example():
    q, k, v = WORKED_X @ WORKED_WQ, WORKED_X @ WORKED_WK, WORKED_X @ WORKED_WV
    actual = scaled_dot_product_attention(
        q.astype("float32"), k.astype("float32"), v.astype("float32")
    )
    np.testing.assert_allclose(actual, numpy_attention(q, k, v), atol=1e-5)
    # With a causal mask the first token can only attend to itself.
    causal = np.asarray(causal_mask(3, 3))
    masked = scaled_dot_product_attention(
        q.astype("float32"), k.astype("float32"), v.astype("float32"), mask=causal
    )
    np.testing.assert_allclose(masked[0], v[0], atol=1e-5)
    np.testing.assert_allclose(masked, numpy_attention(q, k, v, causal), atol=1e-5)


def test_fully_masked_row_is_finite():
    q = np.ones((1, 2, 4), "float32")
    output = scaled_dot_product_attention(q, q, q, mask=np.zeros((1, 2, 2), bool))
    assert np.all(np.isfinite(output))


def keras_reference(layer, **kwargs):
    reference = keras.layers.MultiHeadAttention(
        num_heads=layer.num_heads,
        key_dim=layer.key_dim,
        value_dim=layer.value_dim,
        use_bias=layer.use_bias,
        **kwargs,
    )
    return reference


# Keras 3.15's own MultiHeadAttention fails on JAX when value_dim differs
# from key_dim (jax.nn.dot_product_attention wants them equal, and its
# fallback reshapes to the wrong size): the reference can't run there.
@pytest.mark.skipif(BACKEND == "jax", reason="Keras MHA: value_dim != key_dim on JAX")
@pytest.mark.parametrize("use_bias", [True, False])
def test_mha_equals_keras_mha(use_bias):
    rng = np.random.default_rng(1)
    query = rng.normal(size=(2, 5, 16)).astype("float32")
    value = rng.normal(size=(2, 7, 12)).astype("float32")
    key = rng.normal(size=(2, 7, 10)).astype("float32")
    mask = rng.random((2, 5, 7)) > 0.3
    ours = MultiHeadAttention(num_heads=3, key_dim=4, value_dim=6, use_bias=use_bias)
    out = ours(query, value, key=key, attention_mask=mask)
    reference = keras_reference(ours)
    reference(query, value, key=key)
    reference.set_weights(ours.get_weights())
    expected, expected_scores = reference(
        query, value, key=key, attention_mask=mask, return_attention_scores=True
    )
    np.testing.assert_allclose(out, expected, atol=1e-5)
    _, scores = ours(
        query, value, key=key, attention_mask=mask, return_attention_scores=True
    )
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


def test_mha_causal_self_attention_equals_keras():
    x = np.random.default_rng(2).normal(size=(2, 6, 16)).astype("float32")
    ours = MultiHeadAttention(num_heads=4, key_dim=4)
    out = ours(x, x, use_causal_mask=True)
    reference = keras_reference(ours)
    reference(x, x)
    reference.set_weights(ours.get_weights())
    np.testing.assert_allclose(out, reference(x, x, use_causal_mask=True), atol=1e-5)


def run_cached(layer, x, chunks, jit=False):
    """Feeds x through the cache in the given chunk sizes; returns the outputs."""
    shape = (x.shape[0] * layer.num_heads, x.shape[1], layer.key_dim)
    cache = (np.zeros(shape, "float32"), np.zeros(shape, "float32"))

    def step(chunk, cache, index):
        return layer(chunk, chunk, use_causal_mask=True, cache=cache, cache_index=index)

    if jit:
        step = xla_compiled(step)
    outputs, start = [], 0
    for size in chunks:
        chunk = x[:, start : start + size]
        output, cache = step(chunk, cache, index(start))
        outputs.append(np.asarray(output))
        start += size
    return np.concatenate(outputs, axis=1)


@pytest.mark.parametrize("chunks", [[1] * 8, [3, 1, 1, 1, 2], [8]])
def test_cached_decoding_equals_full_causal_pass(chunks):
    x = np.random.default_rng(3).normal(size=(2, 8, 16)).astype("float32")
    layer = MultiHeadAttention(num_heads=4, key_dim=4)
    full = layer(x, x, use_causal_mask=True)
    np.testing.assert_allclose(run_cached(layer, x, chunks), full, atol=1e-5)


def test_cached_decoding_compiles_under_xla():
    x = np.random.default_rng(4).normal(size=(1, 6, 8)).astype("float32")
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    full = layer(x, x, use_causal_mask=True)
    np.testing.assert_allclose(
        run_cached(layer, x, [2, 1, 1, 1, 1], jit=True), full, atol=1e-5
    )


def test_cache_ignores_unwritten_slots_without_causal_flag():
    x = np.random.default_rng(5).normal(size=(1, 3, 8)).astype("float32")
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    garbage = np.full((2, 10, 4), 100.0, "float32")  # after position 3
    cache = (garbage, garbage)
    output, _ = layer(x, x, cache=cache, cache_index=0)
    np.testing.assert_allclose(output, layer(x, x), atol=1e-5)


def test_return_attention_scores_shapes_and_rows_sum_to_one():
    x = np.random.default_rng(6).normal(size=(2, 5, 8)).astype("float32")
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    output, scores = layer(x, x, use_causal_mask=True, return_attention_scores=True)
    assert output.shape == (2, 5, 8) and scores.shape == (2, 2, 5, 5)
    np.testing.assert_allclose(np.sum(scores, axis=-1), 1.0, atol=1e-6)
    assert np.allclose(np.triu(np.asarray(scores), k=1), 0.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_heads=0, key_dim=4), "num_heads=0"),
        (dict(num_heads=2, key_dim=-1), "key_dim=-1"),
        (dict(num_heads=2, key_dim=4, dropout=1.5), "dropout=1.5"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiHeadAttention(**kwargs)


def test_cache_needs_equal_key_and_value_dims():
    x = np.zeros((1, 1, 8), "float32")
    layer = MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3)
    with pytest.raises(ValueError, match="value_dim=3"):
        cache = (np.zeros((2, 4, 4), "float32"),) * 2
        layer(x, x, cache=cache, cache_index=0)


def test_mha_layer_harness():
    x = np.random.default_rng(7).normal(size=(2, 4, 8)).astype("float32")
    run_layer_test(
        MultiHeadAttention,
        dict(num_heads=2, key_dim=4, dropout=0.1),
        (x, x),
        (2, 4, 8),
        call_kwargs=dict(use_causal_mask=True),
        weights_without_gradient=("key/bias",),
    )


def test_bounded_masking_gives_the_same_probabilities():
    """The export's masked softmax: same rows, no −1e9 in any tensor."""
    from keras_nlg.layers.attention import bounded_masking, masked_softmax

    rng = np.random.default_rng(0)
    scores = rng.normal(size=(2, 3, 4, 6)).astype("float32") * 5
    mask = rng.random((2, 3, 4, 6)) > 0.4
    mask[0, 0, 0] = False  # a row with nothing to attend
    reference = np.asarray(masked_softmax(scores, mask))
    with bounded_masking():
        bounded = np.asarray(masked_softmax(scores, mask))
    kept = mask.any(-1)
    np.testing.assert_allclose(bounded[kept], reference[kept], atol=1e-6)
    np.testing.assert_array_equal(bounded[~kept], 0.0)
    # Outside the context, the model's own softmax is back.
    np.testing.assert_array_equal(np.asarray(masked_softmax(scores, mask)), reference)
