"""The shapes a decode loop is compiled for: bucketed batch, prompt and cache.

An XLA program is compiled per static shape, so every front door
(`generate`, `generate_token_ids`, the SavedModel's warm-up) pads to the
same few buckets and calls with different prompts share compiled loops.
No TensorFlow here: the JAX front door uses it too.
"""

import math

# Prompt lengths and batch sizes are padded up to powers of two (at least
# these), so a handful of compiled loops serve every call.
MIN_PROMPT_BUCKET = 8
MIN_BATCH_BUCKET = 1
# The cache holds prompt + new tokens, rounded up to a multiple of this.
CACHE_STEP = 16
# A loop decodes at least two rows. With one, XLA:CPU fuses the reshape of
# each (hidden, heads, head_dim) attention kernel into an elemental loop that
# reads the kernel column by column (~5 GB/s, 17 of a GPT-2 step's 44 ms);
# with two it calls its matrix kernels. A filler row beside a single prompt
# took GPT-2 batch-1 greedy from 23.0 to 38.8 tok/s (benchmarks/RESULTS.md).
MIN_ROWS = 2


def bucket(size: int, minimum: int) -> int:
    """`size` rounded up to a power of two, at least `minimum`."""
    return max(minimum, 1 << max(0, math.ceil(math.log2(max(size, 1)))))


def block_lengths(longest: int, max_new_tokens: int, context_length):
    """`(prompt_length P, total_length S)` of the padded block.

    `longest` is the longest prompt (≤ the room before the new tokens when
    the model has a context); `S - P` ≥ `max_new_tokens` columns follow.
    """
    room = None if context_length is None else context_length - max_new_tokens
    prompt_length = bucket(longest, MIN_PROMPT_BUCKET)
    if room is not None and prompt_length > room:
        prompt_length = longest  # a rare shape: exact, rather than no room
    total_length = CACHE_STEP * math.ceil((prompt_length + max_new_tokens) / CACHE_STEP)
    if context_length is not None:
        total_length = min(total_length, context_length)
    return prompt_length, total_length
