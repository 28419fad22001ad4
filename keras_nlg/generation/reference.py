"""The simple uncached generator: the reference the fast engine is tested against.

Every step runs the model on the whole context again (no cache, no XLA), so
it is slow but obviously right.
"""

import numpy as np
import tensorflow as tf

from keras_nlg.generation.engine import traced_once
from keras_nlg.validation import check_int_range, check_positive_int, check_prompts


def _forward(model):
    # One traced forward pass per model, with a dynamic length and no XLA.
    # Eager Keras runs an LSTM's recurrence as a Python loop, which made a
    # 200-token LSTM sample take tens of seconds.
    return traced_once(
        model,
        "reference_forward",
        lambda model, token_ids: model(token_ids, training=False),
        jit_compile=False,
        input_signature=[tf.TensorSpec([1, None], tf.int32)],
    )


def check_sampling_arguments(max_new_tokens, temperature, top_k, vocabulary_size):
    """Raises `ValueError` naming the first argument out of range."""
    check_positive_int("max_new_tokens", max_new_tokens)
    if not isinstance(temperature, (int, float)) or temperature < 0:
        raise ValueError(
            "`temperature` must be ≥ 0 (0 means greedy). "
            f"Received: temperature={temperature!r}"
        )
    check_int_range("top_k", top_k, 0, vocabulary_size, " (0 = off)")


def next_token(logits, temperature, top_k, rng):
    """Picks a token from one row of logits: argmax, or a (top-k) sample."""
    logits = np.asarray(logits, dtype=np.float64)
    if temperature == 0:
        return int(np.argmax(logits))
    logits = logits / temperature
    if top_k:
        kth_largest = np.partition(logits, -top_k)[-top_k]
        logits = np.where(logits < kth_largest, -np.inf, logits)
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    return int(rng.choice(len(probabilities), p=probabilities))


def reference_generate(
    model,
    tokenizer,
    prompts: str | list[str],
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_k: int = 0,
    seed: int | None = None,
    return_token_ids: bool = False,
) -> list[str] | tuple[list[str], list[list[int]]]:
    """Continues each prompt by recomputing the full context every step.

    Greedy when `temperature == 0`; otherwise samples from
    softmax(logits / temperature), restricted to the `top_k` most likely
    tokens when `top_k > 0`. Stops at the tokenizer's end-of-text token. An
    empty prompt starts from end-of-text. Contexts longer than the model's
    `max_length` keep their last `max_length` tokens.

    Args:
        model: a model mapping `(batch, length)` ids to logits.
        tokenizer: the model's tokenizer.
        prompts: a string or a list of strings.
        max_new_tokens: tokens to generate per prompt.
        temperature: 0 for greedy, else the sampling temperature.
        top_k: sample among the k most likely tokens (0 = all).
        seed: seed of the NumPy generator; the same seed gives the same text.
        return_token_ids: also return the generated ids per prompt.

    Returns:
        A list of continuations (strings, prompt excluded), or `(texts,
        token_ids)` with `return_token_ids=True`.
    """
    prompts = check_prompts(prompts)
    check_sampling_arguments(
        max_new_tokens, temperature, top_k, tokenizer.vocabulary_size
    )
    rng = np.random.default_rng(seed)
    max_length = getattr(model, "max_length", None)
    forward = _forward(model)
    texts, all_ids = [], []
    for prompt in prompts:
        context = list(np.asarray(tokenizer.tokenize(prompt))) or [
            tokenizer.end_of_text_id
        ]
        generated = []
        for _ in range(max_new_tokens):
            window = context[-max_length:] if max_length else context
            logits = forward(tf.constant([window], dtype=tf.int32))
            token = next_token(np.asarray(logits)[0, -1], temperature, top_k, rng)
            if token == tokenizer.end_of_text_id:
                break
            generated.append(token)
            context.append(token)
        all_ids.append(generated)
        texts.append(
            tokenizer.detokenize(np.asarray(generated, np.int32)).numpy().decode()
        )
    return (texts, all_ids) if return_token_ids else texts


def sample_continuation(
    model, tokenizer, prompt: str, max_new_tokens: int, seed=None
) -> str:
    """One sampled continuation (temperature 0.8, top-k 40), as training shows them.

    The TensorBoard sample of every epoch and the sample `keras-nlg train`
    prints are drawn the same way, so they compare.
    """
    (continuation,) = reference_generate(
        model,
        tokenizer,
        prompt,
        max_new_tokens=max_new_tokens,
        temperature=0.8,
        top_k=40,
        seed=seed,
    )
    return continuation
