import numpy as np
import pytest

from keras_nlg.layers import TokenAndPositionEmbedding
from tests.layers.layer_harness import run_layer_test


@pytest.mark.parametrize("position_embedding", ["learned", "sinusoidal"])
def test_layer_harness(position_embedding):
    ids = np.random.default_rng(0).integers(0, 20, size=(2, 6)).astype("int32")
    run_layer_test(
        TokenAndPositionEmbedding,
        dict(
            vocabulary_size=20,
            context_length=8,
            embedding_dim=6,
            position_embedding=position_embedding,
        ),
        ids,
        (2, 6, 6),
    )


def test_sinusoidal_matches_formula():
    layer = TokenAndPositionEmbedding(
        5, context_length=16, embedding_dim=6, position_embedding="sinusoidal"
    )
    ids = np.zeros((1, 10), "int32")
    out = np.asarray(layer(ids)) - np.asarray(layer.token_embeddings)[0]
    positions = np.arange(10)[:, None].astype(np.float64)
    freq = 1.0 / 10000 ** (np.arange(0, 6, 2) / 6)
    expected = np.zeros((10, 6))
    expected[:, 0::2] = np.sin(positions * freq)
    expected[:, 1::2] = np.cos(positions * freq)
    np.testing.assert_allclose(out[0], expected, atol=1e-5)


@pytest.mark.parametrize("position_embedding", ["learned", "sinusoidal"])
def test_start_index_offsets_positions(position_embedding):
    layer = TokenAndPositionEmbedding(
        9, context_length=12, embedding_dim=4, position_embedding=position_embedding
    )
    ids = np.random.default_rng(1).integers(0, 9, size=(2, 10)).astype("int32")
    full = np.asarray(layer(ids))
    np.testing.assert_allclose(
        layer(ids[:, 4:7], start_index=4), full[:, 4:7], atol=1e-6
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(vocabulary_size=0, context_length=4, embedding_dim=4),
            "vocabulary_size=0",
        ),
        (
            dict(
                vocabulary_size=5,
                context_length=4,
                embedding_dim=4,
                position_embedding="rope",
            ),
            "rope",
        ),
        (
            dict(
                vocabulary_size=5,
                context_length=4,
                embedding_dim=5,
                position_embedding="sinusoidal",
            ),
            "embedding_dim=5",
        ),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TokenAndPositionEmbedding(**kwargs)
