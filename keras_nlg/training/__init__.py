"""Training: `TrainingConfig`, optimizer + schedule, callbacks, and the three
recipes `train()` (text files), `finetune()` (a model directory, full or LoRA)
and `train_e2e()` (E2E data-to-text), all through one `fit_and_save` loop.
Beyond likelihood, `keras_nlg.training.rl` holds RL fine-tuning with rewards
users define (`rl_finetune`, RLOO) and preference tuning (`dpo`)."""

from keras_nlg.training.callbacks import (
    LanguageModelStats,
    TextSampleLogger,
    TrainingTimeLimit,
)
from keras_nlg.training.config import TrainingConfig
from keras_nlg.training.e2e import train_e2e
from keras_nlg.training.finetuning import finetune
from keras_nlg.training.fit import TrainResult, fit_and_save
from keras_nlg.training.lora import enable_lora, merge_lora
from keras_nlg.training.optimizer import (
    language_model_optimizer,
    warmup_cosine_schedule,
)
from keras_nlg.training.recipes import (
    COMMAND_LINE_SAMPLE_PROMPT,
    COMMAND_LINE_SAMPLE_TOKENS,
    RECIPES,
    TRAINING_TOKENIZERS,
)
from keras_nlg.training.trainer import train

__all__ = [
    "COMMAND_LINE_SAMPLE_PROMPT",
    "COMMAND_LINE_SAMPLE_TOKENS",
    "LanguageModelStats",
    "RECIPES",
    "TRAINING_TOKENIZERS",
    "TextSampleLogger",
    "TrainingConfig",
    "TrainingTimeLimit",
    "TrainResult",
    "enable_lora",
    "finetune",
    "fit_and_save",
    "merge_lora",
    "language_model_optimizer",
    "train",
    "train_e2e",
    "warmup_cosine_schedule",
]
