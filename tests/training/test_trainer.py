import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import keras_nlg
from keras_nlg.training import TrainingConfig, train
from tests.conftest import TINY_TRAIN


def scalar_tags(log_dir):
    accumulator = EventAccumulator(log_dir, size_guidance={"tensors": 0})
    accumulator.Reload()
    return accumulator, set(accumulator.Tags()["tensors"])


def test_model_directory_contents_and_reload(trained_model_dir):
    assert {
        "model.keras",
        "tokenizer.json",
        "config.json",
        "metrics.json",
        "logs",
        "checkpoints",
    } <= set(os.listdir(trained_model_dir))
    loaded = keras_nlg.load(trained_model_dir)
    assert loaded.config["arch"] == "transformer" and loaded.config["preset"] == "tiny"
    training = loaded.config["training"]
    assert training["total_steps"] == 6
    assert (training["planned_epochs"], training["planned_steps_per_epoch"]) == (2, 3)
    # The whole config, with the defaults the run chose filled in.
    assert TrainingConfig.from_record(training) == TrainingConfig(
        preset="tiny",
        batch_size=4,
        sequence_length=32,
        steps=6,
        steps_per_epoch=3,
        learning_rate=1e-3,
        warmup_steps=0,
        jit_compile=False,  # 6 steps: compiling with XLA wouldn't pay
    )
    metrics = json.load(open(os.path.join(trained_model_dir, "metrics.json")))
    for key in (
        "loss",
        "val_loss",
        "perplexity",
        "val_perplexity",
        "tokens_per_second",
        "parameters",
    ):
        assert np.isfinite(metrics[key]), key
    assert metrics["val_perplexity"] == pytest.approx(
        np.exp(metrics["val_loss"]), rel=1e-4
    )
    best = keras.saving.load_model(
        os.path.join(trained_model_dir, "checkpoints", "best.keras")
    )
    ids = np.arange(10, dtype="int32")[None]
    assert loaded.model(ids).shape == best(ids).shape == (1, 10, 258)


def test_best_checkpoint_loads_compiled_in_a_fresh_process(trained_model_dir):
    # It names our metric and schedule: importing the models registers both.
    script = (
        "import sys, keras, keras_nlg.models; "
        "m = keras.saving.load_model(sys.argv[1]); "
        "print(m.compiled)"
    )
    path = os.path.join(trained_model_dir, "checkpoints", "best.keras")
    done = subprocess.run(
        [sys.executable, "-c", script, path], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1:] == ["True"], done.stdout


def test_tensorboard_has_scalars_learning_rate_throughput_and_text(trained_model_dir):
    logs = os.path.join(trained_model_dir, "logs")
    train_acc, train_tags = scalar_tags(os.path.join(logs, "train"))
    assert {
        "epoch_loss",
        "epoch_learning_rate",
        "epoch_tokens_per_second",
        "epoch_bits_per_token",
    } <= train_tags
    learning_rates = [
        tf.make_ndarray(e.tensor_proto)
        for e in train_acc.Tensors("epoch_learning_rate")
    ]
    assert len(learning_rates) == 2 and all(lr > 0 for lr in learning_rates)
    _, validation_tags = scalar_tags(os.path.join(logs, "validation"))
    assert "epoch_loss" in validation_tags
    samples_acc, sample_tags = scalar_tags(os.path.join(logs, "samples"))
    assert "generated_sample" in sample_tags
    texts = [
        tf.make_ndarray(e.tensor_proto).item().decode()
        for e in samples_acc.Tensors("generated_sample")
    ]
    assert len(texts) == 2 and all(t.startswith("```") for t in texts)


def test_loaded_model_reproduces_trained_model(tmp_path, corpus_file):
    result = train(
        str(tmp_path / "m"), data_paths=[corpus_file], arch="lstm", **TINY_TRAIN
    )
    loaded = keras_nlg.load(result.out_dir)
    ids = np.arange(20, dtype="int32")[None]
    np.testing.assert_allclose(loaded.model(ids), result.model(ids), atol=1e-6)
    assert result.history["loss"][-1] < result.history["loss"][0]


