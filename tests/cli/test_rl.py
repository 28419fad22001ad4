"""`keras-nlg rl-finetune` and `keras-nlg dpo`: a run each, bad input in one line."""

import json
import os

import pytest

import keras_nlg
from tests.cli.runner import assert_main_one_line_exit_2


def test_rl_finetune_with_a_spec_then_dpo(trained_model_dir, tmp_path, capsys):
    from keras_nlg.cli import main

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("ROMEO:\nJULIET:\nKING:\nto be\n", encoding="utf-8")
    out = tmp_path / "rl"
    code = main(
        [
            "rl-finetune",
            "--model", trained_model_dir,
            "--prompts", str(prompts),
            "--reward", "required_words=love|night:1.0,length=2-8:0.5",
            "--out", str(out),
            "--steps", "2",
            "--steps-per-epoch", "2",
            "--prompts-per-step", "2",
            "--samples-per-prompt", "2",
            "--max-new-tokens", "8",
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "reward" in printed and str(out) in printed
    assert keras_nlg.load(str(out)).config["rl"]["reward"].startswith("1*required")

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        json.dumps({"prompt": "ROMEO:", "chosen": "love", "rejected": "night"}),
        encoding="utf-8",
    )
    code = main(
        ["dpo", "--model", str(out), "--pairs", str(pairs),
         "--out", str(tmp_path / "d"), "--steps", "2", "--steps-per-epoch", "2",
         "--prompts-per-step", "1"]
    )  # fmt: skip
    assert code == 0
    assert "accuracy" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--samples-per-prompt", "1"], "samples_per_prompt"),
        (["--reward", "nonsense"], "Unknown reward 'nonsense'"),
        (["--reward", "bleu"], "needs reference texts for every prompt"),
        (["--kl-coef", "-1"], "--kl-coef"),
        (["--prompts", "EMPTY"], "is empty"),
        (["--task", "e2e", "--data", "MISSING.csv"], "MISSING.csv"),
    ],
)
def test_rl_finetune_bad_input_is_one_line(
    trained_model_dir, tmp_path, capsys, extra, expected
):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("ROMEO:\n", encoding="utf-8")
    args = {"--prompts": str(prompts), "--reward": "bleu"}
    flags = dict(zip(extra[::2], extra[1::2], strict=True))
    if "--task" in flags:
        args.pop("--prompts")
    args.update({k: (str(empty) if v == "EMPTY" else v) for k, v in flags.items()})
    argv = ["rl-finetune", "--model", trained_model_dir, "--out", str(tmp_path / "o")]
    for key, value in args.items():
        argv += [key, value]
    assert_main_one_line_exit_2(argv, expected, capsys)
    assert not os.path.exists(tmp_path / "o")


def test_dpo_bad_pairs_file_is_one_line(trained_model_dir, tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("{oops\n", encoding="utf-8")
    argv = ["dpo", "--model", trained_model_dir, "--pairs", str(pairs), "--out",
            str(tmp_path / "o")]  # fmt: skip
    assert_main_one_line_exit_2(argv, "line 1: not JSON", capsys)


def test_rl_finetune_task_e2e_rewards_slot_errors(serving_model_dir, tmp_path, capsys):
    """--task e2e: the model is prompted with each MR's text, the reward sees
    the MR itself (slot errors) and its references (BLEU)."""
    from keras_nlg.cli import main
    from tests.data.e2e_files import write_e2e_csv

    data = write_e2e_csv(tmp_path / "e2e.csv")
    out = tmp_path / "rl_e2e"
    code = main(
        ["rl-finetune", "--model", serving_model_dir, "--task", "e2e",
         "--data", data, "--reward", "slot_error:1.0,bleu:0.5", "--out", str(out),
         "--steps", "1", "--prompts-per-step", "2", "--samples-per-prompt", "2",
         "--max-new-tokens", "8"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    record = keras_nlg.load(str(out)).config["rl"]
    assert record["reward"] == "1*slot_error+0.5*bleu"


def test_help_texts_state_rlconfigs_defaults():
    """The CLI has no defaults of its own; its help quotes RLConfig's."""
    import re

    from keras_nlg.cli.rl_finetune import _HELP
    from keras_nlg.training.rl import RLConfig

    defaults = RLConfig()
    checked = 0
    for field, text in _HELP.items():
        match = re.search(r"\(default ([-\d.e]+)", text)
        if match:
            assert float(match[1]) == float(
                getattr(defaults, field)
                if field != "learning_rate"
                else defaults.resolved_learning_rate
            ), field
            checked += 1
    assert checked >= 10
