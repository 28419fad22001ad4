import numpy as np
import pytest
import sentencepiece
from sentencepiece import sentencepiece_model_pb2

from keras_nlg import datasets
from keras_nlg.tokenizers import SentencePieceTokenizer
from tests.tokenizers.test_interface import tang_slice


def test_subwords_are_shorter_than_bytes_on_chinese(tmp_path):
    path = tang_slice(tmp_path)
    tokenizer = SentencePieceTokenizer.train(path, 4000)
    text = "秦川雄帝宅，函谷壯皇居。"
    assert len(tokenizer.tokenize(text)) < len(text.encode("utf-8")) / 2
    assert tokenizer.vocabulary_size <= 4000


def test_unigram_and_bpe_differ(tmp_path):
    path = tang_slice(tmp_path)
    unigram = SentencePieceTokenizer.train(path, 4000, "unigram")
    bpe = SentencePieceTokenizer.train(path, 4000, "bpe")
    assert unigram.proto != bpe.proto


def test_full_width_punctuation_is_kept(tmp_path):
    # keras-hub's compute_sentence_piece_proto normalizes with NFKC ("，" → ",").
    tokenizer = SentencePieceTokenizer.train(tang_slice(tmp_path), 4000)
    ids = np.asarray(tokenizer.tokenize("，。"))
    assert tokenizer.detokenize(ids).numpy().decode() == "，。"


def test_bad_training_arguments(tmp_path):
    path = tang_slice(tmp_path, lines=200)
    with pytest.raises(ValueError, match="model_type='word'"):
        SentencePieceTokenizer.train(path, 1000, "word")
    with pytest.raises(ValueError, match="vocabulary_size=0"):
        SentencePieceTokenizer.train(path, 0)
    with pytest.raises(ValueError, match="vocabulary_size=100"):
        SentencePieceTokenizer.train(path, 100)  # below 256 bytes + characters
    with pytest.raises(ValueError, match="missing.txt"):
        SentencePieceTokenizer.train(str(tmp_path / "missing.txt"), 1000)
    with pytest.raises(TypeError, match="proto"):
        SentencePieceTokenizer("not bytes")


def with_meta_spaces(proto):
    """`proto` as SentencePiece writes it: spaces as U+2581, escaping on."""
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(proto)
    for piece in model.pieces:
        if piece.type == piece.NORMAL:
            piece.piece = piece.piece.replace(" ", "\u2581")
    model.normalizer_spec.escape_whitespaces = True
    return model.SerializeToString()


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_spaces_as_spaces_give_sentencepiece_ids(tmp_path, model_type):
    # The reference: the SentencePiece library on the model as its trainer
    # wrote it, with U+2581 for spaces (and models saved before the change).
    tokenizer = SentencePieceTokenizer.train(tang_slice(tmp_path), 4000, model_type)
    original = with_meta_spaces(tokenizer.proto)
    reference = sentencepiece.SentencePieceProcessor(model_proto=original)
    with open(datasets.tang_poems_path(), encoding="utf-8") as f:
        lines = [next(f) for _ in range(3400)][3000:]
    lines += ["the king and  the queen ", " the\tthe\n  the", "  kin g  "]
    ids = tokenizer.tokenize(lines).to_list()
    assert ids == reference.encode(lines)
    assert SentencePieceTokenizer(original).tokenize(lines).to_list() == ids
    assert SentencePieceTokenizer(original).proto == tokenizer.proto
    # A U+2581 the user wrote is a character, not a space.
    for text in ["a\u2581b", "\u2581 \u2581\u2581"]:
        assert tokenizer.detokenize(tokenizer.tokenize(text)).numpy().decode() == text
        assert reference.decode(reference.encode(text)) != text


def test_setting_the_seed_keeps_loaded_tokenizers_working(tmp_path):
    """`keras.utils.set_random_seed` (every trainer calls it) clears TF's eager
    kernel cache, which used to delete tensorflow-text's kernel-owned model."""
    import keras

    tokenizer = SentencePieceTokenizer.train(tang_slice(tmp_path), 4000)
    copy = SentencePieceTokenizer(tokenizer.proto)
    before = np.asarray(tokenizer.tokenize("秦川雄帝宅")).tolist()
    keras.utils.set_random_seed(0)
    del copy  # another instance of the same model going away
    assert np.asarray(tokenizer.tokenize("秦川雄帝宅")).tolist() == before
    assert tokenizer.detokenize(before).numpy().decode() == "秦川雄帝宅"
