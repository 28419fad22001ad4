"""Every GPT-2 config.json field: honoured (against float64 NumPy) or refused.

Issue 15, kind 1: a converter that ignores a field gives silently wrong
logits. Each implemented field is checked against `gpt2_reference` (an
independent float64 forward pass of the same tensors) within 1e-4, after
checking that the field really moves the reference's logits; each field we
don't implement is refused naming config.json, the field and the value.
"""

import json
import logging
import os

import numpy as np
import pytest

import keras_nlg
from keras_nlg.models import TransformerLanguageModel
from keras_nlg.models.gpt2_checkpoint import import_gpt2
from tests.models.gpt2_fixtures import (
    random_hugging_face_tensors,
    tiny_backbone,
    write_hugging_face_checkpoint,
    write_keras_hub_preset,
)
from tests.models.gpt2_reference import gpt2_logits
from tests.tokenizers.gpt2_files import tiny_gpt2_vocabulary

VOCABULARY_SIZE = len(tiny_gpt2_vocabulary())
END_OF_TEXT = VOCABULARY_SIZE - 1
BASE = {
    "architectures": ["GPT2LMHeadModel"],
    "model_type": "gpt2",
    "vocab_size": VOCABULARY_SIZE,
    "n_positions": 32,
    "n_embd": 16,
    "n_layer": 3,
    "n_head": 2,
    "n_inner": 24,
    "activation_function": "gelu_new",
    "layer_norm_epsilon": 1e-5,
    "bos_token_id": END_OF_TEXT,
    "eos_token_id": END_OF_TEXT,
}
TOKEN_IDS = np.array([[5, 100, 37, 260, 2, 9, 250, 17], [1, 2, 3, 4, 5, 6, 7, 8]])


def write(tmp_path, config, tensors=None, name="hf"):
    tensors = random_hugging_face_tensors(config) if tensors is None else tensors
    directory = str(tmp_path / name)
    write_hugging_face_checkpoint(None, directory, config=config, tensors=tensors)
    return directory, tensors


def max_difference(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)))


# Fields that change logits, with a non-default value we implement.
IMPLEMENTED = {
    "scale_attn_by_inverse_layer_idx": {"scale_attn_by_inverse_layer_idx": True},
    "scale_attn_weights": {"scale_attn_weights": False},
    "both_scalings": {
        "scale_attn_weights": False,
        "scale_attn_by_inverse_layer_idx": True,
    },
    "layer_norm_epsilon": {"layer_norm_epsilon": 0.5},
    "activation_gelu_exact": {"activation_function": "gelu"},
    "n_inner_null": {"n_inner": None},
    "tie_word_embeddings": {"tie_word_embeddings": False},
}


def test_reference_agrees_with_keras_hub(tmp_path):
    """The reference itself, on keras-hub's GPT-2 (an independent peer)."""
    import keras_hub

    from tests.models.gpt2_fixtures import hugging_face_config, hugging_face_tensors

    backbone = tiny_backbone()
    causal_lm = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    expected = np.asarray(
        causal_lm({"token_ids": TOKEN_IDS, "padding_mask": np.ones_like(TOKEN_IDS)})
    )
    reference = gpt2_logits(
        hugging_face_tensors(backbone), hugging_face_config(backbone), TOKEN_IDS
    )
    np.testing.assert_allclose(reference, expected, atol=1e-4)


@pytest.mark.parametrize("overrides", IMPLEMENTED.values(), ids=IMPLEMENTED.keys())
def test_implemented_field_matches_float64_reference(tmp_path, overrides):
    config = BASE | overrides
    directory, tensors = write(tmp_path, config)
    reference = gpt2_logits(tensors, config, TOKEN_IDS)
    # The field matters: ignoring it would be off by far more than 1e-4
    # (exact vs tanh GELU differ least, by about 1e-3 here).
    if "n_inner" not in overrides:
        ignored = gpt2_logits(tensors, BASE, TOKEN_IDS)
        assert max_difference(ignored, reference) > 5e-4
    model = TransformerLanguageModel.from_gpt2(directory)
    assert max_difference(model(TOKEN_IDS), reference) < 1e-4
    # The cached decode step (generation, every export) agrees too.
    cache = model.empty_cache(len(TOKEN_IDS), 16)
    prefill, cache = model.call_with_cache(TOKEN_IDS[:, :5], cache, 0)
    step, _ = model.call_with_cache(TOKEN_IDS[:, 5:], cache, 5)
    cached = np.concatenate([np.asarray(prefill), np.asarray(step)], axis=1)
    assert max_difference(cached, reference) < 1e-4


