"""Slot error rate: does an E2E text say what its MR says, and nothing else?

BLEU and ROUGE reward overlap with references, so a fluent text that drops a
slot or names the wrong place can still score well. The slot error rate
(SER) of Dušek, Howcroft & Rieser (INLG 2019, "Semantic Noise Matters for
Neural NLG") reads the slot values back out of each text (`e2e_slots`) and
counts, per text:

- **added**: a slot the MR doesn't have is stated;
- **missing**: an MR slot is not stated;
- **wrong**: an MR slot is stated with another value (or with another value
  beside the right one);
- **repeated**: an MR slot's value is stated more than once;

SER = (added + missing + wrong + repeated) / (number of MR slots), over the
corpus. The human references themselves have a non-zero SER: they really do
leave out and add facts.

How right the flags are (measured 2026-11-30 by reading, on 110 flagged
and 110 unflagged references of the bundled dev set not looked at while
writing the patterns; `benchmarks/slot_errors.py --check`): 158 of 185
flags are right (precision 0.854: added 3/3, missing 131/149, wrong 13/19,
repeated 11/14), every flag is right on 85 of 110 flagged texts, and 108 of
110 unflagged texts really have no error. The misses are mostly paraphrase
("mid level cost", "for the entire family") and misspellings ("coffee
ship"). The dev references themselves score SER 8.8%.

Rules where the paper leaves a choice:
- `name` is never counted as repeated (texts name the venue again as a
  matter of style); places are matched to the MR's `name` and `near` by
  value; a place that is neither is the wrong `name` (when the MR's name is
  not stated), else the wrong `near` (when the MR's near is not stated, or
  as a second near), else an added `near`.
- "restaurant" is also English's generic word for an eating place: it is
  ignored unless the MR's `eatType` is restaurant or it is the only
  `eatType` word where the MR has another value. "The pub" after a venue is
  already typed is a reference back, not a repetition (`e2e_slots`).
- Price and rating are compared as levels: `cheap` = `less than £20`, `£20-25`
  = `moderate`, `high` = `more than £30`; `1 out of 5` = `low`, `3 out of 5` =
  `average`, `5 out of 5` = `high`.
"""

import dataclasses

from keras_nlg.data.delexicalize import PLACEHOLDERS
from keras_nlg.evaluation.e2e_slots import (
    SLOTS,
    bundled_places,
    find_slots,
    normalize_value,
)
from keras_nlg.evaluation.words import writing_system


@dataclasses.dataclass(frozen=True)
class TextSlotErrors:
    """The errors of one text: slot names per kind, and what was read."""

    added: tuple[str, ...]
    missing: tuple[str, ...]
    wrong: tuple[str, ...]
    repeated: tuple[str, ...]
    found: dict

    @property
    def count(self) -> int:
        return (
            len(self.added) + len(self.missing) + len(self.wrong) + len(self.repeated)
        )


@dataclasses.dataclass(frozen=True)
class SlotErrorReport:
    """Corpus SER (a fraction, 0 = every slot right), the four counts, the
    number of MR slots they are divided by, and one `TextSlotErrors` per text."""

    slot_error_rate: float
    added: int
    missing: int
    wrong: int
    repeated: int
    num_slots: int
    texts: list[TextSlotErrors]


def _attributes(mr):
    if isinstance(mr, dict):
        attributes = dict(mr)
    elif isinstance(mr, str):
        from keras_nlg.data.e2e import parse_meaning_representation

        attributes = parse_meaning_representation(mr)
    else:
        raise TypeError(
            "Each of `meaning_representations` must be an MR string or a dict. "
            f"Received: {type(mr).__name__}"
        )
    unknown = sorted(set(attributes) - set(SLOTS))
    if unknown or "name" not in attributes:
        raise ValueError(
            f"An E2E MR has `name` and only the slots {list(SLOTS)}. Received: {mr!r}"
        )
    return attributes


def is_e2e_meaning_representation(mr) -> bool:
    """Whether `mr` parses and has `name` and only E2E's slots."""
    try:
        _attributes(mr)
    except (TypeError, ValueError):
        return False
    return True


