"""RL fine-tuning end to end on tiny models: it learns a toy reward, the KL
penalty holds it near the start, seeds reproduce, LSTM and LoRA work."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_nlg
from keras_nlg.model_directory import save_model_directory
from keras_nlg.models import LSTMLanguageModel
from keras_nlg.tokenizers import ByteTokenizer
from keras_nlg.training import train
from keras_nlg.training.rl import RLConfig, rl_finetune, token_log_probs
from keras_nlg.training.rl.rollouts import sample_rollouts

PROMPTS = ["a", "b", "ab ", "ba ", "bb ", "aa ", "b a ", "a b "]
# Few updates of a tiny model: a large learning rate, short completions.
TOY = RLConfig(
    steps=24,
    steps_per_epoch=4,
    prompts_per_step=4,
    samples_per_prompt=4,
    max_new_tokens=12,
    learning_rate=3e-3,
    kl_coef=0.0,
)


def share_of_a(prompts, completions, references):
    """The toy reward: the share of letters that are "a" (optimum 1)."""
    values = []
    for text in completions:
        letters = [c for c in text if c.isalpha()]
        values.append(letters.count("a") / len(letters) if letters else 0.0)
    return values


@pytest.fixture(scope="module")
def ab_model_dir(tmp_path_factory):
    """A tiny Transformer that writes words of a's and b's, about half a's."""
    root = tmp_path_factory.mktemp("ab")
    rng = np.random.default_rng(0)
    words = ["ab", "ba", "a", "b", "aab", "bba", "abab", "bb", "aa"]
    lines = [" ".join(rng.choice(words, size=10)) for _ in range(400)]
    (root / "ab.txt").write_text("\n".join(lines), encoding="utf-8")
    out = str(root / "model")
    train(
        out,
        data_paths=[str(root / "ab.txt")],
        preset="tiny",
        batch_size=16,
        sequence_length=32,
        steps=60,
        steps_per_epoch=60,
        learning_rate=3e-3,
        verbose=0,
    )
    return out


@pytest.fixture(scope="module")
def toy_run(ab_model_dir, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("toy") / "rl")
    return rl_finetune(ab_model_dir, PROMPTS, out, share_of_a, TOY, verbose=0)


def test_mean_reward_rises_to_near_the_optimum(toy_run):
    rewards = toy_run.history["reward_mean"]
    assert rewards[0] < 0.75, rewards
    assert rewards[-1] > 0.9, rewards
    assert toy_run.history["kl"][-1] > 0.5  # unpenalised, it moved far


def test_a_large_kl_coefficient_keeps_the_policy_near_the_start(
    ab_model_dir, toy_run, tmp_path
):
    held = rl_finetune(
        ab_model_dir,
        PROMPTS,
        str(tmp_path / "held"),
        share_of_a,
        TOY.replace(kl_coef=2.0),
        verbose=0,
    )
    assert max(held.history["kl"]) < 0.5, held.history["kl"]
    assert max(held.history["kl"]) < toy_run.history["kl"][-1] / 3


