"""`GenerationConfig`: the one place generation settings are checked."""

import json
import os

import pytest

import keras_nlg
from keras_nlg.export import export_saved_model
from keras_nlg.generation import GenerationConfig, generate
from keras_nlg.generation.config import CLI_DEFAULTS, GENERATION_CONFIG_FILE
from tests.cli.test_generate import BAD_VALUES


def message_of(field, value):
    with pytest.raises((ValueError, TypeError)) as raised:
        GenerationConfig(**{field: value})
    return type(raised.value), str(raised.value)


@pytest.mark.parametrize("field", sorted(BAD_VALUES))
def test_library_and_saved_model_export_raise_the_configs_error(
    field, trained_model_dir, tmp_path
):
    """The CLI's side is tests/cli/test_generate.py (same table)."""
    value = BAD_VALUES[field][2]
    error, message = message_of(field, value)
    assert field in message
    loaded = keras_nlg.load(trained_model_dir)
    with pytest.raises(error) as raised:
        generate(loaded.model, loaded.tokenizer, "a", **{field: value})
    assert str(raised.value) == message
    out = tmp_path / "export" / "m" / "1"
    with pytest.raises(error) as raised:
        export_saved_model(trained_model_dir, str(out), **{field: value})
    assert str(raised.value) == message
    assert not out.exists()


@pytest.mark.parametrize(
    "settings, match",
    [
        (dict(do_sample="yes"), "do_sample='yes'"),
        (dict(seed=1.5), "seed=1.5"),
        (dict(min_new_tokens=10, max_new_tokens=5), "min_new_tokens=10"),
        (dict(num_beams=2, do_sample=True), "num_beams=2, do_sample=True"),
        (dict(num_beams=2, num_return_sequences=3), "num_return_sequences=3"),
        (dict(num_return_sequences=2), "do_sample=False"),
        (dict(num_beams=2, no_repeat_ngram_size=2), "no_repeat_ngram_size=2"),
        (dict(temperature=float("inf")), "temperature=inf"),
        (dict(stop_strings="x"), "stop_strings='x'"),
    ],
)
def test_combinations_and_types_are_refused(settings, match):
    with pytest.raises((ValueError, TypeError), match=match):
        GenerationConfig(**settings)


def test_replace_overrides_and_refuses_unknown_names():
    config = GenerationConfig(do_sample=True, top_p=0.9)
    assert config.replace(top_k=5) == GenerationConfig(
        do_sample=True, top_p=0.9, top_k=5
    )
    assert config.top_k == 0  # frozen: replace makes a copy
    with pytest.raises(TypeError, match="beam_width"):
        config.replace(beam_width=3)
    with pytest.deprecated_call():
        assert config.replace(stop=["\n"]).stop_strings == ("\n",)


def test_generation_config_json_round_trips_only_what_differs(tmp_path):
    config = GenerationConfig(num_beams=3, max_new_tokens=40, stop_strings=["."])
    path = config.save_pretrained(tmp_path)
    assert os.path.basename(path) == GENERATION_CONFIG_FILE
    with open(path) as f:
        assert json.load(f) == {
            "max_new_tokens": 40,
            "num_beams": 3,
            "stop_strings": ["."],
        }
    assert GenerationConfig.from_pretrained(tmp_path) == config
    assert GenerationConfig.from_pretrained(tmp_path / "none") is None


@pytest.mark.parametrize(
    "text, match",
    [
        ("{not json", "Cannot read"),
        ('{"top_p": 3}', "top_p=3"),
        ('{"beam_width": 3}', "beam_width"),
        ("[1]", "JSON object"),
    ],
)
def test_a_bad_file_is_refused_naming_it(tmp_path, text, match):
    (tmp_path / GENERATION_CONFIG_FILE).write_text(text)
    with pytest.raises((ValueError, TypeError), match=match) as raised:
        GenerationConfig.from_pretrained(tmp_path)
    assert GENERATION_CONFIG_FILE in str(raised.value)


def test_load_attaches_the_directorys_config_and_generate_uses_it(
    trained_model_dir, tmp_path
):
    import shutil

    model_dir = tmp_path / "model"
    shutil.copytree(trained_model_dir, model_dir)
    loaded = keras_nlg.load(model_dir)
    assert loaded.model.generation_config is None
    plain = generate(loaded.model, loaded.tokenizer, "KING:", max_new_tokens=6)
    GenerationConfig(max_new_tokens=3).save_pretrained(model_dir)
    loaded = keras_nlg.load(model_dir)
    assert loaded.model.generation_config == GenerationConfig(max_new_tokens=3)
    (short,) = generate(loaded.model, loaded.tokenizer, "KING:", return_details=True)
    assert len(short.token_ids) <= 3
    assert plain[0].startswith(short.text)
    # An explicit config wins over the model's.
    explicit = generate(
        loaded.model, loaded.tokenizer, "KING:", GenerationConfig(max_new_tokens=6)
    )
    assert explicit == plain


def test_cli_defaults_are_a_valid_sampling_config():
    assert CLI_DEFAULTS.do_sample and CLI_DEFAULTS.max_new_tokens == 200
