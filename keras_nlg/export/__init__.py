"""Exports: the TF Serving SavedModel (`saved_model/`), TFLite with prefill /
decode signatures (`tflite`, run on the host by `litert_runner`), and the
SavedModel wire contract (`wire_contract`) shared with the server and clients.

Names below are imported on first use (PEP 562), so that importing
`keras_nlg.export.wire_contract` (the server and clients do) doesn't pull
in TensorFlow and the exporters.
"""

import importlib

# name -> the module that defines it
_EXPORTS = {
    "QUANTIZATIONS": "keras_nlg.export.tflite",
    "TFLiteGenerator": "keras_nlg.export.litert_runner",
    "export_saved_model": "keras_nlg.export.saved_model",
    "export_tflite": "keras_nlg.export.tflite",
    "export_transformers": "keras_nlg.export.hugging_face",
    "tflite_ops": "keras_nlg.export.tflite_metadata",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'keras_nlg.export' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
