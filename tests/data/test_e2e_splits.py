"""The generalisation split: unseen attribute sets and lengths, reproducibly."""

import pytest

from keras_nlg.data.e2e import read_e2e_csv
from keras_nlg.data.e2e_splits import attribute_set, generalisation_split
from keras_nlg.datasets import e2e_path


@pytest.fixture(scope="module")
def train():
    return read_e2e_csv(e2e_path("train"))


def test_held_out_mrs_have_unseen_attribute_sets_or_lengths(train):
    rest, held = generalisation_split(train, seed=0)
    mrs = train.meaning_representations
    assert sorted(rest.meaning_representations + held.meaning_representations) == (
        sorted(mrs)
    )
    assert 0.08 * len(mrs) < len(held.meaning_representations) < 0.16 * len(mrs)
    seen_sets = {attribute_set(mr) for mr in rest.meaning_representations}
    longest_rest = max(len(mr) for mr in rest.meaning_representations)
    for mr in held.meaning_representations:
        # Each held-out MR is new by its attributes or longer than any other.
        assert attribute_set(mr) not in seen_sets or len(mr) >= longest_rest
    unseen = [
        m for m in held.meaning_representations if attribute_set(m) not in seen_sets
    ]
    assert len(unseen) > 0.5 * len(held.meaning_representations)
    # References travel with their MR.
    by_mr = dict(zip(mrs, train.references, strict=True))
    for mr, refs in zip(held.meaning_representations, held.references, strict=True):
        assert refs == by_mr[mr]


def test_the_split_is_reproducible_and_depends_on_the_seed(train):
    first = generalisation_split(train, seed=0)[1].meaning_representations
    again = generalisation_split(train, seed=0)[1].meaning_representations
    other = generalisation_split(train, seed=1)[1].meaning_representations
    assert first == again and first != other


def test_attribute_set():
    assert attribute_set("name[X], food[Thai]") == {"name", "food"}


@pytest.mark.parametrize(
    "options, match",
    [
        ({"held_out_fraction": 1.0}, "held_out_fraction=1.0"),
        ({"longest_fraction": -0.1}, "longest_fraction=-0.1"),
        ({"held_out_fraction": 0.0, "longest_fraction": 0.0}, "nothing or everything"),
    ],
)
def test_bad_fractions(train, options, match):
    with pytest.raises(ValueError, match=match):
        generalisation_split(train, **options)
