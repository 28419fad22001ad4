"""A tiny GPT-2-format vocabulary (`vocab.json` + `merges.txt`) for offline tests."""

import json
import os

from keras_nlg.tokenizers.gpt2_files import byte_symbols

MERGES = ["Ġ t", "h e", "Ġt he", "Ġ a", "i n", "Ġ w", "e r", "o u", "Ġ s", "Ġ k"]


def tiny_gpt2_vocabulary():
    """256 byte pieces, one piece per merge, then `<|endoftext|>`."""
    pieces = byte_symbols() + ["".join(merge.split(" ")) for merge in MERGES]
    vocabulary = {piece: i for i, piece in enumerate(dict.fromkeys(pieces))}
    vocabulary["<|endoftext|>"] = len(vocabulary)
    return vocabulary


def write_gpt2_tokenizer_files(directory, merges=MERGES):
    """Writes `vocab.json` and `merges.txt` (its header, then `merges`).

    Returns their paths. `merges=[]` writes a BPE without merge rules.
    """
    vocabulary_file = os.path.join(directory, "vocab.json")
    merges_file = os.path.join(directory, "merges.txt")
    with open(vocabulary_file, "w", encoding="utf-8") as f:
        json.dump(tiny_gpt2_vocabulary(), f, ensure_ascii=False)
    with open(merges_file, "w", encoding="utf-8") as f:
        f.write("".join(f"{line}\n" for line in ["#version: 0.2", *merges]))
    return vocabulary_file, merges_file
