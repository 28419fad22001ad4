import numpy as np
import pytest

from keras_nlg.data import language_model_datasets, read_text_files, tokenize_documents
from keras_nlg.data.windows import validation_batch_size
from keras_nlg.tokenizers import ByteTokenizer, GPT2Tokenizer
from tests.tokenizers.gpt2_files import MERGES, tiny_gpt2_vocabulary


def batches(dataset):
    return [(x.numpy(), y.numpy()) for x, y in dataset]


def test_x_and_y_are_shifted_windows():
    tokens = np.arange(1000, dtype=np.int32)
    data = language_model_datasets(tokens, sequence_length=10, batch_size=4, seed=1)
    for x, y in batches(data.train):
        assert x.shape == (4, 10) and y.shape == (4, 10)
        np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
        np.testing.assert_array_equal(y[:, -1], x[:, -1] + 1)


def test_split_by_position_has_no_leakage():
    tokens = np.arange(1000, dtype=np.int32)
    data = language_model_datasets(
        tokens, sequence_length=10, batch_size=4, validation_fraction=0.2, seed=0
    )
    train_tokens = np.concatenate(
        [np.concatenate([x, y], axis=1).ravel() for x, y in batches(data.train)]
    )
    validation_tokens = np.concatenate(
        [np.concatenate([x, y], axis=1).ravel() for x, y in batches(data.validation)]
    )
    assert train_tokens.max() < 800 <= validation_tokens.min()
    assert data.validation_windows == len(range(0, 200 - 11 + 1, 10))


def test_validation_batches_are_larger_and_hold_every_window():
    tokens = np.arange(1000, dtype=np.int32)
    settings = dict(sequence_length=10, batch_size=4, validation_fraction=0.2)
    data = language_model_datasets(tokens, **settings, validation_batch_size=16)
    sizes = [len(x) for x, _ in batches(data.validation)]
    assert sizes == [16, 3] and sum(sizes) == data.validation_windows == 19
    # 4 training batches, unless the logits would pass 2**26 floats.
    assert validation_batch_size(24, 64, 258) == 96
    assert validation_batch_size(8, 1024, 50257) == 8
    assert validation_batch_size(8, 128, 50257) == 8
    assert validation_batch_size(4, 128, 50257) == 8


def test_same_seed_same_batches_different_seed_differs():
    tokens = np.arange(2000, dtype=np.int32)

    def first_epoch(seed):
        return batches(language_model_datasets(tokens, 16, 8, seed=seed).train)

    a, b, c = first_epoch(3), first_epoch(3), first_epoch(4)
    for (xa, _), (xb, _) in zip(a, b, strict=True):
        np.testing.assert_array_equal(xa, xb)
    assert any(
        not np.array_equal(xa, xc) for (xa, _), (xc, _) in zip(a, c, strict=True)
    )


def test_every_epoch_is_a_new_order_of_the_same_windows():
    data = language_model_datasets(np.arange(2000, dtype=np.int32), 16, 8, seed=0)
    epoch1 = np.concatenate([x for x, _ in batches(data.train)])
    epoch2 = np.concatenate([x for x, _ in batches(data.train)])
    assert not np.array_equal(epoch1, epoch2)
    assert sorted(map(tuple, epoch1)) == sorted(map(tuple, epoch2))


def test_documents_are_joined_with_end_of_text():
    tokenizer = ByteTokenizer()
    tokens = tokenize_documents(["ab", "c"], tokenizer)
    assert tokens.tolist() == [97, 98, tokenizer.end_of_text_id, 99]


@pytest.mark.parametrize("name", ["byte", "gpt2"])
def test_a_document_containing_end_of_text_text_stays_one_document(tmp_path, name):
    # The text "<|endoftext|>" in a file is text: only the join between
    # files is an end-of-text id.
    tokenizer = (
        ByteTokenizer()
        if name == "byte"
        else GPT2Tokenizer(tiny_gpt2_vocabulary(), MERGES)
    )
    documents = ["the king<|endoftext|>the queen\n" * 8, "<|endoftext|> and more"]
    paths = []
    for i, document in enumerate(documents):
        paths.append(tmp_path / f"{i}.txt")
        paths[-1].write_text(document, encoding="utf-8")
    tokens = tokenize_documents(read_text_files(paths), tokenizer)
    (join,) = np.flatnonzero(tokens == tokenizer.end_of_text_id)
    assert tokenizer.detokenize(tokens[:join]).numpy().decode() == documents[0]
    assert tokenizer.detokenize(tokens[join + 1 :]).numpy().decode() == documents[1]
    data = language_model_datasets(tokens, 8, 1, validation_fraction=0.0)
    inputs = np.concatenate([x.ravel() for x, _ in batches(data.train)])
    assert np.sum(inputs == tokenizer.end_of_text_id) == 1


@pytest.mark.parametrize(
    "length, kwargs, match",
    [
        (5, dict(sequence_length=10, batch_size=1), "fewer than one window"),
        (
            100,
            dict(sequence_length=10, batch_size=1, validation_fraction=0.05),
            "validation split",
        ),
        (
            100,
            dict(sequence_length=10, batch_size=64, validation_fraction=0.0),
            "batch_size=64",
        ),
        (100, dict(sequence_length=0, batch_size=1), "sequence_length=0"),
        (
            100,
            dict(sequence_length=10, batch_size=1, validation_fraction=1.0),
            "validation_fraction=1.0",
        ),
    ],
)
def test_bad_sizes(length, kwargs, match):
    with pytest.raises(ValueError, match=match):
        language_model_datasets(np.arange(length, dtype=np.int32), **kwargs)


def test_read_text_files_errors_name_the_file(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("héllo", encoding="utf-8")
    assert read_text_files([str(good)]) == ["héllo"]
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"ok \xff\xfe")
    for path, match in (
        (tmp_path / "missing.txt", "not found"),
        (empty, "empty"),
        (binary, "not valid UTF-8"),
        (tmp_path, "not a file"),
    ):
        with pytest.raises(ValueError, match=match) as error:
            read_text_files([str(path)])
        assert str(path) in str(error.value)
