"""Text generation. `reference_generate` is the uncached, obviously-right loop."""

from keras_nlg.generation.reference import reference_generate

__all__ = ["reference_generate"]
