"""Named model sizes, in one place, and the factory that builds from them."""

from keras_nlg.models.language_model import LanguageModel
from keras_nlg.models.lstm import LSTMLanguageModel
from keras_nlg.models.transformer import TransformerLanguageModel

ARCHITECTURES = {"transformer": TransformerLanguageModel, "lstm": LSTMLanguageModel}


def _transformer(context_length, num_layers, num_heads, hidden_dim, **other):
    """A Transformer preset; the feed-forward width is 4 × `hidden_dim` unless
    `intermediate_dim` is given (GPT-2's ratio)."""
    other.setdefault("intermediate_dim", 4 * hidden_dim)
    return dict(
        context_length=context_length,
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        **other,
    )


# `tiny` is for tests and notebooks (seconds on CPU); `mini` is the shape that
# learned most per CPU-minute on 2 cores in a few minutes' budget (context 64;
# benchmarks/RESULTS.md, "Training against nanoGPT's CPU quickstart"); `small`
# for the CPU demo and benchmarks (minutes); `gpt2_124m` is the shape of the
# smallest GPT-2.
PRESETS = {
    "transformer": {
        "tiny": _transformer(
            64, num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64
        ),
        "mini": _transformer(64, num_layers=3, num_heads=4, hidden_dim=128),
        "small": _transformer(256, num_layers=4, num_heads=4, hidden_dim=256),
        "gpt2_124m": _transformer(
            1024, num_layers=12, num_heads=12, hidden_dim=768, dropout=0.1
        ),
    },
    "lstm": {
        "tiny": dict(embedding_dim=32, units=64, num_layers=1),
        "small": dict(embedding_dim=128, units=512, num_layers=2),
    },
}


def preset_names(arch: str) -> list[str]:
    """Names of the presets of one architecture."""
    if arch not in PRESETS:
        raise ValueError(
            f"Unknown `arch`. Expected one of {sorted(PRESETS)}. "
            f"Received: arch={arch!r}"
        )
    return sorted(PRESETS[arch])


def preset_config(arch: str, preset: str, **overrides) -> dict:
    """The constructor arguments of a preset (without `vocabulary_size`)."""
    if preset not in preset_names(arch):
        raise ValueError(
            f"Unknown `preset` for arch={arch!r}. Expected one of "
            f"{preset_names(arch)}. Received: preset={preset!r}"
        )
    return {**PRESETS[arch][preset], **overrides}


def build_model(
    arch: str, preset: str, vocabulary_size: int, **overrides
) -> LanguageModel:
    """Builds an un-trained model of a named size.

    Args:
        arch: `"transformer"` or `"lstm"`.
        preset: a name from `PRESETS[arch]`.
        vocabulary_size: the tokenizer's vocabulary size.
        **overrides: constructor arguments that replace the preset's.
    """
    config = preset_config(arch, preset, **overrides)
    return ARCHITECTURES[arch](vocabulary_size=vocabulary_size, **config)
