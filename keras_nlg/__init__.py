"""keras_nlg: train, generate with and ship text-generation models in Keras 3.

Submodules are imported on first use (PEP 562), so `import keras_nlg` and
`keras-nlg --help` stay fast and the CLI decides how TensorFlow is imported.
Accessing `keras_nlg.models` (or calling `keras_nlg.load`) registers our
layers and models with Keras' serializer.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "data",
    "datasets",
    "evaluation",
    "export",
    "generation",
    "layers",
    "models",
    "tokenizers",
    "training",
)
_FROM_MODEL_DIRECTORY = ("LoadedModel", "load")

__all__ = [*_SUBMODULES, *_FROM_MODEL_DIRECTORY, "generate"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"keras_nlg.{name}")
    if name == "generate":
        return importlib.import_module("keras_nlg.generation").generate
    if name in _FROM_MODEL_DIRECTORY:
        return getattr(importlib.import_module("keras_nlg.model_directory"), name)
    raise AttributeError(f"module 'keras_nlg' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
