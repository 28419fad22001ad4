"""`train_e2e()`: the E2E NLG data-to-text recipe (`keras-nlg train --task e2e`).

A decoder-only Transformer trained as a conditional language model on
`MR + "\\n" + reference + <|endoftext|>`, with the loss on the reference part
only. From scratch by default; with `init_model_dir`, it fine-tunes a model
pre-trained on general text (and keeps that model's tokenizer).
"""

import math
import os
import tempfile

import keras
import tensorflow as tf

from keras_nlg import datasets
from keras_nlg.data.e2e import (
    LENGTH_MULTIPLE,
    conditional_datasets,
    prompt_text,
    read_e2e_csv,
)
from keras_nlg.model_directory import load
from keras_nlg.models import build_model, preset_config
from keras_nlg.tokenizers import ByteTokenizer, SentencePieceTokenizer
from keras_nlg.training.callbacks import TrainingTimeLimit
from keras_nlg.training.trainer import (
    TOKENIZER_CHOICES,
    check_common_arguments,
    fit_and_save,
)
from keras_nlg.validation import check_positive_int

# The recipe's defaults, chosen on the dev set (benchmarks/RESULTS.md, "E2E").
E2E_DEFAULTS = dict(
    tokenizer="sentencepiece",
    vocabulary_size=2000,
    preset="small",
    dropout=0.1,
    epochs=6,
    batch_size=32,
    learning_rate=1e-3,
)
VALIDATION_PAIRS = 1000  # dev pairs used for val_loss (the rest is for BLEU)


def _sentencepiece_for(data, vocabulary_size):
    """A SentencePiece model trained on the MRs and references."""
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "e2e.txt")
        with open(path, "w", encoding="utf-8") as f:
            for mr, refs in zip(
                data.meaning_representations, data.references, strict=True
            ):
                f.write(mr + "\n" + "\n".join(refs) + "\n")
        return SentencePieceTokenizer.train([path], vocabulary_size)


