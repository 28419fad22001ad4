"""`fit_and_save`: the loop every recipe shares, from built model to model directory.

`train`, `finetune` and `train_e2e` each build a model, a tokenizer and
datasets their own way, then hand them here with their resolved
`TrainingConfig`: one compile (AdamW, warm-up + cosine, the loss over
weighted tokens), one set of callbacks (statistics, NaN stop, resumable
backups, best checkpoint, TensorBoard, text samples, time limit) and one
way of writing the directory and its `config.json` record.
"""

import dataclasses
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable

import keras

from keras_nlg.generation import sample_continuation
from keras_nlg.metrics import Perplexity
from keras_nlg.model_directory import (
    is_finished_model_directory,
    save_model_directory,
)
from keras_nlg.training.budget import plan_time_budget
from keras_nlg.training.callbacks import (
    LanguageModelStats,
    TextSampleLogger,
    TrainingTimeLimit,
)
from keras_nlg.training.checkpoints import BestModelCheckpoint, RunBackup
from keras_nlg.training.config import TrainingConfig
from keras_nlg.training.distribution import (
    distribution_scope,
    is_writer_process,
    process_count,
)
from keras_nlg.training.multi_worker import (
    check_multi_worker_config,
    keras_fit_workarounds,
    lost_worker_as_error,
    writes_outputs,
)
from keras_nlg.training.optimizer import language_model_optimizer

logger = logging.getLogger(__name__)

SAMPLE_TOKENS = 200  # length of each epoch's TensorBoard text sample


@dataclasses.dataclass
class TrainResult:
    """What `train` returns: the trained model and where its files went.

    `training_config` is the resolved config the run used (the one recorded
    in `config["training"]`).
    """

    model: keras.Model
    tokenizer: object
    config: dict
    metrics: dict
    history: dict
    out_dir: str
    training_config: TrainingConfig | None = None

    @property
    def log_dir(self):
        return os.path.join(self.out_dir, "logs")


def resolve_training_config(
    config: TrainingConfig | None, overrides: dict, recipe: str, entry_point: str
) -> TrainingConfig:
    """The config an entry point runs with: `config` (default: the recipe's
    defaults), then the call's keyword `overrides` (`None` values: the
    defaults, so callers may pass unset flags through).

    Raises:
        TypeError: if `config` is not a `TrainingConfig`, or an override is
            not a field.
        ValueError: if `config` is for another recipe.
    """
    if config is None:
        config = TrainingConfig(recipe=recipe)
    if not isinstance(config, TrainingConfig):
        raise TypeError(
            "`config` must be a TrainingConfig (pass settings as keyword "
            f"arguments). Received: config={config!r}"
        )
    config = config.replace(**overrides) if overrides else config
    if config.recipe != recipe:
        raise ValueError(
            f"`{entry_point}` runs the {recipe!r} recipe; make its config with "
            f"TrainingConfig(recipe={recipe!r}) or a named constructor. "
            f"Received: recipe={config.recipe!r}"
        )
    return config


# What `config.json["training"]` holds besides the config's fields: the data
# (text files: `data_paths`, `corpus_tokens`; E2E: `train_csv`,
# `validation_csv`, `train_pairs`, `validation_pairs`) and the plan that ran.
RUN_RECORD_KEYS = (
    *("data_paths", "corpus_tokens", "train_csv", "validation_csv", "train_pairs"),
    *("validation_pairs", "planned_epochs", "planned_steps_per_epoch"),
    *("total_steps", "replicas", "processes"),
)


def check_out_dir(out_dir, overwrite: bool = False, model_dir=None) -> None:
    """`ValueError` if `out_dir` exists and is not a directory, is the
    starting `model_dir` (fine-tuning keeps the original intact), or holds a
    finished model and `overwrite` is False (a finished model is never
    replaced without being asked; an interrupted run's backup resumes)."""
    if not isinstance(out_dir, str | os.PathLike) or not os.fspath(out_dir):
        raise TypeError(f"`out_dir` must be a path. Received: out_dir={out_dir!r}")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(
            f"`out_dir` exists and is not a directory. Received: out_dir={out_dir!r}"
        )
    if model_dir is not None and os.path.abspath(out_dir) == os.path.abspath(model_dir):
        raise ValueError(
            "`out_dir` must differ from `model_dir` (the original stays intact). "
            f"Received: out_dir={out_dir!r}"
        )
    finished = os.path.isdir(out_dir) and is_finished_model_directory(out_dir)
    if finished and not overwrite:
        raise ValueError(
            "`out_dir` holds a finished model; pass overwrite=True (CLI: "
            "--overwrite) to replace it, or choose another directory. "
            f"Received: out_dir={out_dir!r}"
        )


