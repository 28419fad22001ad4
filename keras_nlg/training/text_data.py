"""Text files → packed training windows, and what config.json records about them.

Shared by `train` and `finetune`, which both learn from plain text; the E2E
recipe reads CSV pairs instead (`keras_nlg.data.e2e`).
"""

import os

from keras_nlg.data import language_model_datasets, read_text_files, tokenize_documents
from keras_nlg.data.windows import validation_batch_size
from keras_nlg.training.fit import fit_and_save


def as_paths(data_paths) -> list:
    """`data_paths` as a list: one path (str or PathLike) or several."""
    if isinstance(data_paths, (str, os.PathLike)):
        return [data_paths]
    return list(data_paths or [])


def text_file_data(data_paths, tokenizer, config):
    """`(LanguageModelData, data record)` for a resolved `TrainingConfig`.

    The record (`data_paths`, `corpus_tokens`) joins config.json's
    `"training"`; export reads `data_paths` and `validation_fraction` from it
    to find held-out text (`keras_nlg.export.tflite_quality`).
    """
    texts = read_text_files(data_paths)
    if config.documents == "line":
        texts = [line for text in texts for line in text.splitlines() if line.strip()]
    tokens = tokenize_documents(texts, tokenizer)
    data = language_model_datasets(
        tokens,
        config.sequence_length,
        config.batch_size,
        config.validation_fraction,
        seed=config.seed,
        # Larger batches validate faster; with `validation_steps` (a cap in
        # batches) they stay training-sized, so the cap means what it says.
        validation_batch_size=None
        if config.validation_steps
        else validation_batch_size(
            config.batch_size, config.sequence_length, tokenizer.vocabulary_size
        ),
    )
    record = {
        "data_paths": [os.path.abspath(p) for p in data_paths],
        "corpus_tokens": int(len(tokens)),
        "documents_read": len(texts),
    }
    return data, record


def fit_on_text_files(
    model, tokenizer, out_dir, data_paths, config, model_record, **fit_options
):
    """`fit_and_save` on the windows of `data_paths` (`train` and `finetune`).

    `fit_options` are `fit_and_save`'s keyword arguments after `data_record`
    and `tokens_per_step` (strategy, verbose, callbacks, export_model).
    """
    data, data_record = text_file_data(data_paths, tokenizer, config)
    return fit_and_save(
        model,
        tokenizer,
        out_dir,
        data,
        config,
        model_record=model_record,
        data_record=data_record,
        tokens_per_step=config.batch_size * config.sequence_length,
        **fit_options,
    )