def train_e2e(
    out_dir: str,
    train_csv: str | None = None,
    validation_csv: str | None = None,
    tokenizer: str = E2E_DEFAULTS["tokenizer"],
    vocabulary_size: int | None = None,
    preset: str = E2E_DEFAULTS["preset"],
    init_model_dir: str | None = None,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int = E2E_DEFAULTS["batch_size"],
    learning_rate: float | None = None,
    warmup_steps: int | None = None,
    weight_decay: float = 0.1,
    max_minutes: float | None = None,
    steps_per_epoch: int = 500,
    seed: int = 0,
    verbose="auto",
    model_overrides: dict | None = None,
    callbacks: list | None = None,
):
    """Trains an MR → text model on E2E-format CSVs; writes a model directory.

    Args:
        out_dir: the model directory to write.
        train_csv: training CSV (`mr`, `ref` columns); default the bundled
            E2E training set.
        validation_csv: CSV for the validation loss (its first
            `VALIDATION_PAIRS` pairs); default the bundled dev set.
        tokenizer: `"sentencepiece"` (trained on the training CSV) or
            `"byte"`; with `init_model_dir`, that model's tokenizer is used.
        vocabulary_size: SentencePiece vocabulary size (default 2000).
        preset: model size (a `TransformerLanguageModel` preset); its
            context is cut to the longest example.
        init_model_dir: start from this model directory (pre-trained on
            general text) instead of random weights.
        steps, epochs: training length (default 6 epochs: about 50 minutes
            on a 2-core CPU).
        max_minutes: stop training after this many minutes of training
            steps (the model so far is saved).
        Other arguments: as in `keras_nlg.training.train`.

    Returns:
        A `TrainResult`.
    """
    check_positive_int("steps", steps, allow_none=True)
    check_positive_int("epochs", epochs, allow_none=True)
    check_positive_int("batch_size", batch_size)
    check_positive_int("vocabulary_size", vocabulary_size, allow_none=True)
    check_common_arguments(learning_rate, out_dir)
    if tokenizer not in TOKENIZER_CHOICES:
        raise ValueError(
            f"`tokenizer` must be one of {TOKENIZER_CHOICES}. "
            f"Received: tokenizer={tokenizer!r}"
        )
    if vocabulary_size is not None and (
        tokenizer != "sentencepiece" or init_model_dir is not None
    ):
        raise ValueError(
            "`vocabulary_size` applies to a new sentencepiece tokenizer only. "
            f"Received: vocabulary_size={vocabulary_size}, tokenizer={tokenizer!r}, "
            f"init_model_dir={init_model_dir!r}"
        )
    if max_minutes is not None and not max_minutes > 0:
        raise ValueError(
            f"`max_minutes` must be > 0. Received: max_minutes={max_minutes!r}"
        )
    if steps is None and epochs is None:
        epochs = E2E_DEFAULTS["epochs"]
    train_csv = train_csv or datasets.e2e_path("train")
    validation_csv = validation_csv or datasets.e2e_path("dev")
    train_data = read_e2e_csv(train_csv)
    validation_pairs = read_e2e_csv(validation_csv).pairs()[:VALIDATION_PAIRS]
    strategy = tf.distribute.get_strategy()
    keras.utils.set_random_seed(seed)

    if init_model_dir is not None:
        model, tokenizer, source_config = load(init_model_dir)
        arch_preset = {
            "arch": source_config.get("arch"),
            "preset": source_config.get("preset"),
            "pretrained_from": os.path.abspath(init_model_dir),
        }
    elif tokenizer == "sentencepiece":
        tokenizer = _sentencepiece_for(
            train_data, vocabulary_size or E2E_DEFAULTS["vocabulary_size"]
        )
    else:
        tokenizer = ByteTokenizer()

    max_length = model.max_length if init_model_dir else None
    data = conditional_datasets(
        train_data.pairs(),
        tokenizer,
        batch_size,
        validation_pairs=validation_pairs,
        max_length=max_length,
        seed=seed,
    )
    if init_model_dir is None:
        # Context: the longest example, rounded up; positions past what
        # training sees would keep random embeddings.
        context = LENGTH_MULTIPLE * math.ceil(data.max_length / LENGTH_MULTIPLE)
        overrides = {"dropout": E2E_DEFAULTS["dropout"], **(model_overrides or {})}
        config = preset_config("transformer", preset, **overrides)
        config["max_length"] = context
        model = build_model("transformer", preset, tokenizer.vocabulary_size, **config)
        arch_preset = {"arch": "transformer", "preset": preset}

    longest_prompt = data.longest_prompt
    task = {
        "name": "e2e",
        "separator": "\n",
        "longest_example_tokens": data.max_length,
        "longest_prompt_tokens": longest_prompt,
        # Room to generate: the longest training text, the rest of the context.
        "max_new_tokens": (model.max_length or data.max_length) - longest_prompt,
    }
    limit = [TrainingTimeLimit(max_minutes * 60)] if max_minutes else []
    return fit_and_save(
        model,
        tokenizer,
        out_dir,
        data,
        config={**arch_preset, "task": task},
        data_config={
            "train_csv": os.path.abspath(train_csv),
            "validation_csv": os.path.abspath(validation_csv),
            "train_pairs": len(train_data.pairs()),
            "validation_pairs": len(validation_pairs),
        },
        steps=steps,
        epochs=epochs,
        batch_size=batch_size,
        tokens_per_step=round(batch_size * data.mean_length),
        learning_rate=learning_rate or E2E_DEFAULTS["learning_rate"],
        warmup_steps=warmup_steps,
        weight_decay=weight_decay,
        validation_steps=None,
        steps_per_epoch=steps_per_epoch,
        seed=seed,
        sample_prompt=prompt_text(validation_pairs[0][0]),
        strategy=strategy,
        verbose=verbose,
        callbacks=limit + list(callbacks or []),
    )
