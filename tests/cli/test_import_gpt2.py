"""`keras-nlg import-gpt2`, `finetune` and `train --tokenizer sentencepiece`."""

import pytest

import keras_nlg
from keras_nlg.cli import main
from tests.cli.runner import TINY_FLAGS, run_cli
from tests.models.gpt2_fixtures import tiny_backbone, write_hugging_face_checkpoint


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
