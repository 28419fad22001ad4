"""Reading the files keras_nlg writes and reads, with one error kind.

Model directories, checkpoints, exports and their metadata are JSON files a
user can damage or hand us damaged (empty, truncated, not UTF-8, a list
where an object belongs). Every reader goes through `read_json_file`, so
each of those faults is one `ValueError` naming the file, never a
`JSONDecodeError`, `UnicodeDecodeError` or `KeyError` from deep inside.
"""

import json
import os


def read_json_file(path: str | os.PathLike, expected_type: type | None = dict):
    """The parsed JSON file at `path`.

    Args:
        path: the file (UTF-8 JSON).
        expected_type: the type the top-level value must have (default: an
            object, `dict`); None accepts any JSON value.

    Raises:
        ValueError: naming the file when it can't be read, is not UTF-8 or
            not JSON, or holds another type than `expected_type`.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError) as error:  # ValueError: JSON and UTF-8 errors
        raise ValueError(f"Cannot read {path}: {error}") from None
    if expected_type is not None and not isinstance(value, expected_type):
        kind = "a JSON object" if expected_type is dict else expected_type.__name__
        raise ValueError(f"{path} must hold {kind}. Received: {value!r:.80}")
    return value


def read_text_file(path: str | os.PathLike, what: str) -> str:
    """The UTF-8 text of the file at `path`, which must not be blank.

    `what` names the file's role in messages ("the GPT-2 merges").

    Raises:
        ValueError: naming `what` and the file when it can't be read, is not
            UTF-8 (with the offset of the first bad byte) or is empty.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as error:
        raise ValueError(f"Cannot read {what} {path}: {error}") from None
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{what[0].upper()}{what[1:]} {path} is not UTF-8 text (byte {error.start})"
        ) from None
    if not text.strip():
        raise ValueError(f"{what[0].upper()}{what[1:]} {path} is empty")
    return text
