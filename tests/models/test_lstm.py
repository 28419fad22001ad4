import keras
import numpy as np
import pytest

from keras_nlg.models import LSTMLanguageModel
from tests.backend import index, xla_compiled


def random_ids(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 30, size=shape).astype("int32")


def test_step_function_equals_full_pass():
    model = LSTMLanguageModel(30, embedding_dim=8, units=16, num_layers=2)
    ids = random_ids((2, 9))
    full = model(ids)
    states = model.empty_cache(2)
    assert states.shape == (2, 2, 2, 16)
    logits, states = model.call_with_cache(ids[:, :4], states)  # a whole prompt
    outputs = [logits]
    for t in range(4, 9):
        logits, states = model.call_with_cache(ids[:, t : t + 1], states)
        outputs.append(logits)
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), full, atol=1e-5)


def test_states_carry_information():
    model = LSTMLanguageModel(30, embedding_dim=8, units=16)
    ids = random_ids((1, 5))
    _, states = model.call_with_cache(ids, model.empty_cache(1))
    fresh, _ = model.call_with_cache(ids[:, -1:], model.empty_cache(1))
    carried, _ = model.call_with_cache(ids[:, -1:], states)
    assert not np.allclose(fresh, carried)


def test_fit_and_save_reload(tmp_path):
    model = LSTMLanguageModel(30, embedding_dim=8, units=16, dropout=0.1)
    ids = random_ids((8, 12))
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(ids[:, :-1], ids[:, 1:], epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = str(tmp_path / "lstm.keras")
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(restored(ids), model(ids))


def test_mixed_precision_logits_are_float32():
    model = LSTMLanguageModel(30, embedding_dim=8, units=16, dtype="mixed_float16")
    assert keras.backend.standardize_dtype(model(random_ids((1, 4))).dtype) == "float32"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(units=0), "units=0"),
        (dict(num_layers=1.5), "num_layers=1.5"),
        (dict(dropout=1.0), "dropout=1.0"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LSTMLanguageModel(
            **{**dict(vocabulary_size=30, embedding_dim=8, units=16), **kwargs}
        )


def test_step_function_compiles_under_xla():
    model = LSTMLanguageModel(30, embedding_dim=8, units=16, num_layers=2)
    ids = random_ids((1, 6))
    step = xla_compiled(model.call_with_cache)
    states = model.empty_cache(1)
    outputs = []
    for t in range(6):
        logits, states = step(ids[:, t : t + 1], states, index(t))
        outputs.append(logits)
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), model(ids), atol=1e-5)
    assert step.traces() == 1
