"""Our byte and GPT-2 BPE tokenizers as a Hugging Face `tokenizer.json`.

LiteRT-LM's engine reads a SentencePiece model or a Hugging Face
`tokenizer.json` (tokenized in C++ by the same Rust library as the Python
`tokenizers` package). SentencePiece models ship as they are; the other two
are written here with `tokenizers` itself, to tokenize exactly as ours:

- GPT-2 BPE: a `models.BPE` over the same vocabulary and merges behind a
  `ByteLevel` pre-tokenizer (GPT-2's split pattern, no prefix space): what
  Hugging Face's own GPT-2 tokenizer is, after the one split ours adds (NUL
  and U+096C each tokenized alone).
- Byte: the same, with the 256 byte symbols as ids 0–255 and no merges, and
  no split pattern: one token per UTF-8 byte, id = byte value.

Special tokens (`<|endoftext|>`, the byte tokenizer's padding) are vocabulary
entries, not Hugging Face "added tokens": no merge produces them, so text
that spells them stays text, as in keras_nlg (see `keras_nlg.tokenizers`),
and decoding drops them, as `detokenize` does. An app marks the end by id
(LiteRT-LM's `stop_tokens`).
"""

from keras_nlg.tokenizers.byte import ByteTokenizer
from keras_nlg.tokenizers.gpt2 import LOST_CHARACTERS, GPT2Tokenizer
from keras_nlg.tokenizers.gpt2_files import byte_symbols


def hugging_face_tokenizer(tokenizer):
    """A `tokenizers.Tokenizer` that gives `tokenizer`'s ids for any text.

    Args:
        tokenizer: a `ByteTokenizer` or `GPT2Tokenizer`.

    Returns:
        `tokenizers.Tokenizer`; `.to_str()` is the `tokenizer.json` text.

    Raises:
        TypeError: for another tokenizer (a SentencePiece model ships as its
            own `.model` file instead).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    if isinstance(tokenizer, GPT2Tokenizer):
        vocabulary = dict(tokenizer.vocabulary)
        merges = [tuple(rule.split(" ")) for rule in tokenizer.merges]
        # Ours cuts the text at NUL and U+096C and tokenizes each alone
        # (`gpt2.LOST_CHARACTERS`): the same split, before GPT-2's pattern.
        characters = "".join(f"\\x{{{ord(c):X}}}" for c in LOST_CHARACTERS)
        pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(f"[{characters}]"), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
            ]
        )
    elif isinstance(tokenizer, ByteTokenizer):
        vocabulary = {symbol: byte for byte, symbol in enumerate(byte_symbols())}
        vocabulary.update(tokenizer.special_tokens)
        merges = []
        pre_tokenizer = pre_tokenizers.ByteLevel(
            add_prefix_space=False, use_regex=False
        )
    else:
        raise TypeError(
            "A Hugging Face tokenizer.json is written for the byte and GPT-2 BPE "
            "tokenizers (a SentencePiece model ships as its .model file). "
            f"Received: {type(tokenizer).__name__}"
        )
    converted = Tokenizer(models.BPE(vocab=vocabulary, merges=merges))
    converted.pre_tokenizer = pre_tokenizer
    # Special ids carry no text when decoded (as in keras_nlg): each one's
    # name is replaced by nothing. Only the special id is that whole string:
    # text spelling it is split into several pieces.
    converted.decoder = decoders.Sequence(
        [decoders.Replace(name, "") for name in tokenizer.special_tokens]
        + [decoders.ByteLevel()]
    )
    return converted
