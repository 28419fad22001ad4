"""Language models: the `LanguageModel` contract, the LSTM baseline and the
GPT-style Transformer, their size presets and GPT-2 checkpoint import; and
the discriminators (sequence classifiers) of adversarial training."""

# Registered here, as the schedule below: `checkpoints/best.keras` names them.
from keras_nlg.metrics import Perplexity  # noqa: F401
from keras_nlg.models.discriminators import (
    CNNDiscriminator,
    LSTMDiscriminator,
    TransformerDiscriminator,
    build_discriminator,
)
from keras_nlg.models.language_model import CacheSpec, CacheTensor, LanguageModel
from keras_nlg.models.layouts import transformer_layout_map
from keras_nlg.models.lstm import LSTMLanguageModel
from keras_nlg.models.presets import PRESETS, build_model, preset_config, preset_names
from keras_nlg.models.transformer import TransformerLanguageModel
from keras_nlg.schedules import WarmupCosineDecay  # noqa: F401

__all__ = [
    "CNNDiscriminator",
    "CacheSpec",
    "CacheTensor",
    "LSTMDiscriminator",
    "LSTMLanguageModel",
    "LanguageModel",
    "PRESETS",
    "TransformerDiscriminator",
    "TransformerLanguageModel",
    "build_discriminator",
    "build_model",
    "preset_config",
    "preset_names",
    "transformer_layout_map",
]
