"""`keras-nlg evaluate` (perplexity and E2E scores) and `train --task e2e`."""

import json

import pytest

from keras_nlg.cli import main
from keras_nlg.generation.config import GenerationConfig
from tests.cli.runner import run_cli
from tests.data.e2e_files import TINY_E2E, write_e2e_csv

E2E_TINY_FLAGS = [
    "--preset",
    "tiny",
    "--tokenizer",
    "byte",
    "--steps",
    "2",
    "--steps-per-epoch",
    "2",
    "--batch-size",
    "2",
]


def test_evaluate_perplexity(trained_model_dir, corpus_file, capsys):
    assert main(["evaluate", "--model", trained_model_dir, "--data", corpus_file]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("perplexity ") and "bits/byte" in printed
    assert "windows of 32 tokens at stride 16" in printed
    flags = ["--context", "16", "--stride", "8", "--json"]
    assert (
        main(["evaluate", "--model", trained_model_dir, "--data", corpus_file, *flags])
        == 0
    )
    figures = json.loads(capsys.readouterr().out)
    assert figures["context"] == 16 and figures["stride"] == 8
    assert figures["perplexity"] > 1


@pytest.mark.slow
def test_train_e2e_then_evaluate_writes_the_outputs_file(tmp_path, capsys):
    csv_path = write_e2e_csv(tmp_path / "tiny.csv")
    out = str(tmp_path / "model")
    train = ["train", "--task", "e2e", "--data", csv_path, "--out", out]
    assert main([*train, "--validation-data", csv_path, *E2E_TINY_FLAGS]) == 0
    assert "score it: keras-nlg evaluate --task e2e" in capsys.readouterr().out

    outputs = tmp_path / "outputs.txt"
    evaluate = ["evaluate", "--task", "e2e", "--model", out, "--data", csv_path]
    flags = ["--num-beams", "2", "--max-new-tokens", "8", "--output", str(outputs)]
    assert main([*evaluate, *flags]) == 0
    printed = capsys.readouterr().out
    assert "| BLEU (lowercased) |" in printed and "| rougeL |" in printed
    assert "| distinct_2 |" in printed and "3 MRs, beam 2" in printed
    assert len(outputs.read_text(encoding="utf-8").splitlines()) == 3

    assert main([*evaluate, "--max-new-tokens", "8", "--json", "--cased"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert "case:mixed" in scores["bleu_signature"] and scores["num_beams"] == 3

    # The beam width defaults to the model's generation_config.json.
    GenerationConfig(num_beams=2).save_pretrained(out)
    assert main([*evaluate, "--max-new-tokens", "8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["num_beams"] == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["evaluate", "--model", "{model}", "--data", "{bad_csv}", "--task", "e2e"],
         "missing ['ref']"),
        (["evaluate", "--model", "{model}", "--data", "{bad_mr}", "--task", "e2e"],
         "row 3: the MR must be"),
        (["evaluate", "--model", "{model}", "--data", "{csv}", "--output", "o.txt"],
         "--output applies to --task e2e only"),
        (["evaluate", "--model", "{model}", "--data", "{csv}", "--task", "e2e",
          "--stride", "4"], "--stride applies to perplexity"),
        (["evaluate", "--model", "{model}", "--data", "{csv}", "--context", "64"],
         "window_length=64"),
        (["evaluate", "--model", "{tmp}/none", "--data", "{csv}"],
         "Model directory not found"),
        (["train", "--task", "e2e", "--out", "{tmp}/o", "--arch", "lstm"],
         "--arch lstm"),
        (["train", "--task", "e2e", "--out", "{tmp}/o", "--sequence-length", "8"],
         "--sequence-length does not apply"),
        (["train", "--out", "{tmp}/o", "--init", "{model}"],
         "--init applies to --task e2e only"),
        (["train", "--task", "e2e", "--out", "{tmp}/o", "--sample-prompt", "x"],
         "--sample-prompt does not apply"),
        (["train", "--task", "e2e", "--out", "{tmp}/o", "--tokenizer", "byte",
          "--vocab-size", "300"], "vocabulary_size=300"),
        (["evaluate", "--model", "{model}", "--data", "{csv}", "--cased"],
         "--cased applies to --task e2e only"),
        (["train", "--task", "e2e", "--out", "{tmp}/o", "--data", "{bad_mr}"],
         "row 3"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_code_2(
    tmp_path, trained_model_dir, capsys, args, message
):
    paths = {
        "{tmp}": str(tmp_path),
        "{model}": trained_model_dir,
        "{csv}": write_e2e_csv(tmp_path / "ok.csv"),
        "{bad_csv}": write_e2e_csv(tmp_path / "bad.csv", [("a",)], header=("mr",)),
        "{bad_mr}": write_e2e_csv(
            tmp_path / "bad_mr.csv", [TINY_E2E[0], ("name[x", "Text.")]
        ),
    }
    for key, value in paths.items():
        args = [a.replace(key, value) for a in args]
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_bad_csv_in_a_fresh_process_has_no_traceback(tmp_path, trained_model_dir):
    bad = write_e2e_csv(tmp_path / "bad.csv", [("name[x]", "")])
    completed = run_cli(
        "evaluate", "--task", "e2e", "--model", trained_model_dir, "--data", bad
    )
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "row 2: empty ref" in lines[0], completed.stderr
