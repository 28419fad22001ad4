"""Tokenizers that run in-graph and save with the model directory.

Every tokenizer has the same interface: `tokenize` (a string → int32 ids
`(length,)`; a list of strings or a `tf.string` tensor `(batch,)` →
`tf.RaggedTensor`), `detokenize` (the inverse; special and out-of-range ids
carry no text, and a cut multi-byte character becomes U+FFFD),
`vocabulary_size`, `end_of_text_id`, `padding_id`, `special_tokens`,
`id_to_token`, `get_config`, `resources` (a `tf.Module` of the lookup
tables the in-graph ops use: a SavedModel must track it, e.g.
`keras.export.ExportArchive.track(tokenizer.resources)`), and, for those
with vocabulary files,
`save_assets(directory)` / `load(directory, config)`.

User text is text: every tokenizer round-trips any string exactly,
including strings that look like its own markup (`<|endoftext|>`, `<pad>`,
byte markers such as `<0x41>`, SentencePiece's `▁`, GPT-2's `Ġ`). Special
ids are never parsed out of text; our code appends them as ids (document
joins, end of a training example). No caller needs to parse them, so there
is no switch to do so: build such ids with `tokenize` + `end_of_text_id`.
"""

import json
import os

from keras_nlg.files import read_json_file
from keras_nlg.tokenizers.byte import ByteTokenizer
from keras_nlg.tokenizers.gpt2 import MERGES_ASSET, VOCABULARY_ASSET, GPT2Tokenizer
from keras_nlg.tokenizers.sentencepiece import SentencePieceTokenizer

TOKENIZER_FILE = "tokenizer.json"
TOKENIZERS = {
    "ByteTokenizer": ByteTokenizer,
    "GPT2Tokenizer": GPT2Tokenizer,
    "SentencePieceTokenizer": SentencePieceTokenizer,
}
# Every file `save_tokenizer` may write (a saved set replaces all of them).
TOKENIZER_FILES = (
    TOKENIZER_FILE,
    VOCABULARY_ASSET,
    MERGES_ASSET,
    SentencePieceTokenizer.asset_file,
)


def save_tokenizer(tokenizer, directory: str) -> None:
    """Writes `tokenizer.json` (class and config) and any vocabulary files."""
    spec = {"class_name": type(tokenizer).__name__, "config": tokenizer.get_config()}
    with open(os.path.join(directory, TOKENIZER_FILE), "w") as f:
        json.dump(spec, f, indent=2)
    if hasattr(tokenizer, "save_assets"):
        tokenizer.save_assets(directory)


def load_tokenizer(directory: str):
    """Reads the tokenizer that `save_tokenizer` wrote into `directory`.

    Raises:
        ValueError: naming the file when `tokenizer.json` or a vocabulary
            file is missing, not readable, or malformed.
    """
    path = os.path.join(os.fspath(directory), TOKENIZER_FILE)
    spec = read_json_file(path)
    if spec.get("class_name") not in TOKENIZERS:
        raise ValueError(
            f"Unknown tokenizer class in {path}. Expected one of {sorted(TOKENIZERS)}. "
            f"Received: class_name={spec.get('class_name')!r}"
        )
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise ValueError(
            f"The tokenizer file {path}: 'config' must be an object. "
            f"Received: config={config!r}"
        )
    tokenizer_class = TOKENIZERS[spec["class_name"]]
    try:
        if hasattr(tokenizer_class, "load"):
            return tokenizer_class.load(directory, config)
        return tokenizer_class(**config)
    except TypeError as error:  # a config key the class does not take
        raise ValueError(
            f"The tokenizer file {path}: {error}. Received: config={config!r}"
        ) from None


__all__ = [
    "ByteTokenizer",
    "GPT2Tokenizer",
    "SentencePieceTokenizer",
    "load_tokenizer",
    "save_tokenizer",
]
