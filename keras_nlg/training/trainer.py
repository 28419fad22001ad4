"""`train()`: corpus files in, a model directory out (what `keras-nlg train` runs)."""

import dataclasses
import logging
import math
import os
import time

import keras
import keras_hub
import tensorflow as tf

from keras_nlg import datasets
from keras_nlg.data import language_model_datasets, read_text_files, tokenize_documents
from keras_nlg.model_directory import load, save_model_directory
from keras_nlg.models import build_model, preset_config
from keras_nlg.tokenizers import ByteTokenizer, SentencePieceTokenizer
from keras_nlg.training.callbacks import LanguageModelStats, TextSampleLogger
from keras_nlg.training.lora import enable_lora, merge_lora
from keras_nlg.training.optimizer import language_model_optimizer
from keras_nlg.validation import check_positive_int

logger = logging.getLogger(__name__)

DEFAULT_LEARNING_RATE = {"transformer": 1e-3, "lstm": 2e-3}
DEFAULT_SEQUENCE_LENGTH = 256
DEFAULT_SENTENCEPIECE_VOCABULARY = 8000
TOKENIZER_CHOICES = ("byte", "sentencepiece")


@dataclasses.dataclass
class TrainResult:
    """What `train` returns: the trained model and where its files went."""

    model: keras.Model
    tokenizer: object
    config: dict
    metrics: dict
    history: dict
    out_dir: str

    @property
    def log_dir(self):
        return os.path.join(self.out_dir, "logs")


def _epoch_plan(steps, epochs, steps_per_epoch, data_steps_per_epoch):
    """Returns `(epochs, steps_per_epoch, repeat_data)`.

    `--steps N` trains N optimizer steps in "epochs" of at most
    `steps_per_epoch` steps (validation, TensorBoard and backups happen at
    each), over a repeated dataset. `--epochs N` makes N passes over the data.
    """
    if steps is not None and epochs is not None:
        raise ValueError(
            "Give `steps` or `epochs`, not both. "
            f"Received: steps={steps}, epochs={epochs}"
        )
    if epochs is not None:
        return epochs, data_steps_per_epoch, False
    num_epochs = math.ceil(steps / steps_per_epoch)
    return num_epochs, math.ceil(steps / num_epochs), True


