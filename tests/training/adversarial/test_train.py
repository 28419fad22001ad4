"""`adversarial_train` and `keras-nlg adversarial-train` on the tiny trained
Transformer: the model directory it writes (generator and discriminator),
continuing from it, and bad input named in one line."""

import os

import numpy as np
import pytest

import keras_nlg
from keras_nlg.model_directory import load_discriminator
from keras_nlg.models import TransformerDiscriminator
from keras_nlg.training.adversarial import AdversarialConfig
from keras_nlg.training.adversarial.train import adversarial_train
from tests.cli.runner import (
    assert_main_one_line_exit_2,
    assert_one_line_exit_2,
    run_cli,
)
from tests.conftest import make_corpus

TINY = AdversarialConfig(
    steps=2,
    steps_per_epoch=2,
    batch_size=4,
    sample_length=12,
    discriminator_pretrain_steps=1,
    discriminator_steps=1,
    rollouts=2,
    mle_steps=1,
    discriminator_dim=16,
    discriminator_layers=1,
    generator_learning_rate=1e-3,
)
TEXTS = [line for line in make_corpus(40).splitlines() if line.strip()]


def test_writes_generator_and_discriminator_and_continues_from_them(
    trained_model_dir, tmp_path, caplog
):
    out = tmp_path / "gan"
    result = adversarial_train(trained_model_dir, TEXTS, str(out), TINY, verbose=0)
    for name in ("model.keras", "discriminator.keras", "config.json", "metrics.json"):
        assert os.path.isfile(out / name), name
    assert not os.path.exists(out / "checkpoints" / "backup" / "training_metadata.json")
    # TensorBoard: the epoch logs (accuracies, reward) and the sample table.
    events = [str(p) for p in (out / "logs").rglob("events.out.tfevents*")]
    assert any("samples" in p for p in events) and any("train" in p for p in events)
    loaded = keras_nlg.load(str(out))
    record = loaded.config["adversarial"]
    assert record["discriminator_model"]["class_name"] == "TransformerDiscriminator"
    assert record["discriminator_model"]["config"]["sequence_length"] == 12
    assert record["rollouts"] == 2 and record["planned_epochs"] == 2
    assert set(result.history) >= {"real_accuracy", "fake_accuracy", "reward_mean"}
    start = keras_nlg.load(trained_model_dir).model
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(start.get_weights(), loaded.model.get_weights(), strict=True)
    )
    discriminator = load_discriminator(str(out))
    assert isinstance(discriminator, TransformerDiscriminator)
    assert discriminator.sequence_length == 12
    assert keras_nlg.generate(
        loaded.model, loaded.tokenizer, ["ROMEO:"], max_new_tokens=8
    )

    # A second run starts from the saved discriminator, not a new one.
    again = tmp_path / "gan2"
    with caplog.at_level("WARNING"):
        adversarial_train(
            str(out), TEXTS, str(again), TINY.replace(discriminator="lstm"), verbose=0
        )
    assert "settings don't apply" in caplog.text
    assert isinstance(load_discriminator(str(again)), TransformerDiscriminator)
    with pytest.raises(ValueError, match="holds a finished model"):
        adversarial_train(str(out), TEXTS, str(again), TINY, verbose=0)


@pytest.mark.parametrize(
    "texts, overrides, expected",
    [
        ([], {}, "holds no real text"),
        (["  ", "\n"], {}, "holds no real text"),
        ("one string", {}, "must be a list of strings"),
        (TEXTS, {"sample_length": 64}, "can't hold the start token"),
        (TEXTS[:3], {}, "at most the 3 real sequences"),
        (TEXTS, {"rollouts": 0}, "rollouts"),
    ],
)
def test_bad_input_is_named_and_writes_nothing(
    trained_model_dir, tmp_path, texts, overrides, expected
):
    out = tmp_path / "out"
    with pytest.raises((ValueError, TypeError), match=expected):
        adversarial_train(trained_model_dir, texts, str(out), TINY, **overrides)
    assert not os.path.exists(out / "model.keras")


def test_cli_run_and_one_line_errors(trained_model_dir, tmp_path, capsys):
    from keras_nlg.cli import main

    data = tmp_path / "real.txt"
    data.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    flags = [
        "--steps", "1", "--steps-per-epoch", "1", "--batch-size", "4",
        "--sample-length", "10", "--discriminator-pretrain-steps", "1",
        "--discriminator-steps", "1", "--rollouts", "1", "--credit", "prefix",
        "--discriminator", "cnn", "--discriminator-dim", "8",
    ]  # fmt: skip
    base = ["adversarial-train", "--model", trained_model_dir, "--data", str(data)]
    assert main([*base, "--out", str(tmp_path / "g"), *flags]) == 0
    printed = capsys.readouterr().out
    assert "discriminator accuracy" in printed and str(tmp_path / "g") in printed
    assert load_discriminator(str(tmp_path / "g")).__class__.__name__ == (
        "CNNDiscriminator"
    )
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    for extra, expected in (
        (["--rollouts", "0"], "rollouts"),
        (["--credit", "bogus"], "credit"),
        (["--data", str(empty)], "is empty"),
        (["--data", str(tmp_path / "missing.txt")], "missing.txt"),
    ):
        argv = [*base, "--out", str(tmp_path / "bad"), *flags, *extra]
        assert_main_one_line_exit_2(argv, expected, capsys)
        assert not os.path.exists(tmp_path / "bad" / "model.keras")


def test_cli_bad_input_in_a_fresh_process_is_one_line(trained_model_dir, tmp_path):
    data = tmp_path / "real.txt"
    data.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    completed = run_cli(
        "adversarial-train", "--model", trained_model_dir, "--data", str(data),
        "--out", str(tmp_path / "o"), "--rollouts", "0",
    )  # fmt: skip
    assert_one_line_exit_2(completed, "Received: rollouts=0")
    assert not os.path.exists(tmp_path / "o")
