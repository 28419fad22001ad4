"""Damaged GPT-2 checkpoints: one `ValueError` naming the file, no output left.

Issue 15, kind 2. Each case damages one file of a good Hugging Face
directory or keras-hub preset (empty, truncated, wrong JSON type, missing
key, missing/extra/misshapen/integer tensor) and expects `import_gpt2` to
raise a ValueError naming that file, with nothing written at `out`. The
tokenizer files' own damage (vocab.json, merges.txt, tokenizer.json
contents) is tested in tests/tokenizers.
"""

import json
import os
import shutil

import h5py
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from keras_nlg.models.gpt2_checkpoint import import_gpt2
from tests.models.gpt2_fixtures import (
    tiny_backbone,
    write_hugging_face_checkpoint,
    write_keras_hub_preset,
)

WEIGHTS = "model.safetensors"


@pytest.fixture(scope="module")
def good_checkpoints(tmp_path_factory):
    backbone = tiny_backbone()
    root = tmp_path_factory.mktemp("good")
    return {
        "hf": write_hugging_face_checkpoint(backbone, str(root / "hf")),
        "hub": write_keras_hub_preset(backbone, str(root / "hub")),
    }


def write_bytes(data):
    def damage(path):
        with open(path, "wb") as f:
            f.write(data)

    return damage


def truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def write_json(value):
    return write_bytes(json.dumps(value).encode())


def edit_json(edit):
    def damage(path):
        with open(path) as f:
            value = json.load(f)
        edit(value)
        with open(path, "w") as f:
            json.dump(value, f)

    return damage


def edit_tensors(edit):
    def damage(path):
        tensors = load_file(path)
        edit(tensors)
        save_file(tensors, path)

    return damage


def remove(path):
    os.remove(path)


def drop_h5_variable(path):
    names = []

    def collect(name, item):  # returning anything but None stops the visit
        if isinstance(item, h5py.Dataset):
            names.append(name)

    with h5py.File(path, "r+") as f:
        f.visititems(collect)
        del f[names[5]]


