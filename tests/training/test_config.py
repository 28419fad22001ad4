"""`TrainingConfig`: defaults per recipe, one check per field, copies and dicts."""

import dataclasses
import json
import math

import pytest

from keras_nlg.training import TrainingConfig
from keras_nlg.training.fit import resolve_training_config
from keras_nlg.training.recipes import XLA_MIN_STEPS


def test_recipe_defaults_are_filled_in_when_made():
    lm = TrainingConfig()
    assert (lm.arch, lm.preset, lm.tokenizer, lm.batch_size) == (
        "transformer",
        "small",
        "byte",
        32,
    )
    assert lm.training_length() == (1000, None)
    assert lm.resolved_learning_rate() == 1e-3
    assert TrainingConfig(arch="lstm").resolved_learning_rate() == 2e-3
    assert lm.resolved_vocabulary_size() == 8000

    e2e = TrainingConfig.for_e2e()
    assert (e2e.tokenizer, e2e.resolved_steps_per_epoch(), e2e.validation_fraction) == (
        "sentencepiece",
        500,
        None,
    )
    assert e2e.training_length() == (None, 6)
    assert e2e.resolved_vocabulary_size() == 2000
    assert e2e.resolved_learning_rate() == 1e-3

    tune = TrainingConfig.for_finetune()
    assert (tune.batch_size, tune.weight_decay, tune.arch, tune.tokenizer) == (
        8,
        0.0,
        None,
        None,
    )
    assert tune.training_length() == (200, None)
    assert tune.resolved_learning_rate() == 1e-4
    assert tune.replace(lora_rank=4).resolved_learning_rate() == 1e-3
    # A given length replaces the default one, whichever kind it is.
    assert tune.replace(epochs=2).training_length() == (None, 2)

    assert TrainingConfig.for_command_line().sample_prompt == "ROMEO:"
    assert TrainingConfig.for_command_line(sample_prompt="x").sample_prompt == "x"


def test_resolved_sequence_length_and_warmup():
    config = TrainingConfig()
    assert config.resolved_sequence_length(64) == 64
    assert config.resolved_sequence_length(1024) == 256
    assert config.resolved_sequence_length(None) == 256  # LSTM: no context limit
    with pytest.raises(ValueError, match="sequence_length=100"):
        config.replace(sequence_length=100).resolved_sequence_length(64)
    assert config.resolved_warmup_steps(1) == 0
    assert config.resolved_warmup_steps(100) == 5
    assert config.resolved_warmup_steps(100_000) == 200
    assert config.replace(warmup_steps=0).resolved_warmup_steps(100) == 0


def test_resolved_jit_compile_is_xla_where_it_pays():
    config = TrainingConfig()
    assert config.resolved_jit_compile(XLA_MIN_STEPS, replicas=1) is True
    # Else Keras decides: no XLA on a CPU-only machine, XLA with a GPU.
    assert config.resolved_jit_compile(XLA_MIN_STEPS - 1, replicas=1) == "auto"
    assert config.resolved_jit_compile(10_000, replicas=2) == "auto"
    assert config.replace(minutes=1).resolved_jit_compile(3, replicas=1) is True
    assert config.replace(minutes=0.5).resolved_jit_compile(3, replicas=1) == "auto"
    # Per distinct batch shape (E2E length buckets): compiled once each.
    assert config.resolved_jit_compile(1000, 1, batch_shapes=5) is True
    assert config.resolved_jit_compile(999, 1, batch_shapes=5) == "auto"
    assert config.replace(minutes=4).resolved_jit_compile(3, 1, batch_shapes=5) == (
        "auto"
    )
    assert config.resolved_jit_compile(10_000, replicas=1, backend="jax") == "auto"
    assert config.replace(jit_compile=True).resolved_jit_compile(3, replicas=2)
    assert not config.replace(jit_compile=False).resolved_jit_compile(
        10_000, replicas=1, backend="jax"
    )


@pytest.mark.parametrize(
    "settings, match",
    [
        (dict(recipe="gan"), "recipe='gan'"),
        (dict(arch="gru"), "arch='gru'"),
        (dict(preset="huge"), "preset='huge'"),
        (dict(tokenizer="wordpiece"), "tokenizer='wordpiece'"),
        (dict(tokenizer="sentencepiece", vocabulary_size=0), "vocabulary_size=0"),
        (dict(steps=0), "steps=0"),
        (dict(steps=2.5), "steps=2.5"),
        (dict(epochs=-1), "epochs=-1"),
        (dict(batch_size=0), "batch_size=0"),
        (dict(batch_size=True), "batch_size=True"),
        (dict(sequence_length=0), "sequence_length=0"),
        (dict(learning_rate=0.0), "learning_rate=0.0"),
        (dict(learning_rate=math.nan), "learning_rate=nan"),
        (dict(learning_rate=math.inf), "learning_rate=inf"),
        (dict(learning_rate="1e-3"), "learning_rate='1e-3'"),
        (dict(warmup_steps=-1), "warmup_steps=-1"),
        (dict(weight_decay=-0.1), "weight_decay=-0.1"),
        (dict(validation_fraction=1.0), "validation_fraction=1.0"),
        (dict(validation_steps=0), "validation_steps=0"),
        (dict(steps_per_epoch=0), "steps_per_epoch=0"),
        (dict(recipe="finetune", lora_rank=0), "lora_rank=0"),
        (dict(recipe="finetune", lora_rank=2, lora_alpha=0), "lora_alpha=0"),
        (dict(max_minutes=0), "max_minutes=0"),
        (dict(max_minutes=-1.5), "max_minutes=-1.5"),
    ],
)
def test_a_bad_value_is_a_value_error_naming_it(settings, match):
    with pytest.raises(ValueError, match=match.replace("(", r"\(")):
        TrainingConfig(**settings)