def test_ignored_fields_leave_logits_unchanged(tmp_path, caplog):
    ignored = {
        "resid_pdrop": 0.3,
        "embd_pdrop": 0.3,
        "attn_pdrop": 0.3,
        "initializer_range": 0.5,
        "summary_type": "mean",
        "summary_use_proj": False,
        "summary_activation": "tanh",
        "summary_proj_to_labels": False,
        "summary_first_dropout": 0.2,
        "reorder_and_upcast_attn": True,
        "use_cache": False,
        "torch_dtype": "float16",
        "n_ctx": 1024,
        "bos_token_id": 3,
        "pad_token_id": 0,
        "transformers_version": "4.40.0",
        "task_specific_params": {"text-generation": {"do_sample": True}},
        "do_sample": True,
        "max_length": 50,
        "gradient_checkpointing": True,
        "_attn_implementation": "sdpa",
        "a_field_gpt2_never_reads": 1,
    }
    config = BASE | ignored
    directory, tensors = write(tmp_path, config)
    with caplog.at_level(logging.WARNING):
        model = TransformerLanguageModel.from_gpt2(directory)
    assert max_difference(model(TOKEN_IDS), gpt2_logits(tensors, BASE, TOKEN_IDS)) < (
        1e-4
    )
    assert "a_field_gpt2_never_reads" in caplog.text
    assert "resid_pdrop" not in caplog.text


@pytest.mark.parametrize(
    "gelu", ["gelu_new", "gelu_pytorch_tanh", "gelu_fast"], ids=lambda name: name
)
def test_tanh_gelu_spellings(tmp_path, gelu):
    config = BASE | {"activation_function": gelu}
    directory, tensors = write(tmp_path, config)
    model = TransformerLanguageModel.from_gpt2(directory)
    assert max_difference(model(TOKEN_IDS), gpt2_logits(tensors, config, TOKEN_IDS)) < (
        1e-4
    )


def test_attention_scaling_survives_the_model_directory(tmp_path):
    config = BASE | {
        "scale_attn_by_inverse_layer_idx": True,
        "scale_attn_weights": False,
    }
    directory, tensors = write(tmp_path, config)
    out = str(tmp_path / "model")
    import_gpt2(directory, out)
    loaded = keras_nlg.load(out)
    assert loaded.model.scale_attention_by_inverse_layer_index is True
    assert loaded.model.scale_attention_weights is False
    reference = gpt2_logits(tensors, config, TOKEN_IDS)
    assert max_difference(loaded.model(TOKEN_IDS), reference) < 1e-4
    # Exports rebuild the model from its config (tflite, LoRA merge).
    rebuilt = TransformerLanguageModel.from_config(loaded.model.get_config())
    rebuilt.set_weights(loaded.model.get_weights())
    assert max_difference(rebuilt(TOKEN_IDS), reference) < 1e-4


def test_default_path_is_unchanged():
    model = TransformerLanguageModel(
        VOCABULARY_SIZE,
        32,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
    )
    assert all(block.attention.attention_scale is None for block in model.blocks)
    config = model.get_config()
    assert config["scale_attention_weights"] is True
    assert config["scale_attention_by_inverse_layer_index"] is False


REFUSED = [
    ("activation_function", "relu"),
    ("activation_function", "quick_gelu"),
    ("activation_function", 3),
    ("add_cross_attention", True),
    ("is_encoder_decoder", True),
    ("pruned_heads", {"0": [1]}),
    ("architectures", ["GPT2ForSequenceClassification"]),
    ("eos_token_id", 5),
    ("eos_token_id", [END_OF_TEXT, 5]),
    ("n_inner", "big"),
    ("n_embd", 0),
    ("n_layer", 2.5),
    ("n_head", True),
    ("vocab_size", "267"),
    ("scale_attn_weights", "yes"),
    ("scale_attn_by_inverse_layer_idx", 1),
    ("tie_word_embeddings", None),
    ("layer_norm_epsilon", -1.0),
    ("layer_norm_epsilon", "1e-5"),
    ("model_type", "gpt_neo"),
]


