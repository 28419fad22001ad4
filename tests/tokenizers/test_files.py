"""Every tokenizer file, broken: one ValueError naming the file and the problem."""

import json
import os

import pytest
from sentencepiece import sentencepiece_model_pb2

from keras_nlg.tokenizers import (
    ByteTokenizer,
    GPT2Tokenizer,
    SentencePieceTokenizer,
    load_tokenizer,
    save_tokenizer,
)
from tests.tokenizers.gpt2_files import (
    MERGES,
    byte_symbols,
    tiny_gpt2_vocabulary,
    write_gpt2_tokenizer_files,
)
from tests.tokenizers.test_interface import tang_slice


def vocabulary_with(**changes):
    vocabulary = tiny_gpt2_vocabulary()
    for piece, token_id in changes.items():
        if token_id is None:
            del vocabulary[piece]
        else:
            vocabulary[piece] = token_id
    return json.dumps(vocabulary)


def without_byte_symbol():
    vocabulary = tiny_gpt2_vocabulary()
    missing = byte_symbols()[0]
    del vocabulary[missing]
    # Keep the ids 0 … n-1: the last piece takes the freed id.
    vocabulary[max(vocabulary, key=vocabulary.get)] = 0
    return json.dumps(vocabulary)


VOCABULARY_FILES = [
    ("empty", "", "is empty"),
    ("not_json", "{not json", "not valid JSON"),
    ("list", json.dumps(list(tiny_gpt2_vocabulary())), "JSON object"),
    ("id_not_int", vocabulary_with(the="7"), "must be an integer"),
    ("id_bool", vocabulary_with(the=True), "must be an integer"),
    ("duplicate_id", vocabulary_with(**{"Ġthe": 0}), "belongs to both"),
    ("id_out_of_range", vocabulary_with(**{"<|endoftext|>": 10**6}), "must be 0"),
    ("no_end_of_text", vocabulary_with(**{"<|endoftext|>": None}), "<\\|endoftext"),
    ("no_byte_symbol", without_byte_symbol(), "byte symbols"),
]


@pytest.mark.parametrize(
    "content, match",
    [c[1:] for c in VOCABULARY_FILES],
    ids=[c[0] for c in VOCABULARY_FILES],
)
def test_broken_vocab_json(tmp_path, content, match):
    vocabulary_file, merges_file = write_gpt2_tokenizer_files(str(tmp_path))
    with open(vocabulary_file, "w", encoding="utf-8") as f:
        f.write(content)
    with pytest.raises(ValueError, match=match) as error:
        GPT2Tokenizer.from_files(vocabulary_file, merges_file)
    assert vocabulary_file in str(error.value)


MERGES_FILES = [
    ("empty", "", "is empty"),
    ("one_part", "#version: 0.2\nĠ t\nĠt\n", "line 3.*1 parts"),
    ("three_parts", "#version: 0.2\nĠ t h\n", "line 2.*3 parts"),
    ("double_space", "#version: 0.2\nĠ  t\n", "3 parts"),
    ("unknown_symbol", "#version: 0.2\nĠ zz\n", "'zz', which is not in"),
    ("unknown_result", "#version: 0.2\nq z\n", "'qz', which is not in"),
    ("repeated", "#version: 0.2\nĠ t\nh e\nĠ t\n", "line 4.*repeats line 2"),
]


@pytest.mark.parametrize(
    "content, match", [c[1:] for c in MERGES_FILES], ids=[c[0] for c in MERGES_FILES]
)
def test_broken_merges_txt(tmp_path, content, match):
    vocabulary_file, merges_file = write_gpt2_tokenizer_files(str(tmp_path))
    with open(merges_file, "w", encoding="utf-8") as f:
        f.write(content)
    with pytest.raises(ValueError, match=match) as error:
        GPT2Tokenizer.from_files(vocabulary_file, merges_file)
    assert merges_file in str(error.value)


@pytest.mark.parametrize("name", ["vocab.json", "merges.txt"])
def test_missing_or_non_utf8_gpt2_file(tmp_path, name):
    files = write_gpt2_tokenizer_files(str(tmp_path))
    path = os.path.join(str(tmp_path), name)
    with open(path, "wb") as f:
        f.write(b"\xff\xfe{")
    with pytest.raises(ValueError, match="not UTF-8") as error:
        GPT2Tokenizer.from_files(*files)
    assert path in str(error.value)
    os.remove(path)
    with pytest.raises(ValueError, match="Cannot read") as error:
        GPT2Tokenizer.from_files(*files)
    assert path in str(error.value)


def test_constructor_arguments_are_checked_by_name():
    with pytest.raises(ValueError, match="`vocabulary` must be a JSON object"):
        GPT2Tokenizer(["a"], MERGES)
    with pytest.raises(ValueError, match="`merges`.*'Ġ t h'"):
        GPT2Tokenizer(tiny_gpt2_vocabulary(), ["Ġ t h"])
    with pytest.raises(ValueError, match="`merges` must be a list"):
        GPT2Tokenizer(tiny_gpt2_vocabulary(), "Ġ t")