@pytest.mark.parametrize(
    "settings, match",
    [
        (dict(seed=1.0), "seed=1.0"),
        (dict(sample_prompt=3), "sample_prompt=3"),
        (dict(model_overrides=[("dropout", 0.1)]), "model_overrides="),
        (dict(jit_compile="yes"), "jit_compile='yes'"),
        (dict(jit_compile=1), "jit_compile=1"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_type_error(settings, match):
    with pytest.raises(TypeError, match=match):
        TrainingConfig(**settings)


@pytest.mark.parametrize(
    "settings, match",
    [
        (dict(steps=5, epochs=1), "not both"),
        (dict(vocabulary_size=300), "vocabulary_size=300, tokenizer='byte'"),
        (dict(lora_rank=4), "fine-tuning only"),
        (dict(recipe="finetune", tokenizer="byte"), "tokenizer='byte'"),
        (dict(recipe="finetune", preset="tiny"), "preset='tiny'"),
        # The E2E recipe's rules (what `keras-nlg train --task e2e` reports).
        (dict(recipe="e2e", arch="lstm"), "--arch lstm is not offered"),
        (dict(recipe="e2e", sequence_length=8), "--sequence-length does not apply"),
        (dict(recipe="e2e", validation_steps=3), "--validation-steps does not apply"),
        (dict(recipe="e2e", validation_fraction=0.2), "validation_fraction=0.2"),
    ],
)
def test_combinations_that_cannot_work(settings, match):
    with pytest.raises(ValueError, match=match):
        TrainingConfig(**settings)


def test_replace_validates_and_refuses_unknown_names():
    config = TrainingConfig(preset="tiny", steps=10)
    assert config.replace(batch_size=4).batch_size == 4
    assert config.batch_size == 32  # frozen: the original is unchanged
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.batch_size = 4
    with pytest.raises(TypeError, match="Unknown training setting"):
        config.replace(batchsize=4)
    with pytest.raises(ValueError, match="not both"):
        config.replace(epochs=2)
    # None asks for the recipe's default again.
    assert config.replace(batch_size=None).batch_size == 32


def test_model_overrides_are_copied():
    overrides = {"dropout": 0.2}
    config = TrainingConfig(model_overrides=overrides)
    overrides["dropout"] = 0.5
    assert config.model_overrides == {"dropout": 0.2}


@pytest.mark.parametrize(
    "config",
    [
        TrainingConfig(preset="tiny", steps=10, learning_rate=3e-4),
        TrainingConfig.for_e2e(epochs=2, model_overrides={"dropout": 0.2}),
        TrainingConfig.for_finetune(lora_rank=4, lora_alpha=8.0, max_minutes=1.5),
    ],
)
def test_dict_and_json_round_trip(config):
    values = json.loads(json.dumps(config.to_dict()))
    assert TrainingConfig.from_dict(values) == config
    record = {**values, "total_steps": 10, "data_paths": ["/x"], "replicas": 1}
    assert TrainingConfig.from_record(record) == config


def test_from_dict_names_its_source():
    with pytest.raises(TypeError, match="config.json: Unknown training setting"):
        TrainingConfig.from_dict({"stepz": 1}, source="config.json")
    with pytest.raises(ValueError, match="config.json: .*steps=0"):
        TrainingConfig.from_dict({"steps": 0}, source="config.json")
    with pytest.raises(ValueError, match="JSON object"):
        TrainingConfig.from_dict([1, 2])


def test_entry_points_take_a_config_then_keyword_overrides():
    base = TrainingConfig(preset="tiny", steps=10)
    assert resolve_training_config(None, {}, "lm", "train") == TrainingConfig()
    config = resolve_training_config(base, {"batch_size": 4}, "lm", "train")
    assert (config.preset, config.steps, config.batch_size) == ("tiny", 10, 4)
    with pytest.raises(TypeError, match="Unknown training setting"):
        resolve_training_config(base, {"batchsize": 4}, "lm", "train")
    with pytest.raises(TypeError, match="must be a TrainingConfig"):
        resolve_training_config({"steps": 1}, {}, "lm", "train")
    with pytest.raises(ValueError, match="recipe='lm'"):
        resolve_training_config(base, {}, "finetune", "finetune")


def test_line_documents_put_end_of_text_between_lines(tmp_path):
    from keras_nlg.tokenizers import ByteTokenizer
    from keras_nlg.training.text_data import text_file_data

    path = tmp_path / "lines.txt"
    path.write_text("ab\n\ncd\n  \nef\n", encoding="utf-8")
    tokenizer = ByteTokenizer()
    for documents, read, tokens in (
        ("file", 1, 13),  # the file as it is: bytes and newlines
        ("line", 3, 8),  # a b <eot> c d <eot> e f
    ):
        config = TrainingConfig(
            preset="tiny", documents=documents, sequence_length=2, batch_size=1,
            validation_fraction=0.0,
        )  # fmt: skip
        _, record = text_file_data([str(path)], tokenizer, config)
        assert record["documents_read"] == read
        assert record["corpus_tokens"] == tokens
    with pytest.raises(ValueError, match="documents='para'"):
        TrainingConfig(documents="para")
    with pytest.raises(ValueError, match="does not apply to --task e2e"):
        TrainingConfig.for_e2e(documents="line")
