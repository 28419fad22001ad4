"""Where a generated row ends: the one rule every runtime cuts text and ids by.

`generate` (and its details), `keras-nlg generate --json`, `generate_stream`,
beam search and the TFLite runner all end a row here, so the text a result
carries and the token ids and log-probabilities beside it always agree:

- A row ends at its first end-of-text token, after `max_new_tokens`, or at
  the first stop string, whichever comes first. End-of-text is never part
  of the ids or the text.
- `text` is cut where the earliest stop string begins (the stop string is
  not returned).
- `token_ids` (and `log_probs`, one per id) are the shortest prefix of the
  generated tokens whose text starts with the returned `text`: every token
  before the stop string, and the token in which it begins when it begins
  inside one. So `detokenize(token_ids)` equals `text` when the stop string
  begins on a token boundary (always with `ByteTokenizer`), and is `text`
  followed by the start of the stop string when a token holds both (a BPE
  token such as `".\\n"` with stop `"\\n"`). No token after that is kept.

Why this rule: Hugging Face's `StopStringCriteria` keeps the whole token that
*completes* the stop string and returns the stop string in the text; we
return the text before the stop (as the OpenAI API does), so we keep exactly
the tokens behind that text. Dropping the token that straddles the cut would
lose characters of the returned text from the ids.
"""

from __future__ import annotations

import numpy as np


def detokenize(tokenizer, ids) -> str:
    """`ids` → `str` (a cut multi-byte character reads as U+FFFD)."""
    text = tokenizer.detokenize(np.asarray(ids, np.int32)).numpy()
    return text.decode("utf-8", errors="replace")


def stop_index(text: str, stop_strings) -> int | None:
    """Where the earliest of `stop_strings` begins in `text`, or None."""
    found = [text.find(s) for s in stop_strings or () if s in text]
    return min(found) if found else None


def ids_to_text(tokenizer, ids, stop_strings):
    """Generated ids → `(ids, text, ended)` by the module's rule.

    Args:
        tokenizer: the model's tokenizer.
        ids: the generated token ids (a list of ints), possibly with an
            end-of-text token and padding after it.
        stop_strings: strings that end the text, or None.

    Returns:
        `ids`: the tokens behind `text` (a prefix of the input, end-of-text
        excluded); `text`: their text, cut where a stop string begins;
        `ended`: whether the row ended here (end-of-text or a stop string),
        rather than only running out of tokens.
    """
    ids = list(ids)
    ended = tokenizer.end_of_text_id in ids
    if ended:
        ids = ids[: ids.index(tokenizer.end_of_text_id)]
    text = detokenize(tokenizer, ids)
    cut = stop_index(text, stop_strings)
    if cut is None:
        return ids, text, ended
    text = text[:cut]
    # The fewest tokens whose text starts with `text`. Appending tokens only
    # appends text, so this holds for every longer prefix: binary search.
    low, high = 0, len(ids)
    while low < high:
        middle = (low + high) // 2
        if detokenize(tokenizer, ids[:middle]).startswith(text):
            high = middle
        else:
            low = middle + 1
    return ids[:high], text, True
