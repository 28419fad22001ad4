"""Reading the eight E2E slots back out of a generated text, with patterns.

The half of the slot error rate (`keras_nlg.evaluation.slot_errors`) that
knows English: `find_slots(text)` → which value of each E2E slot the text
states, once per mention. The measure follows Dušek, Howcroft & Rieser
(INLG 2019, "Semantic Noise Matters for Neural NLG"); the patterns are our
own, written from the paraphrases in the E2E training references (their
script's repository carries no license, so nothing is taken from it).

Values are compared by meaning, not by string: E2E's `priceRange` values
`cheap` and `less than £20` both mean a low price, and `customer rating`
`5 out of 5` and `high` both a high rating, so both slots are read as one of
three levels (`PRICE_LEVELS`, `RATING_LEVELS`); `familyFriendly` is `yes` or
`no`; `eatType`, `food` and `area` keep E2E's values.

`name` and `near` are open: their values are places (a restaurant's name, a
landmark), read by matching the known places — the MR's own and, by default,
every name and near value of the bundled E2E training set — longest first,
optionally after "the". A place is blanked out of the text before the other
patterns run, so "Raja Indian Cuisine" is not Indian food and "Café Rouge"
not a coffee shop.

Why patterns of our own: no maintained library parses E2E texts, and the
measure is defined by such patterns (the paper's is a hand-written one too).
"""

import functools
import re

SLOTS = (
    "name",
    "eatType",
    "food",
    "priceRange",
    "customer rating",
    "area",
    "familyFriendly",
    "near",
)

PRICE_LEVELS = {
    "cheap": "low",
    "less than £20": "low",
    "moderate": "moderate",
    "£20-25": "moderate",
    "high": "high",
    "more than £30": "high",
}
RATING_LEVELS = {
    "low": "low",
    "1 out of 5": "low",
    "average": "average",
    "3 out of 5": "average",
    "high": "high",
    "5 out of 5": "high",
}

_PRICE = r"(?:pric\w*|costs?|costing|£|pounds?)"
_RATING = r"(?:rat(?:e|ed|es|ing|ings)|reviews?|stars?|scores?)"
_CUSTOMER = r"(?:customer'?s?\s+)?"
# "rating is high", "rated highly", "prices are very low", "rating of average".
_IS = (
    r"\s+(?:(?:is|are|was|were|of|as|by|it|it as)\s+)?"
    r"(?:(?:an?|very|quite|rather|fairly)\s+)*"
)
# "customer rating for this coffee shop is high" (not "... and is high priced").
_RATING_IS = (
    rf"\b{_RATING}\b[^.;,]{{0,30}}?\b(?:is|are)\s+(?:very\s+)?"
    r"(?=\w+\b(?![- ]?(?:pric|cost)))"
)
_KIDS = r"(?:famil(?:y|ies)|kids?|child(?:ren)?)"
_NUMBER = {"1": "(?:1|one)", "3": "(?:3|three)", "5": "(?:5|five)"}
_20 = r"(?:£\s*20|20\s*(?:£|pounds?|dollars?)?|twenty(?: pounds| dollars)?)"
_25 = r"(?:£?\s*25|twenty[- ]five)"
_30 = r"(?:£\s*30|30\s*(?:£|pounds?|dollars?)?|thirty(?: pounds| dollars)?)"


def _out_of(number):
    n = _NUMBER[number]
    # "an average rating of 1 out of 5": "average" is the mean, not a level.
    mean = rf"(?:\ban?\s+average\s+{_CUSTOMER}{_RATING}\s+(?:of\s+)?)?"
    return (
        rf"{mean}\b{n}\s*(?:points?\s+)?(?:{_RATING}\s+)?(?:out(?: of)?|/|of)\s*"
        rf"(?:(?:a\s+)?(?:possible|max(?:imum)?)\s+)?(?:5|five)(?!\d)"
        rf"|{mean}\b{n}[- ](?:stars?|points?)\b"
        rf"|\b{_RATING}\s+(?:of|is)\s+{n}\b(?!\s*(?:-|to|out)|\.\d)"
    )


