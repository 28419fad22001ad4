"""`train_e2e()`: the E2E NLG data-to-text recipe (`keras-nlg train --task e2e`).

A decoder-only Transformer trained as a conditional language model on
`MR + "\\n" + reference + <|endoftext|>`, with the loss on the reference part
only. From scratch by default; with `init_model_dir`, it fine-tunes a model
pre-trained on general text (and keeps that model's tokenizer).
"""

import math
import os
import tempfile
import time

import keras
import tensorflow as tf

from keras_nlg import datasets
from keras_nlg.data.delexicalize import delexicalize_data
from keras_nlg.data.e2e import (
    LENGTH_MULTIPLE,
    conditional_datasets,
    parse_meaning_representation,
    prompt_text,
    read_e2e_csv,
)
from keras_nlg.evaluation.e2e import DEFAULT_NUM_BEAMS, DEFAULT_RERANK
from keras_nlg.evaluation.e2e_slots import SLOTS
from keras_nlg.generation.config import GenerationConfig
from keras_nlg.model_directory import load
from keras_nlg.models import build_model, preset_config
from keras_nlg.models.quantization import check_not_quantized
from keras_nlg.tokenizers import ByteTokenizer, SentencePieceTokenizer
from keras_nlg.training.config import TrainingConfig
from keras_nlg.training.fit import (
    TrainResult,
    check_out_dir,
    fit_and_save,
    resolve_training_config,
)
from keras_nlg.training.recipes import E2E_DROPOUT

VALIDATION_PAIRS = 1000  # dev pairs used for val_loss (the rest is for BLEU)


def _sentencepiece_for(data, vocabulary_size, hard_vocab_limit):
    """A SentencePiece model trained on the MRs and references."""
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "e2e.txt")
        with open(path, "w", encoding="utf-8") as f:
            for mr, refs in zip(
                data.meaning_representations, data.references, strict=True
            ):
                f.write(mr + "\n" + "\n".join(refs) + "\n")
        return SentencePieceTokenizer.train(
            [path], vocabulary_size, hard_vocab_limit=hard_vocab_limit
        )


# The text budget: the longest training text (with end-of-text) times this.
TEXT_HEADROOM = 1.25


def _longest_in_format_prompt(data, tokenizer):
    """Prompt tokens of the longest MR the E2E format allows: every slot, each
    with the value (seen in `data`) whose `slot[value]` is the longest."""
    values = {}
    for mr in data.meaning_representations:
        for slot, value in parse_meaning_representation(mr).items():
            values.setdefault(slot, set()).add(value)
    parts = []
    for slot in SLOTS:
        options = sorted(values.get(slot, ()))
        if options:
            pieces = [f"{slot}[{value}]" for value in options]
            lengths = [len(ids) for ids in tokenizer.tokenize(pieces).to_list()]
            parts.append(pieces[lengths.index(max(lengths))])
    prompt = prompt_text(", ".join(parts))
    return len(tokenizer.tokenize([prompt]).to_list()[0])


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
    overwrite: bool = False,
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
        callbacks, verbose, overwrite: as in `keras_nlg.training.train`.
        **overrides: `TrainingConfig` fields replacing `config`'s.

    Returns:
        A `TrainResult`.
    """
    started_at = time.monotonic()  # a `minutes` budget counts from here
    config = resolve_training_config(config, overrides, "e2e", "train_e2e")
    check_out_dir(out_dir, overwrite)
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
    validation_data = read_e2e_csv(validation_csv)
    if config.delexicalize:
        train_data = delexicalize_data(train_data)
        validation_data = delexicalize_data(validation_data)
    validation_pairs = validation_data.pairs()[:VALIDATION_PAIRS]
    strategy = tf.distribute.get_strategy()
    keras.utils.set_random_seed(config.seed)

    if init_model_dir is not None:
        model, tokenizer, source_config = load(init_model_dir)
        check_not_quantized(model, "Training from --init")
        model_record = {
            "arch": source_config.get("arch"),
            "preset": source_config.get("preset"),
            "pretrained_from": os.path.abspath(init_model_dir),
        }
    elif config.tokenizer == "sentencepiece":
        chosen = config.vocabulary_size is not None  # else it may shrink
        config = config.replace(vocabulary_size=config.resolved_vocabulary_size())
        tokenizer = _sentencepiece_for(train_data, config.vocabulary_size, chosen)
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
    # Tokens to allow for a text: the longest training text's, with headroom.
    text_budget = math.ceil(TEXT_HEADROOM * data.longest_text)
    if init_model_dir is None:
        # Context: room for the longest MR the format allows (every slot,
        # each with its longest value) and a generous text, or the longest
        # training example if longer, rounded up. Positions past the longest
        # training example get no gradient (their embeddings stay near their
        # random start): only such MRs use them, and they are rare; without
        # them such an MR could not be generated at all.
        longest_prompt_allowed = _longest_in_format_prompt(train_data, tokenizer)
        context = LENGTH_MULTIPLE * math.ceil(
            max(data.longest_example_tokens, longest_prompt_allowed + text_budget)
            / LENGTH_MULTIPLE
        )
        model_overrides = {"dropout": E2E_DROPOUT, **(config.model_overrides or {})}
        model_config = preset_config(config.arch, config.preset, **model_overrides)
        model_config["context_length"] = context
        model = build_model(
            config.arch, config.preset, tokenizer.vocabulary_size, **model_config
        )
        model_record = {"arch": config.arch, "preset": config.preset}

    # Room to generate: the text budget; `generate_for_mrs` cuts it per
    # batch to what the context leaves after the prompts.
    max_new_tokens = text_budget
    if model.context_length is not None:
        max_new_tokens = min(text_budget, model.context_length - data.longest_prompt)
    task = {
        "name": "e2e",
        "separator": "\n",
        "longest_example_tokens": data.longest_example_tokens,
        "longest_prompt_tokens": data.longest_prompt,
        "max_new_tokens": max_new_tokens,
        "delexicalize": config.delexicalize,
        "rerank": DEFAULT_RERANK,
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
        started_at=started_at,
        generation_config=GenerationConfig(
            num_beams=DEFAULT_NUM_BEAMS, max_new_tokens=max_new_tokens
        ),
    )
    return result