# (checkpoint, file, damage, words the message must hold besides the file)
CASES = {
    "hf_config_empty": ("hf", "config.json", write_bytes(b""), "Cannot read"),
    "hf_config_truncated": ("hf", "config.json", truncate, "Cannot read"),
    "hf_config_not_utf8": (
        "hf",
        "config.json",
        write_bytes(b"\xff\xfe{"),
        "Cannot read",
    ),
    "hf_config_list": ("hf", "config.json", write_json([1, 2]), "JSON object"),
    "hf_config_string": ("hf", "config.json", write_json("gpt2"), "JSON object"),
    "hf_config_missing": ("hf", "config.json", remove, "no config.json"),
    "hf_config_missing_key": (
        "hf",
        "config.json",
        edit_json(lambda c: c.pop("n_layer")),
        "n_layer",
    ),
    "hf_config_too_few_layers": (
        "hf",
        WEIGHTS,
        # config.json says one layer; the weights hold two.
        lambda path: edit_json(lambda c: c.update(n_layer=1))(
            os.path.join(os.path.dirname(path), "config.json")
        ),
        "h.1.",
    ),
    "hf_vocab_missing": ("hf", "vocab.json", remove, "no vocab.json"),
    "hf_merges_missing": ("hf", "merges.txt", remove, "no merges.txt"),
    "hf_weights_empty": ("hf", WEIGHTS, write_bytes(b""), "Cannot read"),
    "hf_weights_truncated": ("hf", WEIGHTS, truncate, "Cannot read"),
    "hf_weights_garbage": ("hf", WEIGHTS, write_bytes(b"not a tensor file" * 9), ""),
    "hf_tensor_missing": (
        "hf",
        WEIGHTS,
        edit_tensors(lambda t: t.pop("transformer.h.1.mlp.c_fc.bias")),
        "h.1.mlp.c_fc.bias",
    ),
    "hf_tensor_wrong_shape": (
        "hf",
        WEIGHTS,
        edit_tensors(lambda t: t.update({"transformer.wpe.weight": np.zeros((8, 16))})),
        "wpe.weight",
    ),
    "hf_tensor_transposed": (
        "hf",
        WEIGHTS,
        edit_tensors(
            lambda t: t.update(
                {
                    "transformer.h.0.mlp.c_fc.weight": t[
                        "transformer.h.0.mlp.c_fc.weight"
                    ].T
                }
            )
        ),
        "h.0.mlp.c_fc.weight",
    ),
    "hf_tensor_integer": (
        "hf",
        WEIGHTS,
        edit_tensors(
            lambda t: t.update(
                {"transformer.ln_f.bias": t["transformer.ln_f.bias"].astype(np.int32)}
            )
        ),
        "ln_f.bias",
    ),
    "hf_tensor_extra": (
        "hf",
        WEIGHTS,
        edit_tensors(
            lambda t: t.update({"score.weight": np.zeros((2, 16), "float32")})
        ),
        "score.weight",
    ),
    "hf_untied_without_lm_head": (
        "hf",
        WEIGHTS,
        lambda path: edit_json(lambda c: c.update(tie_word_embeddings=False))(
            os.path.join(os.path.dirname(path), "config.json")
        ),
        "lm_head.weight",
    ),
    "hub_config_empty": ("hub", "config.json", write_bytes(b""), "Cannot read"),
    "hub_config_list": ("hub", "config.json", write_json([]), "JSON object"),
    "hub_config_missing": ("hub", "config.json", remove, "no config.json"),
    "hub_config_arguments_not_object": (
        "hub",
        "config.json",
        edit_json(lambda c: c.update(config=[1])),
        "JSON object",
    ),
    "hub_config_disagrees_with_weights": (
        "hub",
        "model.weights.h5",
        lambda path: edit_json(lambda c: c["config"].update(intermediate_dim=48))(
            os.path.join(os.path.dirname(path), "config.json")
        ),
        "could not be loaded",
    ),
    "hub_weights_empty": ("hub", "model.weights.h5", write_bytes(b""), "Cannot load"),
    "hub_weights_truncated": ("hub", "model.weights.h5", truncate, "Cannot load"),
    "hub_weights_variable_missing": (
        "hub",
        "model.weights.h5",
        drop_h5_variable,
        "could not be loaded",
    ),
    "hub_tokenizer_missing": ("hub", "tokenizer.json", remove, "no tokenizer.json"),
    "hub_tokenizer_json_truncated": ("hub", "tokenizer.json", truncate, "Cannot read"),
    "hub_tokenizer_json_list": ("hub", "tokenizer.json", write_json([]), "JSON object"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_damaged_file_is_one_error_naming_it(good_checkpoints, tmp_path, case):
    kind, name, damage, words = case
    checkpoint = str(tmp_path / "checkpoint")
    shutil.copytree(good_checkpoints[kind], checkpoint)
    path = os.path.join(checkpoint, name)
    damage(path)
    out = tmp_path / "out"
    with pytest.raises(ValueError) as error:
        import_gpt2(checkpoint, str(out))
    message = str(error.value)
    # The file is named: its path, or the directory and the file's name.
    assert path in message or (checkpoint in message and name in message), message
    assert words in message
    assert sorted(os.listdir(tmp_path)) == ["checkpoint"]  # nothing half-written


def test_a_good_checkpoint_still_imports_atomically(good_checkpoints, tmp_path):
    out = tmp_path / "out"
    out.mkdir()  # an empty directory may be the target
    import_gpt2(good_checkpoints["hf"], str(out))
    assert {"model.keras", "config.json", "tokenizer.json"} <= set(os.listdir(out))
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no staging directory left
    with pytest.raises(ValueError, match="empty directory.*out"):
        import_gpt2(good_checkpoints["hf"], str(out))  # not over a model


def test_bfloat16_and_float16_tensors_are_read_as_float32(good_checkpoints, tmp_path):
    import ml_dtypes

    from keras_nlg.models import TransformerLanguageModel

    expected = TransformerLanguageModel.from_gpt2(good_checkpoints["hf"])
    for dtype in (np.float16, ml_dtypes.bfloat16):
        checkpoint = str(tmp_path / np.dtype(dtype).name)
        shutil.copytree(good_checkpoints["hf"], checkpoint)
        path = os.path.join(checkpoint, WEIGHTS)
        save_file({k: v.astype(dtype) for k, v in load_file(path).items()}, path)
        model = TransformerLanguageModel.from_gpt2(checkpoint)
        ids = np.array([[1, 2, 3, 4]])
        np.testing.assert_allclose(model(ids), expected(ids), atol=0.1)
