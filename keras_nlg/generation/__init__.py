"""Text generation. `reference_generate` is the uncached, obviously-right loop."""

from keras_nlg.generation.reference import reference_generate, sample_continuation

__all__ = ["reference_generate", "sample_continuation"]
