"""Tokenizers that run in-graph and save with the model directory.

Every tokenizer has the same interface: `tokenize` (a string → int32 ids
`(length,)`; a list of strings or a `tf.string` tensor `(batch,)` →
`tf.RaggedTensor`), `detokenize` (the inverse; special and out-of-range ids
carry no text, and a cut multi-byte character becomes U+FFFD),
`vocabulary_size`, `end_of_text_id`, `padding_id`, `special_tokens`,
`id_to_token`, `get_config`, and, for those with vocabulary files,
`save_assets(directory)` / `load(directory, config)`.
"""

import json
import os

from keras_nlg.tokenizers.byte import ByteTokenizer
from keras_nlg.tokenizers.gpt2 import GPT2Tokenizer
from keras_nlg.tokenizers.sentencepiece import SentencePieceTokenizer

TOKENIZER_FILE = "tokenizer.json"
TOKENIZERS = {
    "ByteTokenizer": ByteTokenizer,
    "GPT2Tokenizer": GPT2Tokenizer,
    "SentencePieceTokenizer": SentencePieceTokenizer,
}


def save_tokenizer(tokenizer, directory: str) -> None:
    """Writes `tokenizer.json` (class and config) and any vocabulary files."""
    spec = {"class_name": type(tokenizer).__name__, "config": tokenizer.get_config()}
    with open(os.path.join(directory, TOKENIZER_FILE), "w") as f:
        json.dump(spec, f, indent=2)
    if hasattr(tokenizer, "save_assets"):
        tokenizer.save_assets(directory)


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
    tokenizer_class = TOKENIZERS[spec["class_name"]]
    if hasattr(tokenizer_class, "load"):
        return tokenizer_class.load(directory, spec["config"])
    return tokenizer_class(**spec["config"])


__all__ = [
    "ByteTokenizer",
    "GPT2Tokenizer",
    "SentencePieceTokenizer",
    "load_tokenizer",
    "save_tokenizer",
]
