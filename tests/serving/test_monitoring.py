"""`keras_nlg.serving.monitoring`: the Prometheus path of a monitoring config."""

import os

import pytest

from keras_nlg.serving.monitoring import DEFAULT_PROMETHEUS_PATH, prometheus_path

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize(
    "text, expected",
    [
        ('prometheus_config {\n  enable: true\n  path: "/metrics"\n}\n', "/metrics"),
        ("prometheus_config {\n  enable: true\n}\n", DEFAULT_PROMETHEUS_PATH),
        ('prometheus_config {\n  enable: false\n  path: "/metrics"\n}\n', None),
        ("", None),
    ],
)
def test_prometheus_path(tmp_path, text, expected):
    path = tmp_path / "monitoring.config"
    path.write_text(text)
    assert prometheus_path(path) == expected


def test_the_shipped_config():
    config = os.path.join(REPO, "serving_configs", "monitoring.config")
    assert prometheus_path(config) == "/monitoring/prometheus/metrics"


def test_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        prometheus_path(tmp_path / "none.config")
