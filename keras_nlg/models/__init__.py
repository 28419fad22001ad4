"""Language models: the `LanguageModel` contract, the LSTM baseline and the
GPT-style Transformer, their size presets and GPT-2 checkpoint import."""

from keras_nlg.models.language_model import CacheSpec, CacheTensor, LanguageModel
from keras_nlg.models.lstm import LSTMLanguageModel
from keras_nlg.models.presets import PRESETS, build_model, preset_config, preset_names
from keras_nlg.models.transformer import TransformerLanguageModel

# Registers the schedule that `checkpoints/best.keras` optimizers name.
from keras_nlg.schedules import WarmupCosineDecay  # noqa: F401

__all__ = [
    "CacheSpec",
    "CacheTensor",
    "LSTMLanguageModel",
    "LanguageModel",
    "PRESETS",
    "TransformerLanguageModel",
    "build_model",
    "preset_config",
    "preset_names",
]
