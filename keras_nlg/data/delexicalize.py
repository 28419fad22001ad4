"""Delexicalisation of E2E's open slots: placeholders in, values back out.

`name` and `near` take any place name; the training set has 34 and 19 of
them, a user's MRs will have others. A model that learns to copy "The
Eagle" character by character can misspell or swap an unseen one. TGen's
standard fix (Dušek & Jurčíček 2016; the E2E baseline) is to train on MRs
and texts where those values are replaced by placeholders, and to put the
values back into the generated text: the model then only learns where a
name goes.

`delexicalize_pair` replaces the value wherever the reference writes it
(case-insensitively, with or without a leading "The", which references
drop and add freely); `relexicalize` puts the MR's values back.
"""

import re

from keras_nlg.data.e2e import E2EData, parse_meaning_representation

# Placeholders that no E2E text contains and that every tokenizer keeps
# whole enough (letters only: byte-level and SentencePiece both handle them).
PLACEHOLDERS = {"name": "XNAMEX", "near": "XNEARX"}
DELEXICALIZED_SLOTS = tuple(PLACEHOLDERS)


def _value_pattern(value):
    """`value` in a text: any case, "The X" also as "X" and "X" as "the X"."""
    bare = value[4:] if value.lower().startswith("the ") else value
    return re.compile(
        r"(?<!\w)(?:the\s+)?" + re.escape(bare).replace(r"\ ", r"\s+") + r"(?!\w)",
        re.IGNORECASE,
    )


def delexicalize_mr(mr: str) -> tuple[str, dict]:
    """`(mr with placeholders, {slot: value})` for the slots in `PLACEHOLDERS`.

    The MR keeps its attribute order; a slot it lacks is not in the dict.

    Raises:
        ValueError: for a malformed MR (see `parse_meaning_representation`),
            or a value that already is a placeholder.
    """
    attributes = parse_meaning_representation(mr)
    values = {s: attributes[s] for s in DELEXICALIZED_SLOTS if s in attributes}
    for slot, value in values.items():
        if value in PLACEHOLDERS.values():
            raise ValueError(
                f"The MR's {slot} is a placeholder already. Received: mr={mr!r}"
            )
    text = ", ".join(
        f"{attribute}[{PLACEHOLDERS.get(attribute, value)}]"
        for attribute, value in attributes.items()
    )
    return text, values


def delexicalize_text(text: str, values: dict) -> str:
    """`text` with each of `values` (from `delexicalize_mr`) replaced by its
    placeholder. The longer value goes first, so that one containing the
    other ("The Rice Boat" vs "Rice") is replaced whole."""
    for slot, value in sorted(values.items(), key=lambda item: -len(item[1])):
        text = _value_pattern(value).sub(PLACEHOLDERS[slot], text)
    return text


def delexicalize_pair(mr: str, reference: str) -> tuple[str, str]:
    """An `(mr, reference)` training pair with `name`/`near` as placeholders."""
    delexicalized, values = delexicalize_mr(mr)
    return delexicalized, delexicalize_text(reference, values)


def relexicalize(text: str, values: dict) -> str:
    """Generated `text` with the placeholders replaced by the MR's values.

    A placeholder of a slot the MR lacks (the model invented a `near`) is
    left in the text, where the slot error rate counts it and a reader sees
    it, rather than filled with a made-up value.
    """
    for slot, value in values.items():
        text = text.replace(PLACEHOLDERS[slot], value)
    return text


def delexicalize_data(data):
    """`E2EData` with every MR and reference delexicalised.

    MRs that differ only in `name`/`near` become one, with all their
    references (in first-appearance order).
    """
    groups = {}
    for mr, references in zip(
        data.meaning_representations, data.references, strict=True
    ):
        delexicalized, values = delexicalize_mr(mr)
        groups.setdefault(delexicalized, []).extend(
            delexicalize_text(reference, values) for reference in references
        )
    return E2EData(list(groups), list(groups.values()))