@pytest.mark.parametrize(
    "field, value", REFUSED, ids=[f"{f}={v!r}" for f, v in REFUSED]
)
def test_unimplemented_value_is_refused_by_name(tmp_path, field, value):
    config = BASE | {field: value}
    directory, _ = write(tmp_path, config, tensors=random_hugging_face_tensors(BASE))
    with pytest.raises(ValueError) as error:
        TransformerLanguageModel.from_gpt2(directory)
    message = str(error.value)
    assert os.path.join(directory, "config.json") in message
    assert field in message and repr(value) in message


@pytest.mark.parametrize(
    "field", ["vocab_size", "n_positions", "n_embd", "n_layer", "n_head"]
)
def test_missing_size_is_refused_by_name(tmp_path, field):
    config = {k: v for k, v in BASE.items() if k != field}
    directory, _ = write(tmp_path, config, tensors=random_hugging_face_tensors(BASE))
    with pytest.raises(ValueError, match=f"config.json has no field '{field}'"):
        TransformerLanguageModel.from_gpt2(directory)


def test_heads_must_divide_width(tmp_path):
    config = BASE | {"n_head": 3}
    directory, _ = write(tmp_path, config, tensors=random_hugging_face_tensors(BASE))
    with pytest.raises(ValueError, match="config.json: n_embd=16 .* n_head=3"):
        TransformerLanguageModel.from_gpt2(directory)


def write_preset(tmp_path, edit):
    preset = write_keras_hub_preset(tiny_backbone(), str(tmp_path / "preset"))
    path = os.path.join(preset, "config.json")
    with open(path) as f:
        config = json.load(f)
    edit(config["config"])
    with open(path, "w") as f:
        json.dump(config, f)
    return preset


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c.update(use_rotary=True), "use_rotary"),
        (lambda c: c.update(dtype="int8_from_float32"), "dtype='int8_from_float32'"),
        (lambda c: c.pop("num_layers"), "no field 'num_layers'"),
        (lambda c: c.update(num_heads=0), "num_heads=0"),
        (lambda c: c.update(hidden_dim=15), "hidden_dim=15"),
    ],
    ids=[
        "unknown_key",
        "quantized_dtype",
        "missing_size",
        "zero_heads",
        "heads_divide",
    ],
)
def test_keras_hub_config_is_refused_by_name(tmp_path, edit, message):
    preset = write_preset(tmp_path, edit)
    with pytest.raises(ValueError) as error:
        TransformerLanguageModel.from_gpt2(preset)
    assert os.path.join(preset, "config.json") in str(error.value)
    assert message in str(error.value)


def test_keras_hub_ignored_keys(tmp_path):
    """dropout, name and trainable don't change inference logits."""
    import keras_hub

    backbone = tiny_backbone()
    preset = write_preset(
        tmp_path, lambda c: c.update(dropout=0.3, name="renamed", trainable=False)
    )
    causal_lm = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    expected = np.asarray(
        causal_lm({"token_ids": TOKEN_IDS, "padding_mask": np.ones_like(TOKEN_IDS)})
    )
    model = TransformerLanguageModel.from_gpt2(preset)
    np.testing.assert_allclose(np.asarray(model(TOKEN_IDS)), expected, atol=1e-4)


@pytest.mark.parametrize("overrides", IMPLEMENTED.values(), ids=IMPLEMENTED.keys())
def test_implemented_field_matches_transformers(tmp_path, overrides):
    """The peer itself, where torch and transformers are installed ([hf])."""

    from tests.models.test_gpt2_checkpoint import transformers_logits

    config = BASE | overrides
    directory, _ = write(tmp_path, config)
    expected = transformers_logits(directory, TOKEN_IDS, str(tmp_path))
    model = TransformerLanguageModel.from_gpt2(directory)
    assert max_difference(model(TOKEN_IDS), expected) < 1e-4


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t["config"].update(add_prefix_space=True), "add_prefix_space=True"),
        (lambda t: t["config"].update(lowercase=True), "lowercase"),
        (lambda t: t.update(class_name="BertTokenizer"), "class_name='BertTokenizer'"),
    ],
    ids=["add_prefix_space", "unknown_key", "class"],
)
def test_keras_hub_tokenizer_options_are_refused_by_name(tmp_path, edit, message):
    preset = write_preset(tmp_path, lambda c: None)
    path = os.path.join(preset, "tokenizer.json")
    with open(path) as f:
        tokenizer = json.load(f)
    edit(tokenizer)
    with open(path, "w") as f:
        json.dump(tokenizer, f)
    with pytest.raises(ValueError) as error:
        TransformerLanguageModel.from_gpt2(preset)
    assert path in str(error.value) and message in str(error.value)
