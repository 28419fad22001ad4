"""Our BLEU / ROUGE / diversity wrappers against direct library calls."""

import pytest
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

from keras_nlg.evaluation import bleu, diversity, rouge
from keras_nlg.evaluation.words import UnicodeWordTokenizer

HYPOTHESES = [
    "The Eagle is a pub near the river.",
    "Zizzi serves cheap Italian food in the city centre.",
    "Café Rouge is a family friendly coffee shop.",
]
# A different number of references per hypothesis, as in E2E.
REFERENCES = [
    ["The Eagle is a pub by the river.", "There is a riverside pub, The Eagle."],
    ["Zizzi serves Italian food in the centre of the city, cheaply."],
    [
        "Café Rouge is a coffee shop that is family friendly.",
        "THE CAFÉ ROUGE COFFEE SHOP IS FAMILY FRIENDLY.",
        "Families are welcome at the Café Rouge coffee shop.",
    ],
]


@pytest.mark.parametrize("lowercase", [False, True])
def test_bleu_is_sacrebleu_with_variable_reference_counts(lowercase):
    ours = bleu(HYPOTHESES, REFERENCES, lowercase=lowercase)
    streams = [
        [REFERENCES[0][0], REFERENCES[1][0], REFERENCES[2][0]],
        [REFERENCES[0][1], None, REFERENCES[2][1]],
        [None, None, REFERENCES[2][2]],
    ]
    direct = BLEU(tokenize="13a", lowercase=lowercase).corpus_score(HYPOTHESES, streams)
    assert ours["bleu"] == pytest.approx(direct.score)
    assert ours["precisions"] == pytest.approx(direct.precisions)
    assert ours["brevity_penalty"] == pytest.approx(direct.bp)
    assert ("case:lc" in ours["signature"]) == lowercase


def test_bleu_scale_and_extra_references():
    assert bleu(["a b c d e"], [["a b c d e"]])["bleu"] == pytest.approx(100.0)
    one = bleu(HYPOTHESES, [refs[:1] for refs in REFERENCES])["bleu"]
    # More references can only add matching n-grams.
    assert bleu(HYPOTHESES, REFERENCES)["bleu"] > one


def test_lowercase_matters_only_for_case():
    hypotheses, references = ["THE EAGLE IS A PUB"], [["the eagle is a pub"]]
    assert bleu(hypotheses, references)["bleu"] == pytest.approx(0.0)
    assert bleu(hypotheses, references, lowercase=True)["bleu"] == pytest.approx(100)


def test_rouge_is_rouge_score_with_the_best_reference():
    ours = rouge(HYPOTHESES, REFERENCES, use_stemmer=True)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    for name in ("rouge1", "rouge2", "rougeL"):
        per_hypothesis = [
            max(scorer.score(ref, hyp)[name].fmeasure for ref in refs)
            for hyp, refs in zip(HYPOTHESES, REFERENCES, strict=True)
        ]
        assert ours[name] == pytest.approx(sum(per_hypothesis) / 3)
    # "Café" is not ASCII: our Unicode words, which on these texts give
    # rouge-score's words and stems (the scores above), but keep "café" whole.
    assert ours["tokenizer"] == "unicode"


def test_chinese_rouge_counts_characters():
    hypotheses = ["床前明月光", "春眠不觉晓"]
    references = [["床前明月光，疑是地上霜"], ["春眠不觉晓，处处闻啼鸟", "春眠不觉晓"]]
    # rouge-score's own tokenizer keeps [a-z0-9] only: Chinese scores zero.
    default = rouge(hypotheses, references, tokenizer="default")
    assert default["rouge1"] == 0.0
    ours = rouge(hypotheses, references)
    assert ours["tokenizer"] == "unicode"

    # rouge-score itself, on the same characters split by hand ("，" is no word).
    class Characters:
        def tokenize(self, text):
            return [ch for ch in text if ch != "，"]

    scorer = rouge_scorer.RougeScorer(
        ["rouge1", "rouge2", "rougeL"], tokenizer=Characters()
    )
    for name in ("rouge1", "rouge2", "rougeL"):
        expected = [
            max(scorer.score(r, h)[name].fmeasure for r in refs)
            for h, refs in zip(hypotheses, references, strict=True)
        ]
        assert ours[name] == pytest.approx(sum(expected) / 2)
    assert ours["rouge1"] > 0.5
    assert rouge(["春眠不觉晓"], [["春眠不觉晓"]])["rougeL"] == pytest.approx(1.0)


def test_unicode_words():
    tokenizer = UnicodeWordTokenizer()
    assert tokenizer.tokenize("Café Rouge, £20-25!") == ["café", "rouge", "20", "25"]
    assert tokenizer.tokenize("床前 明月光 ok") == ["床", "前", "明", "月", "光", "ok"]
    # On ASCII text: the same words as rouge-score's default tokenizer.
    from rouge_score import tokenize

    text = "The Eagle's menu: 3 pubs & 12 cafés, by-the-river."
    ascii_text = text.replace("é", "e")
    assert tokenizer.tokenize(ascii_text) == tokenize.tokenize(ascii_text, None)


def test_diversity_by_hand():
    scores = diversity(["a b a b a", "a b c"])
    # words: a b a b a | a b c → unigrams {a, b, c} of 8; bigrams
    # ab ba ab ba | ab bc → {ab, ba, bc} of 6.
    assert scores["distinct_1"] == pytest.approx(3 / 8)
    assert scores["distinct_2"] == pytest.approx(3 / 6)
    assert scores["words"] == 8 and scores["texts"] == 2
    # 2-gram repetition within each text: 1 - 2/4 and 1 - 2/2.
    assert diversity(["a b a b a", "a b c"], repetition_n=2)["repetition_rate"] == (
        pytest.approx((0.5 + 0.0) / 2)
    )
    # No text has a 4-gram: no repetition to measure.
    assert scores["repetition_rate"] == 0.0
    assert diversity(["x y z w x y z w"], max_n=1)["repetition_rate"] == (
        pytest.approx(1 - 4 / 5)
    )


def test_diversity_of_chinese_counts_characters():
    assert diversity(["明月明月"])["distinct_1"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: bleu("a b", [["a b"]]), TypeError, "hypotheses"),
        (lambda: bleu([], []), ValueError, "hypotheses"),
        (lambda: bleu(["a"], ["a"]), ValueError, r"references\[0\]"),
        (lambda: bleu(["a"], [[]]), ValueError, r"references\[0\]"),
        (lambda: bleu(["a", "b"], [["a"]]), ValueError, "one list of references"),
        (lambda: rouge(["a"], [["a", 3]]), ValueError, r"references\[0\]"),
        (lambda: rouge(["a"], [["a"]], tokenizer="zh"), ValueError, "tokenizer='zh'"),
        (lambda: diversity([1]), TypeError, "hypotheses"),
        (lambda: diversity(["a"], max_n=0), ValueError, "max_n=0"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
