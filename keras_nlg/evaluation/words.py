"""Which words the text metrics count, for text in any script.

The libraries' defaults are made for English: rouge-score keeps only
`[a-z0-9]` (Cyrillic, Greek, Thai... score as empty text), and sacrebleu's
`13a` splits at spaces and ASCII punctuation only (a Chinese sentence is one
word). This module decides, from the Unicode scripts of the texts' letters,

* `writing_system(texts)`: `"latin"`, `"chinese"`, `"japanese"`,
  `"unspaced"` (Thai, Lao, Khmer, Myanmar) or `"spaced"` (any other letters:
  Cyrillic, Greek, Arabic, Devanagari, Hangul...);
* `sacrebleu_tokenize(texts)` and `rouge_tokenizer(texts)`: the option of
  each library that fits them;
* `UnicodeWordTokenizer`: our words for ROUGE (rouge-score's tokenizer interface) and
  for distinct-n / repetition.

Scripts are read with `regex` (sacrebleu's own dependency): its Unicode
script properties, which the standard `re` lacks, are the reason it is used.
"""

import unicodedata

import regex

# Scripts written without spaces between words: each character (with its
# combining marks) counts as a word, as usual for Chinese ROUGE. Script
# *extensions*, so that marks shared by scripts (Japanese "ー") count too.
_UNSPACED = "".join(
    f"\\p{{scx={script}}}"
    for script in ("Han", "Hiragana", "Katakana", "Thai", "Lao", "Khmer", "Myanmar")
)
# A word of the other scripts: letters, numbers and combining marks (the
# vowel signs of Devanagari, Thai or Arabic are marks, category M*, which
# `\w` leaves out), with the joiners some scripts put inside words.
_WORD_CHARACTER = r"[\p{L}\p{N}\p{M}\u200c\u200d]"
_TOKEN = regex.compile(
    # One character of an unspaced script (a letter or digit, not CJK
    # punctuation, which has those scripts among its extensions) ...
    rf"(?=[\p{{L}}\p{{N}}])[{_UNSPACED}]\p{{M}}*"
    # ... or a run of word characters of other scripts, starting with a letter
    # or digit; no underscore, as rouge-score's tokenizer.
    rf"|(?![{_UNSPACED}])[\p{{L}}\p{{N}}](?:(?![{_UNSPACED}]){_WORD_CHARACTER})*"
)

# Detection looks at letters only, by their script (not its extensions).
_KANA = regex.compile(r"[\p{sc=Hiragana}\p{sc=Katakana}]")
_SOUTHEAST_ASIAN = regex.compile(r"[\p{sc=Thai}\p{sc=Lao}\p{sc=Khmer}\p{sc=Myanmar}]")
_HAN = regex.compile(r"\p{sc=Han}")
# A letter of any script but Latin ("Common" letters such as "µ" are neutral).
_NON_LATIN_LETTER = regex.compile(
    r"(?=\p{L})[^\p{sc=Latin}\p{sc=Common}\p{sc=Inherited}]"
)

WRITING_SYSTEMS = ("latin", "chinese", "japanese", "unspaced", "spaced")
# sacrebleu's tokenizer for each writing system. Japanese and Korean have
# morphological tokenizers in sacrebleu ("ja-mecab", "ko-mecab"), but they
# need MeCab and its dictionaries (`pip install "sacrebleu[ja]"` / `[ko]`,
# compiled wheels and ~50 MB of dictionary), which we do not require:
# Japanese is scored by characters, as Chinese, and Korean (written with
# spaces) by words with Unicode punctuation split off ("intl"). "zh" splits
# Han characters only, not kana, hence "char" for Japanese.
SACREBLEU_TOKENIZE = {
    "latin": "13a",
    "chinese": "zh",
    "japanese": "char",
    "unspaced": "char",
    "spaced": "intl",
}
ROUGE_TOKENIZERS = ("auto", "default", "unicode")


def normalize(text: str, casefold: bool = True) -> str:
    """`text` in NFC (and case-folded), so that equal text compares equal.

    Case folding rather than lowercasing: it also maps the Greek final sigma
    "ς" and "Σ" to one letter, and "ß" to "ss".
    """
    text = unicodedata.normalize("NFC", text)
    return unicodedata.normalize("NFC", text.casefold()) if casefold else text


def writing_system(texts) -> str:
    """How the letters of `texts` are written (one of `WRITING_SYSTEMS`).

    Kana make it Japanese; Thai, Lao, Khmer or Myanmar letters "unspaced"
    (no spaces between words); Han without kana Chinese; any other letter
    outside the Latin script "spaced" (Cyrillic, Greek, Arabic, Devanagari,
    Hangul...); otherwise (accented Latin letters included) "latin".
    """
    texts = list(texts)
    if any(_KANA.search(text) for text in texts):
        return "japanese"
    if any(_SOUTHEAST_ASIAN.search(text) for text in texts):
        return "unspaced"
    if any(_HAN.search(text) for text in texts):
        return "chinese"
    if any(_NON_LATIN_LETTER.search(text) for text in texts):
        return "spaced"
    return "latin"


def sacrebleu_tokenize(texts) -> str:
    """sacrebleu's `tokenize` option for `texts` (see `SACREBLEU_TOKENIZE`)."""
    return SACREBLEU_TOKENIZE[writing_system(texts)]


_NON_ASCII_LETTER = regex.compile(r"(?=\p{L})[^a-zA-Z]")


def rouge_tokenizer(texts) -> str:
    """`"default"` (rouge-score's, `[a-z0-9]` words) when every letter of
    `texts` is ASCII, else `"unicode"` (`UnicodeWordTokenizer`).

    rouge-score's tokenizer drops every letter outside `[a-z]` ("café" →
    "caf", Vietnamese or Polish words in pieces), so any other letter (an
    accented Latin one included) selects ours, which gives the same words
    on ASCII text and stems them the same way.
    """
    texts = list(texts)
    if any(_NON_ASCII_LETTER.search(text) for text in texts):
        return "unicode"
    return "default"


class UnicodeWordTokenizer:
    """Case-folded words of any script; in scripts written without spaces
    (Han, kana, Thai, Lao, Khmer, Myanmar) each character is a word.

    A word is a run of letters, digits and combining marks (so "नमस्ते" and
    "καλός" stay whole); a character of an unspaced script keeps its marks
    ("กิ" is one word). Punctuation and symbols are no words. Text is NFC-
    normalized and case-folded (`normalize`). On ASCII text the words are
    rouge-score's default tokenizer's; with `use_stemmer`, words of more
    than three ASCII letters are Porter-stemmed, as rouge-score does.

    It has the interface of rouge-score's `tokenizers.Tokenizer` (what its
    `RougeScorer(tokenizer=...)` calls), without subclassing it: importing
    rouge-score's tokenizers pulls in NLTK at every process's start.
    """

    def __init__(self, use_stemmer: bool = False):
        self._stemmer = None
        if use_stemmer:
            # Imported here: NLTK (with SciPy's stats) costs ~1.5 s of every
            # process's start, and only stemming ROUGE needs it.
            from nltk.stem import porter

            self._stemmer = porter.PorterStemmer()

    def tokenize(self, text):
        words = _TOKEN.findall(normalize(text))
        if self._stemmer is None:
            return words
        return [
            self._stemmer.stem(word) if len(word) > 3 and word.isascii() else word
            for word in words
        ]


def check_choice(name: str, value, choices) -> None:
    """Raises `ValueError` naming `name` unless `value` is one of `choices`."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"`{name}` must be one of {choices}. Received: {name}={value!r}"
        )
