"""Slot error rate: hand-made texts for every slot, paraphrase and error kind."""

import pytest

from keras_nlg.evaluation.e2e_slots import find_slots
from keras_nlg.evaluation.slot_errors import slot_errors, text_slot_errors

FULL_MR = (
    "name[The Eagle], eatType[coffee shop], food[French], priceRange[£20-25], "
    "customer rating[5 out of 5], area[city centre], familyFriendly[yes], "
    "near[Burger King]"
)
FULL_TEXT = (
    "The Eagle is a French coffee shop in the city centre near Burger King. It "
    "costs £20-25, is rated 5 out of 5 and is family-friendly."
)


def errors_of(text, mr):
    result = text_slot_errors(text, mr)
    return {
        kind: getattr(result, kind)
        for kind in ("added", "missing", "wrong", "repeated")
        if getattr(result, kind)
    }


def test_a_text_that_states_every_slot_once_has_no_error():
    assert errors_of(FULL_TEXT, FULL_MR) == {}


@pytest.mark.parametrize(
    "slot, value, text",
    [
        ("area", "city centre", "It is in the centre of town."),
        ("area", "city centre", "It is in the city center."),
        ("area", "riverside", "It sits by the river."),
        ("area", "riverside", "It is in the riverside area."),
        ("familyFriendly", "yes", "Kids are welcome."),
        ("familyFriendly", "yes", "It is kid friendly."),
        ("familyFriendly", "yes", "It is a place for the whole family."),
        ("familyFriendly", "no", "It is not suitable for children."),
        ("familyFriendly", "no", "It is not family-friendly."),
        ("familyFriendly", "no", "It isn't kid friendly."),
        ("familyFriendly", "no", "Children are not allowed."),
        ("familyFriendly", "no", "It is adults only."),
        ("priceRange", "cheap", "It is cheap."),
        ("priceRange", "less than £20", "Meals cost less than £20."),
        ("priceRange", "cheap", "It is low priced."),
        ("priceRange", "moderate", "It is moderately priced."),
        ("priceRange", "£20-25", "Expect to pay £20-25."),
        ("priceRange", "moderate", "Prices are average."),
        ("priceRange", "high", "It is expensive."),
        ("priceRange", "more than £30", "Meals cost more than £30."),
        ("priceRange", "high", "It is in the high price range."),
        ("customer rating", "5 out of 5", "It is rated 5 out of 5."),
        ("customer rating", "high", "It has a high customer rating."),
        ("customer rating", "high", "It is highly rated."),
        ("customer rating", "5 out of 5", "It has five stars."),
        ("customer rating", "1 out of 5", "Customers rate it 1 out of 5."),
        ("customer rating", "low", "Its customer rating is low."),
        ("customer rating", "3 out of 5", "It has a 3 out of 5 rating."),
        ("customer rating", "average", "It has an average customer rating."),
        ("food", "Fast food", "It serves fast food."),
        ("food", "English", "It serves British food."),
        ("food", "Japanese", "It serves sushi."),
        ("eatType", "coffee shop", "It is a coffee shop."),
        ("eatType", "pub", "It is a pub."),
        ("eatType", "restaurant", "It is a restaurant."),
    ],
)
def test_paraphrases_are_read_as_their_value(slot, value, text):
    mr = f"name[Zizzi], {slot}[{value}]"
    assert errors_of(f"Zizzi is here. {text}", mr) == {}


@pytest.mark.parametrize(
    "slot, value",
    [
        ("eatType", "pub"),
        ("food", "French"),
        ("priceRange", "cheap"),
        ("customer rating", "high"),
        ("area", "riverside"),
        ("familyFriendly", "yes"),
        ("near", "Burger King"),
    ],
)
def test_each_slot_left_out_is_missing(slot, value):
    mr = f"name[Zizzi], {slot}[{value}]"
    assert errors_of("Zizzi is a place to eat.", mr) == {"missing": (slot,)}


def test_the_name_left_out_is_missing():
    assert errors_of("It is a pub.", "name[Zizzi], eatType[pub]") == {
        "missing": ("name",)
    }


@pytest.mark.parametrize(
    "mr, text, slot",
    [
        ("eatType[pub]", "It is a coffee shop.", "eatType"),
        ("food[French]", "It serves Italian food.", "food"),
        ("priceRange[cheap]", "It is expensive.", "priceRange"),
        ("priceRange[less than £20]", "Meals cost £20-25.", "priceRange"),
        ("customer rating[5 out of 5]", "It is rated 1 out of 5.", "customer rating"),
        ("customer rating[high]", "It has a low customer rating.", "customer rating"),
        ("area[riverside]", "It is in the city centre.", "area"),
        ("familyFriendly[yes]", "It is not family-friendly.", "familyFriendly"),
        ("familyFriendly[no]", "It is family-friendly.", "familyFriendly"),
        ("near[Burger King]", "It is near Café Rouge.", "near"),
        ("food[French]", "It serves French and Italian food.", "food"),
    ],
)
def test_another_value_is_wrong(mr, text, slot):
    assert errors_of(f"Zizzi is here. {text}", f"name[Zizzi], {mr}") == {
        "wrong": (slot,)
    }


