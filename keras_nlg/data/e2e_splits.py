"""A dev split of the E2E training data that asks for generalisation.

The official dev set flatters a recipe: its MRs are new strings, but they
are built from the same kinds of MR as the training set. The official test
set is harder (it has attribute combinations and lengths that training
never shows; see issue 17's measurements), so settings chosen on dev can
overfit what dev looks like. `generalisation_split` holds out, from the
training data itself,

- every MR of a few **attribute sets** (the attributes an MR has, e.g.
  `{name, eatType, priceRange, near}`), chosen at random with `seed`, so the
  held-out part has attribute combinations the rest never shows; and
- the **longest MRs** (by characters), so it has lengths the rest doesn't
  reach.

Settings are then chosen on the held-out part, and the model trained for
the final figures on all the data.
"""

import random

from keras_nlg.argument_checks import check_rate
from keras_nlg.data.e2e import E2EData, parse_meaning_representation


def attribute_set(mr: str) -> frozenset:
    """The attributes of an MR: `"name[X], food[Y]"` → `{"name", "food"}`."""
    return frozenset(parse_meaning_representation(mr))


def generalisation_split(
    data: E2EData,
    held_out_fraction: float = 0.1,
    longest_fraction: float = 0.02,
    seed: int = 0,
) -> tuple[E2EData, E2EData]:
    """`(rest, held_out)`: MRs (with their references) split for generalisation.

    Args:
        data: E2E data (distinct MRs with references), e.g. the training set.
        held_out_fraction: about this share of the MRs is held out, by whole
            attribute sets (never the set with every attribute, nor one that
            holds more than half of what is still needed, so no single set
            dominates).
        longest_fraction: this share of the MRs, the longest by characters,
            is held out as well (a fraction of 0 holds none).
        seed: chooses the attribute sets.

    Returns:
        Two `E2EData` in the original order. No attribute set of `held_out`'s
        set-based part occurs in `rest`, and every MR of `held_out`'s
        longest part is longer than every MR of `rest`.

    Raises:
        ValueError: for fractions outside [0, 1) or that would hold out
            everything or nothing.
    """
    check_rate("held_out_fraction", held_out_fraction)
    check_rate("longest_fraction", longest_fraction)
    mrs = data.meaning_representations
    by_length = sorted(range(len(mrs)), key=lambda i: (-len(mrs[i]), i))
    held = set(by_length[: round(longest_fraction * len(mrs))])

    sets = {}
    for i, mr in enumerate(mrs):
        if i not in held:
            sets.setdefault(attribute_set(mr), []).append(i)
    full = max(sets, key=len, default=frozenset())
    target = round(held_out_fraction * len(mrs))
    candidates = sorted(
        (s for s in sets if s != full), key=lambda s: sorted(s)
    )  # a fixed order for the seeded shuffle
    random.Random(seed).shuffle(candidates)
    taken = 0
    for candidate in candidates:
        needed = target - taken
        if needed <= 0:
            break
        if len(sets[candidate]) > max(1, needed // 2) and taken:
            continue
        held.update(sets[candidate])
        taken += len(sets[candidate])
    if not held or len(held) == len(mrs):
        raise ValueError(
            "The split holds out nothing or everything. Received: "
            f"held_out_fraction={held_out_fraction}, "
            f"longest_fraction={longest_fraction} for {len(mrs)} MRs"
        )
    return _subset(data, [i not in held for i in range(len(mrs))]), _subset(
        data, [i in held for i in range(len(mrs))]
    )


def _subset(data, keep):
    pairs = [
        (mr, refs)
        for mr, refs, kept in zip(
            data.meaning_representations, data.references, keep, strict=True
        )
        if kept
    ]
    return E2EData([mr for mr, _ in pairs], [refs for _, refs in pairs])
