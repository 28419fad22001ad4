"""The `LanguageModel` contract, as both of our models implement it."""

import json
import zipfile

import keras
import numpy as np
import pytest

from keras_nlg.models import (
    CacheSpec,
    LanguageModel,
    LSTMLanguageModel,
    TransformerLanguageModel,
)
from tests.models.test_transformer import TINY

TRANSFORMER = TINY


def models():
    return [
        TransformerLanguageModel(**TRANSFORMER),
        LSTMLanguageModel(30, embedding_dim=8, units=16, num_layers=2),
    ]


@pytest.mark.parametrize("model", models(), ids=["transformer", "lstm"])
def test_cache_spec_describes_empty_cache(model):
    assert isinstance(model, LanguageModel)
    spec = model.cache_spec(3, 10)
    assert isinstance(spec, CacheSpec)
    flat = model.flatten_cache(model.empty_cache(3, 10))
    assert [tuple(t.shape) for t in flat] == [t.shape for t in spec.tensors]
    assert [keras.backend.standardize_dtype(t.dtype) for t in flat] == [
        t.dtype for t in spec.tensors
    ]
    assert len(set(spec.names)) == len(spec.names)
    # Every cache tensor holds the batch on axis 0, in blocks of whole rows.
    assert all(t.shape[0] % 3 == 0 for t in spec.tensors)
    if spec.has_positions:
        assert all(t.shape[spec.position_axis] == 10 for t in spec.tensors)
    assert spec.supports_prefill == spec.has_positions


@pytest.mark.parametrize("model", models(), ids=["transformer", "lstm"])
def test_flatten_and_unflatten_round_trip(model):
    ids = np.random.default_rng(0).integers(0, 30, (2, 5)).astype("int32")
    _, cache = model.call_with_cache(ids, model.empty_cache(2), 0)
    flat = model.flatten_cache(cache)
    again = model.flatten_cache(model.unflatten_cache(flat))
    for a, b in zip(flat, again, strict=True):
        np.testing.assert_array_equal(a, b)
    # The rebuilt cache decodes exactly like the original.
    step = ids[:, :1]
    logits, _ = model.call_with_cache(step, cache, 5)
    rebuilt, _ = model.call_with_cache(step, model.unflatten_cache(flat), 5)
    np.testing.assert_array_equal(logits, rebuilt)


def test_transformer_and_lstm_cache_descriptions():
    transformer, lstm = models()
    spec = transformer.cache_spec(1)
    assert spec.names == [
        "kv_cache_k_0",
        "kv_cache_v_0",
        "kv_cache_k_1",
        "kv_cache_v_1",
    ]
    assert spec.tensors[0].shape == (2, 16, 4)  # (batch * heads, context, head_dim)
    assert spec.position_axis == 1
    spec = lstm.cache_spec(2, dtype="float16")
    assert spec.names == ["state_h_0", "state_c_0", "state_h_1", "state_c_1"]
    assert spec.tensors[0].shape == (2, 16) and spec.tensors[0].dtype == "float16"
    assert spec.position_axis is None and not spec.supports_prefill
    assert lstm.context_length is None


def test_max_length_is_a_deprecated_read_only_alias():
    transformer, lstm = models()
    with pytest.warns(DeprecationWarning, match="context_length"):
        assert transformer.max_length == 16
    with pytest.warns(DeprecationWarning):
        assert lstm.max_length is None
    with pytest.raises(AttributeError):
        transformer.max_length = 3
    assert "max_length" not in dir(transformer)  # SavedModel tracking reads dir()


def test_a_keras_file_saved_before_the_rename_loads(tmp_path):
    """`.keras` files from before the contract say `max_length`."""
    model = TransformerLanguageModel(**TRANSFORMER)
    new = tmp_path / "new.keras"
    model.save(new)
    old = tmp_path / "old.keras"
    with zipfile.ZipFile(new) as source, zipfile.ZipFile(old, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                assert config["registered_name"] == "keras_nlg>TransformerLanguageModel"
                inner = config["config"]
                inner["max_length"] = inner.pop("context_length")
                data = json.dumps(config).encode()
            target.writestr(item, data)
    with pytest.warns(DeprecationWarning, match="max_length"):
        loaded = keras.saving.load_model(old, safe_mode=True)
    assert type(loaded) is TransformerLanguageModel
    assert loaded.context_length == 16
    ids = np.arange(8, dtype="int32")[None]
    np.testing.assert_allclose(loaded(ids), model(ids), atol=1e-6)


def test_a_subclass_must_implement_the_decode_step():
    class Incomplete(LanguageModel):
        pass

    model = Incomplete()
    with pytest.raises(NotImplementedError, match="Incomplete must implement"):
        model.empty_cache(1)
    with pytest.raises(NotImplementedError, match="call_with_cache"):
        model.call_with_cache(None, None, 0)
    with pytest.raises(NotImplementedError, match="cache_spec"):
        model.cache_spec(1)