def test_the_written_directory_loads_and_records_the_run(toy_run):
    loaded = keras_nlg.load(toy_run.out_dir)
    for a, b in zip(
        loaded.model.get_weights(), toy_run.model.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert loaded.config["rl"]["samples_per_prompt"] == 4
    assert loaded.config["rl"]["reward"] == "share_of_a"
    logs = os.listdir(os.path.join(toy_run.out_dir, "logs"))
    assert "train" in logs and "samples" in logs
    with open(os.path.join(toy_run.out_dir, "metrics.json")) as f:
        assert set(json.load(f)) >= {"reward_mean", "reward_std", "kl", "entropy"}


def tiny_lstm_dir(directory):
    tokenizer = ByteTokenizer()
    model = LSTMLanguageModel(
        tokenizer.vocabulary_size, embedding_dim=8, units=16, num_layers=1
    )
    model(keras.ops.zeros((1, 4), "int32"))
    save_model_directory(str(directory), model, tokenizer, {"arch": "lstm"})
    return str(directory)


@pytest.mark.parametrize("arch", ["transformer", "lstm"])
def test_recomputed_log_probs_equal_the_samplers(ab_model_dir, tmp_path, arch):
    directory = ab_model_dir if arch == "transformer" else tiny_lstm_dir(tmp_path)
    model, tokenizer, _ = keras_nlg.load(directory)
    prompts = ["", "ab ", "b"]  # an empty prompt starts from end-of-text
    rollouts = sample_rollouts(model, tokenizer, prompts, 2, 10, seed=3)
    recomputed = token_log_probs(model, tf.constant(rollouts.token_ids)).numpy()
    for row, sampler in enumerate(rollouts.sampler_log_probs):
        columns = np.flatnonzero(rollouts.completion_mask[row])[: len(sampler)]
        np.testing.assert_allclose(recomputed[row, columns], sampler, atol=1e-4)


class StopAtEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("killed")


def test_an_interrupted_run_resumes_exactly(ab_model_dir, tmp_path):
    """Also the seeds' test: a second run (the resumed one) reproduces the
    first's weights only if its prompts and samples follow the seed."""
    settings = TOY.replace(steps=2, steps_per_epoch=1)
    whole = rl_finetune(
        ab_model_dir, PROMPTS, str(tmp_path / "whole"), share_of_a, settings, verbose=0
    )
    out = str(tmp_path / "resumed")
    with pytest.raises(KeyboardInterrupt):
        rl_finetune(
            ab_model_dir,
            PROMPTS,
            out,
            share_of_a,
            settings,
            callbacks=[StopAtEpoch()],
            verbose=0,
        )
    assert os.path.isdir(os.path.join(out, "checkpoints", "backup"))
    resumed = rl_finetune(ab_model_dir, PROMPTS, out, share_of_a, settings, verbose=0)
    assert len(resumed.history["reward_mean"]) == 1  # only the second epoch ran
    for a, b in zip(
        whole.model.get_weights(), resumed.model.get_weights(), strict=True
    ):
        np.testing.assert_allclose(a, b, atol=1e-6)
    start = keras_nlg.load(ab_model_dir).model.get_weights()
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(start, whole.model.get_weights(), strict=True)
    )


def test_lora_trains_only_the_adapters(ab_model_dir, tmp_path):
    result = rl_finetune(
        ab_model_dir,
        PROMPTS,
        str(tmp_path / "lora"),
        share_of_a,
        TOY.replace(
            steps=2,
            steps_per_epoch=2,
            lora_rank=2,
            learning_rate=5e-2,
            updates_per_batch=3,
        ),
        verbose=0,
    )
    start = keras_nlg.load(ab_model_dir).model
    tuned = keras_nlg.load(result.out_dir).model
    changed = {
        w.path.split("/", 1)[1]
        for w, v in zip(start.weights, tuned.weights, strict=True)
        if not np.array_equal(w.numpy(), v.numpy())
    }
    assert changed and all(name.endswith("kernel") for name in changed), changed
    assert not any("embedding" in name for name in changed)
    # Three updates per batch: the later ones are off-policy, and with this
    # learning rate some ratios leave 1 ± clip_ratio and are clipped.
    assert result.history["clip_fraction"][0] > 0


def test_the_lstm_trains_too(tmp_path):
    tokenizer = ByteTokenizer()
    model = LSTMLanguageModel(
        tokenizer.vocabulary_size, embedding_dim=8, units=16, num_layers=1
    )
    model(keras.ops.zeros((1, 4), "int32"))
    save_model_directory(str(tmp_path / "lstm"), model, tokenizer, {"arch": "lstm"})
    result = rl_finetune(
        str(tmp_path / "lstm"),
        PROMPTS,
        str(tmp_path / "lstm_rl"),
        share_of_a,
        TOY.replace(steps=1, steps_per_epoch=1, learning_rate=1e-2),
        verbose=0,
    )
    assert isinstance(keras_nlg.load(result.out_dir).model, LSTMLanguageModel)
    # The first update starts at the reference: KL 0 (no dropout noise).
    assert abs(result.history["kl"][0]) < 1e-6


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(samples_per_prompt=1), "samples_per_prompt"),
        (dict(kl_coef=float("nan")), "kl_coef"),
        (dict(prompts_per_step=100), "prompts_per_step"),
        (dict(max_new_tokens=5000), "context"),
    ],
)
def test_impossible_settings_are_named(ab_model_dir, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        rl_finetune(
            ab_model_dir, PROMPTS, str(tmp_path / "x"), share_of_a, TOY, **kwargs
        )


def test_a_reward_that_breaks_its_contract_is_named(ab_model_dir, tmp_path):
    def two_values(prompts, completions, references):
        return [1.0, 2.0]

    with pytest.raises(ValueError, match="'two_values' must return an array of shape"):
        rl_finetune(
            ab_model_dir,
            PROMPTS,
            str(tmp_path / "x"),
            two_values,
            TOY.replace(steps=1, steps_per_epoch=1),
            verbose=0,
        )