def train(
    out_dir: str,
    arch: str = "transformer",
    data_paths=None,
    preset: str = "small",
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int = 32,
    sequence_length: int | None = None,
    learning_rate: float | None = None,
    warmup_steps: int | None = None,
    weight_decay: float = 0.1,
    validation_fraction: float = 0.1,
    validation_steps: int | None = None,
    steps_per_epoch: int = 200,
    seed: int = 0,
    sample_prompt: str = "\n",
    strategy=None,
    verbose="auto",
    model_overrides: dict | None = None,
    callbacks: list | None = None,
    tokenizer: str = "byte",
    vocabulary_size: int | None = None,
) -> TrainResult:
    """Trains a language model on text files and writes a model directory.

    Args:
        out_dir: the model directory to write (see `keras_nlg.load`). If it
            holds a backup of an interrupted run with the same settings,
            training resumes from it.
        arch: `"transformer"` or `"lstm"`.
        data_paths: UTF-8 text file(s); default the bundled Tiny Shakespeare.
        preset: model size from `keras_nlg.models.PRESETS`.
        steps: optimizer steps to train (default 1000 when neither `steps`
            nor `epochs` is given).
        epochs: full passes over the training data instead of `steps`.
        batch_size: global batch size (split across replicas).
        sequence_length: tokens per example; default the model's context
            length capped at 256.
        learning_rate: peak AdamW learning rate (default per arch).
        warmup_steps: linear warm-up steps (default 5% of training, ≤ 200).
        weight_decay: AdamW decoupled weight decay.
        validation_fraction: held-out tail of the corpus.
        validation_steps: cap on validation batches per epoch (default all).
        steps_per_epoch: with `steps`, the most steps between validations,
            logs and backups; `steps` is split into equal epochs, so it may be
            rounded up by a few steps (recorded as `total_steps`).
        seed: seed of weights, data order and samples.
        sample_prompt: prompt of the TensorBoard text sample.
        strategy: a `tf.distribute.Strategy` (default: the current one).
        verbose: Keras' `fit` verbosity (progress bar by default).
        model_overrides: constructor arguments replacing the preset's.
        callbacks: extra Keras callbacks, run after ours.
        tokenizer: `"byte"`, or `"sentencepiece"` (a unigram SentencePiece
            model trained on `data_paths` first).
        vocabulary_size: SentencePiece vocabulary size (default 8000).

    Returns:
        A `TrainResult`.
    """
    if tokenizer not in TOKENIZER_CHOICES:
        raise ValueError(
            f"`tokenizer` must be one of {TOKENIZER_CHOICES}. "
            f"Received: tokenizer={tokenizer!r}"
        )
    if vocabulary_size is not None and tokenizer != "sentencepiece":
        raise ValueError(
            "`vocabulary_size` applies to the sentencepiece tokenizer only. "
            f"Received: vocabulary_size={vocabulary_size}, tokenizer={tokenizer!r}"
        )
    check_positive_int("vocabulary_size", vocabulary_size, allow_none=True)
    check_positive_int("steps", steps, allow_none=True)
    check_positive_int("epochs", epochs, allow_none=True)
    check_positive_int("batch_size", batch_size)
    check_positive_int("sequence_length", sequence_length, allow_none=True)
    check_positive_int("steps_per_epoch", steps_per_epoch)
    check_positive_int("validation_steps", validation_steps, allow_none=True)
    check_common_arguments(learning_rate, out_dir)
    if steps is None and epochs is None:
        steps = 1000
    data_paths = _as_paths(data_paths) or [datasets.tiny_shakespeare_path()]
    strategy = strategy or tf.distribute.get_strategy()
    keras.utils.set_random_seed(seed)

    if tokenizer == "sentencepiece":
        tokenizer = SentencePieceTokenizer.train(
            data_paths, vocabulary_size or DEFAULT_SENTENCEPIECE_VOCABULARY
        )
    else:
        tokenizer = ByteTokenizer()
    model_config = preset_config(arch, preset, **(model_overrides or {}))
    max_length = model_config.get("max_length")  # None: no context limit (LSTM)
    if sequence_length is None:
        sequence_length = min(
            max_length or DEFAULT_SEQUENCE_LENGTH, DEFAULT_SEQUENCE_LENGTH
        )
    _check_sequence_length(sequence_length, max_length)
    if max_length and sequence_length < max_length:
        # Positions past the training windows would keep untrained (random)
        # embeddings and generation would fall apart there: the context is
        # what the model was trained on.
        model_config["max_length"] = sequence_length
    with strategy.scope():
        model = build_model(arch, preset, tokenizer.vocabulary_size, **model_config)

    learning_rate = learning_rate or DEFAULT_LEARNING_RATE[arch]
    data, data_config = _text_file_data(
        data_paths, tokenizer, sequence_length, batch_size, validation_fraction, seed
    )
    return fit_and_save(
        model,
        tokenizer,
        out_dir,
        data,
        config={"arch": arch, "preset": preset},
        data_config=data_config,
        steps=steps,
        epochs=epochs,
        batch_size=batch_size,
        tokens_per_step=batch_size * sequence_length,
        learning_rate=learning_rate,
        warmup_steps=warmup_steps,
        weight_decay=weight_decay,
        validation_steps=validation_steps,
        steps_per_epoch=steps_per_epoch,
        seed=seed,
        sample_prompt=sample_prompt,
        strategy=strategy,
        verbose=verbose,
        callbacks=callbacks,
    )


def check_common_arguments(learning_rate, out_dir):
    if learning_rate is not None and not learning_rate > 0:
        raise ValueError(
            f"`learning_rate` must be > 0. Received: learning_rate={learning_rate!r}"
        )
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(
            f"`out_dir` exists and is not a directory. Received: out_dir={out_dir!r}"
        )


def _check_sequence_length(sequence_length, max_length):
    if max_length and sequence_length > max_length:
        raise ValueError(
            f"`sequence_length` must be ≤ the model's max_length={max_length}. "
            f"Received: sequence_length={sequence_length}"
        )


def _as_paths(data_paths):
    if isinstance(data_paths, (str, os.PathLike)):
        return [data_paths]
    return list(data_paths or [])


