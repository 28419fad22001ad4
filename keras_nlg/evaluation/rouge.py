"""ROUGE-1/2/L with several references per hypothesis, computed by rouge-score."""

import numpy as np

from keras_nlg.evaluation.checks import check_references
from keras_nlg.evaluation.words import (
    ROUGE_TOKENIZERS,
    UnicodeWordTokenizer,
    check_choice,
    rouge_tokenizer,
)

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def rouge(
    hypotheses, references, tokenizer: str = "auto", use_stemmer: bool = False
) -> dict:
    """Mean ROUGE F-measures (0–1) over hypotheses, each against its best reference.

    Args:
        hypotheses: list of strings.
        references: `references[i]` is the list of references of hypothesis
            `i`; rouge-score's `score_multi` keeps the best-matching one.
        tokenizer: `"default"` (rouge-score's: lowercased `[a-z0-9]` words,
            for English), `"unicode"` (`words.UnicodeWordTokenizer`: case-
            folded words of any script, one word per character in scripts
            written without spaces: Chinese, Japanese, Thai, Lao, Khmer,
            Myanmar), or `"auto"`: default when every letter of the references
            is ASCII, else unicode (the default tokenizer would drop Cyrillic,
            Greek, Thai... and score identical texts 0, and cut accented
            Latin words in pieces).
        use_stemmer: Porter-stem English words of more than three letters
            (rouge-score's option, with either tokenizer).

    Returns:
        A dict with `rouge1`, `rouge2`, `rougeL` (F-measure means) and the
        `tokenizer` used (`"default"` or `"unicode"`).

    Raises:
        ValueError: for a `tokenizer` not in `words.ROUGE_TOKENIZERS`,
            or malformed `references` (`TypeError` for `hypotheses` that are
            no strings).
    """
    references = check_references(hypotheses, references)
    check_choice("tokenizer", tokenizer, ROUGE_TOKENIZERS)
    if tokenizer == "auto":
        # From the references alone, as for BLEU: systems scored against
        # the same references are scored alike.
        tokenizer = rouge_tokenizer(r for refs in references for r in refs)
    # Imported here: rouge-score imports NLTK (~1.5 s of every process's
    # start, e.g. `train --task e2e`'s, which imports this module).
    from rouge_score import rouge_scorer, tokenizers

    # rouge-score's own default, passed explicitly (it logs a line otherwise).
    words = (
        UnicodeWordTokenizer(use_stemmer=use_stemmer)
        if tokenizer == "unicode"
        else tokenizers.DefaultTokenizer(use_stemmer=use_stemmer)
    )
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=words)
    scores = [
        scorer.score_multi(refs, hypothesis)
        for hypothesis, refs in zip(hypotheses, references, strict=True)
    ]
    result = {
        name: float(np.mean([score[name].fmeasure for score in scores]))
        for name in ROUGE_TYPES
    }
    result["tokenizer"] = tokenizer
    return result
