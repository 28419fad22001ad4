"""What RL fine-tuning and DPO share around their trainers: the output
directory check, the optimizer, `fit` with our callbacks, and saving the
tuned model as an ordinary model directory."""

from __future__ import annotations

import dataclasses
import os
import time

import keras
import numpy as np
import tensorflow as tf

from keras_nlg.model_directory import load, save_model_directory
from keras_nlg.models.quantization import check_not_quantized
from keras_nlg.training.callbacks import TrainingTimeLimit
from keras_nlg.training.checkpoints import RunBackup
from keras_nlg.training.fit import TrainResult, epoch_plan
from keras_nlg.training.lora import merge_lora


@dataclasses.dataclass
class Start:
    """The starting model directory, loaded: the policy to tune and its files."""

    model_dir: str
    policy: keras.Model
    tokenizer: object
    config: dict


def load_start(model_dir: str, purpose: str = "RL and preference tuning") -> Start:
    policy, tokenizer, config = load(model_dir)
    check_not_quantized(policy, purpose)
    return Start(model_dir, policy, tokenizer, config)


def compile_trainer(trainer, policy, config) -> None:
    """Adam (gradients clipped to norm 1) on the policy's trainable weights,
    its slots built now (not inside the first traced step)."""
    optimizer = keras.optimizers.Adam(
        config.resolved_learning_rate, global_clipnorm=1.0
    )
    trainer.compile(optimizer=optimizer)
    optimizer.build(policy.trainable_variables)


def check_batch_size(available: int, batch_size: int, what: str) -> None:
    """`ValueError` unless `batch_size` (`prompts_per_step`) ≤ `available`."""
    if available < batch_size:
        raise ValueError(
            f"`prompts_per_step` must be at most the {available} {what} given. "
            f"Received: prompts_per_step={batch_size}"
        )


def batch_of_step(available: int, batch_size: int, step: int, seed: int) -> list:
    """The indices of update `step`'s batch: a seeded permutation per pass.

    A function of the step alone, so a run resumed by `BackupAndRestore`
    (which restores the optimizer's step count) sees the same batches as one
    that never stopped.
    """
    per_pass = available // batch_size
    permutation = np.random.default_rng([seed, step // per_pass]).permutation(available)
    start = (step % per_pass) * batch_size
    return permutation[start : start + batch_size].tolist()


def step_dataset():
    """What `fit` iterates: one dummy element per step (each trainer's
    `train_step` picks its own batch from the step count, so a run resumed by
    `BackupAndRestore` continues the same sequence)."""
    return tf.data.Dataset.from_tensors(np.int64(0)).repeat()


def epochs_of(config) -> tuple[int, int]:
    """`(epochs, steps_per_epoch)`: the run's `fit` steps (`config.steps`, or
    `config.total_steps` where a trainer adds some) in equal epochs of at most
    `config.steps_per_epoch` steps (as in `train`; may round up a little)."""
    steps = getattr(config, "total_steps", config.steps)
    epochs, epoch_steps, _ = epoch_plan(steps, None, config.steps_per_epoch, 0)
    return epochs, epoch_steps


class SampleLogger(keras.callbacks.Callback):
    """Writes the last batch's samples with their rewards to TensorBoard each
    epoch (a trainer's `last_samples`: `(prompt, text, reward)` triples)."""

    def __init__(self, log_dir: str, rows: int = 8):
        super().__init__()
        self.writer = tf.summary.create_file_writer(log_dir)
        self.rows = rows

    def on_epoch_end(self, epoch, logs=None):
        samples = self.model.last_samples[: self.rows]
        table = ["| prompt | completion | reward |", "|---|---|---|"]
        for source, text, reward in samples:
            cells = [s.replace("|", "\\|").replace("\n", " ") for s in (source, text)]
            table.append(f"| {cells[0]} | {cells[1]} | {reward:.4f} |")
        with self.writer.as_default(step=epoch):
            tf.summary.text("samples", "\n".join(table))
        self.writer.flush()


def fit_trainer(trainer, out_dir, config, callbacks, verbose, log_samples=False):
    """`trainer.fit` with backups, TensorBoard, the time limit and, with
    `log_samples`, a `SampleLogger` (`logs/samples`); returns `(history,
    seconds, backup)` (the `RunBackup`, discarded once saved)."""
    epochs, epoch_steps = epochs_of(config)
    os.makedirs(out_dir, exist_ok=True)
    time_limit = (
        [TrainingTimeLimit(config.max_minutes * 60)] if config.max_minutes else []
    )
    backup = RunBackup(os.path.join(out_dir, "checkpoints", "backup"))
    start = time.perf_counter()
    history = trainer.fit(
        step_dataset(),
        epochs=epochs,
        steps_per_epoch=epoch_steps,
        shuffle=False,  # each step picks its own batch
        callbacks=[
            backup,
            keras.callbacks.TensorBoard(log_dir=os.path.join(out_dir, "logs")),
            *time_limit,
            *(
                [SampleLogger(os.path.join(out_dir, "logs", "samples"))]
                if log_samples
                else []
            ),
            *(callbacks or []),
        ],
        verbose=verbose,
    )
    return history.history, time.perf_counter() - start, backup


def save_tuned(start: Start, out_dir, config, run_record, run, discriminator=None):
    """Writes the tuned model directory (LoRA merged) and returns a `TrainResult`.

    `run_record` is what config.json says about the run (`{"rl": ...}`,
    `{"dpo": ...}` or `{"adversarial": ...}`); `run` is `fit_trainer`'s
    `(history, seconds, backup)`; a `discriminator` is saved with the model.
    """
    history, seconds, backup = run
    policy, tokenizer = start.policy, start.tokenizer
    lora = getattr(config, "lora_rank", None) is not None
    shipped = merge_lora(policy) if lora else policy
    epochs, epoch_steps = epochs_of(config)
    ((key, values),) = run_record.items()
    record = {
        **{name: start.config.get(name) for name in ("arch", "preset", "task")},
        "finetuned_from": os.path.abspath(start.model_dir),
        "model": {"class_name": type(shipped).__name__, "config": shipped.get_config()},
        "tokenizer": {"class_name": type(tokenizer).__name__},
        key: {
            **config.to_dict(),
            **values,
            "planned_epochs": epochs,
            "planned_steps_per_epoch": epoch_steps,
        },
    }
    last = backup.last_logs(history)
    metrics = {**last, "train_seconds": seconds}
    shipped.generation_config = getattr(policy, "generation_config", None)
    save_model_directory(
        out_dir,
        shipped,
        tokenizer,
        record,
        metrics,
        shipped.generation_config,
        discriminator,
    )
    backup.discard()  # only now: a kill during the save resumes from it
    return TrainResult(shipped, tokenizer, record, metrics, history, out_dir)