def _text_file_data(
    data_paths, tokenizer, sequence_length, batch_size, validation_fraction, seed
):
    """Text files → `(LanguageModelData, what config.json records about it)`."""
    tokens = tokenize_documents(read_text_files(data_paths), tokenizer)
    data = language_model_datasets(
        tokens, sequence_length, batch_size, validation_fraction, seed=seed
    )
    data_config = {
        "data_paths": [os.path.abspath(p) for p in data_paths],
        "corpus_tokens": int(len(tokens)),
        "sequence_length": sequence_length,
        "validation_fraction": validation_fraction,
    }
    return data, data_config


def fit_and_save(
    model,
    tokenizer,
    out_dir,
    data,
    config,
    data_config,
    steps,
    epochs,
    batch_size,
    tokens_per_step,
    learning_rate,
    warmup_steps,
    weight_decay,
    validation_steps,
    steps_per_epoch,
    seed,
    sample_prompt,
    strategy,
    verbose,
    callbacks,
    export_model=None,
):
    """Compiles, fits with our callbacks and writes the model directory.

    `data` has `train` and `validation` datasets of `(x, y)` or
    `(x, y, sample_weight)` batches and `steps_per_epoch`; the loss is the
    mean over weighted tokens. `export_model(model)` returns the model to
    ship (default: `model`); LoRA fine-tuning ships the adapters merged
    into the kernels.
    """
    num_epochs, epoch_steps, repeat = _epoch_plan(
        steps, epochs, steps_per_epoch, data.steps_per_epoch
    )
    total_steps = num_epochs * epoch_steps
    if warmup_steps is None:
        # 5% of training, at most 200 steps; none for a one-step run.
        warmup_steps = min(200, total_steps // 20)
    with strategy.scope():
        model.compile(
            optimizer=language_model_optimizer(
                learning_rate, total_steps, warmup_steps, weight_decay
            ),
            # Mean over the weighted tokens (with a loss mask, the scored
            # ones), not over every position of the batch.
            loss=keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, reduction="mean_with_sample_weight"
            ),
            # weighted_metrics: Keras hands sample weights (the loss mask)
            # only to these; a plain `metrics` entry would average padding in.
            weighted_metrics=[
                keras_hub.metrics.Perplexity(from_logits=True, name="perplexity")
            ],
        )

    os.makedirs(out_dir, exist_ok=True)
    log_dir = os.path.join(out_dir, "logs")
    checkpoint_dir = os.path.join(out_dir, "checkpoints")
    monitor = "val_loss" if data.validation is not None else "loss"
    stats = LanguageModelStats(tokens_per_step=tokens_per_step)
    callbacks = [
        stats,
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.BackupAndRestore(os.path.join(checkpoint_dir, "backup")),
        keras.callbacks.ModelCheckpoint(
            os.path.join(checkpoint_dir, "best.keras"),
            monitor=monitor,
            save_best_only=True,
        ),
        keras.callbacks.TensorBoard(log_dir=log_dir),
        TextSampleLogger(
            tokenizer, os.path.join(log_dir, "samples"), prompt=sample_prompt, seed=seed
        ),
        *(callbacks or []),
    ]
    start = time.perf_counter()
    history = model.fit(
        data.train.repeat() if repeat else data.train,
        validation_data=data.validation,
        validation_steps=validation_steps,
        shuffle=False,  # the dataset shuffles itself, reproducibly
        epochs=num_epochs,
        steps_per_epoch=epoch_steps,
        callbacks=callbacks,
        verbose=verbose,
    )
    elapsed = time.perf_counter() - start
    # TerminateOnNaN stops on NaN and on inf; don't ship a diverged model.
    last_loss = history.history.get("loss", [math.nan])[-1]
    if not math.isfinite(last_loss):
        raise FloatingPointError(
            f"Training stopped: the loss became {last_loss}. Try a lower learning_rate."
        )

    last = {key: float(values[-1]) for key, values in history.history.items() if values}
    metrics = {
        **last,
        # What ran: a time limit or early stop may end before total_steps.
        "steps_run": stats.steps_run,
        "parameters": int(model.count_params()),
        "train_seconds": elapsed,
    }
    config = {
        **config,
        "model": {"class_name": type(model).__name__, "config": model.get_config()},
        "tokenizer": {"class_name": type(tokenizer).__name__},
        "training": {
            **data_config,
            "batch_size": batch_size,
            "epochs": num_epochs,
            "steps_per_epoch": epoch_steps,
            "total_steps": total_steps,
            "learning_rate": learning_rate,
            "warmup_steps": warmup_steps,
            "weight_decay": weight_decay,
            "seed": seed,
            "replicas": strategy.num_replicas_in_sync,
        },
    }
    if export_model is not None:
        model = export_model(model)
    save_model_directory(out_dir, model, tokenizer, config, metrics)
    logger.info("Wrote model directory %s", out_dir)
    return TrainResult(
        model=model,
        tokenizer=tokenizer,
        config=config,
        metrics=metrics,
        history=history.history,
        out_dir=out_dir,
    )


