"""Splitting text into words for ROUGE and diversity, Chinese included."""

import re

from rouge_score import tokenizers

# Scripts written without spaces: each character counts as a word (the usual
# convention for Chinese ROUGE). Han ideographs (with extensions and
# compatibility forms) and kana; punctuation, CJK or not, is no word.
_NO_SPACE_SCRIPTS = (
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
)
_CHARACTER = re.compile(f"[{_NO_SPACE_SCRIPTS}]")
_WORD = re.compile(f"[{_NO_SPACE_SCRIPTS}]|[^\\W_{_NO_SPACE_SCRIPTS}]+")
TOKENIZER_CHOICES = ("auto", "default", "unicode")


class UnicodeWordTokenizer(tokenizers.Tokenizer):
    """Lowercased words of any script; a CJK character is a word of its own.

    rouge-score's default tokenizer keeps only `[a-z0-9]`, so Chinese text
    (and every other non-ASCII letter) would score as empty. This one keeps
    letters and digits of every script and splits CJK text into characters;
    on ASCII text it gives the same words as the default (without stemming).
    """

    def tokenize(self, text):
        return _WORD.findall(text.lower())


def needs_unicode_words(texts) -> bool:
    """Whether any text has characters of a script written without spaces."""
    return any(_CHARACTER.search(text) for text in texts)


def check_tokenizer_choice(tokenizer: str) -> None:
    if tokenizer not in TOKENIZER_CHOICES:
        raise ValueError(
            f"`tokenizer` must be one of {TOKENIZER_CHOICES}. "
            f"Received: tokenizer={tokenizer!r}"
        )
