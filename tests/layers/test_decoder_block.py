import numpy as np
import pytest

from keras_nlg.layers import TransformerDecoderBlock
from tests.layers.layer_harness import run_layer_test


@pytest.mark.parametrize("normalize_first", [True, False])
def test_layer_harness(normalize_first):
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    run_layer_test(
        TransformerDecoderBlock,
        dict(
            num_heads=2,
            intermediate_dim=16,
            dropout=0.1,
            normalize_first=normalize_first,
        ),
        x,
        (2, 5, 8),
        weights_without_gradient=("key/bias",),
    )


@pytest.mark.parametrize("normalize_first", [True, False])
def test_is_causal(normalize_first):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 6, 8)).astype("float32")
    block = TransformerDecoderBlock(
        num_heads=2, intermediate_dim=16, normalize_first=normalize_first
    )
    changed = x.copy()
    changed[:, 4:] = rng.normal(size=(1, 2, 8))
    np.testing.assert_allclose(block(x)[:, :4], block(changed)[:, :4], atol=1e-6)
    assert not np.allclose(block(x)[:, 4:], block(changed)[:, 4:])


def test_pre_ln_matches_numpy_reference():
    """One pre-LN block against a float64 NumPy re-implementation."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 4, 8)).astype("float32")
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=16)
    block(x)
    w = {v.path.split("/", 1)[1]: np.asarray(v, np.float64) for v in block.weights}

    def layer_norm(h, name):
        mean = h.mean(-1, keepdims=True)
        var = h.var(-1, keepdims=True)
        return (h - mean) / np.sqrt(var + 1e-5) * w[f"{name}/gamma"] + w[f"{name}/beta"]

    def gelu_tanh(h):
        return 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h**3)))

    h = layer_norm(x.astype(np.float64), "attention_norm")
    q = (
        np.einsum("btd,dnh->bnth", h, w["attention/query/kernel"])
        + w["attention/query/bias"][None, :, None, :]
    )
    k = (
        np.einsum("btd,dnh->bnth", h, w["attention/key/kernel"])
        + w["attention/key/bias"][None, :, None, :]
    )
    v = (
        np.einsum("btd,dnh->bnth", h, w["attention/value/kernel"])
        + w["attention/value/bias"][None, :, None, :]
    )
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(4)
    scores = np.where(np.tril(np.ones((4, 4), bool)), scores, -np.inf)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    context = probs @ v  # (b, n, t, h)
    attended = (
        np.einsum("bnth,nhd->btd", context, w["attention/attention_output/kernel"])
        + w["attention/attention_output/bias"]
    )
    h1 = x + attended
    m = layer_norm(h1, "mlp_norm") @ w["mlp_in/kernel"] + w["mlp_in/bias"]
    expected = h1 + gelu_tanh(m) @ w["mlp_out/kernel"] + w["mlp_out/bias"]
    np.testing.assert_allclose(block(x), expected, atol=1e-5)


def test_cached_block_equals_full_pass():
    x = np.random.default_rng(3).normal(size=(2, 6, 8)).astype("float32")
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=16)
    full = block(x)
    cache = (np.zeros((4, 6, 4), "float32"),) * 2
    out, cache = block(x[:, :3], cache=cache, cache_index=0)
    outputs = [out]
    for t in range(3, 6):
        out, cache = block(x[:, t : t + 1], cache=cache, cache_index=t)
        outputs.append(out)
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), full, atol=1e-5)


def test_heads_must_divide_width():
    block = TransformerDecoderBlock(num_heads=3, intermediate_dim=16)
    with pytest.raises(ValueError, match="num_heads=3"):
        block(np.zeros((1, 2, 8), "float32"))
