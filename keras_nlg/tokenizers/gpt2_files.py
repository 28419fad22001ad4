"""Reading and checking GPT-2's `vocab.json` and `merges.txt`.

keras-hub takes whatever it is given and fails deep inside TensorFlow (a
hash table of the wrong dtype, a merge of unknown symbols, an id of -1 at
embedding time). These checks run first, so a bad file gives one
`ValueError` that names the file, the line and the problem.
"""

import json
import os

from keras_nlg.files import read_text_file

VERSION_PREFIX = "#version"  # the header line, e.g. "#version: 0.2"


def byte_symbols() -> list[str]:
    """GPT-2's printable stand-in for each byte 0–255 (`bytes_to_unicode`).

    From OpenAI's `encoder.py`: printable Latin-1 bytes stand for
    themselves, the others map to U+0100 onwards. keras-hub keeps its copy
    private, so we spell the table out here.
    """
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    symbols, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            symbols[byte] = chr(byte)
        else:
            symbols[byte] = chr(256 + extra)
            extra += 1
    return [symbols[byte] for byte in range(256)]


def read_vocabulary(path: str) -> dict:
    """The `{piece: id}` object of a `vocab.json` (checked by `check_vocabulary`)."""
    text = read_text_file(path, "the GPT-2 vocabulary")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"The GPT-2 vocabulary {path} is not valid JSON: {error}"
        ) from None


def read_merges(path: str) -> list[tuple[int, str]]:
    """`(line number, rule)` for each merge rule of a `merges.txt`.

    The `#version` header and blank lines are skipped. An empty file is
    refused: a BPE without merges still has its header line, so an empty
    file is a truncated copy, not a tokenizer.
    """
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise ValueError(
            f"The GPT-2 merges {path} is empty (a BPE without merges still has "
            "the '#version' header line)"
        )
    text = read_text_file(path, "the GPT-2 merges")
    return [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.startswith(VERSION_PREFIX)
    ]


def check_vocabulary(vocabulary, source: str, end_of_text: str) -> None:
    """Raises `ValueError` naming `source` unless `vocabulary` is usable.

    Usable: a non-empty `{str: int}` mapping whose ids are exactly
    0 … n-1 (each once), holding `end_of_text` and the 256 byte symbols
    (without them some text would have no ids).
    """
    if not isinstance(vocabulary, dict):
        raise ValueError(
            f"{source} must be a JSON object mapping each piece to its id. "
            f"Received: a {type(vocabulary).__name__}"
        )
    if not vocabulary:
        raise ValueError(f"{source} has no pieces. Received: {{}}")
    owners = {}
    for piece, token_id in vocabulary.items():
        if not isinstance(piece, str):
            raise ValueError(f"{source}: piece {piece!r} is not a string")
        if isinstance(token_id, bool) or not isinstance(token_id, int):
            raise ValueError(
                f"{source}: the id of {piece!r} must be an integer. "
                f"Received: {token_id!r}"
            )
        if token_id in owners:
            raise ValueError(
                f"{source}: id {token_id} belongs to both {owners[token_id]!r} "
                f"and {piece!r} (each id must be unique)"
            )
        owners[token_id] = piece
    size = len(vocabulary)
    for token_id, piece in owners.items():
        if not 0 <= token_id < size:
            raise ValueError(
                f"{source}: the ids of {size} pieces must be 0 … {size - 1}. "
                f"Received: {piece!r} with id {token_id}"
            )
    if end_of_text not in vocabulary:
        raise ValueError(
            f"{source} must contain {end_of_text!r}. Received a vocabulary of "
            f"{size} pieces without it."
        )
    missing = [s for s in byte_symbols() if s not in vocabulary]
    if missing:
        raise ValueError(
            f"{source} lacks {len(missing)} of the 256 byte symbols of GPT-2's "
            f"byte-level BPE, e.g. {missing[:3]!r}: text with those bytes would "
            "have no ids"
        )


def check_merges(numbered_merges, vocabulary, source: str) -> list[str]:
    """The merge rules `"a b"` of `(line, rule)` pairs, or `ValueError`.

    Each rule must have exactly two space-separated symbols, both in the
    vocabulary together with their concatenation (Hugging Face tokenizers
    refuses a merge whose result is not a piece too), and appear once.
    """
    rules, first_line = [], {}
    for number, rule in numbered_merges:
        where = f"{source} line {number}" if number else f"{source}[{len(rules)}]"
        if not isinstance(rule, str):
            raise ValueError(f"{where}: a merge rule must be a string 'a b'")
        parts = rule.split(" ")
        if len(parts) != 2 or not all(parts):
            raise ValueError(
                f"{where}: a merge rule is two symbols separated by one space. "
                f"Received: {rule!r} ({len(parts)} parts)"
            )
        for symbol in (*parts, parts[0] + parts[1]):
            if symbol not in vocabulary:
                raise ValueError(
                    f"{where}: the merge rule {rule!r} uses {symbol!r}, which is "
                    "not in the vocabulary"
                )
        if rule in first_line:
            raise ValueError(
                f"{where}: the merge rule {rule!r} repeats {first_line[rule]}"
            )
        first_line[rule] = f"line {number}" if number else f"rule {len(rules)}"
        rules.append(rule)
    return rules


def byte_pair_merge(symbols: list[str], ranks: dict) -> list[str]:
    """OpenAI's BPE of one word: merge the best-ranked pair until none is left.

    Used for the few characters keras-hub's in-graph pre-tokenizer loses
    (see `GPT2Tokenizer`); everything else goes through keras-hub.
    """
    symbols = list(symbols)
    while len(symbols) > 1:
        pairs = set(zip(symbols, symbols[1:], strict=False))
        best = min(pairs, key=lambda pair: ranks.get(pair, float("inf")))
        if best not in ranks:
            break
        merged, i = [], 0
        while i < len(symbols):
            if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                merged.append(symbols[i] + symbols[i + 1])
                i += 2
            else:
                merged.append(symbols[i])
                i += 1
        symbols = merged
    return symbols