class CrashAtEpochEnd(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("simulated crash")


@pytest.mark.slow
def test_killed_run_resumes_where_it_stopped(tmp_path, corpus_file):
    out = str(tmp_path / "resumable")
    settings = dict(TINY_TRAIN, steps=9, steps_per_epoch=3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(out, data_paths=[corpus_file], callbacks=[CrashAtEpochEnd(1)], **settings)
    assert os.path.isdir(os.path.join(out, "checkpoints", "backup"))
    result = train(out, data_paths=[corpus_file], **settings)
    # Only the third epoch ran, and the optimizer continued from step 6.
    assert len(result.history["loss"]) == 1
    assert int(result.model.optimizer.iterations) == 9
    assert not os.path.exists(os.path.join(out, "checkpoints", "backup"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(steps=0), "steps=0"),
        (dict(steps=5, epochs=1), "not both"),
        (dict(batch_size=-2), "batch_size=-2"),
        (dict(sequence_length=1000), "sequence_length=1000"),
        (dict(preset="huge"), "preset='huge'"),
        (dict(arch="gru"), "arch='gru'"),
        (dict(learning_rate=0.0), "learning_rate=0.0"),
    ],
)
def test_bad_arguments(tmp_path, corpus_file, kwargs, match):
    settings = {**TINY_TRAIN, **kwargs}
    if "epochs" in kwargs:
        settings.pop("steps_per_epoch")
    with pytest.raises(ValueError, match=match):
        train(str(tmp_path / "bad"), data_paths=[corpus_file], **settings)


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(tmp_path, corpus_file, zygote):
    """Same train() under MirroredStrategy; needs a new process to split the CPU."""
    script = textwrap.dedent(
        f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        from keras_nlg.training import TrainingConfig, train
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        result = train(
            {str(tmp_path / "mirrored")!r},
            data_paths=[{corpus_file!r}],
            strategy=strategy,
            preset="tiny", batch_size=4, sequence_length=32, steps=4,
            steps_per_epoch=2, verbose=0,
        )
        assert result.config["training"]["replicas"] == 2, result.config
        assert result.history["loss"][-1] < result.history["loss"][0], result.history
        print("OK", result.history["loss"])
        """
    )
    # Forked from the zygote (`tests/zygote.py`): its TensorFlow runtime has
    # not started, so the two logical CPUs can still be configured.
    completed = zygote.run([sys.executable, "-c", script], timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "OK" in completed.stdout


def test_one_step_run_and_a_single_path_string(tmp_path, corpus_file):
    result = train(
        str(tmp_path / "one"), data_paths=corpus_file, **dict(TINY_TRAIN, steps=1)
    )
    assert result.config["training"]["total_steps"] == 1
    assert result.config["training"]["warmup_steps"] == 0
    assert result.config["training"]["data_paths"] == [corpus_file]


def test_xla_train_step_trains_as_the_graph_one_does(tmp_path, corpus_file):
    results = {
        jit: train(
            str(tmp_path / f"jit{jit}"),
            data_paths=[corpus_file],
            **dict(TINY_TRAIN, steps=4, jit_compile=jit),
        )
        for jit in (False, True)
    }
    assert results[True].model.jit_compile and not results[False].model.jit_compile
    assert results[True].config["training"]["jit_compile"] is True
    # Same data, same initial weights: the same losses up to float32 rounding.
    for key in ("loss", "val_loss"):
        assert results[True].metrics[key] == pytest.approx(
            results[False].metrics[key], rel=1e-4
        ), key


def test_context_is_the_trained_sequence_length(tmp_path, corpus_file):
    result = train(
        str(tmp_path / "ctx"),
        data_paths=[corpus_file],
        **dict(TINY_TRAIN, sequence_length=16, steps=1),
    )
    assert result.model.context_length == 16
    assert keras_nlg.load(result.out_dir).model.context_length == 16


def test_a_config_object_with_keyword_overrides(tmp_path, corpus_file):
    settings = {k: v for k, v in TINY_TRAIN.items() if k != "verbose"}
    config = TrainingConfig(**settings, learning_rate=5e-3)
    result = train(
        str(tmp_path / "cfg"), config, data_paths=[corpus_file], steps=1, verbose=0
    )
    expected = config.replace(steps=1, warmup_steps=0, jit_compile=False)
    assert result.training_config == expected
    record = keras_nlg.load(result.out_dir).config["training"]
    assert TrainingConfig.from_record(record) == expected
    assert record["total_steps"] == 1 and record["data_paths"] == [corpus_file]
    with pytest.raises(TypeError, match="Unknown training setting"):
        train(str(tmp_path / "x"), config, data_paths=[corpus_file], stepz=1)
    with pytest.raises(ValueError, match="recipe='finetune'"):
        train(str(tmp_path / "y"), TrainingConfig.for_finetune())
