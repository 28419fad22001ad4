"""Delexicalisation of name/near: placeholders in, the MR's values back out."""

import pytest

from keras_nlg.data.delexicalize import (
    PLACEHOLDERS,
    delexicalize_mr,
    delexicalize_pair,
    relexicalize,
)
from keras_nlg.evaluation.slot_errors import text_slot_errors

NAME, NEAR = PLACEHOLDERS["name"], PLACEHOLDERS["near"]


def test_a_pair_round_trips():
    mr = "name[The Rice Boat], food[Thai], near[Rice Palace]"
    ref = "the rice boat serves Thai food near The Rice Palace; The Rice Boat is nice."
    delexicalized_mr, delexicalized_ref = delexicalize_pair(mr, ref)
    assert delexicalized_mr == f"name[{NAME}], food[Thai], near[{NEAR}]"
    assert delexicalized_ref == f"{NAME} serves Thai food near {NEAR}; {NAME} is nice."
    _, values = delexicalize_mr(mr)
    assert values == {"name": "The Rice Boat", "near": "Rice Palace"}
    assert relexicalize(delexicalized_ref, values) == (
        "The Rice Boat serves Thai food near Rice Palace; The Rice Boat is nice."
    )


@pytest.mark.parametrize(
    "ref, expected",
    [
        ("Eagle is a pub.", f"{NAME} is a pub."),  # "The" dropped
        ("THE EAGLE is a pub.", f"{NAME} is a pub."),
        ("The  Eagle is a pub.", f"{NAME} is a pub."),
        ("The Eagles is a pub.", "The Eagles is a pub."),  # another word
        ("Beagle Eagle.", f"Beagle {NAME}."),
    ],
)
def test_the_value_is_found_as_references_write_it(ref, expected):
    assert delexicalize_pair("name[The Eagle], eatType[pub]", ref)[1] == expected


def test_an_mr_without_near_keeps_an_invented_placeholder_visible():
    _, values = delexicalize_mr("name[Zizzi], food[Italian]")
    text = relexicalize(f"{NAME} is near {NEAR}.", values)
    assert text == f"Zizzi is near {NEAR}."
    # The slot error rate counts it as an added near.
    assert text_slot_errors(text, "name[Zizzi]").added == ("near",)


def test_an_mr_that_has_placeholders_already_is_refused():
    with pytest.raises(ValueError, match="placeholder"):
        delexicalize_mr(f"name[{NAME}]")
