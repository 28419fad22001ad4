"""Argument checks shared by layers, models and functions.

A leaf module (it imports nothing of ours) so that even `keras_nlg.layers`
may use it.
"""


def check_positive_int(name: str, value, allow_none: bool = False) -> None:
    """Raises `ValueError` naming `name` unless `value` is an int > 0."""
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
        )


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
            f"Received: prompts={prompts!r}"
        )
    return list(prompts)
