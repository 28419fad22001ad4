"""Every tokenizer: the same interface, lossless on Chinese, mixed text and emoji."""

import numpy as np
import pytest
import tensorflow as tf

from keras_nlg import datasets
from keras_nlg.tokenizers import (
    ByteTokenizer,
    GPT2Tokenizer,
    SentencePieceTokenizer,
    load_tokenizer,
    save_tokenizer,
)
from tests.tokenizers.gpt2_files import write_gpt2_tokenizer_files

TEXTS = [
    "To be, or not to be",
    "床前明月光，疑是地上霜。",
    "Mixed 中文 and English, café",
    "emoji 🙂👍🏽 and ZWJ 👩‍💻",
    "",
    "  leading, double  and trailing spaces ",
    "tabs\tand\nnewlines\r\n",
]

# Text that looks like a tokenizer's own markup: special tokens, SentencePiece's
# meta space U+2581, GPT-2's byte symbols, byte-fallback pieces, keras-hub's
# internal markers (U+096C, "ĴA"), unusual whitespace, NUL, lone combining marks.
MARKUP_TEXTS = [
    "foo<|endoftext|>bar",
    "<|endoftext|>",
    "<s>hi</s> <unk><pad><mask> <|endoftext|><|endoftext|>",
    "<0x41><0xFF> <0x0A>",
    "▁x ▁ ▁▁ a▁b",
    "Ġhello Ċ ĠĠ Ā ā",
    "ĴA ĴB x",
    "६ a६b ६६ १६",
    "a\x00b \x00",
    "\u200b\u2028\u2029\u3000\xa0\u202f\u2009\t\v\f\r\x85",
    "\u0301 e\u0301 \U0001f3fd",
    "\U0010ffff\ue000\ufeffBOM \ufffd ⁇",
    "\n\n x\n",
]


def tang_slice(tmp_path, lines=3000):
    """The first lines of the bundled Tang poems, plus some English."""
    with open(datasets.tang_poems_path(), encoding="utf-8") as f:
        poems = [next(f) for _ in range(lines)]
    path = tmp_path / "poems.txt"
    path.write_text("".join(poems) + "the king and the queen\n" * 20, encoding="utf-8")
    return str(path)


