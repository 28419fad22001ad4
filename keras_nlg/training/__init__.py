"""Optimizer, schedule, callbacks and the `train()` used by the CLI."""

from keras_nlg.training.callbacks import (
    LanguageModelStats,
    TextSampleLogger,
    TrainingTimeLimit,
)
from keras_nlg.training.e2e import train_e2e
from keras_nlg.training.lora import enable_lora, merge_lora
from keras_nlg.training.optimizer import (
    language_model_optimizer,
    warmup_cosine_schedule,
)
from keras_nlg.training.trainer import TrainResult, finetune, train

__all__ = [
    "LanguageModelStats",
    "TextSampleLogger",
    "TrainingTimeLimit",
    "TrainResult",
    "enable_lora",
    "finetune",
    "merge_lora",
    "language_model_optimizer",
    "train",
    "train_e2e",
    "warmup_cosine_schedule",
]
