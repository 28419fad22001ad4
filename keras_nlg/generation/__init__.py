"""Text generation: settings, the compiled loop and its front doors.

- `config.py`: `GenerationConfig`, every setting with its default and check.
- `generate.py` / `stream.py`: `generate` and `generate_stream`, prompts in,
  text out.
- `engine.py`: the compiled cached sampling loop (prefill, advance, the
  served per-row loop); `beam_search.py`: the beam loop.
- `logits_processors.py` (bans, penalties) and `sampling.py` (greedy, top-k,
  top-p, min-p, per-row seeds): what a step does to the logits, in-graph.
- `packing.py`: ragged prompt ids → the left-padded block every loop takes.
- `stopping.py`: where a row ends (end-of-text, `max_new_tokens`, stop
  strings) and the one rule that makes every runtime's ids, log-probs and
  text agree.
- `host_sampling.py`: the same rules in NumPy, for runtimes that step a model
  from the host (TFLite runner, reference generator).
- `reference.py`: the uncached, obviously-right generator the loops are
  tested against.
- `portable.py`: the same loop in `keras.ops` under `jax.jit` (the JAX
  backend); `token_ids.py`: `generate_token_ids`, ids in and out, on either.

Without TensorFlow installed (a JAX-only install), only the names that need
none are here: `GenerationConfig` and `generate_token_ids`.
"""

import importlib.util

from keras_nlg.generation.config import GenerationConfig
from keras_nlg.generation.token_ids import generate_token_ids

__all__ = ["GenerationConfig", "generate_token_ids"]

_NEED_TENSORFLOW = (
    "Generation",
    "HostSampler",
    "generate",
    "generate_stream",
    "reference_generate",
    "sample_continuation",
)

if importlib.util.find_spec("tensorflow") is not None:
    # Re-exported: `__all__` names them (ruff can't follow the `+=` below).
    from keras_nlg.generation.generate import Generation, generate  # noqa: F401
    from keras_nlg.generation.host_sampling import HostSampler  # noqa: F401
    from keras_nlg.generation.reference import (  # noqa: F401
        reference_generate,
        sample_continuation,
    )
    from keras_nlg.generation.stream import generate_stream  # noqa: F401

    __all__ += list(_NEED_TENSORFLOW)
else:

    def __getattr__(name):
        if name in _NEED_TENSORFLOW:
            raise ImportError(
                f"keras_nlg.generation.{name} needs TensorFlow (our tokenizers "
                "do), which is not installed; generate_token_ids works without it."
            )
        raise AttributeError(f"module 'keras_nlg.generation' has no attribute {name!r}")
