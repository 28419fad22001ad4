"""Language models: the LSTM baseline and the GPT-style Transformer."""

from keras_nlg.models.lstm import LSTMLanguageModel
from keras_nlg.models.presets import PRESETS, build_model, preset_config, preset_names
from keras_nlg.models.transformer import TransformerLanguageModel

__all__ = [
    "LSTMLanguageModel",
    "PRESETS",
    "TransformerLanguageModel",
    "build_model",
    "preset_config",
    "preset_names",
]