def test_another_venue_named_instead_is_a_wrong_name():
    assert errors_of("The Vaults is a pub.", "name[Zizzi], eatType[pub]") == {
        "wrong": ("name",)
    }


@pytest.mark.parametrize(
    "text, slot",
    [
        ("It is a pub.", "eatType"),
        ("It serves Chinese food.", "food"),
        ("It is cheap.", "priceRange"),
        ("It is rated 3 out of 5.", "customer rating"),
        ("It is by the river.", "area"),
        ("Kids are welcome.", "familyFriendly"),
        ("It is near The Six Bells.", "near"),
    ],
)
def test_a_slot_the_mr_lacks_is_added(text, slot):
    assert errors_of(f"Zizzi is here. {text}", "name[Zizzi]") == {"added": (slot,)}


@pytest.mark.parametrize(
    "mr, text, slot",
    [
        ("food[Italian]", "It serves Italian food, Italian to the core.", "food"),
        (
            "familyFriendly[yes]",
            "It is family friendly; kids are welcome.",
            "familyFriendly",
        ),
        ("area[riverside]", "It is in riverside, by the river.", "area"),
        ("priceRange[high]", "It is expensive, more than £30.", "priceRange"),
    ],
)
def test_a_value_stated_twice_is_repeated(mr, text, slot):
    assert errors_of(f"Zizzi is here. {text}", f"name[Zizzi], {mr}") == {
        "repeated": (slot,)
    }


def test_style_that_is_not_an_error():
    # The venue named again, "the pub" referring back, and "restaurant" as
    # the generic word beside the MR's eatType.
    text = (
        "The Eagle is a pub. The pub serves food. The Eagle is a nice restaurant pub."
    )
    assert errors_of(text, "name[The Eagle], eatType[pub]") == {
        "repeated": ("eatType",)
    }
    text = "The Eagle is a pub. The pub is by the river, a restaurant for all."
    assert errors_of(text, "name[The Eagle], eatType[pub], area[riverside]") == {}
    assert errors_of("Zizzi is a restaurant.", "name[Zizzi]") == {}


def test_place_names_do_not_state_slots():
    # "Indian" in Raja Indian Cuisine is not food; "Café" in Café Rouge is not
    # a coffee shop; "The Rice Boat" is matched whole.
    mr = "name[The Rice Boat], near[Raja Indian Cuisine]"
    assert errors_of("The Rice Boat is near Raja Indian Cuisine.", mr) == {}
    mr = "name[Zizzi], near[Café Rouge]"
    assert errors_of("Zizzi is near Café Rouge.", mr) == {}
    assert find_slots("Near Raja Indian Cuisine.") == {"place": ["Raja Indian Cuisine"]}


def test_places_compare_without_case():
    # The MR's "the eagle" is the bundled "The Eagle", whatever the hash seed.
    assert errors_of("the eagle is a pub.", "name[the eagle], eatType[pub]") == {}
    assert errors_of("The Eagle is a pub.", "name[THE EAGLE], eatType[pub]") == {}


def test_a_place_unknown_to_the_training_set_is_read_from_the_mr():
    mr = "name[Bob's Diner], near[Quayside Market]"
    assert errors_of("Bob's Diner is near Quayside Market.", mr) == {}
    assert errors_of("Bob's Diner is near the river.", mr) == {
        "missing": ("near",),
        "added": ("area",),
    }


def test_corpus_rate_counts_errors_over_mr_slots():
    report = slot_errors(
        [FULL_TEXT, "Zizzi is a pub.", "Zizzi is a pub, a pub by the river."],
        [
            FULL_MR,
            "name[Zizzi], eatType[pub], food[French]",
            "name[Zizzi], eatType[pub]",
        ],
    )
    # 8 + 3 + 2 slots; one missing (food), one repeated (eatType), one added (area).
    assert (report.missing, report.repeated, report.added, report.wrong) == (1, 1, 1, 0)
    assert report.num_slots == 13
    assert report.slot_error_rate == pytest.approx(3 / 13)
    assert [t.count for t in report.texts] == [0, 1, 2]


def test_mr_dicts_are_accepted():
    mr = {"name": "Zizzi", "food": "Italian"}
    assert slot_errors(["Zizzi serves Italian food."], [mr]).slot_error_rate == 0


@pytest.mark.parametrize(
    "texts, mrs, error, match",
    [
        (["a"], [], ValueError, "same length"),
        ([], [], ValueError, "same length"),
        (["a"], ["name[Zizzi], colour[red]"], ValueError, "colour"),
        (["a"], ["eatType[pub]"], ValueError, "name"),
        (["a"], ["not an MR"], ValueError, "attribute\\[value\\]"),
        ([3], ["name[Zizzi]"], TypeError, "text"),
        (["齐齐是一家酒吧。"], ["name[Zizzi]"], ValueError, "chinese"),
        (["Зицци — паб."], ["name[Zizzi]"], ValueError, "spaced"),
        (["a"], [3], TypeError, "meaning_representations"),
    ],
)
def test_bad_input_is_named(texts, mrs, error, match):
    with pytest.raises(error, match=match):
        slot_errors(texts, mrs)
