"""Reranking the beam by a cost: the cheapest candidate wins, ties by score."""

import pytest

from keras_nlg.generation import generate
from keras_nlg.generation.reranking import generate_reranked
from tests.generation.bigram import TOKENIZER, bigram

# From "s": "ax" (0.5 · 1), "by" (0.3 · 1), "cz" (0.2 · 1): beams in that order.
MODEL_TABLE = {
    "s": {"a": 0.5, "b": 0.3, "c": 0.2},
    "a": {"x": 1.0},
    "b": {"y": 1.0},
    "c": {"z": 1.0},
    **{ch: {"$": 1.0} for ch in "xyz"},
}


@pytest.fixture(scope="module")
def model():
    return bigram(MODEL_TABLE)


def test_beams_come_best_first(model):
    beams = generate(
        model, TOKENIZER, ["s"], max_new_tokens=2, num_beams=3, num_return_sequences=3
    )
    assert beams == ["ax", "by", "cz"]


def test_the_least_cost_candidate_wins(model):
    costs = {"ax": 2, "by": 1, "cz": 1}  # "by" and "cz" tie: the better score wins
    chosen = generate_reranked(
        model,
        TOKENIZER,
        ["s", "s"],
        lambda index, text: costs[text] if index == 0 else -ord(text[0]),
        max_new_tokens=2,
        num_beams=3,
    )
    assert chosen == ["by", "cz"]


def test_equal_costs_keep_the_top_beam(model):
    chosen = generate_reranked(
        model, TOKENIZER, ["s"], lambda index, text: 0, max_new_tokens=2, num_beams=3
    )
    assert chosen == ["ax"]


def test_one_beam_is_refused(model):
    with pytest.raises(ValueError, match="num_beams=1"):
        generate_reranked(model, TOKENIZER, ["s"], lambda i, t: 0, num_beams=1)
