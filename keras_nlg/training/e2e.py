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
from keras_nlg.evaluation.e2e import DEFAULT_NUM_BEAMS
from keras_nlg.generation.config import GenerationConfig
from keras_nlg.model_directory import load
from keras_nlg.models import build_model, preset_config
from keras_nlg.tokenizers import ByteTokenizer, SentencePieceTokenizer
from keras_nlg.training.config import E2E_DROPOUT, TrainingConfig
from keras_nlg.training.fit import (
    TrainResult,
    check_out_dir,
    fit_and_save,
    resolve_training_config,
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


def _one_csv(train_csv):
    """`train_csv` as one path (a list of one is accepted, as `--data` gives)."""
    if isinstance(train_csv, (list, tuple)):
        if len(train_csv) != 1:
            raise ValueError(
                "--task e2e takes one training CSV. "
                f"Received: train_csv={list(train_csv)}"
            )
        (train_csv,) = train_csv
    return train_csv


def train_e2e(
    out_dir: str,
    config: TrainingConfig | None = None,
    *,
    train_csv: str | None = None,
    validation_csv: str | None = None,
    init_model_dir: str | None = None,
    callbacks: list | None = None,
    verbose="auto",
    **overrides,
) -> TrainResult:
    """Trains an MR → text model on E2E-format CSVs; writes a model directory.

    Besides the model, the directory gets `generation_config.json`: beam
    search (`keras_nlg.evaluation.e2e.DEFAULT_NUM_BEAMS` beams) with room
    for the longest training text, the decoding the recipe is scored with.

    Args:
        out_dir: the model directory to write.
        config: a `TrainingConfig` (recipe `"e2e"`); default
            `TrainingConfig.for_e2e()`: a SentencePiece vocabulary of 2000
            trained on the training CSV, the `small` preset with dropout 0.1,
            6 epochs (about 50 minutes on a 2-core CPU), learning rate 1e-3.
            With `init_model_dir` its `tokenizer`, `preset` and
            `model_overrides` are not used.
        train_csv: training CSV (`mr`, `ref` columns); default the bundled
            E2E training set.
        validation_csv: CSV for the validation loss (its first
            `VALIDATION_PAIRS` pairs); default the bundled dev set.
        init_model_dir: start from this model directory (pre-trained on
            general text, its tokenizer kept) instead of random weights.
        callbacks, verbose: as in `keras_nlg.training.train`.
        **overrides: `TrainingConfig` fields replacing `config`'s.

    Returns:
        A `TrainResult`.
    """
    config = resolve_training_config(config, overrides, "e2e", "train_e2e")
    check_out_dir(out_dir)
    train_csv = _one_csv(train_csv)
    if config.vocabulary_size is not None and init_model_dir is not None:
        raise ValueError(
            "`vocabulary_size` applies to a new sentencepiece tokenizer only. "
            f"Received: vocabulary_size={config.vocabulary_size}, "
            f"init_model_dir={init_model_dir!r}"
        )
    train_csv = train_csv or datasets.e2e_path("train")
    validation_csv = validation_csv or datasets.e2e_path("dev")
    train_data = read_e2e_csv(train_csv)
    validation_pairs = read_e2e_csv(validation_csv).pairs()[:VALIDATION_PAIRS]
    strategy = tf.distribute.get_strategy()
    keras.utils.set_random_seed(config.seed)

    if init_model_dir is not None:
        model, tokenizer, source_config = load(init_model_dir)
        model_record = {
            "arch": source_config.get("arch"),
            "preset": source_config.get("preset"),
            "pretrained_from": os.path.abspath(init_model_dir),
        }
    elif config.tokenizer == "sentencepiece":
        config = config.replace(vocabulary_size=config.resolved_vocabulary_size())
        tokenizer = _sentencepiece_for(train_data, config.vocabulary_size)
    else:
        tokenizer = ByteTokenizer()

    context_length = model.context_length if init_model_dir else None
    data = conditional_datasets(
        train_data.pairs(),
        tokenizer,
        config.batch_size,
        validation_pairs=validation_pairs,
        context_length=context_length,
        seed=config.seed,
    )
    if init_model_dir is None:
        # Context: the longest example, rounded up; positions past what
        # training sees would keep random embeddings.
        context = LENGTH_MULTIPLE * math.ceil(
            data.longest_example_tokens / LENGTH_MULTIPLE
        )
        model_overrides = {"dropout": E2E_DROPOUT, **(config.model_overrides or {})}
        model_config = preset_config(config.arch, config.preset, **model_overrides)
        model_config["context_length"] = context
        model = build_model(
            config.arch, config.preset, tokenizer.vocabulary_size, **model_config
        )
        model_record = {"arch": config.arch, "preset": config.preset}

    longest_prompt = data.longest_prompt
    # Room to generate: the longest training text, the rest of the context.
    max_new_tokens = (
        model.context_length or data.longest_example_tokens
    ) - longest_prompt
    task = {
        "name": "e2e",
        "separator": "\n",
        "longest_example_tokens": data.longest_example_tokens,
        "longest_prompt_tokens": longest_prompt,
        "max_new_tokens": max_new_tokens,
    }
    if config.sample_prompt is None:
        config = config.replace(sample_prompt=prompt_text(validation_pairs[0][0]))
    result = fit_and_save(
        model,
        tokenizer,
        out_dir,
        data,
        config,
        model_record={**model_record, "task": task},
        data_record={
            "train_csv": os.path.abspath(train_csv),
            "validation_csv": os.path.abspath(validation_csv),
            "train_pairs": len(train_data.pairs()),
            "validation_pairs": len(validation_pairs),
        },
        tokens_per_step=round(config.batch_size * data.mean_length),
        strategy=strategy,
        verbose=verbose,
        callbacks=callbacks,
    )
    GenerationConfig(
        num_beams=DEFAULT_NUM_BEAMS, max_new_tokens=max_new_tokens
    ).save_pretrained(out_dir)
    return result
