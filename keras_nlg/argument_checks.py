"""Argument checks shared by layers, models and functions (`ValueError`s that
name the argument and the value received).

A leaf module (it imports nothing of ours) so that even `keras_nlg.layers`
may use it.
"""

import math
import warnings

# The largest count (steps, tokens, batch rows...) a setting may hold:
# TensorFlow's int32, so that no count overflows a tensor deep inside.
MAX_COUNT = 2**31 - 1


def check_positive_int(name: str, value, allow_none: bool = False) -> None:
    """Raises `ValueError` naming `name` unless `value` is an int in
    [1, `MAX_COUNT`]."""
    if value is None and allow_none:
        return
    if not is_count(value):
        raise ValueError(
            f"`{name}` must be a positive integer ≤ {MAX_COUNT}. "
            f"Received: {name}={value!r:.80}"
        )


def is_count(value) -> bool:
    """True for an int (not a bool) in [1, `MAX_COUNT`]."""
    return is_int(value) and 0 < value <= MAX_COUNT


def check_rate(name: str, value) -> None:
    """Raises `ValueError` naming `name` unless `0 <= value < 1`."""
    if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={value!r}")


def check_int_range(name: str, value, low: int, high: int, note: str = "") -> None:
    """Raises `ValueError` naming `name` unless `value` is an int in [low, high]."""
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not low <= value <= high
    ):
        raise ValueError(
            f"`{name}` must be an integer in [{low}, {high}]{note}. "
            f"Received: {name}={value!r}"
        )


def check_prompts(prompts) -> list[str]:
    """Returns `prompts` as a list; `TypeError` unless strings (or one string)."""
    prompts = [prompts] if isinstance(prompts, str) else prompts
    if (
        not isinstance(prompts, (list, tuple))
        or not prompts
        or not all(isinstance(p, str) for p in prompts)
    ):
        raise TypeError(
            "`prompts` must be a string or a non-empty list of strings. "
            f"Received: prompts={prompts!r:.200}"
        )
    for index, prompt in enumerate(prompts):
        try:
            prompt.encode("utf-8")
        except UnicodeEncodeError as error:  # a lone surrogate, e.g. "\ud800"
            raise ValueError(
                f"`prompts[{index}]` is not valid Unicode text: {error.reason} at "
                f"character {error.start}. Received: prompts[{index}]={prompt!r:.200}"
            ) from None
    return list(prompts)


def check_model_and_tokenizer(model, tokenizer, cached: bool = True) -> None:
    """`TypeError` unless `model` is a keras_nlg language model (it has
    `call_with_cache`; with `cached=False`, any callable from ids to logits)
    and `tokenizer` one of our tokenizers (`tokenize`, `detokenize`,
    `end_of_text_id`), e.g. the pair `keras_nlg.load` returns."""
    step = getattr(model, "call_with_cache", None) if cached else model
    if not callable(step):
        raise TypeError(
            "`model` must be a keras_nlg language model (from keras_nlg.load or "
            f"keras_nlg.models). Received: model={model!r:.200}"
        )
    if not all(
        hasattr(tokenizer, name)
        for name in ("tokenize", "detokenize", "end_of_text_id")
    ):
        raise TypeError(
            "`tokenizer` must be a keras_nlg tokenizer (from keras_nlg.load or "
            f"keras_nlg.tokenizers). Received: tokenizer={tokenizer!r:.200}"
        )


def pop_renamed_argument(kwargs: dict, old: str, new: str, value):
    """`value` of argument `new`, or the deprecated `old` popped from `kwargs`.

    Emits a `DeprecationWarning` when `old` is used (saved configs written
    before the rename still load); `TypeError` when both are given.
    """
    if old not in kwargs:
        return value
    if value is not None:
        raise TypeError(
            f"Pass `{new}` only (`{old}` is its deprecated name). "
            f"Received: {new}={value!r}, {old}={kwargs[old]!r}"
        )
    warnings.warn(
        f"`{old}` is deprecated; use `{new}`.", DeprecationWarning, stacklevel=3
    )
    return kwargs.pop(old)


def is_int(value) -> bool:
    """True for an int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    """True for an int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def fail(name: str, value, rule: str):
    """Raises `ValueError`: "`name` must be <rule>. Received: name=value"."""
    raise ValueError(f"`{name}` must be {rule}. Received: {name}={value!r}")


def check_number(name: str, value, low, strict: bool, allow_none: bool = False):
    """Raises `ValueError` ("a finite number > low", or ">= low" when not
    `strict`) unless `value` is such a number (or None, with `allow_none`)."""
    if value is None and allow_none:
        return
    rule = f"a finite number {'>' if strict else '>='} {low}"
    if not is_number(value) or not math.isfinite(value):
        fail(name, value, rule)
    if value < low or (strict and value == low):
        fail(name, value, rule)


def check_tensorflow_backend(what: str) -> None:
    """`ValueError` unless Keras runs on TensorFlow: `what` (an export)
    traces the model into TensorFlow graphs, which the JAX backend can't."""
    import keras

    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ValueError(
            f"{what} needs Keras' TensorFlow backend (it writes TensorFlow "
            "graphs); a model directory trained on any backend exports with "
            f"KERAS_BACKEND=tensorflow. Received: KERAS_BACKEND={backend!r}"
        )