# Slot → [(value, pattern)], tried in order; a match is blanked out before the
# next pattern runs, so a more specific reading ("not family friendly") wins
# over the one it contains ("family friendly").
_PATTERNS = {
    "familyFriendly": [
        (
            "no",
            rf"(?:\bnot\b|n't\b|\bnever\b)[^.,;]{{0,30}}?\b{_KIDS}[- ]?friend(?:ly)?\b"
            rf"|\bnon[- ]?{_KIDS}\b(?:[- ]?friendly\b)?|\bnot\s+(?:a\s+)?{_KIDS}\b"
            rf"|\bunsuitable\b[^.;]{{0,12}}?\b{_KIDS}"
            rf"|(?:\b(?:not|never|no)\b|n't\b)[^.;]{{0,30}}?"
            rf"\b(?:suitable|good|ideal|welcom\w*|allow\w*|appropriate|cater\w*|"
            rf"for|friendly|place)\b[^.;]{{0,20}}?\b{_KIDS}"
            r"|\badults?\b|\ball ages\b(?<=not for all ages)"
            rf"|\b{_KIDS}\b[^.;]{{0,20}}?(?:\b(?:not|never)|n't)\b[^.;]{{0,12}}?"
            r"\b(?:allowed|permitted|welcome\w*|admitted)\b"
            rf"|(?:\b(?:do not|never)|\bdon't)\s+bring\b[^.;]{{0,15}}?\b{_KIDS}"
            rf"|(?:\bnot|n't)\s+(?:like|accommodate|serve|want)\w*\s+(?:the\s+)?{_KIDS}"
            rf"|\bleave\b[^.;]{{0,10}}?\b{_KIDS}\b[^.;]{{0,10}}?\bhome\b"
            rf"|\bno\s+{_KIDS}\b|\badults?[- ]only\b|\b{_KIDS}[- ]?free\b"
            rf"|\bun{_KIDS}[- ]?friendly\b|\b{_KIDS}[- ]unfriendly\b",
        ),
        (
            "yes",
            rf"\b{_KIDS}[- ]?friendly\b"
            rf"|\b{_KIDS}\b[^.;]{{0,25}}?"
            r"\b(?:welcome|allowed|love|enjoy|can (?:go|come))"
            rf"|\bwelcom\w*\b[^.;]{{0,20}}?\b{_KIDS}"
            rf"|\b(?:suitable|good|great|ideal|perfect|fun|place)\s+for\b"
            rf"[^.;]{{0,15}}?\b{_KIDS}"
            rf"|\bfor (?:the (?:whole )?)?(?:famil(?:y|ies)|kids|children)\b"
            rf"|\ballows? (?:kids|children|families)\b|\ball ages\b"
            rf"|\b(?:bring|take)\b[^.;]{{0,12}}?\b{_KIDS}"
            rf"|\bout with\b[^.;]{{0,8}}?{_KIDS}"
            rf"|\bcater\w*\s+(?:to|for)\s+(?:the\s+)?{_KIDS}"
            r"|\bfamily\b(?=[- ](?:restaurant|coffee|pub|place|venue|establishment|"
            r"spot|dining|environment|atmosphere|setting|oriented))",
        ),
    ],
    "customer rating": [
        ("low", _out_of("1")),
        ("average", _out_of("3")),
        ("high", _out_of("5")),
        (
            "low",
            r"\b(?:low|poor|bad|terrible|negative)(?:ly)?[- ](?:in\s+)?"
            rf"{_CUSTOMER}{_RATING}"
            rf"|\b{_RATING}{_IS}(?:low|poor|bad)(?:ly)?\b|{_RATING_IS}(?:low|poor)\b"
            r"|\b(?:poorly|badly|lowly)[- ]rated\b",
        ),
        (
            "average",
            rf"\b(?:average|moderate|mid|decent|ok|okay|mediocre|middling)(?:ly)?"
            rf"[- ]{_CUSTOMER}{_RATING}"
            rf"|\b{_RATING}{_IS}(?:average|moderate|mediocre)\b|{_RATING_IS}average\b"
            # "an average coffee shop": the level given to the venue.
            r"|\ban?\s+(?:average|ok|okay|mediocre)\b(?![- ]?(?:pric|cost|£))",
        ),
        (
            "high",
            r"\b(?:high|highly|excellent|great|good|top|well|very good|positive|"
            r"outstanding|perfect|superb|stellar|five[- ]star)"
            rf"[- ]{_CUSTOMER}{_RATING}"
            rf"|\b{_RATING}{_IS}(?:high|highly|excellent|great|well|outstanding)\b"
            rf"|{_RATING_IS}(?:high|excellent)\b",
        ),
    ],
    "priceRange": [
        (
            "low",
            rf"\b(?:less than|under|below|up to)\s*{_20}|{_20}\s*(?:or less|or under)"
            rf"|\blow\s+(?:in\s+)?{_PRICE}"
            r"|\bcheap\w*|\binexpensive\b|\bafford\w*|\bbudget\b|\blow[- ]cost\b"
            rf"|\blow[- ](?:{_PRICE}|price range)|\b{_PRICE}(?:\s+range)?{_IS}low\b",
        ),
        (
            "moderate",
            rf"(?:£\s*|\b)(?:20|twenty)\s*(?:-|–|to|and)\s*{_25}\b"
            r"|\bmoderate(?:ly)?\b(?![- ](?:customer\s+)?(?:rat|review))"
            rf"|\b(?:mid|medium)[- ]?(?:range|pric\w*)\b"
            rf"|\b(?:average|medium|decent|moderating)[- ](?:{_PRICE}|price range)"
            rf"|\b{_PRICE}(?:\s+range)?{_IS}(?:average|reasonable|moderate|medium)\b"
            r"|\breasonabl[ey]\b",
        ),
        (
            "high",
            rf"\b(?:more than|over|above)\s*{_30}|{_30}\s*(?:or more|plus|\+)"
            r"|\bexpensive\b|\bpric(?:ey|y)\b|\bhigh[- ](?:end|cost|charg\w*)\b"
            r"|\bcostly\b|\bpriced (?:higher|above)\b|\bin the high range\b"
            rf"|\b(?:starting|from)\s+(?:at\s+)?{_30}"
            rf"|\bupscale\b|\bluxur\w*|\bhigh(?:ly|er)?[- ](?:{_PRICE}|price range)"
            rf"|\b{_PRICE}(?:\s+range)?{_IS}high\b",
        ),
    ],
    "area": [
        # "north of the city centre" says where it is not: read as nothing.
        (
            None,
            r"\b(?:north|south|east|west|outside|out(?:side)? of)\s+(?:of\s+)?"
            r"(?:the\s+)?(?:city|town)\s*cent(?:re|er)\b",
        ),
        (
            "city centre",
            r"\bcity\s*cent(?:re|er)\b|\bcent(?:re|er) of (?:the )?(?:city|town)\b"
            r"|\btown\s*cent(?:re|er)\b|\bdowntown\b|\bcentral\b"
            r"|\bin the (?:city|cent(?:re|er))\b",
        ),
        (
            "riverside",
            r"\briver\s*(?:side|front|bank)\b|\briver\b|\bwaterfront\b"
            r"|\bby the water\b",
        ),
    ],
    "food": [
        ("Fast food", r"\bfast[- ]?food\b"),
        ("Chinese", r"\bchinese\b"),
        ("English", r"\benglish\b|\bbritish\b"),
        ("French", r"\bfrench\b"),
        ("Indian", r"\bindian\b"),
        ("Italian", r"\bitalian\b"),
        ("Japanese", r"\bjapanese\b|\bsushi\b"),
    ],
    "eatType": [
        ("coffee shop", r"\bcoffee[- ]?(?:shop|chop|shot|house)s?\b|\bcaf[eé]s?\b"),
        ("pub", r"\bpubs?\b"),
        ("restaurant", r"\brestaurants?\b|\beater(?:y|ies)\b"),
    ],
}
_COMPILED = {
    slot: [(value, re.compile(pattern)) for value, pattern in patterns]
    for slot, patterns in _PATTERNS.items()
}
# "the pub", "this coffee shop": a mention of an eating place already named,
# which states nothing new (it is neither added nor a repetition).
_ANAPHORA = re.compile(r"\b(?:the|this|that|its|a nearby|another)\s+$")


