"""The simple uncached generator: the reference the fast engine is tested against.

Every step runs the model on the whole context again (no cache, no XLA), so
it is slow but obviously right.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_nlg.argument_checks import check_model_and_tokenizer, check_prompts
from keras_nlg.generation.config import GenerationConfig
from keras_nlg.generation.host_sampling import HostSampler
from keras_nlg.generation.portable import bucketed_forward
from keras_nlg.generation.stopping import ids_to_text
from keras_nlg.generation.tracing import traced_once


def _forward(model):
    # One traced forward pass per model, with a dynamic length and no XLA.
    # Eager Keras runs an LSTM's recurrence as a Python loop, which made a
    # 200-token LSTM sample take tens of seconds. On JAX, eager calls compile
    # every op per context length (38 s for a 200-token tiny sample): a
    # jitted forward over a few bucketed lengths instead.
    if keras.backend.backend() != "tensorflow":
        return bucketed_forward(model)
    return traced_once(
        model,
        "reference_forward",
        lambda model, token_ids: model(token_ids, training=False),
        jit_compile=False,
        input_signature=[tf.TensorSpec([1, None], tf.int32)],
    )


def reference_generate(
    model,
    tokenizer,
    prompts: str | list[str],
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_k: int = 0,
    seed: int | None = None,
    return_token_ids: bool = False,
    generation_config: GenerationConfig | None = None,
) -> list[str] | tuple[list[str], list[list[int]]]:
    """Continues each prompt by recomputing the full context every step.

    Greedy when `temperature == 0`; otherwise samples from
    softmax(logits / temperature), restricted to the `top_k` most likely
    tokens when `top_k > 0`. Stops at the tokenizer's end-of-text token. An
    empty prompt starts from end-of-text. Contexts longer than the model's
    `context_length` keep their last `context_length` tokens.

    Args:
        model: a model mapping `(batch, length)` ids to logits.
        tokenizer: the model's tokenizer.
        prompts: a string or a list of strings.
        max_new_tokens: tokens to generate per prompt.
        temperature: 0 for greedy, else the sampling temperature.
        top_k: sample among the k most likely tokens (0 = all).
        seed: seed of the NumPy generator; the same seed gives the same text.
        return_token_ids: also return the generated ids per prompt.
        generation_config: when given, its settings (greedy or sampling,
            every logits processor, by `HostSampler`'s rules, and
            `stop_strings`, cut by `keras_nlg.generation.stopping`'s rule)
            replace `max_new_tokens`, `temperature`, `top_k` and `seed` (beam
            search is not offered).

    Returns:
        A list of continuations (strings, prompt excluded), or `(texts,
        token_ids)` with `return_token_ids=True`.
    """
    check_model_and_tokenizer(model, tokenizer, cached=False)  # full passes
    prompts = check_prompts(prompts)
    if not isinstance(temperature, (int, float)) or not temperature >= 0:
        raise ValueError(
            "`temperature` must be ≥ 0 (0 means greedy). "
            f"Received: temperature={temperature!r}"
        )
    config = generation_config or GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=temperature > 0,
        temperature=temperature or 1.0,
        top_k=top_k,
        seed=seed,
    )
    config.check_vocabulary(tokenizer.vocabulary_size)
    rng = np.random.default_rng(config.seed)
    context_length = getattr(model, "context_length", None)
    forward = _forward(model)
    texts, all_ids = [], []
    for prompt in prompts:
        context = list(np.asarray(tokenizer.tokenize(prompt))) or [
            tokenizer.end_of_text_id
        ]
        generated = []
        sampler = HostSampler(config, tokenizer.end_of_text_id, rng)
        for _ in range(config.max_new_tokens):
            window = context[-context_length:] if context_length else context
            logits = forward(np.asarray([window], dtype=np.int32))
            token = sampler.next_token(
                np.asarray(logits)[0, -1], context, len(generated)
            )
            if token == tokenizer.end_of_text_id:
                break
            generated.append(token)
            context.append(token)
            if (
                config.stop_strings
                and ids_to_text(tokenizer, generated, config.stop_strings)[2]
            ):
                break
        generated, text, _ = ids_to_text(tokenizer, generated, config.stop_strings)
        all_ids.append(generated)
        texts.append(text)
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
