import numpy as np
import pytest
import tensorflow as tf

from keras_nlg.tokenizers import ByteTokenizer, load_tokenizer, save_tokenizer

TEXTS = [
    "To be, or not to be",
    "床前明月光，疑是地上霜。",
    "Mixed 中文 and English, café",
    "emoji 🙂👍🏽 and ZWJ 👩‍💻",
    "",
    "tabs\tand\nnewlines\r\n",
]


@pytest.mark.parametrize("text", TEXTS)
def test_round_trip_python_string(text):
    tokenizer = ByteTokenizer()
    ids = tokenizer.tokenize(text)
    assert ids.dtype == tf.int32
    assert ids.numpy().tolist() == list(text.encode("utf-8"))
    assert tokenizer.detokenize(ids).numpy().decode("utf-8") == text


def test_batch_of_strings_gives_ragged_and_round_trips():
    tokenizer = ByteTokenizer()
    ids = tokenizer.tokenize(TEXTS)
    assert isinstance(ids, tf.RaggedTensor)
    assert [len(row) for row in ids.to_list()] == [len(t.encode()) for t in TEXTS]
    decoded = [s.decode("utf-8") for s in tokenizer.detokenize(ids).numpy()]
    assert decoded == TEXTS


def test_tf_string_tensor_inside_tf_data():
    tokenizer = ByteTokenizer()
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(TEXTS[:3])).map(
        tokenizer.tokenize
    )
    for text, ids in zip(TEXTS[:3], dataset, strict=True):
        assert ids.numpy().tolist() == list(text.encode("utf-8"))


def test_runs_in_a_graph_and_detokenizes_dense_batches():
    tokenizer = ByteTokenizer()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def round_trip(strings):
        return tokenizer.detokenize(tokenizer.tokenize(strings))

    assert [s.decode() for s in round_trip(tf.constant(TEXTS)).numpy()] == TEXTS
    padded = [[104, 105, 257, 257], [104, 256, 105, 33]]
    assert tokenizer.detokenize(padded).numpy().tolist() == [b"hi", b"hi!"]


def test_cut_multibyte_sequence_becomes_replacement_character():
    tokenizer = ByteTokenizer()
    ids = tokenizer.tokenize("月光").numpy()
    assert tokenizer.detokenize(ids[:-1]).numpy().decode() == "月\ufffd"
    # Two stray continuation bytes: one U+FFFD each (the WHATWG/Unicode practice).
    assert tokenizer.detokenize(ids[1:]).numpy().decode() == "\ufffd\ufffd光"
    assert tokenizer.detokenize([0xFF, 65]).numpy().decode() == "\ufffdA"


def test_special_tokens():
    tokenizer = ByteTokenizer()
    assert tokenizer.vocabulary_size == 258
    assert tokenizer.end_of_text_id == 256 and tokenizer.padding_id == 257
    assert tokenizer.id_to_token(256) == "<|endoftext|>"
    assert tokenizer.id_to_token(65) == "<0x41>"


def test_bad_inputs():
    tokenizer = ByteTokenizer()
    with pytest.raises(TypeError, match="inputs=123"):
        tokenizer.tokenize(123)
    with pytest.raises(TypeError, match="inputs"):
        tokenizer.tokenize(["ok", None])
    with pytest.raises(TypeError, match="dtype"):
        tokenizer.tokenize(tf.constant([1, 2]))
    with pytest.raises(TypeError, match="token_ids"):
        tokenizer.detokenize(np.array([1.5]))


def test_save_and_load(tmp_path):
    save_tokenizer(ByteTokenizer(), str(tmp_path))
    assert isinstance(load_tokenizer(str(tmp_path)), ByteTokenizer)
    (tmp_path / "tokenizer.json").write_text('{"class_name": "Nope", "config": {}}')
    with pytest.raises(ValueError, match="Nope"):
        load_tokenizer(str(tmp_path))
