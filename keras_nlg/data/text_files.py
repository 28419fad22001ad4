"""Reading training text from files, with errors that name the file."""

import os


def read_text_files(paths: str | os.PathLike | list) -> list[str]:
    """Returns the UTF-8 text of each file in `paths`, in order.

    Raises `ValueError` naming the file when it is missing, not a file,
    empty, or not valid UTF-8.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not paths:
        raise ValueError(
            f"`paths` must name at least one file. Received: paths={paths!r}"
        )
    texts = []
    for path in paths:
        path = os.fspath(path)
        if not os.path.exists(path):
            raise ValueError(f"Data file not found: {path}")
        if not os.path.isfile(path):
            raise ValueError(f"Data path is not a file: {path}")
        with open(path, "rb") as f:
            raw = f.read()
        if not raw.strip():
            raise ValueError(f"Data file is empty: {path}")
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise ValueError(
                f"Data file is not valid UTF-8: {path} (byte {error.start})"
            ) from None
    return texts
