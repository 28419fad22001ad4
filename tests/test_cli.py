import json
import os
import subprocess
import sys

import pytest

from keras_nlg.cli import main

KERAS_NLG = os.path.join(os.path.dirname(sys.executable), "keras-nlg")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_FLAGS = [
    "--preset",
    "tiny",
    "--steps",
    "4",
    "--steps-per-epoch",
    "2",
    "--batch-size",
    "4",
    "--sequence-length",
    "32",
    "--max-new-tokens",
    "20",
]


def run_cli(*args):
    command = (
        [KERAS_NLG]
        if os.path.exists(KERAS_NLG)
        else [sys.executable, "-m", "keras_nlg.cli"]
    )
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=300, cwd=REPO
    )


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


def test_lstm_arch(tmp_path, corpus_file, capsys):
    out = str(tmp_path / "lstm")
    assert (
        main(
            [
                "train",
                "--arch",
                "lstm",
                "--data",
                corpus_file,
                "--out",
                out,
                *TINY_FLAGS,
            ]
        )
        == 0
    )
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
        "past_context",
        "preset",
        "arch",
        "non_positive",
        "model_dir",
        "temperature",
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    tmp_path, corpus_file, trained_model_dir, case
):
    out = str(tmp_path / "out")
    args, expected = {
        "missing": (
            ["train", "--data", str(tmp_path / "nope.txt"), "--out", out],
            "nope.txt",
        ),
        "empty": (
            ["train", "--data", write(tmp_path, "e.txt", b""), "--out", out],
            "empty",
        ),
        "non_utf8": (
            [
                "train",
                "--data",
                write(tmp_path, "b.txt", b"\xff\xfe\x00"),
                "--out",
                out,
            ],
            "UTF-8",
        ),
        "short": (
            ["train", "--data", write(tmp_path, "s.txt", b"tiny"), "--out", out],
            "fewer than one window",
        ),
        "past_context": (
            [
                "generate",
                "--model",
                trained_model_dir,
                "--prompt",
                "x",
                "--max-new-tokens",
                "500",
            ],
            "max_new_tokens=500",
        ),
        "out_is_file": (
            ["train", "--data", corpus_file, "--out", corpus_file, *TINY_FLAGS],
            corpus_file,
        ),
        "preset": (["train", "--preset", "huge", "--out", out], "huge"),
        "arch": (["train", "--arch", "gru", "--out", out], "gru"),
        "non_positive": (["train", "--steps", "-3", "--out", out], "-3"),
        "model_dir": (
            ["generate", "--model", str(tmp_path), "--prompt", "x"],
            "Not a keras_nlg model directory",
        ),
        "temperature": (
            [
                "generate",
                "--model",
                str(tmp_path),
                "--prompt",
                "x",
                "--temperature",
                "-1",
            ],
            "-1",
        ),
    }[case]
    completed = run_cli(*args)
    assert completed.returncode == 2, completed.stderr
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, completed.stderr
    assert "Traceback" not in completed.stderr
    assert expected in lines[0]
    assert not os.path.exists(os.path.join(out, "model.keras"))


def test_stream_prints_the_same_text(trained_model_dir, capsys):
    # Greedy, two prompts: streamed one by one, printed the same.
    greedy = [
        "generate",
        "--model",
        trained_model_dir,
        "--prompt",
        "床前明月",
        "--prompt",
        "KING:",
        "--max-new-tokens",
        "20",
        "--greedy",
    ]
    assert main(greedy) == 0
    plain = capsys.readouterr().out
    assert main([*greedy, "--stream"]) == 0
    assert capsys.readouterr().out == plain
    # Sampled draws depend on the batch, so compare one prompt with one prompt.
    flags = [
        "generate",
        "--model",
        trained_model_dir,
        "--prompt",
        "床前明月",
        "--max-new-tokens",
        "20",
        "--top-p",
        "0.9",
        "--seed",
        "5",
    ]
    assert main(flags) == 0
    plain = capsys.readouterr().out
    assert main([*flags, "--stream"]) == 0
    assert capsys.readouterr().out == plain
    assert main([*flags, "--stream", "--json"]) == 2
    assert "--stream" in capsys.readouterr().err
