"""`keras-nlg train` (language model on text files), then `generate` on it."""

import json
import os

import pytest

from keras_nlg.cli import main
from tests.cli.runner import (
    TINY_FLAGS,
    assert_main_one_line_exit_2,
    assert_one_line_exit_2,
    run_cli,
)


@pytest.mark.slow
def test_train_prints_sample_and_paths_then_generate(tmp_path, corpus_file, capsys):
    out = str(tmp_path / "model")
    assert main(["train", "--data", corpus_file, "--out", out, *TINY_FLAGS]) == 0
    printed = capsys.readouterr().out
    assert "--- sample ---" in printed
    assert f"model directory: {out}" in printed
    assert f"TensorBoard logs: {os.path.join(out, 'logs')}" in printed

    def generate(*flags):
        assert (
            main(
                [
                    "generate",
                    "--model",
                    out,
                    "--prompt",
                    "KING:",
                    "--prompt",
                    "月",
                    "--max-new-tokens",
                    "20",  # the tiny model's context is 32
                    *flags,
                ]
            )
            == 0
        )
        lines = capsys.readouterr().out
        assert lines.startswith(("KING:", '{"prompt": "KING:"'))
        return lines

    assert generate("--seed", "7") == generate("--seed", "7")
    assert generate("--greedy") == generate("--temperature", "0")
    sequences = generate(
        "--num-return-sequences", "2", "--top-p", "0.9", "--seed", "1", "--json"
    )
    records = [json.loads(line) for line in sequences.splitlines()]
    beams = generate("--num-beams", "3", "--num-return-sequences", "2", "--json")
    assert len(beams.splitlines()) == 4
    assert [r["prompt"] for r in records] == ["KING:", "KING:", "月", "月"]
    assert all(len(r["token_ids"]) == len(r["log_probs"]) for r in records)


def test_lstm_arch_with_xla(tmp_path, corpus_file, capsys):
    out = str(tmp_path / "lstm")
    argv = ["train", "--arch", "lstm", "--data", corpus_file, "--out", out]
    assert main([*argv, *TINY_FLAGS, "--jit-compile"]) == 0
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["training"]["jit_compile"] is True
    assert (
        main(["generate", "--model", out, "--prompt", "a", "--max-new-tokens", "5"])
        == 0
    )


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "empty",
        "non_utf8",
        "short",
        "out_is_file",
        "preset",
        "arch",
        "non_positive",
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, corpus_file, case, capsys):
    out = str(tmp_path / "out")
    args, expected = {
        "missing": (
            ["--data", str(tmp_path / "nope.txt"), "--out", out],
            "nope.txt",
        ),
        "empty": (["--data", write(tmp_path, "e.txt", b""), "--out", out], "empty"),
        "non_utf8": (
            ["--data", write(tmp_path, "b.txt", b"\xff\xfe\x00"), "--out", out],
            "UTF-8",
        ),
        "short": (
            ["--data", write(tmp_path, "s.txt", b"tiny"), "--out", out],
            "fewer than one window",
        ),
        "out_is_file": (
            ["--data", corpus_file, "--out", corpus_file, *TINY_FLAGS],
            corpus_file,
        ),
        "preset": (["--preset", "huge", "--out", out], "huge"),
        "arch": (["--arch", "gru", "--out", out], "gru"),
        "non_positive": (["--steps", "-3", "--out", out], "-3"),
    }[case]
    if case in ("missing", "arch"):  # a library error and a usage error
        assert_one_line_exit_2(run_cli("train", *args), expected)
    else:
        assert_main_one_line_exit_2(["train", *args], expected, capsys)
    assert not os.path.exists(os.path.join(out, "model.keras"))
