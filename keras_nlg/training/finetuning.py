"""`finetune()`: continue training a model directory on new text (full or LoRA)."""

import os
import time

import keras
import tensorflow as tf

from keras_nlg.model_directory import load
from keras_nlg.models.quantization import check_not_quantized
from keras_nlg.training.config import TrainingConfig
from keras_nlg.training.fit import (
    TrainResult,
    check_out_dir,
    resolve_training_config,
)
from keras_nlg.training.lora import enable_lora, merge_lora
from keras_nlg.training.text_data import as_paths, fit_on_text_files


def finetune(
    model_dir: str,
    data_paths,
    out_dir: str,
    config: TrainingConfig | None = None,
    *,
    callbacks: list | None = None,
    strategy=None,
    verbose="auto",
    overwrite: bool = False,
    **overrides,
) -> TrainResult:
    """Continues training a model directory on new text; writes a new one.

    The model keeps its tokenizer and context length. With `lora_rank`,
    only rank-`lora_rank` adapters on the attention and MLP projections
    train (Keras' `enable_lora`), and the saved model has them merged into
    its kernels: an ordinary model directory, no adapters left.

    Args:
        model_dir: a keras_nlg model directory (`train`, `import-gpt2`).
        data_paths: UTF-8 text file(s) to fine-tune on.
        out_dir: the model directory to write (not `model_dir`).
        config: a `TrainingConfig` (recipe `"finetune"`); default
            `TrainingConfig.for_finetune()`: batch 8, 200 steps, learning
            rate 1e-4, or 1e-3 with `lora_rank` (adapters start at zero and
            need larger steps), no weight decay.
        callbacks, strategy, verbose, overwrite: as in `keras_nlg.training.train`.
        **overrides: `TrainingConfig` fields replacing `config`'s, e.g.
            `finetune(model_dir, files, out, lora_rank=8, steps=100)`.
    """
    started_at = time.monotonic()  # a `minutes` budget counts from here
    config = resolve_training_config(config, overrides, "finetune", "finetune")
    check_out_dir(out_dir, overwrite, model_dir)
    data_paths = as_paths(data_paths)
    if not data_paths:
        raise ValueError(f"`data_paths` must name text files. Received: {data_paths}")
    strategy = strategy or tf.distribute.get_strategy()
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        model, tokenizer, source_config = load(model_dir)
        check_not_quantized(model, "Fine-tuning")
        if config.lora_rank is not None:
            enable_lora(model, config.lora_rank, config.lora_alpha)
    config = config.replace(
        sequence_length=config.resolved_sequence_length(
            getattr(model, "context_length", None)
        )
    )
    lora = config.lora_rank is not None
    model_record = {
        "arch": source_config.get("arch"),
        "preset": source_config.get("preset"),
        "finetuned_from": os.path.abspath(model_dir),
        "lora": {"rank": config.lora_rank, "alpha": config.lora_alpha}
        if lora
        else None,
    }
    run = dict(
        strategy=strategy, verbose=verbose, callbacks=callbacks, started_at=started_at
    )
    run["export_model"] = merge_lora if lora else None  # the adapters merged
    return fit_on_text_files(
        model, tokenizer, out_dir, data_paths, config, model_record, **run
    )
