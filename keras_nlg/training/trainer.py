"""`train()`: corpus files in, a model directory out (what `keras-nlg train` runs)."""

import time

import keras
import tensorflow as tf

from keras_nlg import datasets
from keras_nlg.models import build_model, preset_config
from keras_nlg.tokenizers import ByteTokenizer, SentencePieceTokenizer
from keras_nlg.training.config import TrainingConfig
from keras_nlg.training.distribution import check_distribution, distribution_scope
from keras_nlg.training.fit import (
    TrainResult,
    check_out_dir,
    resolve_training_config,
)
from keras_nlg.training.text_data import as_paths, fit_on_text_files


def train(
    out_dir: str,
    config: TrainingConfig | None = None,
    *,
    data_paths=None,
    callbacks: list | None = None,
    strategy=None,
    distribution=None,
    verbose="auto",
    overwrite: bool = False,
    **overrides,
) -> TrainResult:
    """Trains a language model on text files and writes a model directory.

    Args:
        out_dir: the model directory to write (see `keras_nlg.load`). If it
            holds a backup of an interrupted run with the same settings,
            training resumes from it.
        config: a `TrainingConfig` (recipe `"lm"`); default
            `TrainingConfig()`. Its fields document every setting and default.
        data_paths: UTF-8 text file(s); default the bundled Tiny Shakespeare.
        callbacks: extra Keras callbacks, run after ours.
        strategy: a `tf.distribute.Strategy` (default: the current one).
        distribution: a `keras.distribution.Distribution` on the JAX backend
            (`DataParallel`, `ModelParallel`), instead of `strategy`; see
            `keras_nlg.training.distribution`.
        verbose: Keras' `fit` verbosity (progress bar by default).
        overwrite: replace a finished model in `out_dir` (else a
            `ValueError`: a finished model is never replaced silently).
        **overrides: `TrainingConfig` fields replacing `config`'s, e.g.
            `train(out, preset="tiny", steps=100)`.

    Raises:
        ValueError: if `out_dir` holds a finished model and `overwrite` is
            False, or a setting is invalid (naming it).
        FloatingPointError: if the loss became NaN or inf (nothing is left
            for a re-run to resume from).

    Returns:
        A `TrainResult`; its `training_config` is the config with every
        default resolved, also recorded in `config.json["training"]`.
    """
    started_at = time.monotonic()  # a `minutes` budget counts from here
    config = resolve_training_config(config, overrides, "lm", "train")
    check_out_dir(out_dir, overwrite)
    data_paths = as_paths(data_paths) or [datasets.tiny_shakespeare_path()]
    check_distribution(distribution, strategy)
    strategy = strategy or tf.distribute.get_strategy()
    keras.utils.set_random_seed(config.seed)

    if config.tokenizer == "sentencepiece":
        # A size the user chose must be met; the default may shrink to what
        # a small corpus yields.
        chosen = config.vocabulary_size is not None
        config = config.replace(vocabulary_size=config.resolved_vocabulary_size())
        tokenizer = SentencePieceTokenizer.train(
            data_paths, config.vocabulary_size, hard_vocab_limit=chosen
        )
    else:
        tokenizer = ByteTokenizer()
    model_config = preset_config(
        config.arch, config.preset, **(config.model_overrides or {})
    )
    context_length = model_config.get("context_length")  # None: no limit (LSTM)
    config = config.replace(
        sequence_length=config.resolved_sequence_length(context_length)
    )
    if context_length and config.sequence_length < context_length:
        # Positions past the training windows would keep untrained (random)
        # embeddings and generation would fall apart there: the context is
        # what the model was trained on.
        model_config["context_length"] = config.sequence_length
    with strategy.scope(), distribution_scope(distribution):
        model = build_model(
            config.arch, config.preset, tokenizer.vocabulary_size, **model_config
        )

    record = {"arch": config.arch, "preset": config.preset}
    run = dict(
        strategy=strategy,
        distribution=distribution,
        verbose=verbose,
        callbacks=callbacks,
        started_at=started_at,
    )
    return fit_on_text_files(
        model, tokenizer, out_dir, data_paths, config, record, **run
    )
