"""ROUGE-1/2/L with several references per hypothesis, computed by rouge-score."""

import numpy as np
from rouge_score import rouge_scorer, tokenizers

from keras_nlg.evaluation.checks import check_references
from keras_nlg.evaluation.words import (
    UnicodeWordTokenizer,
    check_tokenizer_choice,
    needs_unicode_words,
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
        tokenizer: `"default"` (rouge-score's: lowercased `[a-z0-9]` words),
            `"unicode"` (words of any script, one word per CJK character),
            or `"auto"`: unicode when any text has CJK characters, which the
            default would drop (Chinese would score as empty).
        use_stemmer: Porter-stem English words (rouge-score's option; with
            the default tokenizer only).

    Returns:
        A dict with `rouge1`, `rouge2`, `rougeL` (F-measure means) and the
        `tokenizer` used.
    """
    references = check_references(hypotheses, references)
    check_tokenizer_choice(tokenizer)
    if tokenizer == "auto":
        texts = list(hypotheses) + [r for refs in references for r in refs]
        tokenizer = "unicode" if needs_unicode_words(texts) else "default"
    if tokenizer == "unicode" and use_stemmer:
        # rouge-score applies its stemmer only with its own tokenizer.
        raise ValueError(
            "`use_stemmer` works with the default (English) tokenizer only. "
            f"Received: use_stemmer=True, tokenizer={tokenizer!r}"
        )
    # rouge-score's own default, passed explicitly (it logs a line otherwise).
    words = (
        UnicodeWordTokenizer()
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
