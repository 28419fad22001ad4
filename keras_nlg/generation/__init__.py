"""Text generation.

`generate` runs the compiled, cached loop; `reference_generate` is the
uncached, obviously-right loop it is tested against.
"""

from keras_nlg.generation.generate import Generation, generate, generate_stream
from keras_nlg.generation.reference import reference_generate, sample_continuation

__all__ = [
    "Generation",
    "generate",
    "generate_stream",
    "reference_generate",
    "sample_continuation",
]
