"""`generate_stream`: one prompt's continuation, piece by piece as it decodes."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from keras_nlg.argument_checks import (
    check_model_and_tokenizer,
    check_positive_int,
    check_prompts,
)
from keras_nlg.generation.config import (
    GenerationConfig,
    fresh_seed,
    resolve_generation_config,
)
from keras_nlg.generation.generate import pad_prompts, run_sampling
from keras_nlg.generation.stopping import ids_to_text


def _complete_prefix(text, ended, stop_strings):
    """The part of `text` that later tokens cannot change.

    Holds back trailing U+FFFD (maybe a multi-byte character cut in half, to
    be completed by the next token) and, with stop strings, the last
    `len(longest stop) - 1` characters (maybe the start of a stop string).
    """
    if ended:
        return text
    text = text.rstrip("\ufffd")
    hold = max((len(s) for s in stop_strings or ()), default=1) - 1
    return text[: len(text) - hold]


def generate_stream(
    model,
    tokenizer,
    prompt: str,
    generation_config: GenerationConfig | None = None,
    *,
    truncate: bool = True,
    tokens_per_chunk: int = 4,
    **overrides,
) -> Iterator[str]:
    """Yields the continuation of one prompt piece by piece as it is decoded.

    The same compiled loop as `generate`, advanced `tokens_per_chunk` tokens
    per call with its state kept on the device. A piece never ends inside a
    multi-byte character or inside a possible stop string, and the pieces
    join to exactly what `generate` returns for the same settings and seed
    (its `text`, cut by the same rule: `keras_nlg.generation.stopping`).
    Decoding ends as soon as the row ends (end-of-text, a stop string, or
    `max_new_tokens`).
    Settings are those of `generate` (one prompt; no beams, one sequence).

    Raises:
        ValueError: for a setting out of range, `num_beams` > 1 or
            `num_return_sequences` > 1.
        TypeError: unless `prompt` is one string.
    """
    check_model_and_tokenizer(model, tokenizer)
    if not isinstance(prompt, str):
        raise TypeError(f"`prompt` must be one string. Received: prompt={prompt!r}")
    check_prompts(prompt)
    config = resolve_generation_config(model, generation_config, overrides)
    for name in ("num_beams", "num_return_sequences"):
        if getattr(config, name) != 1:
            raise ValueError(
                f"Streaming decodes one sequence without beams: `{name}` must "
                f"be 1. Received: {name}={getattr(config, name)}"
            )
    config.check_vocabulary(tokenizer.vocabulary_size)
    check_positive_int("tokens_per_chunk", tokens_per_chunk)
    seed = fresh_seed(config)
    max_new_tokens = config.max_new_tokens
    prompt_ids, padding_mask = pad_prompts(
        model, tokenizer, [prompt], max_new_tokens, truncate, copies=1
    )
    state, emitted, step = None, "", 0
    while True:
        step = min(step + tokens_per_chunk, max_new_tokens)
        state = run_sampling(
            config, tokenizer, model, prompt_ids, padding_mask, step, seed, 1, state
        )
        _, text, ended = ids_to_text(
            tokenizer, np.asarray(state.tokens)[0, :step].tolist(), config.stop_strings
        )
        ended = ended or step >= max_new_tokens
        text = _complete_prefix(text, ended, config.stop_strings)
        if len(text) > len(emitted):
            yield text[len(emitted) :]
            emitted = text
        if ended:
            return
