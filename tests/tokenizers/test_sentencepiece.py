import numpy as np
import pytest

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
