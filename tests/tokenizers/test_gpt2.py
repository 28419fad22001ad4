import json

import pytest
import tokenizers
from tokenizers import decoders, models, pre_tokenizers

from keras_nlg.cli import main
from keras_nlg.tokenizers import GPT2Tokenizer, load_tokenizer, save_tokenizer
from tests.models.gpt2_fixtures import tiny_backbone, write_hugging_face_checkpoint
from tests.tokenizers.gpt2_files import (
    MERGES,
    byte_symbols,
    tiny_gpt2_vocabulary,
    write_gpt2_tokenizer_files,
)
from tests.tokenizers.test_interface import MARKUP_TEXTS, TEXTS


def hugging_face_gpt2(merges=MERGES):
    """The reference: Hugging Face tokenizers' byte-level BPE on the same files."""
    reference = tokenizers.Tokenizer(
        models.BPE(
            vocab=tiny_gpt2_vocabulary(), merges=[tuple(m.split(" ")) for m in merges]
        )
    )
    reference.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    reference.decoder = decoders.ByteLevel()
    return reference


def test_merges_apply_and_end_of_text_is_the_vocabulary_entry(tmp_path):
    tokenizer = GPT2Tokenizer.from_files(*write_gpt2_tokenizer_files(str(tmp_path)))
    vocabulary = tiny_gpt2_vocabulary()
    assert tokenizer.end_of_text_id == vocabulary["<|endoftext|>"]
    assert tokenizer.tokenize(" the").numpy().tolist() == [vocabulary["Ġthe"]]
    assert tokenizer.id_to_token(vocabulary["Ġthe"]) == "Ġthe"


# keras-hub's in-graph pre-tokenizer loses NUL and U+096C, which we tokenize
# as words of their own; elsewhere the ids are Hugging Face's.
SAME_IDS_AS_HUGGING_FACE = [
    t for t in TEXTS + MARKUP_TEXTS if "\x00" not in t and "\u096c" not in t
]


@pytest.mark.parametrize("merges", [MERGES, []], ids=["merges", "no_merges"])
def test_ids_equal_hugging_face_tokenizers(tmp_path, merges):
    tokenizer = GPT2Tokenizer.from_files(
        *write_gpt2_tokenizer_files(str(tmp_path), merges)
    )
    reference = hugging_face_gpt2(merges)
    for text in SAME_IDS_AS_HUGGING_FACE:
        ids = tokenizer.tokenize(text).numpy().tolist()
        assert ids == reference.encode(text).ids, text
        assert tokenizer.detokenize(ids).numpy().decode() == text


def test_special_token_text_is_not_the_special_token():
    tokenizer = GPT2Tokenizer(tiny_gpt2_vocabulary(), MERGES)
    ids = tokenizer.tokenize("foo<|endoftext|>bar").numpy().tolist()
    assert tokenizer.end_of_text_id not in ids
    assert tokenizer.detokenize(ids).numpy().decode() == "foo<|endoftext|>bar"
    # keras-hub's stand-in for unsplittable tokens is ordinary text too.
    assert tokenizer.detokenize(tokenizer.tokenize("ĴA")).numpy().decode() == "ĴA"


def test_characters_keras_hub_loses_get_their_byte_pair_ids():
    tokenizer = GPT2Tokenizer(tiny_gpt2_vocabulary(), MERGES)
    symbol_ids = {s: i for i, s in enumerate(byte_symbols())}  # tiny vocabulary
    assert tokenizer.tokenize("a\x00b").numpy().tolist() == [97, symbol_ids["Ā"], 98]
    six = [symbol_ids[byte_symbols()[b]] for b in "६".encode()]
    assert tokenizer.tokenize("x६").numpy().tolist() == [120, *six]


def test_merges_file_with_only_its_header_is_a_bpe_of_single_symbols(tmp_path):
    vocabulary_file, merges_file = write_gpt2_tokenizer_files(str(tmp_path), [])
    tokenizer = GPT2Tokenizer.from_files(vocabulary_file, merges_file)
    vocabulary = tiny_gpt2_vocabulary()
    text = " the cat\n"
    symbols = [byte_symbols()[b] for b in text.encode()]
    assert tokenizer.tokenize(text).numpy().tolist() == [vocabulary[s] for s in symbols]
    assert tokenizer.detokenize(tokenizer.tokenize(text)).numpy().decode() == text
    save_tokenizer(tokenizer, str(tmp_path))
    loaded = load_tokenizer(str(tmp_path))
    assert loaded.merges == [] and loaded.vocabulary == vocabulary


def test_import_gpt2_with_a_merges_file_of_only_its_header(tmp_path, capsys):
    checkpoint = write_hugging_face_checkpoint(tiny_backbone(), str(tmp_path / "hf"))
    (tmp_path / "hf" / "merges.txt").write_text("#version: 0.2\n")
    out = str(tmp_path / "imported")
    assert main(["import-gpt2", "--checkpoint", checkpoint, "--out", out]) == 0
    tokenizer = load_tokenizer(out)
    assert tokenizer.merges == []
    assert tokenizer.tokenize(" the").numpy().tolist() == [32, 116, 104, 101]


def test_import_gpt2_with_a_broken_vocabulary_is_one_line_exit_2(tmp_path, capsys):
    checkpoint = write_hugging_face_checkpoint(tiny_backbone(), str(tmp_path / "hf"))
    vocabulary_file = tmp_path / "hf" / "vocab.json"
    vocabulary_file.write_text(json.dumps(list(tiny_gpt2_vocabulary())))
    out = tmp_path / "imported"
    assert main(["import-gpt2", "--checkpoint", checkpoint, "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert str(vocabulary_file) in error and "JSON object" in error
    assert not out.exists()
