"""`generate_token_ids`: token ids in, token ids out, on any Keras backend.

`keras_nlg.generate` takes text, so it needs a tokenizer, and our tokenizers
need TensorFlow. This is the front door for ids: it imports no TensorFlow
on JAX (JAX-only installs and GPU machines set up for JAX without
TensorFlow can generate with our models), and runs TensorFlow's compiled
engine on the TensorFlow backend. Same settings (`GenerationConfig`), same
loops, same tokens as `generate` for the same ids; no stop strings (they
are text) and no beam search (`generate` has it, on TensorFlow).
"""

import types

import keras
import numpy as np

from keras_nlg.generation.config import (
    GenerationConfig,
    fresh_seed,
    resolve_generation_config,
)
from keras_nlg.generation.portable import sample_rows
from keras_nlg.generation.shapes import (
    MIN_BATCH_BUCKET,
    MIN_ROWS,
    block_lengths,
    bucket,
)


def _pack(prompts, end_of_text_id, padding_id, max_new_tokens, context_length):
    """Left-padded `(prompt_ids (R, P), padding_mask (R, S))` NumPy arrays."""
    longest = max(len(prompt) for prompt in prompts)
    if context_length is not None and longest + max_new_tokens > context_length:
        raise ValueError(
            f"A prompt of {longest} tokens and max_new_tokens={max_new_tokens} "
            f"do not fit the model's context of {context_length} tokens. "
            f"Received: prompt lengths up to {longest}"
        )
    # The shapes `generate` pads to: the same compiled loops serve both.
    prompt_length, total = block_lengths(longest, max_new_tokens, context_length)
    prompt_ids = np.full((len(prompts), prompt_length), padding_id, np.int32)
    padding_mask = np.ones((len(prompts), total), bool)
    for row, prompt in enumerate(prompts):
        prompt_ids[row, prompt_length - len(prompt) :] = prompt
        padding_mask[row, : prompt_length - len(prompt)] = False
    return prompt_ids, padding_mask


def _check_prompts(prompt_ids, vocabulary_size, end_of_text_id):
    if isinstance(prompt_ids, np.ndarray) and prompt_ids.ndim == 2:
        prompt_ids = prompt_ids.tolist()
    if not isinstance(prompt_ids, list | tuple) or not prompt_ids:
        raise TypeError(
            "`prompt_ids` must be a non-empty list of token-id lists. "
            f"Received: prompt_ids={prompt_ids!r:.200}"
        )
    prompts = []
    for prompt in prompt_ids:
        ids = np.asarray(prompt)
        if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
            raise TypeError(
                "`prompt_ids` must hold lists of ints. "
                f"Received: prompt_ids item {prompt!r:.200}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= vocabulary_size):
            raise ValueError(
                f"Token ids must be in [0, {vocabulary_size}). "
                f"Received: prompt_ids item {prompt!r:.200}"
            )
        prompts.append(ids.astype(np.int32).tolist() or [end_of_text_id])
    return prompts


def generate_token_ids(
    model,
    prompt_ids,
    generation_config: GenerationConfig | None = None,
    *,
    end_of_text_id: int,
    padding_id: int = 0,
    **overrides,
):
    """Continues each list of token ids with the compiled, cached loop.

    Args:
        model: a `keras_nlg.models.LanguageModel`.
        prompt_ids: a list of token-id lists (or an int array `(B, P)`); an
            empty prompt starts from `end_of_text_id`. Not truncated.
        generation_config: a `GenerationConfig` (default: the model's, else
            greedy with 64 new tokens); `overrides` are its fields.
        end_of_text_id: the id that ends a sequence.
        padding_id: the id left padding holds (masked; any valid id).

    Returns:
        `(token_ids, log_probs)`: for each prompt, its `num_return_sequences`
        continuations in order, each a list of ids (end-of-text and what
        follows it excluded) and the list of their log-probabilities.

    Raises:
        ValueError: for `stop_strings`, `num_beams` > 1, ids (prompts,
            `end_of_text_id`, `padding_id`) outside the vocabulary, or a
            prompt that does not fit the context.
        TypeError: for prompts that are not lists of ints.
    """
    config = resolve_generation_config(model, generation_config, overrides)
    config.check_vocabulary(model.vocabulary_size)
    for name, value, off in (
        ("stop_strings", config.stop_strings, None),
        ("num_beams", config.num_beams, 1),
    ):
        if value != off and value != ():
            raise ValueError(
                f"`{name}` is not offered by generate_token_ids (use "
                f"keras_nlg.generate). Received: {name}={value!r}"
            )
    for name, value in (("end_of_text_id", end_of_text_id), ("padding_id", padding_id)):
        if not isinstance(value, int | np.integer) or not (
            0 <= value < model.vocabulary_size
        ):
            raise ValueError(
                f"`{name}` must be a token id in [0, {model.vocabulary_size}). "
                f"Received: {name}={value!r}"
            )
    prompts = _check_prompts(prompt_ids, model.vocabulary_size, end_of_text_id)
    rows = [p for p in prompts for _ in range(config.num_return_sequences)]
    # Filler rows up to `generate`'s batch bucket (one token each).
    batch = max(bucket(len(rows), MIN_BATCH_BUCKET), MIN_ROWS)
    filler = [[end_of_text_id]] * (batch - len(rows))
    prompt_ids, padding_mask = _pack(
        rows + filler,
        end_of_text_id,
        padding_id,
        config.max_new_tokens,
        model.context_length,
    )
    seed = fresh_seed(config)
    tokens, log_probs = _decode(
        model,
        config,
        prompt_ids,
        padding_mask,
        seed,
        end_of_text_id,
        padding_id,
        real_rows=len(rows),
    )
    all_ids, all_log_probs = [], []
    for row in range(len(rows)):
        ids = tokens[row, : config.max_new_tokens].tolist()
        if end_of_text_id in ids:
            ids = ids[: ids.index(end_of_text_id)]
        all_ids.append(ids)
        all_log_probs.append(log_probs[row, : len(ids)].tolist())
    return all_ids, all_log_probs


def _decode(
    model, config, prompt_ids, padding_mask, seed, end_of_text_id, padding_id, real_rows
):
    if keras.backend.backend() != "tensorflow":
        return sample_rows(
            model,
            config,
            prompt_ids,
            padding_mask,
            seed,
            real_rows,
            end_of_text_id,
            padding_id,
        )
    from keras_nlg.generation.generate import run_sampling

    # The two ids `run_sampling` reads from a tokenizer.
    ids = types.SimpleNamespace(end_of_text_id=end_of_text_id, padding_id=padding_id)
    state = run_sampling(
        config,
        ids,
        model,
        prompt_ids,
        padding_mask,
        config.max_new_tokens,
        seed,
        real_rows,
    )
    return np.asarray(state.tokens), np.asarray(state.log_probs)
