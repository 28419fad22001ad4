import pytest

from keras_nlg.models import (
    PRESETS,
    LSTMLanguageModel,
    TransformerLanguageModel,
    build_model,
)


@pytest.mark.parametrize(
    "arch, cls",
    [("transformer", TransformerLanguageModel), ("lstm", LSTMLanguageModel)],
)
def test_every_small_preset_builds(arch, cls):
    for preset in ("tiny", "small"):
        model = build_model(arch, preset, vocabulary_size=258)
        assert isinstance(model, cls)
    assert set(PRESETS[arch]) >= {"tiny", "small"}


def test_overrides_replace_preset_values():
    model = build_model("transformer", "tiny", vocabulary_size=258, num_layers=3)
    assert (
        model.num_layers == 3
        and model.hidden_dim == PRESETS["transformer"]["tiny"]["hidden_dim"]
    )


def test_unknown_preset_and_arch():
    with pytest.raises(ValueError, match="preset='huge'"):
        build_model("transformer", "huge", vocabulary_size=258)
    with pytest.raises(ValueError, match="arch='gru'"):
        build_model("gru", "tiny", vocabulary_size=258)