def _place_errors(attributes, places, errors):
    """Matches the places mentioned to the MR's `name` and `near`."""
    # Compared without case: "the eagle" in an MR is the bundled "The Eagle".
    name, near = attributes["name"].lower(), (attributes.get("near") or "").lower()
    near = near or None
    places = [place.lower() for place in places]
    extras = sorted({p for p in places if p not in (name, near)})
    if name not in places:
        errors["wrong" if extras else "missing"].append("name")
        extras = extras[1:]
    if near is None:
        if extras:
            errors["added"].append("near")
    elif near not in places or extras:
        errors["wrong" if extras else "missing"].append("near")
    elif places.count(near) > 1:
        errors["repeated"].append("near")


def _closed_slot_errors(slot, expected, mentioned, errors):
    if slot == "eatType" and expected != "restaurant":
        generic = [v for v in mentioned if v == "restaurant"]
        if generic and (expected is None or len(generic) < len(mentioned)):
            mentioned = [v for v in mentioned if v != "restaurant"]
    if expected is None:
        if mentioned:
            errors["added"].append(slot)
    elif not mentioned:
        errors["missing"].append(slot)
    elif set(mentioned) != {expected}:
        errors["wrong"].append(slot)
    elif len(mentioned) > 1:
        errors["repeated"].append(slot)


def text_slot_errors(text: str, mr, places=None) -> TextSlotErrors:
    """The slot errors of one text against its MR (string or dict).

    `places` are the `name`/`near` values to recognise; default: the
    bundled E2E training set's and this MR's.
    """
    attributes = _attributes(mr)
    known = set(bundled_places() if places is None else places)
    known.update(attributes[s] for s in ("name", "near") if s in attributes)
    # A delexicalised model's placeholder left in the text is a place too.
    known.update(PLACEHOLDERS.values())
    found = find_slots(text, frozenset(known))
    errors = {"added": [], "missing": [], "wrong": [], "repeated": []}
    _place_errors(attributes, found.get("place", []), errors)
    for slot in SLOTS:
        if slot in ("name", "near"):
            continue
        expected = attributes.get(slot)
        if expected is not None:
            expected = normalize_value(slot, expected)
        _closed_slot_errors(slot, expected, found.get(slot, []), errors)
    return TextSlotErrors(
        **{kind: tuple(slots) for kind, slots in errors.items()}, found=found
    )


def slot_errors(texts, meaning_representations, places=None) -> SlotErrorReport:
    """Slot error rate of E2E texts against their MRs.

    Args:
        texts: list of N generated strings (English).
        meaning_representations: N MRs, as E2E strings
            (`"name[The Eagle], eatType[pub]"`) or dicts.
        places: `name`/`near` values to recognise besides the MRs' own;
            default: those of the bundled E2E training set.

    Returns:
        A `SlotErrorReport`; `slot_error_rate` is a fraction (multiply by
        100 for the percentages the paper reports).

    Raises:
        ValueError: when the two lists differ in length, are empty, an MR
            is malformed or has a slot E2E doesn't, or the texts have letters
            of a script other than Latin (the patterns read English).
        TypeError: for a text that is not a string.
    """
    texts = list(texts)
    meaning_representations = list(meaning_representations)
    if len(texts) != len(meaning_representations) or not texts:
        raise ValueError(
            "`texts` and `meaning_representations` must be non-empty lists of the "
            f"same length. Received: {len(texts)} texts and "
            f"{len(meaning_representations)} MRs"
        )
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"`texts` must be strings. Received: {type(text).__name__}")
    system = writing_system(texts)
    if system != "latin":
        # The patterns read English: text in another script would show every
        # slot as missing, a silent wrong score.
        raise ValueError(
            "`slot_errors` reads English E2E texts; these `texts` are written in "
            f"a {system} script. Received: texts[0]={texts[0][:40]!r}"
        )
    results = [
        text_slot_errors(text, mr, places)
        for text, mr in zip(texts, meaning_representations, strict=True)
    ]
    num_slots = sum(len(_attributes(mr)) for mr in meaning_representations)
    counts = {
        kind: sum(len(getattr(r, kind)) for r in results)
        for kind in ("added", "missing", "wrong", "repeated")
    }
    return SlotErrorReport(
        slot_error_rate=sum(counts.values()) / num_slots,
        num_slots=num_slots,
        texts=results,
        **counts,
    )
