"""Which models to serve: TF Serving's model config file, and its version policy.

A `models.config` (`model_config_list` text proto, as TF Serving reads it)
names each model, its base path, its version policy (latest, all or
specific versions) and its version labels.
"""

import os


class ModelConfig:
    """One model of a `models.config`: name, base path, policy, labels."""

    def __init__(self, name, base_path, policy="latest", versions=(), labels=None):
        self.name = name
        self.base_path = base_path
        self.policy = policy  # latest | all | specific
        self.versions = tuple(versions)
        self.labels = dict(labels or {})

    @classmethod
    def from_file(cls, path):
        """All models of a TF Serving `model_config_list` text proto.

        Raises:
            ValueError: naming the file when it can't be read, is not UTF-8,
                doesn't parse as a `ModelServerConfig`, or lists no model or
                a model without a name or base path.
        """
        from google.protobuf import text_format
        from tensorflow_serving.config import model_server_config_pb2

        try:
            with open(path, encoding="utf-8") as f:
                proto = text_format.Parse(
                    f.read(), model_server_config_pb2.ModelServerConfig()
                )
        except (OSError, UnicodeDecodeError, text_format.ParseError) as error:
            message = " ".join(str(error).split())
            raise ValueError(
                f"Cannot read the model config {path}: {message}"
            ) from None
        if not proto.model_config_list.config:
            raise ValueError(f"The model config {path} lists no model_config_list")
        for model in proto.model_config_list.config:
            if not model.name or not model.base_path:
                raise ValueError(
                    f"The model config {path}: every config needs a name and a "
                    f"base_path. Received: name={model.name!r}, "
                    f"base_path={model.base_path!r}"
                )
        configs = []
        for model in proto.model_config_list.config:
            policy = model.model_version_policy.WhichOneof("policy_choice") or "latest"
            versions = ()
            if policy == "specific":
                versions = tuple(model.model_version_policy.specific.versions)
            configs.append(
                cls(
                    model.name,
                    model.base_path,
                    policy,
                    versions,
                    dict(model.version_labels),
                )
            )
        return configs

    def wanted(self, available):
        """Which of the `available` version numbers to serve."""
        if not available:
            return []
        if self.policy == "all":
            return sorted(available)
        if self.policy == "specific":
            return sorted(v for v in available if v in self.versions)
        return [max(available)]


def versions_on_disk(base_path):
    """The version numbers under `base_path` that hold a SavedModel."""
    if not os.path.isdir(base_path):
        return []
    return sorted(
        int(entry)
        for entry in os.listdir(base_path)
        if entry.isdigit()
        and os.path.isfile(os.path.join(base_path, entry, "saved_model.pb"))
    )
