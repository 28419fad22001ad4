"""GPT-2 import from keras-hub presets and Hugging Face directories, offline."""

import importlib.util
import json
import os
import subprocess
import sys

import keras_hub
import numpy as np
import pytest

import keras_nlg
from keras_nlg.models import TransformerLanguageModel
from keras_nlg.models.gpt2_checkpoint import import_gpt2
from tests.models.gpt2_fixtures import (
    hugging_face_config,
    tiny_backbone,
    write_hugging_face_checkpoint,
    write_keras_hub_preset,
)

TOKEN_IDS = np.array([[5, 100, 37, 260, 2, 9, 250, 17]], "int32")
PROMPTS = ["the king", " and the queen", "月光"]


@pytest.fixture(scope="module")
def backbone():
    return tiny_backbone()


@pytest.fixture(scope="module", params=["keras_hub", "hugging_face"])
def checkpoint(request, backbone, tmp_path_factory):
    directory = str(tmp_path_factory.mktemp(request.param))
    if request.param == "keras_hub":
        return write_keras_hub_preset(backbone, directory)
    return write_hugging_face_checkpoint(backbone, directory)


def keras_hub_logits(backbone, token_ids):
    causal_lm = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    return np.asarray(
        causal_lm({"token_ids": token_ids, "padding_mask": np.ones_like(token_ids)})
    )


def test_logits_equal_keras_hub(backbone, checkpoint):
    model = TransformerLanguageModel.from_gpt2(checkpoint)
    expected = keras_hub_logits(backbone, TOKEN_IDS)
    np.testing.assert_allclose(np.asarray(model(TOKEN_IDS)), expected, atol=1e-4)


@pytest.mark.slow
def test_greedy_generation_equals_keras_hub(backbone, checkpoint, tmp_path):
    loaded = import_gpt2(checkpoint, str(tmp_path / "model"))
    tokenizer = loaded.tokenizer
    causal_lm = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    causal_lm.compile(sampler="greedy")  # its default samples from the top 5
    for prompt in PROMPTS:
        ids = tokenizer.tokenize(prompt).numpy()
        length = len(ids) + 12
        padded = np.zeros((1, length), "int32")
        padded[0, : len(ids)] = ids
        mask = np.zeros((1, length), bool)
        mask[0, : len(ids)] = True
        out = causal_lm.generate(
            {"token_ids": padded, "padding_mask": mask}, stop_token_ids=None
        )
        expected = out["token_ids"][0, len(ids) :].tolist()
        if tokenizer.end_of_text_id in expected:  # we stop there
            expected = expected[: expected.index(tokenizer.end_of_text_id) + 1]
        (ours,) = keras_nlg.generate(
            loaded.model, tokenizer, [prompt], max_new_tokens=12, return_details=True
        )
        assert ours.token_ids == expected


def test_import_writes_a_model_directory_every_command_reads(checkpoint, tmp_path):
    out = str(tmp_path / "model")
    import_gpt2(checkpoint, out)
    loaded = keras_nlg.load(out)
    assert type(loaded.tokenizer).__name__ == "GPT2Tokenizer"
    assert loaded.config["source"]["gpt2_checkpoint"] == os.path.abspath(checkpoint)
    np.testing.assert_allclose(
        np.asarray(loaded.model(TOKEN_IDS)),
        np.asarray(TransformerLanguageModel.from_gpt2(checkpoint)(TOKEN_IDS)),
        atol=1e-6,
    )


def test_hugging_face_names_without_the_transformer_prefix(backbone, tmp_path):
    directory = write_hugging_face_checkpoint(backbone, str(tmp_path), prefix="")
    expected = keras_hub_logits(backbone, TOKEN_IDS)
    model = TransformerLanguageModel.from_gpt2(directory)
    np.testing.assert_allclose(np.asarray(model(TOKEN_IDS)), expected, atol=1e-4)


def test_clear_errors(backbone, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match="not a GPT-2 checkpoint.*notes.txt"):
        TransformerLanguageModel.from_gpt2(str(empty))
    with pytest.raises(ValueError, match="must be a directory"):
        TransformerLanguageModel.from_gpt2(str(tmp_path / "missing"))

    llama = write_hugging_face_checkpoint(backbone, str(tmp_path / "llama"))
    config = hugging_face_config(backbone) | {"model_type": "llama"}
    with open(os.path.join(llama, "config.json"), "w") as f:
        json.dump(config, f)
    with pytest.raises(ValueError, match="config.json.*model_type='llama'"):
        TransformerLanguageModel.from_gpt2(llama)

    wrong = write_hugging_face_checkpoint(backbone, str(tmp_path / "wrong"))
    config = hugging_face_config(backbone) | {"n_embd": 32}
    with open(os.path.join(wrong, "config.json"), "w") as f:
        json.dump(config, f)
    with pytest.raises(
        ValueError, match="model.safetensors: tensor .wte.weight. has shape"
    ):
        TransformerLanguageModel.from_gpt2(wrong)

    preset = write_keras_hub_preset(backbone, str(tmp_path / "preset"))
    with open(os.path.join(preset, "config.json")) as f:
        config = json.load(f)
    config["class_name"] = "BertBackbone"
    with open(os.path.join(preset, "config.json"), "w") as f:
        json.dump(config, f)
    with pytest.raises(ValueError, match="class_name='BertBackbone'"):
        TransformerLanguageModel.from_gpt2(preset)


# Hugging Face's model runs in a child process: torch and TensorFlow in one
# process can abort at import (CUDA builds of torch load triton).
_TRANSFORMERS_LOGITS = """
import sys
import numpy as np
import torch
import transformers
model = transformers.GPT2LMHeadModel.from_pretrained(sys.argv[1]).eval()
with torch.no_grad():
    ids = torch.tensor(np.load(sys.argv[2]), dtype=torch.long)
    np.save(sys.argv[3], model(ids).logits.numpy())
"""


def transformers_logits(directory, token_ids, scratch):
    """`GPT2LMHeadModel` logits of `token_ids` for the checkpoint in
    `directory`, computed in a fresh process; skips without the `[hf]` extra."""
    for package in ("torch", "transformers"):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{package} is not installed (pip install '.[hf]')")
    np.save(os.path.join(scratch, "ids.npy"), token_ids)
    subprocess.run(
        [
            sys.executable,
            "-c",
            _TRANSFORMERS_LOGITS,
            directory,
            os.path.join(scratch, "ids.npy"),
            os.path.join(scratch, "logits.npy"),
        ],
        check=True,
        timeout=300,
    )
    return np.load(os.path.join(scratch, "logits.npy"))


def test_logits_equal_transformers_gpt2(backbone, tmp_path):
    directory = write_hugging_face_checkpoint(backbone, str(tmp_path / "hf"))
    expected = transformers_logits(directory, TOKEN_IDS, str(tmp_path))
    model = TransformerLanguageModel.from_gpt2(directory)
    np.testing.assert_allclose(np.asarray(model(TOKEN_IDS)), expected, atol=1e-4)