def normalize_value(slot: str, value: str) -> str:
    """An MR value in the form `find_slots` reports it (levels for price and
    rating, lower case for the closed slots, unchanged places)."""
    if slot == "priceRange":
        return PRICE_LEVELS.get(value, value)
    if slot == "customer rating":
        return RATING_LEVELS.get(value, value)
    return value


@functools.lru_cache(maxsize=1)
def bundled_places() -> frozenset:
    """Every `name` and `near` value of the bundled E2E training set."""
    from keras_nlg.data.e2e import parse_meaning_representation, read_e2e_csv
    from keras_nlg.datasets import e2e_path

    places = set()
    for mr in read_e2e_csv(e2e_path("train")).meaning_representations:
        attributes = parse_meaning_representation(mr)
        places.update(attributes[s] for s in ("name", "near") if s in attributes)
    return frozenset(places)


def _place_pattern(places):
    """One regex over the places, longest first; "The X" also matches "X"."""
    alternatives = set()
    for place in places:
        alternatives.add(re.escape(place.lower()))
        if place.lower().startswith("the ") and len(place) > 8:
            alternatives.add(re.escape(place[4:].lower()))
    ordered = sorted(alternatives, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:the\s+)?(" + "|".join(ordered) + r")(?!\w)")


def find_places(text: str, places) -> tuple[list[str], str]:
    """`(places mentioned, in order, as given in places; text with them blanked)`."""
    if not places:
        return [], text.lower()
    by_lower = {}
    for place in sorted(places, key=len):
        by_lower[place.lower()] = place
        if place.lower().startswith("the "):
            by_lower.setdefault(place[4:].lower(), place)
    lowered = text.lower()
    found = []
    pattern = _place_pattern(tuple(sorted(places)))
    for match in pattern.finditer(lowered):
        found.append(by_lower[match.group(1)])
    return found, pattern.sub(lambda m: " " * len(m.group(0)), lowered)


