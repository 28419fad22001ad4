"""Built-in rewards, weighted specs and the reward contract."""

import keras
import numpy as np
import pytest

from keras_nlg.tokenizers import ByteTokenizer, save_tokenizer
from keras_nlg.training.rl import (
    ClassifierReward,
    LengthWindow,
    WordList,
    check_rewards,
    parse_rewards,
)
from keras_nlg.training.rl.rewards import negative_slot_error_rate, sentence_bleu

MR = "name[The Eagle], eatType[pub], area[riverside]"


def test_slot_error_reward_is_minus_the_text_slot_error_rate():
    values = negative_slot_error_rate(
        [MR, MR, MR],
        [
            "The Eagle is a pub in the riverside area.",
            "The Eagle is a pub.",  # area missing: 1 of 3 slots
            "The Eagle is a pub in the city centre.",  # area wrong
        ],
        [[], [], []],
    )
    assert values[0] == 0.0
    assert values[1] == pytest.approx(-1 / 3)
    assert values[2] == pytest.approx(-1 / 3)


def test_slot_error_reward_needs_meaning_representations():
    with pytest.raises(ValueError, match="meaning representations"):
        negative_slot_error_rate(["hello"], ["text"], [[]])


def test_sentence_bleu_is_sacrebleus_sentence_score():
    from sacrebleu.metrics import BLEU

    refs = [["the cat sat on the mat", "a cat was on the mat"]]
    value = sentence_bleu(["p"], ["the cat sat on a mat"], refs)[0]
    expected = BLEU(effective_order=True, lowercase=True).sentence_score(
        "the cat sat on a mat", refs[0]
    )
    assert value == pytest.approx(expected.score / 100)
    assert sentence_bleu(["p"], ["the cat sat on the mat"], refs)[0] == pytest.approx(1)
    with pytest.raises(ValueError, match="needs reference texts"):
        sentence_bleu(["p"], ["x"], [[]])


def test_length_window_and_word_lists():
    window = LengthWindow(2, 4)
    assert window(None, ["one", "one two", "a b c d", "a b c d e f"], None) == [
        0.5,
        1.0,
        1.0,
        0.5,
    ]
    required = WordList(["pub", "cheap"])
    assert required(None, ["A cheap PUB.", "a pub", "publican"], None) == [
        1.0,
        0.5,
        0.0,
    ]
    forbidden = WordList(["pub"], forbidden=True)
    assert forbidden(None, ["a pub", "a cafe"], None) == [0.0, 1.0]


def test_specs_combine_weighted_rewards():
    reward = parse_rewards("required_words=pub:2, length=1-3:0.5")
    values = reward(None, ["a pub", "a cafe here now ok"], [[], []])
    np.testing.assert_allclose(values, [2 * 1 + 0.5 * 1, 2 * 0 + 0.5 * (1 - 2 / 3)])


@pytest.mark.parametrize(
    "spec, match",
    [
        ("", "at least one reward"),
        ("nonsense", "Unknown reward 'nonsense'"),
        ("bleu:abc", "weight must be a number"),
        ("bleu:inf", "must be finite"),
        ("length=9-2", "min_words"),
        ("length", "Unknown reward"),
        ("classifier=/no/such/dir", "model.keras"),
    ],
)
def test_bad_specs_are_named(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_rewards(spec)


@pytest.mark.parametrize(
    "values, match",
    [
        ([1.0], r"shape \[2\]"),
        ([1.0, float("nan")], "non-finite"),
        ([[1.0, 2.0]], r"shape \[2\]"),
        (["a", "b"], "must return 2 numbers"),
    ],
)
def test_the_contract_names_the_reward(values, match):
    def my_reward(prompts, completions, references):
        return values

    with pytest.raises(ValueError, match=f"'my_reward'.*{match}|{match}.*"):
        check_rewards(my_reward, values, 2)


def test_a_keras_classifier_directory_is_a_reward(tmp_path):
    tokenizer = ByteTokenizer()
    inputs = keras.Input((16,), dtype="int32")
    # p(good) = σ(w · mean one-hot): only "!" (byte 33) counts, weight 8.
    x = keras.layers.Embedding(tokenizer.vocabulary_size, 1, name="score")(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Activation("sigmoid")(x)
    model = keras.Model(inputs, outputs)
    weights = np.zeros((tokenizer.vocabulary_size, 1), "float32")
    weights[ord("!")] = 8.0 * 16
    model.get_layer("score").set_weights([weights])
    model.save(tmp_path / "model.keras")
    save_tokenizer(tokenizer, str(tmp_path))

    reward = ClassifierReward(str(tmp_path))
    values = reward(None, ["no", "yes!"], None)
    # mean over 16 columns (padding scores 0): σ(0) and σ(8 · 16 / 16).
    np.testing.assert_allclose(values, [0.5, 1 / (1 + np.exp(-8.0))], rtol=1e-5)