def epoch_plan(steps, epochs, steps_per_epoch, data_steps_per_epoch):
    """Returns `(epochs, steps_per_epoch, repeat_data)`.

    `steps=N` trains N optimizer steps in "epochs" of at most
    `steps_per_epoch` steps (validation, TensorBoard and backups happen at
    each), over a repeated dataset. `epochs=N` makes N passes over the data.
    """
    if epochs is not None:
        return epochs, data_steps_per_epoch, False
    num_epochs = math.ceil(steps / steps_per_epoch)
    return num_epochs, math.ceil(steps / num_epochs), True


def fit_and_save(
    model,
    tokenizer,
    out_dir: str,
    data,
    config: TrainingConfig,
    *,
    model_record: dict,
    data_record: dict,
    tokens_per_step: int,
    strategy,
    distribution=None,
    verbose="auto",
    callbacks: list | None = None,
    export_model: Callable | None = None,
    generation_config=None,
    started_at: float | None = None,
) -> TrainResult:
    """Compiles, fits with our callbacks and writes the model directory.

    Args:
        model, tokenizer: built (the model inside `strategy`'s scope).
        out_dir: the model directory to write.
        data: `train`/`validation` datasets of `(x, y)` or `(x, y,
            sample_weight)` batches, `steps_per_epoch`, `batch_shapes` (how
            many distinct); the loss is the mean over weighted tokens.
        config: the run's `TrainingConfig`, with the defaults that depend on
            the model and data (sequence length, vocabulary size, sample
            prompt) resolved; the training length, learning rate and
            warm-up are resolved here.
        model_record: what config.json says about the model's origin
            (`arch`, `preset`, `task`, `finetuned_from`, ...).
        data_record: what the run notes about its data (`RUN_RECORD_KEYS`).
        tokens_per_step: tokens in one global batch (for throughput).
        strategy: the `tf.distribute.Strategy` to compile in.
        distribution: a `keras.distribution.Distribution` (JAX) to compile
            and fit in, or None (see `keras_nlg.training.distribution`).
        verbose: Keras' `fit` verbosity.
        callbacks: extra Keras callbacks, run after ours.
        export_model: `export_model(model)` returns the model to ship
            (default: `model`); LoRA fine-tuning ships the adapters merged
            into the kernels.
        generation_config: the `GenerationConfig` to write with the model
            (default: the one `model` carries, e.g. a fine-tuned start's).
        started_at: `time.monotonic()` when the entry point was called: a
            `minutes` budget counts from there (default: now).

    Raises:
        FloatingPointError: if the loss became NaN or inf; the run's backup
            is removed, so a re-run starts afresh instead of resuming it.
    """
    started_at = time.monotonic() if started_at is None else started_at
    processes = process_count(distribution)
    check_multi_worker_config(strategy, config, processes)
    # False on a multi-worker run's non-chief, a multi-process run's others.
    writes = writes_outputs(strategy) and is_writer_process(distribution)
    # Every process saves what the writer saves (on multi-process JAX a save
    # is a collective); the others into a scratch folder, removed when done
    # (also if the run fails: the object's finalizer removes it).
    scratch = None if writes else tempfile.TemporaryDirectory(prefix="keras_nlg-")
    files_dir = out_dir if writes else scratch.name
    backup = RunBackup(
        os.path.join(out_dir, "checkpoints", "backup"),
        save_dir=os.path.join(files_dir, "checkpoints", "backup"),
    )
    steps, epochs = config.training_length()
    if config.minutes:
        # Compiled with a placeholder length; `_plan_budget` sizes it after
        # measuring (the schedule's step counts are variables).
        num_epochs, epoch_steps, repeat = 1, (config.warmup_steps or 0) + 2, True
    else:
        num_epochs, epoch_steps, repeat = epoch_plan(
            steps, epochs, config.resolved_steps_per_epoch(), data.steps_per_epoch
        )
    total_steps = num_epochs * epoch_steps
    given_warmup = config.warmup_steps
    config = config.replace(
        steps=steps,
        epochs=epochs,
        steps_per_epoch=config.resolved_steps_per_epoch(),
        learning_rate=config.resolved_learning_rate(),
        warmup_steps=config.resolved_warmup_steps(total_steps),
    )
    jit_compile = config.resolved_jit_compile(
        total_steps,
        strategy.num_replicas_in_sync,
        keras.backend.backend(),
        data.batch_shapes,
    )
    with strategy.scope(), distribution_scope(distribution):
        model.compile(
            optimizer=language_model_optimizer(
                config.learning_rate,
                total_steps,
                config.warmup_steps,
                config.weight_decay,
            ),
            # Mean over the weighted tokens (with a loss mask, the scored
            # ones), not over every position of the batch.
            loss=keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, reduction="mean_with_sample_weight"
            ),
            # weighted_metrics: Keras hands sample weights (the loss mask)
            # only to these; a plain `metrics` entry would average padding in.
            weighted_metrics=[Perplexity()],
            jit_compile=jit_compile,
        )
        # Without a strategy of its own, Keras creates the optimizer's slots
        # inside the first traced train step, and a tf.function that creates
        # variables is traced twice: building them here saves that second
        # trace (about 4 s of every run's start on 2 CPU cores).
        model.optimizer.build(model.trainable_variables)
    # What Keras runs: "auto" resolved, or XLA turned off where it can't go
    # (a cuDNN LSTM, op determinism).
    config = config.replace(jit_compile=bool(model.jit_compile))
    budget = []
    if config.minutes:
        time_budget = plan_time_budget(
            model,
            data,
            config,
            given_warmup,
            backup,
            started_at,
            # An epoch end's TensorBoard sample, as `TextSampleLogger` draws it.
            epoch_end_work=lambda: sample_continuation(
                model, tokenizer, config.sample_prompt, SAMPLE_TOKENS, config.seed
            ),
        )
        plan = time_budget.plan
        backup.budget = time_budget
        num_epochs, epoch_steps = plan.epochs, plan.steps_per_epoch
        budget = [time_budget]

    log_dir = os.path.join(out_dir, "logs")
    monitor = "val_loss" if data.validation is not None else "loss"
    stats = LanguageModelStats(tokens_per_step=tokens_per_step)
    time_limit = (
        [TrainingTimeLimit(config.max_minutes * 60)] if config.max_minutes else []
    )
    os.makedirs(files_dir, exist_ok=True)
    writers = [
        BestModelCheckpoint(
            os.path.join(files_dir, "checkpoints", "best.keras"),
            monitor=monitor,
            backup=backup,
        )
    ]
    if writes:
        writers.append(keras.callbacks.TensorBoard(log_dir=log_dir))
    if writes and processes == 1:  # see keras_nlg.training.distribution
        writers.append(
            TextSampleLogger(
                tokenizer,
                os.path.join(log_dir, "samples"),
                prompt=config.sample_prompt,
                max_new_tokens=SAMPLE_TOKENS,
                seed=config.seed,
            )
        )
    callbacks = [
        stats,
        keras.callbacks.TerminateOnNaN(),
        backup,
        *writers,
        *time_limit,
        *(callbacks or []),
        *budget,  # last: it measures what the others cost
    ]
    start = time.perf_counter()
    train_data = data.train.repeat() if repeat else data.train
    with (
        lost_worker_as_error(strategy, backup.backup_dir),
        keras_fit_workarounds(model, strategy, train_data),
        distribution_scope(distribution),
    ):
        history = model.fit(
            train_data,
            validation_data=data.validation,
            validation_steps=config.validation_steps,
            shuffle=False,  # the dataset shuffles itself, reproducibly
            epochs=num_epochs,
            steps_per_epoch=epoch_steps,
            callbacks=callbacks,
            verbose=verbose,
        )
    elapsed = time.perf_counter() - start
    if budget:
        # What the budget ran to: the schedule's final length and warm-up
        # (the given fields stay as given, so the record replays the run).
        total_steps = model.optimizer.schedule.total_steps
        config = config.replace(warmup_steps=model.optimizer.schedule.warmup_steps)
    last = backup.last_logs(history.history)
    # TerminateOnNaN stops on NaN and on inf; don't ship a diverged model.
    last_loss = last.get("loss", math.nan)
    if not math.isfinite(last_loss):
        backup.discard()
        raise FloatingPointError(
            f"Training stopped: the loss became {last_loss}. Try a lower learning_rate."
        )

    if generation_config is None:
        generation_config = getattr(model, "generation_config", None)
    metrics = {
        **last,
        # What ran, over every resumed part of the run: a time limit or early
        # stop may end before total_steps. `steps_this_run`: this process's.
        "steps_run": int(model.optimizer.iterations.numpy()),
        "steps_this_run": stats.steps_run,
        "resumed_from_epoch": backup.resumed_from_epoch,
        "parameters": int(model.count_params()),
        "train_seconds": elapsed,
        # Of which in train steps (the rest: validation, callbacks, tracing).
        "step_seconds": stats.step_seconds,
    }
    record = {
        **model_record,
        "model": {"class_name": type(model).__name__, "config": model.get_config()},
        "tokenizer": {"class_name": type(tokenizer).__name__},
        "training": {
            **config.to_dict(),
            **data_record,
            "planned_epochs": num_epochs,
            "planned_steps_per_epoch": epoch_steps,
            "total_steps": total_steps,
            "replicas": strategy.num_replicas_in_sync
            if distribution is None
            else getattr(distribution, "num_model_replicas", 1),
            "processes": processes,
        },
    }
    if export_model is not None:
        model = export_model(model)
    save_model_directory(
        files_dir, model, tokenizer, record, metrics, generation_config
    )
    backup.discard()  # only now: a kill during the save resumes from it
    if scratch is not None:
        scratch.cleanup()
    else:
        logger.info("Wrote model directory %s", out_dir)
    return TrainResult(
        model=model,
        tokenizer=tokenizer,
        config=record,
        metrics=metrics,
        history=history.history,
        out_dir=out_dir,
        training_config=config,
    )
