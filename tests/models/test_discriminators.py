"""The discriminators: padding never matters, attention is bidirectional,
`.keras` files round-trip under safe_mode, bad sizes are named."""

import keras
import numpy as np
import pytest

from keras_nlg.layers import TransformerDecoderBlock
from keras_nlg.models import (
    CNNDiscriminator,
    LSTMDiscriminator,
    TransformerDiscriminator,
    build_discriminator,
)


def _models():
    keras.utils.set_random_seed(0)
    return [
        TransformerDiscriminator(
            20, 8, num_layers=2, hidden_dim=16, intermediate_dim=32
        ),
        LSTMDiscriminator(20, embedding_dim=8, units=16),
        CNNDiscriminator(
            20, embedding_dim=8, filter_sizes=(1, 2, 5), num_filters=(3, 4, 5)
        ),
    ]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_padding_columns_never_change_the_logit(index):
    model = _models()[index]
    ids = np.array([[3, 4, 5, 0, 0, 0, 0, 0], [3, 4, 5, 9, 9, 9, 9, 9]], "int32")
    mask = np.zeros((2, 8), bool)
    mask[:, :3] = True
    logits = np.asarray(model(ids, mask))
    assert logits.shape == (2,) and logits.dtype == np.float32
    np.testing.assert_allclose(logits[0], logits[1], atol=1e-6)
    alone = np.asarray(model(ids[:1, :3]))  # no mask: every token real
    np.testing.assert_allclose(logits[0], alone[0], atol=1e-5)


def test_the_encoder_block_sees_later_tokens_and_the_decoder_block_does_not():
    x = keras.random.normal((1, 5, 16), seed=1)
    changed = np.array(x)
    changed[0, -1] = np.random.default_rng(0).normal(size=16)  # not a shift: LN
    for causal in (True, False):
        keras.utils.set_random_seed(0)
        block = TransformerDecoderBlock(2, 32, use_causal_mask=causal)
        first = np.asarray(block(x))[0, 0]
        after = np.asarray(block(changed))[0, 0]
        assert np.allclose(first, after, atol=1e-6) == causal
    config = TransformerDecoderBlock(2, 32, use_causal_mask=False).get_config()
    assert TransformerDecoderBlock.from_config(config).use_causal_mask is False
    with pytest.raises(TypeError, match="use_causal_mask=1"):
        TransformerDecoderBlock(2, 32, use_causal_mask=1)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_keras_file_round_trip_under_safe_mode(index, tmp_path):
    model = _models()[index]
    ids = np.random.default_rng(0).integers(0, 20, (3, 8)).astype("int32")
    path = str(tmp_path / "discriminator.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(np.asarray(loaded(ids)), np.asarray(model(ids)))


def test_bad_sizes_and_kinds_are_named():
    with pytest.raises(ValueError, match="sequence_length=0"):
        TransformerDiscriminator(20, 0)
    with pytest.raises(ValueError, match="units=-1"):
        LSTMDiscriminator(20, units=-1)
    with pytest.raises(ValueError, match="discriminator='gru'"):
        build_discriminator("gru", 20, 8)
    assert isinstance(build_discriminator("cnn", 20, 8), CNNDiscriminator)


def test_cnn_matches_a_float64_numpy_reference():
    """Kim's CNN with a highway layer (SeqGAN's discriminator), recomputed in
    float64: zero embeddings on padding, windows that start on real tokens
    (a 5-wide window over a 3-token row is filled with zeros), max over time."""
    model = _models()[2]
    ids = np.array([[3, 4, 5, 0, 0, 0], [7, 1, 2, 9, 4, 6]], "int32")
    mask = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]], bool)
    ours = np.asarray(model(ids, mask))
    w = {v.path.split("/", 1)[1]: np.asarray(v, np.float64) for v in model.weights}
    expected = []
    for row, real in zip(ids, mask, strict=True):
        length = len(row) + 4  # room for a 5-wide window on every token
        x = np.zeros((length, 8))
        x[: len(row)] = w["embedding/embeddings"][row] * real[:, None]
        pooled = []
        for width in (1, 2, 5):
            kernel, bias = w[f"conv_{width}/kernel"], w[f"conv_{width}/bias"]
            starts = [t for t in range(length - width + 1) if t < len(row) and real[t]]
            windows = [
                np.maximum(np.einsum("wc,wcf->f", x[t : t + width], kernel) + bias, 0)
                for t in starts
            ]
            pooled.append(np.max(windows, axis=0))
        f = np.concatenate(pooled)
        gate = 1 / (
            1 + np.exp(-(f @ w["highway_gate/kernel"] + w["highway_gate/bias"]))
        )
        h = np.maximum(f @ w["highway/kernel"] + w["highway/bias"], 0)
        f = gate * h + (1 - gate) * f
        expected.append(f @ w["head/kernel"][:, 0] + w["head/bias"][0])
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


def test_cnn_sizes_are_named():
    with pytest.raises(ValueError, match="same length"):
        CNNDiscriminator(20, filter_sizes=(1, 2), num_filters=(3,))
    with pytest.raises(ValueError, match="filter_sizes=0"):
        CNNDiscriminator(20, filter_sizes=(0,), num_filters=(3,))