@pytest.fixture(
    scope="module",
    params=["byte", "sentencepiece_unigram", "sentencepiece_bpe", "gpt2"],
)
def tokenizer(request, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp(request.param)
    if request.param == "byte":
        return ByteTokenizer()
    if request.param.startswith("sentencepiece"):
        model_type = request.param.split("_")[1]
        return SentencePieceTokenizer.train(tang_slice(tmp_path), 4000, model_type)
    return GPT2Tokenizer.from_files(*write_gpt2_tokenizer_files(str(tmp_path)))


@pytest.mark.parametrize("text", TEXTS)
def test_round_trip(tokenizer, text):
    ids = tokenizer.tokenize(text)
    assert ids.dtype == tf.int32 and ids.shape.rank == 1
    assert tokenizer.detokenize(ids).numpy().decode("utf-8") == text


@pytest.mark.parametrize("text", MARKUP_TEXTS)
def test_text_that_looks_like_markup_round_trips(tokenizer, text):
    ids = tokenizer.tokenize(text)
    assert tokenizer.detokenize(ids).numpy().decode("utf-8") == text
    # User text never yields a special id: a prompt cannot inject end-of-text.
    special_ids = set(tokenizer.special_tokens.values())
    assert not special_ids & set(ids.numpy().tolist())


def test_markup_round_trips_in_batches_and_in_graph(tokenizer):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def round_trip(strings):
        return tokenizer.detokenize(tokenizer.tokenize(strings))

    expected = [text.encode("utf-8") for text in MARKUP_TEXTS]
    assert round_trip(tf.constant(MARKUP_TEXTS)).numpy().tolist() == expected
    ids = tokenizer.tokenize(MARKUP_TEXTS)
    assert tokenizer.detokenize(ids).numpy().tolist() == expected
    for text, row in zip(MARKUP_TEXTS, ids.to_list(), strict=True):
        assert row == tokenizer.tokenize(text).numpy().tolist()


def test_round_trips_inside_a_saved_model(tokenizer, tmp_path):
    # The SavedModel path (the exported signatures tokenize in-graph): a
    # module that tracks `tokenizer.resources` saves and reloads.
    module = tf.Module()
    module.resources = tokenizer.resources

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def round_trip(strings):
        ids = tokenizer.tokenize(strings)
        return tokenizer.detokenize(ids), ids.flat_values

    module.round_trip = round_trip
    tf.saved_model.save(module, str(tmp_path / "saved"))
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    texts, flat_ids = loaded.round_trip(tf.constant(MARKUP_TEXTS))
    assert [t.decode("utf-8") for t in texts.numpy()] == MARKUP_TEXTS
    expected = tokenizer.tokenize(MARKUP_TEXTS).flat_values.numpy().tolist()
    assert flat_ids.numpy().tolist() == expected


def test_batch_round_trip_gives_ragged(tokenizer):
    ids = tokenizer.tokenize(TEXTS)
    assert isinstance(ids, tf.RaggedTensor) and ids.dtype == tf.int32
    assert [s.decode() for s in tokenizer.detokenize(ids).numpy()] == TEXTS
    # Dense rows padded with special ids detokenize to the same text.
    rows = [np.asarray(tokenizer.tokenize(t)) for t in TEXTS[:2]]
    width = max(len(r) for r in rows) + 2
    padded = [
        np.concatenate(
            [
                r,
                [tokenizer.end_of_text_id],
                [tokenizer.padding_id] * (width - len(r) - 1),
            ]
        )
        for r in rows
    ]
    assert [s.decode() for s in tokenizer.detokenize(padded).numpy()] == TEXTS[:2]


def test_runs_in_graph_and_in_tf_data(tokenizer):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def round_trip(strings):
        return tokenizer.detokenize(tokenizer.tokenize(strings))

    assert [s.decode() for s in round_trip(tf.constant(TEXTS)).numpy()] == TEXTS
    dataset = tf.data.Dataset.from_tensor_slices(TEXTS[:3]).map(tokenizer.tokenize)
    for text, ids in zip(TEXTS[:3], dataset, strict=True):
        assert ids.numpy().tolist() == tokenizer.tokenize(text).numpy().tolist()


def test_special_tokens_and_sizes(tokenizer):
    assert 0 <= tokenizer.end_of_text_id < tokenizer.vocabulary_size
    assert 0 <= tokenizer.padding_id < tokenizer.vocabulary_size
    assert tokenizer.special_tokens["<|endoftext|>"] == tokenizer.end_of_text_id
    assert tokenizer.id_to_token(tokenizer.end_of_text_id) == "<|endoftext|>"
    ids = np.asarray(tokenizer.tokenize(TEXTS[1] * 3))
    assert ids.max() < tokenizer.vocabulary_size
    with pytest.raises(ValueError, match=f"token_id={tokenizer.vocabulary_size}"):
        tokenizer.id_to_token(tokenizer.vocabulary_size)


def test_cut_character_becomes_replacement_character(tokenizer):
    ids = np.asarray(tokenizer.tokenize("🙂"))
    if len(ids) > 1:  # spelled in bytes: a prefix ends inside the character
        assert tokenizer.detokenize(ids[:1]).numpy().decode().endswith("\ufffd")
    assert tokenizer.detokenize(ids).numpy().decode() == "🙂"


def test_save_and_load_round_trip(tokenizer, tmp_path):
    save_tokenizer(tokenizer, str(tmp_path))
    loaded = load_tokenizer(str(tmp_path))
    assert type(loaded) is type(tokenizer)
    assert loaded.vocabulary_size == tokenizer.vocabulary_size
    for text in TEXTS + MARKUP_TEXTS:
        assert (
            loaded.tokenize(text).numpy().tolist()
            == tokenizer.tokenize(text).numpy().tolist()
        )


def test_bad_inputs(tokenizer):
    with pytest.raises(TypeError, match="inputs=123"):
        tokenizer.tokenize(123)
    with pytest.raises(TypeError, match="dtype"):
        tokenizer.detokenize(np.array([1.5]))
