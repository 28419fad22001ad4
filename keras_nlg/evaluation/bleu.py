"""Corpus BLEU with several references per hypothesis, computed by sacrebleu."""

from sacrebleu.metrics import BLEU

from keras_nlg.evaluation.checks import check_references
from keras_nlg.evaluation.words import check_choice, normalize, sacrebleu_tokenize

# sacrebleu's tokenizers that work offline ("spm", "flores101", "flores200"
# download a SentencePiece model at run time). "ja-mecab" / "ko-mecab" need
# `pip install "sacrebleu[ja]"` / `"sacrebleu[ko]"`.
TOKENIZE_CHOICES = ("auto", "13a", "intl", "zh", "char", "none", "ja-mecab", "ko-mecab")


def bleu(
    hypotheses, references, lowercase: bool = False, tokenize: str = "auto"
) -> dict:
    """Corpus BLEU of `hypotheses` against their references (sacrebleu).

    Args:
        hypotheses: list of strings.
        references: `references[i]` is the list of references of hypothesis
            `i` (any number ≥ 1 per hypothesis).
        lowercase: compare case-folded text (the official E2E scorer
            lowercases; case folding also equates "Σ", "σ" and "ς").
        tokenize: a sacrebleu tokenizer (`TOKENIZE_CHOICES`), or `"auto"`:
            chosen from the scripts of the references (`words.SACREBLEU_TOKENIZE`):
            `"13a"` (mteval's) for Latin-script text, `"zh"` for Chinese,
            `"char"` for Japanese and Thai/Lao/Khmer/Myanmar (no spaces
            between words), `"intl"` for other scripts (Cyrillic, Greek,
            Arabic, Devanagari, Korean...).

    Returns:
        A dict: `bleu` (sacrebleu's 0–100 scale), `precisions` (1- to
        4-gram, %), `brevity_penalty`, `hypothesis_length`,
        `reference_length`, the `tokenize` option used and sacrebleu's
        `signature`. Texts are compared in NFC.

    Raises:
        ValueError: for a `tokenize` not in `TOKENIZE_CHOICES`, a MeCab
            tokenizer whose packages are not installed, or malformed
            `references` (`TypeError` for `hypotheses` that are no strings).
    """
    references = check_references(hypotheses, references)
    check_choice("tokenize", tokenize, TOKENIZE_CHOICES)
    if tokenize == "auto":
        # From the references alone: every system scored against them gets
        # the same tokenization, so their scores compare (a stray letter in
        # one system's output does not change it).
        tokenize = sacrebleu_tokenize(r for refs in references for r in refs)
    # sacrebleu lowercases with str.lower(); case folding first makes that
    # consistent for every script (and is lowercasing on ASCII).
    hypotheses = [normalize(h, casefold=lowercase) for h in hypotheses]
    references = [
        [normalize(r, casefold=lowercase) for r in refs] for refs in references
    ]
    # sacrebleu takes reference *streams* (the j-th reference of every
    # hypothesis); None fills in where a hypothesis has fewer references.
    width = max(len(refs) for refs in references)
    streams = [
        [refs[j] if j < len(refs) else None for refs in references]
        for j in range(width)
    ]
    try:
        metric = BLEU(tokenize=tokenize, lowercase=lowercase)
    except RuntimeError as error:  # MeCab missing: sacrebleu says what to install
        raise ValueError(
            f"sacrebleu cannot build tokenize={tokenize!r}: "
            f"{' '.join(str(error).split())}"
        ) from None
    score = metric.corpus_score(hypotheses, streams)
    return {
        "bleu": score.score,
        "precisions": list(score.precisions),
        "brevity_penalty": score.bp,
        "hypothesis_length": score.sys_len,
        "reference_length": score.ref_len,
        "tokenize": tokenize,
        "signature": str(metric.get_signature()),
    }
