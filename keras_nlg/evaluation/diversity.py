"""Distinct-n and repetition rate of generated texts.

No library we use computes these, and both are a few lines: distinct-n is
Li et al. (2016) over the whole set of texts, the repetition rate is Welleck
et al.'s (2019) seq-rep-n within each text.
"""

import numpy as np

from keras_nlg.argument_checks import check_positive_int
from keras_nlg.evaluation.checks import check_hypotheses
from keras_nlg.evaluation.words import UnicodeWordTokenizer


def _ngrams(words, n):
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def diversity(hypotheses, max_n: int = 2, repetition_n: int = 4) -> dict:
    """How varied a set of generated texts is.

    Words are those of `words.UnicodeWordTokenizer` in every script: case-
    folded runs of letters, digits and combining marks, and one word per
    character in scripts written without spaces (Chinese, Japanese, Thai,
    Lao, Khmer, Myanmar), where splitting at spaces would make a sentence
    one word.

    Args:
        hypotheses: list of generated strings.
        max_n: report `distinct_1` … `distinct_{max_n}`.
        repetition_n: n-gram size of the repetition rate.

    Returns:
        A dict: `distinct_n` = distinct n-grams / all n-grams over all texts
        (1 = nothing repeats anywhere); `repetition_rate` = mean over texts
        (with at least one `repetition_n`-gram) of 1 − distinct / all
        `repetition_n`-grams within the text (0 = no text repeats itself);
        `words` (total), `texts`, and the `tokenizer` used (`"unicode"`).

    Raises:
        TypeError: for `hypotheses` that are no list of strings.
        ValueError: for empty `hypotheses` or `max_n`/`repetition_n` < 1.
    """
    check_hypotheses(hypotheses)
    check_positive_int("max_n", max_n)
    check_positive_int("repetition_n", repetition_n)
    tokenizer = UnicodeWordTokenizer()
    texts = [tokenizer.tokenize(h) for h in hypotheses]
    result = {}
    for n in range(1, max_n + 1):
        grams = [gram for words in texts for gram in _ngrams(words, n)]
        result[f"distinct_{n}"] = len(set(grams)) / len(grams) if grams else 0.0
    repeats = [
        1.0 - len(set(grams)) / len(grams)
        for grams in (_ngrams(words, repetition_n) for words in texts)
        if grams
    ]
    result["repetition_rate"] = float(np.mean(repeats)) if repeats else 0.0
    result["words"] = sum(len(words) for words in texts)
    result["texts"] = len(texts)
    result["tokenizer"] = "unicode"
    return result
