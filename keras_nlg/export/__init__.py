"""Exports: the TF Serving SavedModel, TFLite with prefill/decode signatures,
and its reference runner."""

from keras_nlg.export.litert_runner import TFLiteGenerator
from keras_nlg.export.saved_model import export_saved_model
from keras_nlg.export.tflite import QUANTIZATIONS, export_tflite, tflite_ops

__all__ = [
    "QUANTIZATIONS",
    "TFLiteGenerator",
    "export_saved_model",
    "export_tflite",
    "tflite_ops",
]