@pytest.fixture(scope="module")
def sentencepiece_proto(tmp_path_factory):
    path = tang_slice(tmp_path_factory.mktemp("spm"), lines=500)
    return SentencePieceTokenizer.train(path, 1700).proto


def edited(proto, edit):
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(proto)
    edit(model)
    return model.SerializeToString()


def rename_end_of_text(model):
    for piece in model.pieces:
        if piece.piece == "<|endoftext|>":
            piece.piece = "</s>"


def only_pieces(model):
    model.ClearField("trainer_spec")
    model.ClearField("normalizer_spec")


SENTENCEPIECE_FILES = [
    ("empty", lambda proto: b"", "no pieces"),
    ("cut", lambda proto: proto[: len(proto) // 2 + 1], "does not parse|truncated"),
    ("not_a_proto", lambda proto: b"just some text\n" * 3, "does not parse"),
    ("only_pieces", lambda proto: edited(proto, only_pieces), "truncated"),
    (
        "no_end_of_text",
        lambda proto: edited(proto, rename_end_of_text),
        "no '<\\|endoftext",
    ),
    (
        "normalized",
        lambda proto: edited(
            proto, lambda m: setattr(m.normalizer_spec, "name", "nmt_nfkc")
        ),
        "does not round-trip.*nmt_nfkc",
    ),
    (
        "no_byte_fallback",
        lambda proto: edited(
            proto, lambda m: setattr(m.trainer_spec, "byte_fallback", False)
        ),
        "no byte fallback",
    ),
]


@pytest.mark.parametrize(
    "corrupt, match",
    [c[1:] for c in SENTENCEPIECE_FILES],
    ids=[c[0] for c in SENTENCEPIECE_FILES],
)
def test_broken_sentencepiece_model(tmp_path, sentencepiece_proto, corrupt, match):
    save_tokenizer(SentencePieceTokenizer(sentencepiece_proto), str(tmp_path))
    path = str(tmp_path / SentencePieceTokenizer.asset_file)
    with open(path, "wb") as f:
        f.write(corrupt(sentencepiece_proto))
    with pytest.raises(ValueError, match=match) as error:
        load_tokenizer(str(tmp_path))
    assert path in str(error.value)
    with pytest.raises(ValueError, match=match):
        SentencePieceTokenizer(corrupt(sentencepiece_proto))


def test_missing_sentencepiece_model(tmp_path, sentencepiece_proto):
    save_tokenizer(SentencePieceTokenizer(sentencepiece_proto), str(tmp_path))
    path = tmp_path / SentencePieceTokenizer.asset_file
    path.unlink()
    with pytest.raises(ValueError, match="Cannot read") as error:
        load_tokenizer(str(tmp_path))
    assert str(path) in str(error.value)


TOKENIZER_JSON = [
    ("empty", "", "Cannot read"),
    ("not_json", "{", "Cannot read"),
    ("list", "[]", "JSON object"),
    ("unknown_class", '{"class_name": "Nope", "config": {}}', "Nope"),
    ("config_not_object", '{"class_name": "ByteTokenizer", "config": 3}', "config"),
    (
        "unexpected_option",
        '{"class_name": "ByteTokenizer", "config": {"lowercase": true}}',
        "lowercase",
    ),
    (
        "gpt2_unexpected_option",
        '{"class_name": "GPT2Tokenizer", "config": {"lowercase": true}}',
        "lowercase",
    ),
]


@pytest.mark.parametrize(
    "content, match",
    [c[1:] for c in TOKENIZER_JSON],
    ids=[c[0] for c in TOKENIZER_JSON],
)
def test_broken_tokenizer_json(tmp_path, content, match):
    save_tokenizer(GPT2Tokenizer(tiny_gpt2_vocabulary(), MERGES), str(tmp_path))
    path = tmp_path / "tokenizer.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as error:
        load_tokenizer(str(tmp_path))
    assert str(path) in str(error.value)


def test_missing_tokenizer_files_of_a_model_directory(tmp_path):
    with pytest.raises(ValueError, match="Cannot read") as error:
        load_tokenizer(str(tmp_path))
    assert "tokenizer.json" in str(error.value)
    save_tokenizer(GPT2Tokenizer(tiny_gpt2_vocabulary(), MERGES), str(tmp_path))
    (tmp_path / "merges.txt").unlink()
    with pytest.raises(ValueError, match="merges.txt"):
        load_tokenizer(str(tmp_path))
    save_tokenizer(ByteTokenizer(), str(tmp_path))
    assert isinstance(load_tokenizer(str(tmp_path)), ByteTokenizer)
