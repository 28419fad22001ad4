"""Text generation. `reference_generate` is the uncached, obviously-right loop."""

from keras_nlg.generation.reference import SAMPLE_SETTINGS, reference_generate

__all__ = ["SAMPLE_SETTINGS", "reference_generate"]
