"""Corpus BLEU with several references per hypothesis, computed by sacrebleu."""

from sacrebleu.metrics import BLEU

from keras_nlg.evaluation.checks import check_references


def bleu(
    hypotheses, references, lowercase: bool = False, tokenize: str = "13a"
) -> dict:
    """Corpus BLEU of `hypotheses` against their references (sacrebleu).

    Args:
        hypotheses: list of strings.
        references: `references[i]` is the list of references of hypothesis
            `i` (any number ≥ 1 per hypothesis).
        lowercase: compare lowercased text (the official E2E scorer does).
        tokenize: sacrebleu tokenizer; `"13a"` (mteval's) for English,
            `"zh"` for Chinese.

    Returns:
        A dict: `bleu` (sacrebleu's 0–100 scale), `precisions` (1- to
        4-gram, %), `brevity_penalty`, `hypothesis_length`,
        `reference_length` and sacrebleu's `signature`.
    """
    references = check_references(hypotheses, references)
    # sacrebleu takes reference *streams* (the j-th reference of every
    # hypothesis); None fills in where a hypothesis has fewer references.
    width = max(len(refs) for refs in references)
    streams = [
        [refs[j] if j < len(refs) else None for refs in references]
        for j in range(width)
    ]
    metric = BLEU(tokenize=tokenize, lowercase=lowercase)
    score = metric.corpus_score(list(hypotheses), streams)
    return {
        "bleu": score.score,
        "precisions": list(score.precisions),
        "brevity_penalty": score.bp,
        "hypothesis_length": score.sys_len,
        "reference_length": score.ref_len,
        "signature": str(metric.get_signature()),
    }
