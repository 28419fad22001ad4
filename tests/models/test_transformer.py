import keras
import keras_hub
import numpy as np
import pytest

from keras_nlg.models import TransformerLanguageModel, build_model
from keras_nlg.models.keras_hub_gpt2 import load_keras_hub_gpt2_weights
from tests.backend import index, xla_compiled

TINY = dict(
    vocabulary_size=50,
    context_length=16,
    num_layers=2,
    num_heads=2,
    hidden_dim=8,
    intermediate_dim=16,
)


def random_ids(shape, vocabulary_size=50, seed=0):
    return (
        np.random.default_rng(seed)
        .integers(0, vocabulary_size, size=shape)
        .astype("int32")
    )


def test_logits_shape_and_dtype_under_mixed_precision():
    model = TransformerLanguageModel(**TINY, dtype="mixed_bfloat16")
    logits = model(random_ids((2, 5)))
    assert logits.shape == (2, 5, 50)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


def test_is_causal():
    model = TransformerLanguageModel(**TINY)
    ids = random_ids((1, 10))
    changed = ids.copy()
    changed[0, 7:] = (changed[0, 7:] + 1) % 50
    np.testing.assert_allclose(model(ids)[:, :7], model(changed)[:, :7], atol=1e-6)
    assert not np.allclose(model(ids)[:, 7:], model(changed)[:, 7:])


@pytest.mark.parametrize("tie_embeddings", [True, False])
@pytest.mark.parametrize("normalize_first", [True, False])
@pytest.mark.parametrize("position_embedding", ["learned", "sinusoidal"])
def test_call_with_cache_equals_full_pass(
    tie_embeddings, normalize_first, position_embedding
):
    model = TransformerLanguageModel(
        **TINY,
        tie_embeddings=tie_embeddings,
        normalize_first=normalize_first,
        position_embedding=position_embedding,
    )
    ids = random_ids((2, 12))
    full = model(ids)
    cache = model.empty_cache(2)
    assert len(cache) == 2
    assert all(k.shape == v.shape == (2 * 2, 16, 4) for k, v in cache)
    logits, cache = model.call_with_cache(ids[:, :5], cache, 0)  # prefill
    steps = [logits]
    for t in range(5, 12):
        logits, cache = model.call_with_cache(ids[:, t : t + 1], cache, t)
        steps.append(logits)
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


def test_call_with_cache_compiles_under_xla_with_tensor_index():
    model = TransformerLanguageModel(**TINY)
    ids = random_ids((1, 6))
    step = xla_compiled(model.call_with_cache)
    cache = model.empty_cache(1)
    outputs = []
    for t in range(6):
        logits, cache = step(ids[:, t : t + 1], cache, index(t))
        outputs.append(logits)
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), model(ids), atol=1e-5)
    # One trace serves every position: the index is a tensor, the shapes are static.
    assert step.traces() == 1


def test_fit_learns_a_repeating_sequence():
    model = TransformerLanguageModel(**TINY)
    pattern = np.tile(np.arange(8, dtype="int32"), 4)
    x = np.stack([pattern[i : i + 16] for i in range(8)])
    y = np.stack([pattern[i + 1 : i + 17] for i in range(8)])
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(x, y, epochs=80, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]


def test_save_and_reload_keras_file(tmp_path):
    model = TransformerLanguageModel(**TINY, tie_embeddings=False)
    ids = random_ids((2, 7))
    expected = model(ids)
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(restored, TransformerLanguageModel)
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(restored(ids), expected)


def test_gpt2_124m_preset_has_gpt2_parameter_count():
    model = build_model("transformer", "gpt2_124m", vocabulary_size=50257)
    assert model.count_params() == 124_439_808


def test_expresses_gpt2_exactly_against_keras_hub():
    """Same weights as keras-hub's GPT-2 → same logits (our defaults = GPT-2)."""
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=50,
        num_layers=2,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=16,
        dropout=0.0,
    )
    # Distinct random values for every tensor (LayerNorms start at 1 and 0),
    # so a swapped query/value or block order cannot go unnoticed.
    rng = np.random.default_rng(0)
    for weight in backbone.weights:
        weight.assign(rng.normal(0, 0.3, weight.shape))
    model = TransformerLanguageModel(**TINY)
    load_keras_hub_gpt2_weights(model, backbone)
    ids = random_ids((2, 10))
    hidden = backbone({"token_ids": ids, "padding_mask": np.ones_like(ids)})
    expected = backbone.token_embedding(hidden, reverse=True)
    np.testing.assert_allclose(model(ids), expected, atol=1e-4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_heads=3), "num_heads=3"),
        (dict(num_layers=0), "num_layers=0"),
        (dict(vocabulary_size=-1), "vocabulary_size=-1"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TransformerLanguageModel(**{**TINY, **kwargs})


def test_positions_past_the_context_are_an_error():
    model = TransformerLanguageModel(**TINY)
    with pytest.raises(ValueError, match="context_length=16"):
        model(random_ids((1, 17)))
    with pytest.raises(ValueError, match="cache_index=15"):
        model.call_with_cache(random_ids((1, 2)), model.empty_cache(1), 15)


def test_keras_hub_weight_shape_mismatch_names_the_tensor():
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=50,
        num_layers=2,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=32,
        max_sequence_length=16,
    )
    with pytest.raises(ValueError, match="feedforward_intermediate_dense/kernel"):
        load_keras_hub_gpt2_weights(TransformerLanguageModel(**TINY), backbone)
