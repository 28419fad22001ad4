"""The discriminators: padding never matters, attention is bidirectional,
`.keras` files round-trip under safe_mode, bad sizes are named."""

import keras
import numpy as np
import pytest

from keras_nlg.layers import TransformerDecoderBlock
from keras_nlg.models import (
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
    ]


@pytest.mark.parametrize("index", [0, 1])
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


@pytest.mark.parametrize("index", [0, 1])
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
    with pytest.raises(ValueError, match="discriminator='cnn'"):
        build_discriminator("cnn", 20, 8)
