"""Tokenizers that run in-graph and save with the model directory."""

import json
import os

from keras_nlg.tokenizers.byte import ByteTokenizer

TOKENIZER_FILE = "tokenizer.json"
TOKENIZERS = {"ByteTokenizer": ByteTokenizer}


def save_tokenizer(tokenizer, directory: str) -> None:
    """Writes `tokenizer.json` (class and config) into `directory`."""
    spec = {"class_name": type(tokenizer).__name__, "config": tokenizer.get_config()}
    with open(os.path.join(directory, TOKENIZER_FILE), "w") as f:
        json.dump(spec, f, indent=2)


def load_tokenizer(directory: str):
    """Reads the tokenizer that `save_tokenizer` wrote into `directory`."""
    path = os.path.join(directory, TOKENIZER_FILE)
    with open(path) as f:
        spec = json.load(f)
    if spec.get("class_name") not in TOKENIZERS:
        raise ValueError(
            f"Unknown tokenizer class in {path}. Expected one of {sorted(TOKENIZERS)}. "
            f"Received: class_name={spec.get('class_name')!r}"
        )
    return TOKENIZERS[spec["class_name"]](**spec["config"])


__all__ = ["ByteTokenizer", "load_tokenizer", "save_tokenizer"]
