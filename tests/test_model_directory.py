import os

import numpy as np
import pytest

import keras_nlg


def test_load_returns_model_tokenizer_and_config(trained_model_dir):
    model, tokenizer, config = keras_nlg.load(trained_model_dir)
    assert config["model"]["class_name"] == type(model).__name__
    assert model.vocabulary_size == tokenizer.vocabulary_size == 258
    assert model(np.zeros((1, 3), "int32")).shape == (1, 3, 258)


def test_not_a_model_directory(tmp_path, trained_model_dir):
    with pytest.raises(ValueError, match="not found"):
        keras_nlg.load(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="no model.keras"):
        keras_nlg.load(str(tmp_path))
    partial = tmp_path / "partial"
    partial.mkdir()
    os.link(os.path.join(trained_model_dir, "model.keras"), partial / "model.keras")
    with pytest.raises(ValueError, match="no tokenizer.json"):
        keras_nlg.load(str(partial))