def find_slots(text: str, places=None) -> dict[str, list[str]]:
    """Which values of the E2E slots `text` states, once per mention.

    Args:
        text: one generated (or reference) text, English.
        places: the `name`/`near` values to look for; default
            `bundled_places()`.

    Returns:
        `{slot: [value, ...]}` for the slots mentioned, in `SLOTS` order.
        `name` and `near` are not told apart here (both are places): their
        mentions come back under `"place"`. Price and rating values are
        levels (`PRICE_LEVELS`, `RATING_LEVELS`).
    """
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a string. Received: {type(text).__name__}")
    found_places, rest = find_places(
        text, bundled_places() if places is None else places
    )
    mentions = {"place": found_places} if found_places else {}
    for slot, patterns in _COMPILED.items():
        values = []
        for value, pattern in patterns:
            for match in pattern.finditer(rest):
                if value is None:
                    continue
                anaphoric = slot == "eatType" and bool(
                    _ANAPHORA.search(rest[: match.start()])
                )
                values.append((match.start(), match.end(), value, anaphoric))
            rest = pattern.sub(lambda m: " " * len(m.group(0)), rest)
        values = _merge_restatements(sorted(values), text.lower())
        # "the pub" names a place already stated: it counts only when it is
        # the one mention ("The pub The Eagle is ...").
        stated = [value for _, _, value, anaphoric in values if not anaphoric]
        if values:
            mentions[slot] = stated or [values[0][2]]
    return mentions


# What may stand between two mentions of one value that say it once:
# "a high customer rating of 5 out of 5", "expensive: more than £30".
_RESTATEMENT_GAP = re.compile(
    r"[\s:()\-–—]*(?:(?:of|at|with|i\.e\.|around|about|range|is|are)\b[\s:()]*)*"
)


def _merge_restatements(mentions, lowered):
    """Drops a mention that restates the one just before it (same value)."""
    merged = []
    for mention in mentions:
        if merged and merged[-1][2] == mention[2]:
            gap = lowered[merged[-1][1] : mention[0]]
            if _RESTATEMENT_GAP.fullmatch(gap):
                merged[-1] = (merged[-1][0], mention[1], *merged[-1][2:])
                continue
        merged.append(mention)
    return merged
