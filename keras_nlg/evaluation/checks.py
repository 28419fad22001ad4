"""Input checks shared by the text metrics."""


def check_hypotheses(hypotheses) -> None:
    """Checks `hypotheses` is a non-empty list of strings."""
    if not isinstance(hypotheses, list | tuple) or not all(
        isinstance(h, str) for h in hypotheses
    ):
        raise TypeError(
            "`hypotheses` must be a list of strings. "
            f"Received: hypotheses={hypotheses!r:.80}"
        )
    if not hypotheses:
        raise ValueError("`hypotheses` must not be empty. Received: hypotheses=[]")


def check_references(hypotheses, references) -> list[list[str]]:
    """Checks `references[i]` is a non-empty list of strings for hypothesis i."""
    check_hypotheses(hypotheses)
    if not isinstance(references, list | tuple):
        raise TypeError(
            "`references` must be a list with one list of references per "
            f"hypothesis. Received: references={references!r:.80}"
        )
    if len(references) != len(hypotheses):
        raise ValueError(
            "`references` must hold one list of references per hypothesis. "
            f"Received: {len(hypotheses)} hypotheses and references={references!r:.80}"
        )
    checked = []
    for i, refs in enumerate(references):
        valid = isinstance(refs, list | tuple) and all(isinstance(r, str) for r in refs)
        if not valid or not refs:
            raise ValueError(
                f"`references[{i}]` must be a non-empty list of strings. "
                f"Received: references[{i}]={refs!r}"
            )
        checked.append(list(refs))
    return checked
