"""Every text metric on text in any script, against the libraries called directly.

rouge-score's default tokenizer keeps `[a-z0-9]` only and sacrebleu's `13a`
splits at spaces: Cyrillic, Greek, Thai... scored 0 even for identical text.
Here each metric, on eight scripts, scores identical text perfectly and a
non-identical pair as the library does with the right tokenization.
"""

import unicodedata

import pytest
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

from keras_nlg.evaluation import bleu, diversity, rouge
from keras_nlg.evaluation.e2e import score_outputs
from keras_nlg.evaluation.words import UnicodeWordTokenizer, writing_system

# script: (hypothesis, reference, sacrebleu's tokenizer for it). Japanese and
# Korean: "char" and "intl" (MeCab's "ja-mecab"/"ko-mecab" are optional).
SCRIPTS = {
    "chinese": (
        "今天天气很好，我们去公园散步。",
        "今天天气不错，我们去公园走走。",
        "zh",
    ),
    "japanese": (
        "今日はとても良い天気ですね。",
        "今日は天気がとても良いです。",
        "char",
    ),
    "korean": (
        "오늘은 날씨가 정말 좋습니다. 공원에 갑시다!",
        "오늘은 날씨가 아주 좋습니다. 공원에 갑시다!",
        "intl",
    ),
    "cyrillic": (
        "Привет мир, как твои дела сегодня?",
        "Привет, мир! Как дела сегодня?",
        "intl",
    ),
    "greek": (
        "Ο καιρός είναι πολύ καλός σήμερα.",
        "Σήμερα ο καιρός είναι καλός.",
        "intl",
    ),
    "arabic": (
        "الطقس جميل جدا اليوم، لنذهب إلى الحديقة.",
        "الطقس جميل اليوم، هيا نذهب إلى الحديقة.",
        "intl",
    ),
    "thai": (
        "วันนี้อากาศดีมาก เราไปเดินเล่นที่สวนกัน",
        "วันนี้อากาศดี ไปเดินเล่นที่สวนสาธารณะกัน",
        "char",
    ),
    "devanagari": (
        "आज मौसम बहुत अच्छा है, चलो पार्क चलते हैं।",
        "आज मौसम अच्छा है, पार्क में टहलने चलते हैं।",
        "intl",
    ),
}
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
# Scripts written without spaces, by Unicode character name (an independent
# reading of the scripts from the `regex` properties the library uses).
UNSPACED_NAMES = ("CJK UNIFIED", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER")


def reference_words(text):
    """The words the metrics should count, by `unicodedata` categories:
    letters/digits with their combining marks (M*), one word per character
    of an unspaced script; punctuation, symbols and spaces separate."""
    words, current = [], ""
    for ch in unicodedata.normalize("NFC", text).casefold():
        category = unicodedata.category(ch)
        if category.startswith("M") and (current or words):
            if current:
                current += ch
            else:
                words[-1] += ch
        elif category[0] in "LN" and unicodedata.name(ch).startswith(UNSPACED_NAMES):
            words += [current, ch] if current else [ch]
            current = ""
        elif category[0] in "LN":
            current += ch
        elif current:
            words.append(current)
            current = ""
    return [w for w in words if w] + ([current] if current else [])


class ReferenceWords:
    """rouge-score's tokenizer interface over `reference_words`."""

    def tokenize(self, text):
        return reference_words(text)


@pytest.mark.parametrize("text", ["Привет мир, как дела", "Καλημέρα κόσμε", "สวัสดีครับ"])
def test_identical_text_in_the_issue_scores_one(text):
    scores = rouge([text], [[text]])
    assert [scores[name] for name in ROUGE_TYPES] == pytest.approx([1.0, 1.0, 1.0])
    assert scores["tokenizer"] == "unicode"
    # rouge-score's own default tokenizer is what scored it 0.
    scorer = rouge_scorer.RougeScorer(["rouge1"])
    assert scorer.score(text, text)["rouge1"].fmeasure == 0.0


@pytest.mark.parametrize("script", SCRIPTS)
def test_identical_text_scores_perfectly_in_every_metric(script):
    hypothesis, reference, tokenize = SCRIPTS[script]
    for text in (hypothesis, reference):
        scores = bleu([text], [[text]])
        assert scores["bleu"] == pytest.approx(100.0) and scores["tokenize"] == tokenize
        assert bleu([text], [[text.upper()]], lowercase=True)["bleu"] == (
            pytest.approx(100.0)
        )
        scores = rouge([text], [[text]])
        assert [scores[name] for name in ROUGE_TYPES] == pytest.approx([1.0] * 3)
        scores = score_outputs([text], [[text]])
        assert scores["bleu"] == pytest.approx(100.0)
        assert scores["rougeL"] == pytest.approx(1.0)
        assert (scores["bleu_tokenize"], scores["rouge_tokenizer"]) == (
            tokenize,
            "unicode",
        )


@pytest.mark.parametrize("script", SCRIPTS)
def test_bleu_is_sacrebleu_with_the_right_tokenizer(script):
    hypothesis, reference, tokenize = SCRIPTS[script]
    ours = bleu([hypothesis], [[reference]])
    direct = BLEU(tokenize=tokenize).corpus_score([hypothesis], [[reference]])
    assert ours["tokenize"] == tokenize and f"tok:{tokenize}" in ours["signature"]
    assert ours["bleu"] == pytest.approx(direct.score)
    assert ours["precisions"] == pytest.approx(direct.precisions)
    assert ours["hypothesis_length"] == direct.sys_len
    # Unigrams match: a script-blind tokenization would find (next to) none.
    assert direct.precisions[0] > 30
    # Explicit options are sacrebleu's too.
    explicit = bleu([hypothesis], [[reference]], tokenize="char")["bleu"]
    assert explicit == pytest.approx(
        BLEU(tokenize="char").corpus_score([hypothesis], [[reference]]).score
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_rouge_is_rouge_score_with_words_of_the_script(script):
    hypothesis, reference, _ = SCRIPTS[script]
    ours = rouge([hypothesis], [[reference]])
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=ReferenceWords())
    direct = scorer.score(reference, hypothesis)
    assert ours["tokenizer"] == "unicode"
    for name in ROUGE_TYPES:
        assert ours[name] == pytest.approx(direct[name].fmeasure)
        assert 0.3 < ours[name] < 1.0
    assert UnicodeWordTokenizer().tokenize(hypothesis) == reference_words(hypothesis)


@pytest.mark.parametrize("script", SCRIPTS)
def test_diversity_counts_words_of_the_script(script):
    hypothesis, reference, _ = SCRIPTS[script]
    words = reference_words(hypothesis)
    scores = diversity([hypothesis, hypothesis], max_n=2, repetition_n=2)
    assert scores["words"] == 2 * len(words) and scores["tokenizer"] == "unicode"
    assert scores["distinct_1"] == pytest.approx(len(set(words)) / (2 * len(words)))
    bigrams = list(zip(words, words[1:], strict=False))
    assert scores["distinct_2"] == pytest.approx(len(set(bigrams)) / (2 * len(bigrams)))
    # A text said twice repeats itself: seq-rep-2 within the one text.
    twice = reference_words(hypothesis + " " + hypothesis)
    grams = list(zip(twice, twice[1:], strict=False))
    repeated = diversity([hypothesis + " " + hypothesis], repetition_n=2)
    assert repeated["repetition_rate"] == pytest.approx(
        1 - len(set(grams)) / len(grams)
    )
    assert repeated["repetition_rate"] > 0.4
    if script in ("chinese", "japanese", "thai"):
        # Not one "word" per sentence, as a whitespace split would give.
        assert len(words) > 5 * len(hypothesis.split())


def test_words_keep_combining_marks_and_split_unspaced_scripts():
    tokenizer = UnicodeWordTokenizer()
    # Devanagari vowel signs and virama are marks (Mc/Mn): `\w` would split.
    assert tokenizer.tokenize("नमस्ते दुनिया।") == ["नमस्ते", "दुनिया"]
    assert tokenizer.tokenize("مَرْحَبًا، عالم") == ["مَرْحَبًا", "عالم"]
    # Thai: a character with its marks; Japanese: "ー" counts, "。" does not.
    assert tokenizer.tokenize("กินข้าว") == ["กิ", "น", "ข้", "า", "ว"]
    assert tokenizer.tokenize("コーヒー。") == ["コ", "ー", "ヒ", "ー"]
    assert tokenizer.tokenize("GPT模型很好") == ["gpt", "模", "型", "很", "好"]


def test_case_folding_and_unicode_normalization():
    # Lowercasing maps "Σ" to "σ", never to the final "ς": case folding does.
    upper, lower = "Ο ΚΑΙΡΟΣ ΕΙΝΑΙ ΚΑΛΟΣ ΣΗΜΕΡΑ", "ο καιρος ειναι καλος σημερα"
    assert bleu([upper], [[lower]], lowercase=True)["bleu"] == pytest.approx(100)
    assert bleu([upper], [[lower]])["bleu"] == pytest.approx(0)
    assert rouge([upper], [[lower]])["rouge2"] == pytest.approx(1.0)
    # The same text in NFD (as macOS file names) and NFC is the same text.
    text = "Tiếng Việt rất hay và đẹp lắm"
    nfd = unicodedata.normalize("NFD", text)
    assert bleu([nfd], [[text]])["bleu"] == pytest.approx(100)
    assert rouge([nfd], [[text]], tokenizer="unicode")["rougeL"] == pytest.approx(1.0)


def test_ascii_text_keeps_the_english_tokenizers():
    hypotheses = ["The Eagle is a family friendly coffee shop."]
    references = [["The Eagle is a coffee shop that is family friendly."]]
    assert writing_system(hypotheses) == "latin"
    ours = bleu(hypotheses, references, lowercase=True)
    direct = BLEU(tokenize="13a", lowercase=True).corpus_score(
        hypotheses, [[references[0][0]]]
    )
    assert ours["tokenize"] == "13a" and ours["bleu"] == pytest.approx(direct.score)
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    expected = scorer.score(references[0][0], hypotheses[0])["rougeL"].fmeasure
    assert rouge(hypotheses, references)["rougeL"] == pytest.approx(expected)
    scores = score_outputs(hypotheses, references)
    assert (scores["bleu_tokenize"], scores["rouge_tokenizer"]) == ("13a", "default")
    # The references decide: a stray letter in one system's output does not
    # change how all systems scored against them are tokenized.
    stray = ["The Eagle is a family friendly coffee shop ж."]
    assert bleu(stray, references)["tokenize"] == "13a"
    assert rouge(stray, references)["tokenizer"] == "default"


@pytest.mark.parametrize(
    "hypothesis, reference",
    [
        ("Zażółć gęślą jaźń, proszę.", "Zażółć gęślą jaźń."),
        ("Tôi yêu tiếng Việt lắm.", "Tôi yêu tiếng Việt."),
        ("Café Rouge est très près.", "Le Café Rouge est près."),
    ],
)
def test_accented_latin_words_stay_whole_in_rouge(hypothesis, reference):
    # rouge-score's own tokenizer cuts "gęślą" into "g", "l": different words
    # would match. Auto picks the Unicode words for any non-ASCII letter.
    assert rouge([reference], [[reference]])["rouge1"] == pytest.approx(1.0)
    ours = rouge([hypothesis], [[reference]])
    assert ours["tokenizer"] == "unicode"
    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"], tokenizer=_Words())
    direct = scorer.score(reference, hypothesis)
    assert ours["rouge1"] == pytest.approx(direct["rouge1"].fmeasure)
    assert ours["rougeL"] == pytest.approx(direct["rougeL"].fmeasure)


class _Words:
    """Words by `str.isalnum` after case folding: an independent splitter for
    Latin text (every accented letter there is alphanumeric)."""

    def tokenize(self, text):
        words, word = [], ""
        for ch in unicodedata.normalize("NFC", text).casefold():
            if ch.isalnum():
                word += ch
            elif word:
                words.append(word)
                word = ""
        return words + [word] if word else words


@pytest.mark.parametrize(
    "texts, system",
    [
        (["Hello", "床前明月光"], "chinese"),
        (["漢字とかな"], "japanese"),
        (["ສະບາຍດີ"], "unspaced"),
        (["សួស្តី"], "unspaced"),
        (["မင်္ဂလာပါ"], "unspaced"),
        (["안녕하세요"], "spaced"),
        (["Ça va, 20 µm"], "latin"),
    ],
)
def test_writing_system(texts, system):
    assert writing_system(texts) == system


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: bleu(["a"], [["a"]], tokenize="bogus"), "tokenize='bogus'"),
        (lambda: bleu(["a"], [["a"]], tokenize=None), "tokenize=None"),
        (lambda: bleu(["a"], [["a"]], tokenize="flores200"), "tokenize='flores200'"),
        (lambda: rouge(["a"], [["a"]], tokenizer="char"), "tokenizer='char'"),
        (lambda: rouge(["a"], [["a"]], tokenizer=1), "tokenizer=1"),
    ],
)
def test_bad_tokenizer_values(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_mecab_tokenizers_without_their_packages_are_a_clear_error():
    try:
        import MeCab  # noqa: F401

        pytest.skip("MeCab is installed")
    except ImportError:
        pass
    with pytest.raises(ValueError, match=r"tokenize='ja-mecab'.*sacrebleu\[ja\]"):
        bleu(["今日は"], [["今日は"]], tokenize="ja-mecab")
