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
    assert "tokenization: BLEU " in printed
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
        (["train", "--out", "{tmp}/o", "--delexicalize"],
         "`delexicalize` applies to --task e2e only"),
        (["train", "--task", "e2e", "--out", "{tmp}/o", "--documents", "line"],
         "--documents does not apply to --task e2e"),
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


def fake_evaluate_e2e(monkeypatch, outputs, references, meaning_representations):
    """`keras-nlg evaluate --task e2e` without a model: `load` gives nothing and
    `evaluate_e2e` scores the given `outputs` with the real scorers."""
    import types

    import keras_nlg
    import keras_nlg.evaluation
    from keras_nlg.evaluation.e2e import score_outputs, semantic_fidelity

    def evaluate_e2e(model, tokenizer, data, decoding=None, lowercase=True, **options):
        return {
            **score_outputs(outputs, references, lowercase=lowercase),
            **semantic_fidelity(outputs, meaning_representations),
            "meaning_representations": len(outputs),
            "num_beams": 1,
            "generation_seconds": 0.0,
            "outputs": outputs,
        }

    loaded = types.SimpleNamespace(model=None, tokenizer=None, config={})
    monkeypatch.setattr(keras_nlg, "load", lambda path: loaded)
    monkeypatch.setattr(keras_nlg.evaluation, "evaluate_e2e", evaluate_e2e)


def test_evaluate_e2e_says_which_tokenization_each_metric_used(
    tmp_path, monkeypatch, capsys
):
    """Chinese outputs: BLEU by characters (sacrebleu's "zh"), not one word a line."""
    outputs = ["床前明月光，疑是地上霜。"]
    fake_evaluate_e2e(monkeypatch, outputs, [outputs], ["name[Zizzi]"])
    csv_path = write_e2e_csv(tmp_path / "tiny.csv")
    evaluate = ["evaluate", "--task", "e2e", "--model", str(tmp_path)]
    assert main([*evaluate, "--data", csv_path]) == 0
    printed = capsys.readouterr().out
    assert "| BLEU (lowercased) | 100.00 |" in printed
    assert "| rougeL | 1.0000 |" in printed
    assert "| slot error rate | n/a (the outputs are not English) |" in printed
    assert (
        "tokenization: BLEU zh (sacrebleu), ROUGE unicode, "
        "distinct/repetition unicode words"
    ) in printed
    assert main([*evaluate, "--data", csv_path, "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["bleu_tokenize"] == "zh" and "tok:zh" in scores["bleu_signature"]
    assert scores["rouge_tokenizer"] == scores["diversity_tokenizer"] == "unicode"


def test_evaluate_e2e_prints_slot_errors_and_writes_the_report(
    tmp_path, monkeypatch, capsys
):
    from keras_nlg.data.e2e import read_e2e_csv

    csv_path = write_e2e_csv(tmp_path / "tiny.csv")
    data = read_e2e_csv(csv_path)
    # The three MRs of TINY_E2E: right; food missing; price wrong.
    outputs = [
        "The Eagle is a pub by the river.",
        "Zizzi is here.",
        "Café Rouge is cheap.",
    ]

    fake_evaluate_e2e(
        monkeypatch, outputs, data.references, data.meaning_representations
    )
    report = tmp_path / "slots.jsonl"
    evaluate = ["evaluate", "--task", "e2e", "--model", str(tmp_path)]
    args = [*evaluate, "--data", csv_path, "--slot-error-report", str(report)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    # 3 + 2 + 2 slots, 2 errors.
    assert (
        "| slot error rate | 28.57% (0 added, 1 missing, 1 wrong, 0 repeated "
        "of 7 slots) |"
    ) in printed
    lines = [json.loads(line) for line in report.read_text("utf-8").splitlines()]
    assert [line["mr"] for line in lines] == data.meaning_representations
    assert [(line["missing"], line["wrong"]) for line in lines] == [
        ([], []),
        (["food"], []),
        ([], ["priceRange"]),
    ]
    assert main([*evaluate, "--data", csv_path, "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["slot_error_rate"] == pytest.approx(2 / 7)
    assert scores["slot_errors"]["missing"] == 1
