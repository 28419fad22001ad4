"""`keras-nlg import-gpt2`, `finetune` and `train --tokenizer sentencepiece`."""

import json
import os

import pytest

import keras_nlg
from keras_nlg.cli import main
from tests.cli.runner import (
    TINY_FLAGS,
    assert_main_one_line_exit_2,
    assert_one_line_exit_2,
    run_cli,
)
from tests.models.gpt2_fixtures import (
    hugging_face_config,
    tiny_backbone,
    write_hugging_face_checkpoint,
)


@pytest.mark.slow
def test_import_finetune_with_lora_then_generate(tmp_path, corpus_file, capsys):
    checkpoint = write_hugging_face_checkpoint(tiny_backbone(), str(tmp_path / "hf"))
    imported, tuned = str(tmp_path / "imported"), str(tmp_path / "tuned")
    assert main(["import-gpt2", "--checkpoint", checkpoint, "--out", imported]) == 0
    assert "imported GPT-2" in capsys.readouterr().out
    args = ["finetune", "--model", imported, "--data", corpus_file, "--out", tuned]
    flags = ["--lora-rank", "2", "--steps", "2", "--batch-size", "2"]
    assert main([*args, *flags, "--sequence-length", "32"]) == 0
    assert "model directory" in capsys.readouterr().out
    assert keras_nlg.load(tuned).config["lora"]["rank"] == 2
    assert (
        main(["generate", "--model", tuned, "--prompt", "the", "--max-new-tokens", "4"])
        == 0
    )


def test_train_with_sentencepiece(tmp_path, corpus_file, capsys):
    out = str(tmp_path / "spm")
    flags = ["--tokenizer", "sentencepiece", "--vocab-size", "300"]
    assert (
        main(["train", "--data", corpus_file, "--out", out, *TINY_FLAGS, *flags]) == 0
    )
    assert type(keras_nlg.load(out).tokenizer).__name__ == "SentencePieceTokenizer"


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["import-gpt2", "--checkpoint", "{tmp}", "--out", "{tmp}/o"],
            "not a GPT-2 checkpoint",
        ),
        (
            [
                "finetune",
                "--model",
                "{tmp}/none",
                "--data",
                "x.txt",
                "--out",
                "{tmp}/o",
            ],
            "none",
        ),
        (
            [
                "finetune",
                "--model",
                "m",
                "--data",
                "x",
                "--out",
                "o",
                "--lora-rank",
                "0",
            ],
            "--lora-rank",
        ),
        (["train", "--out", "{tmp}/o", "--tokenizer", "bpe"], "--tokenizer"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, args, message):
    completed = run_cli(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], completed.stderr
    assert "Traceback" not in completed.stderr


def test_damaged_checkpoint_is_one_line_exit_2_and_no_output(tmp_path):
    """Fresh process: a truncated model.safetensors (issue 15, kind 2)."""
    checkpoint = write_hugging_face_checkpoint(tiny_backbone(), str(tmp_path / "hf"))
    weights = os.path.join(checkpoint, "model.safetensors")
    with open(weights, "r+b") as f:
        f.truncate(os.path.getsize(weights) // 2)
    out = str(tmp_path / "out")
    completed = run_cli("import-gpt2", "--checkpoint", checkpoint, "--out", out)
    assert_one_line_exit_2(completed, weights)
    assert sorted(os.listdir(tmp_path)) == ["hf"]


@pytest.mark.parametrize(
    "damage, expected",
    [
        ({"scale_attn_weights": "no"}, "scale_attn_weights='no'"),
        ({"activation_function": "relu"}, "activation_function='relu'"),
        ([1, 2], "must hold a JSON object"),
    ],
    ids=["bad_type", "unimplemented", "json_list"],
)
def test_bad_config_json_is_one_line_exit_2(tmp_path, capsys, damage, expected):
    backbone = tiny_backbone()
    checkpoint = write_hugging_face_checkpoint(backbone, str(tmp_path / "hf"))
    config = (
        hugging_face_config(backbone) | damage if isinstance(damage, dict) else damage
    )
    with open(os.path.join(checkpoint, "config.json"), "w") as f:
        json.dump(config, f)
    out = str(tmp_path / "out")
    assert_main_one_line_exit_2(
        ["import-gpt2", "--checkpoint", checkpoint, "--out", out], expected, capsys
    )
    assert not os.path.exists(out)


def test_generate_from_a_damaged_model_directory_is_one_line_exit_2(tmp_path, capsys):
    checkpoint = write_hugging_face_checkpoint(tiny_backbone(), str(tmp_path / "hf"))
    out = str(tmp_path / "model")
    assert main(["import-gpt2", "--checkpoint", checkpoint, "--out", out]) == 0
    capsys.readouterr()
    model_file = os.path.join(out, "model.keras")
    with open(model_file, "r+b") as f:
        f.truncate(os.path.getsize(model_file) // 2)
    assert_main_one_line_exit_2(
        ["generate", "--model", out, "--prompt", "the", "--max-new-tokens", "2"],
        model_file,
        capsys,
    )
