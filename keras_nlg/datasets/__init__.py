"""Corpora bundled with the package (see each folder's README for provenance)."""

import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def tiny_shakespeare_path() -> str:
    """Path of the bundled Tiny Shakespeare text (1,115,394 bytes, ASCII)."""
    return os.path.join(_HERE, "tinyshakespeare", "input.txt")


def tiny_shakespeare() -> str:
    """Returns Tiny Shakespeare as one `str`.

    Karpathy's char-rnn corpus: 40,000 lines of Shakespeare's plays (public
    domain), from karpathy/char-rnn (MIT). Use `tiny_shakespeare_path()` for
    the file itself.
    """
    with open(tiny_shakespeare_path(), encoding="utf-8") as f:
        return f.read()


def tang_poems_path() -> str:
    """Path of the bundled Tang poems (20,010 poems, traditional characters).

    A subset of 全唐诗 from chinese-poetry/chinese-poetry (MIT; the poems are
    public domain): title line, verse lines, blank line between poems.
    """
    return os.path.join(_HERE, "tang_poems", "poems.txt")


def e2e_path(split: str = "train") -> str:
    """Path of the bundled E2E NLG Challenge CSV, `split` "train" or "dev".

    From tuetschek/e2e-dataset (CC BY-SA 4.0, Novikova, Dušek & Rieser 2017):
    columns `mr` (meaning representation) and `ref` (one human reference).
    """
    files = {"train": "trainset.csv", "dev": "devset.csv"}
    if split not in files:
        raise ValueError(
            f"`split` must be one of {sorted(files)}. Received: split={split!r}"
        )
    return os.path.join(_HERE, "e2e", files[split])


__all__ = ["e2e_path", "tang_poems_path", "tiny_shakespeare", "tiny_shakespeare_path"]