def finetune(
    model_dir: str,
    data_paths,
    out_dir: str,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int = 8,
    sequence_length: int | None = None,
    learning_rate: float | None = None,
    lora_rank: int | None = None,
    lora_alpha: float | None = None,
    warmup_steps: int | None = None,
    weight_decay: float = 0.0,
    validation_fraction: float = 0.1,
    validation_steps: int | None = None,
    steps_per_epoch: int = 200,
    seed: int = 0,
    sample_prompt: str = "\n",
    strategy=None,
    verbose="auto",
    callbacks: list | None = None,
) -> TrainResult:
    """Continues training a model directory on new text; writes a new one.

    The model keeps its tokenizer and context length. With `lora_rank`,
    only rank-`lora_rank` adapters on the attention and MLP projections
    train (Keras' `enable_lora`), and the saved model has them merged into
    its kernels: an ordinary model directory, no adapters left.

    Args:
        model_dir: a keras_nlg model directory (`train`, `import-gpt2`).
        data_paths: UTF-8 text file(s) to fine-tune on.
        out_dir: the model directory to write.
        learning_rate: peak learning rate; default 1e-4, or 1e-3 with LoRA
            (adapters start at zero and need larger steps).
        lora_rank: adapter rank; `None` fine-tunes every weight.
        lora_alpha: LoRA scale numerator (update scaled by alpha / rank).
        sequence_length: tokens per example; default the model's context
            capped at 256.
        Other arguments: as in `train` (default 200 steps).
    """
    check_common_arguments(learning_rate, out_dir)
    check_positive_int("lora_rank", lora_rank, allow_none=True)
    data_paths = _as_paths(data_paths)
    if not data_paths:
        raise ValueError(f"`data_paths` must name text files. Received: {data_paths}")
    if os.path.abspath(out_dir) == os.path.abspath(model_dir):
        raise ValueError(
            "`out_dir` must differ from `model_dir` (the original stays intact). "
            f"Received: out_dir={out_dir!r}"
        )
    if steps is None and epochs is None:
        steps = 200
    strategy = strategy or tf.distribute.get_strategy()
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model, tokenizer, source_config = load(model_dir)
        if lora_rank is not None:
            enable_lora(model, lora_rank, lora_alpha)
    max_length = getattr(model, "max_length", None)
    if sequence_length is None:
        sequence_length = min(max_length or DEFAULT_SEQUENCE_LENGTH, 256)
    _check_sequence_length(sequence_length, max_length)
    learning_rate = learning_rate or (1e-3 if lora_rank else 1e-4)
    config = {
        "arch": source_config.get("arch"),
        "preset": source_config.get("preset"),
        "finetuned_from": os.path.abspath(model_dir),
        "lora": None if lora_rank is None else {"rank": lora_rank, "alpha": lora_alpha},
    }
    data, data_config = _text_file_data(
        data_paths, tokenizer, sequence_length, batch_size, validation_fraction, seed
    )
    return fit_and_save(
        model,
        tokenizer,
        out_dir,
        data,
        config=config,
        data_config=data_config,
        steps=steps,
        epochs=epochs,
        batch_size=batch_size,
        tokens_per_step=batch_size * sequence_length,
        learning_rate=learning_rate,
        warmup_steps=warmup_steps,
        weight_decay=weight_decay,
        validation_steps=validation_steps,
        steps_per_epoch=steps_per_epoch,
        seed=seed,
        sample_prompt=sample_prompt,
        strategy=strategy,
        verbose=verbose,
        callbacks=callbacks,
        export_model=merge_lora if lora_rank is not None else None,
    )
