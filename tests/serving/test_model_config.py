"""`keras_nlg.serving.model_config`: TF Serving's models.config and version
policy."""

import os

import pytest

from keras_nlg.serving.model_config import ModelConfig

SERVING_CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "serving_configs")


def test_bundled_models_config_parses():
    (config,) = ModelConfig.from_file(os.path.join(SERVING_CONFIGS, "models.config"))
    assert config.name == "shakespeare" and config.policy == "specific"
    assert config.labels == {"stable": 1, "canary": 2}
    assert config.wanted([1, 2, 3]) == [1, 2]


@pytest.mark.parametrize(
    "policy, versions, wanted",
    [("latest", (), [3]), ("all", (), [1, 2, 3]), ("specific", (2, 7), [2])],
)
def test_version_policy(policy, versions, wanted):
    config = ModelConfig("m", "/nowhere", policy, versions)
    assert config.wanted([3, 1, 2]) == wanted
    assert config.wanted([]) == []
