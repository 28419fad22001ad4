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


@pytest.fixture(scope="module")
def small_model_dir(tmp_path_factory):
    """A tiny untrained Transformer directory, cheaper than training one."""
    from keras_nlg.model_directory import save_model_directory
    from keras_nlg.models import TransformerLanguageModel
    from keras_nlg.tokenizers import ByteTokenizer

    model = TransformerLanguageModel(
        258, 16, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16
    )
    directory = str(tmp_path_factory.mktemp("small") / "model")
    config = {"arch": "transformer", "model": {"config": model.get_config()}}
    save_model_directory(directory, model, ByteTokenizer(), config)
    return directory


def _write(data):
    def damage(path):
        with open(path, "wb") as f:
            f.write(data)

    return damage


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def _another_keras_model(path):
    import keras

    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(path)


# (file, damage, words the message must hold besides the file's path)
DAMAGED = {
    "model_empty": ("model.keras", _write(b""), "Cannot load"),
    "model_truncated": ("model.keras", _truncate, "Cannot load"),
    "model_garbage": ("model.keras", _write(b"PK\x03\x04garbage"), "Cannot load"),
    "model_not_a_language_model": ("model.keras", _another_keras_model, "Sequential"),
    "config_empty": ("config.json", _write(b""), "Cannot read"),
    "config_truncated": ("config.json", _truncate, "Cannot read"),
    "config_not_utf8": ("config.json", _write(b"\xff\xfe"), "Cannot read"),
    "config_list": ("config.json", _write(b"[1, 2]"), "JSON object"),
    "generation_config_empty": ("generation_config.json", _write(b""), "Cannot read"),
    "generation_config_not_utf8": (
        "generation_config.json",
        _write(b"\xff{"),
        "Cannot read",
    ),
    "generation_config_list": ("generation_config.json", _write(b"[]"), "JSON object"),
    "generation_config_unknown_key": (
        "generation_config.json",
        _write(b'{"beams": 2}'),
        "beams",
    ),
    "generation_config_bad_value": (
        "generation_config.json",
        _write(b'{"temperature": -1}'),
        "temperature",
    ),
}


@pytest.mark.parametrize("case", DAMAGED.values(), ids=DAMAGED.keys())
def test_damaged_file_is_one_error_naming_it(small_model_dir, tmp_path, case):
    import shutil

    name, damage, words = case
    directory = str(tmp_path / "model")
    shutil.copytree(small_model_dir, directory)
    path = os.path.join(directory, name)
    damage(path)
    with pytest.raises((ValueError, TypeError)) as error:
        keras_nlg.load(directory)
    assert path in str(error.value) and words in str(error.value), str(error.value)
