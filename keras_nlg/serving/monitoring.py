"""TF Serving's `--monitoring_config_file`: where to export Prometheus metrics.

TF Serving reads a `MonitoringConfig` text proto; the only part the
development server honours is `prometheus_config { enable: true path: "…" }`,
which puts the metrics on the REST port at that path.
"""

import os
import re

# TF Serving's default when `prometheus_config` is enabled without a path.
DEFAULT_PROMETHEUS_PATH = "/monitoring/prometheus/metrics"


def prometheus_path(config_file: str | os.PathLike) -> str | None:
    """The REST path of the Prometheus metrics a monitoring config asks for.

    Args:
        config_file: a TF Serving monitoring config (text proto), e.g.
            `serving_configs/monitoring.config`.

    Returns:
        The quoted `path:` of the file when it enables Prometheus
        (`enable: true`), `DEFAULT_PROMETHEUS_PATH` if it gives none, and
        None when the metrics are not enabled.

    Raises:
        OSError: if the file can't be read.

    Example:

    >>> prometheus_path("serving_configs/monitoring.config")
    '/monitoring/prometheus/metrics'
    """
    with open(config_file) as f:
        text = f.read()
    if "enable: true" not in text:
        return None
    match = re.search(r'path:\s*"([^"]+)"', text)
    return match.group(1) if match else DEFAULT_PROMETHEUS_PATH
