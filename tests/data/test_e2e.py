import numpy as np
import pytest

from keras_nlg import datasets
from keras_nlg.data.e2e import (
    SEPARATOR,
    conditional_datasets,
    encode_pairs,
    parse_meaning_representation,
    prompt_text,
    read_e2e_csv,
)
from keras_nlg.tokenizers import ByteTokenizer
from tests.data.e2e_files import TINY_E2E, write_e2e_csv


def test_references_are_grouped_by_mr_in_first_appearance_order(tmp_path):
    data = read_e2e_csv(write_e2e_csv(tmp_path / "tiny.csv"))
    assert data.meaning_representations == [
        "name[The Eagle], eatType[pub], area[riverside]",
        "name[Zizzi], food[Italian]",
        "name[Café Rouge], priceRange[£20-25]",
    ]
    assert [len(refs) for refs in data.references] == [3, 2, 1]
    assert data.references[1] == [
        "Zizzi serves Italian food.",
        "Italian food is served at Zizzi.",
    ]
    assert sorted(data.pairs()) == sorted(TINY_E2E)


def test_bundled_dev_set_has_547_mrs_and_4672_references():
    data = read_e2e_csv(datasets.e2e_path("dev"))
    assert len(data.meaning_representations) == 547
    assert sum(map(len, data.references)) == 4672


def test_parse_meaning_representation():
    assert parse_meaning_representation(
        "name[The Vaults], customer rating[5 out of 5], near[Café Adriatic]"
    ) == {
        "name": "The Vaults",
        "customer rating": "5 out of 5",
        "near": "Café Adriatic",
    }


@pytest.mark.parametrize(
    "mr", ["", "name", "name[The Eagle", "name[a], food", "name[a] food[b]", "[x]"]
)
def test_malformed_mr_names_the_row(tmp_path, mr):
    rows = [TINY_E2E[0], (mr, "Some text.")]
    path = write_e2e_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(ValueError, match=r"row 3: .*attribute\[value\]"):
        read_e2e_csv(path)


def test_repeated_attribute_is_an_error():
    with pytest.raises(ValueError, match="repeats the attribute 'name'"):
        parse_meaning_representation("name[a], name[b]")


def test_empty_reference_names_the_row(tmp_path):
    rows = [TINY_E2E[0], TINY_E2E[2], ("name[Zizzi]", "   ")]
    path = write_e2e_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(ValueError, match=r"row 4: empty ref"):
        read_e2e_csv(path)


def test_missing_columns_are_named(tmp_path):
    path = write_e2e_csv(tmp_path / "bad.csv", [("a", "b")], header=("meaning", "ref"))
    with pytest.raises(ValueError, match=r"missing \['mr'\].*Found columns"):
        read_e2e_csv(path)
    only_mr = write_e2e_csv(tmp_path / "test.csv", [("name[a]",)], header=("mr",))
    with pytest.raises(ValueError, match=r"missing \['ref'\]"):
        read_e2e_csv(only_mr)
    assert read_e2e_csv(only_mr, require_references=False).references == [[]]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="E2E CSV not found"):
        read_e2e_csv(tmp_path / "nope.csv")


def test_encoded_prompt_is_what_generation_feeds():
    tokenizer = ByteTokenizer()
    [(ids, first_target)] = encode_pairs([("name[a]", "A b.")], tokenizer)
    prompt = tokenizer.tokenize(prompt_text("name[a]")).numpy().tolist()
    assert ids[:first_target] == prompt
    assert prompt_text("name[a]") == "name[a]" + SEPARATOR
    assert ids[first_target:] == [*b"A b.", tokenizer.end_of_text_id]


def test_batches_score_only_the_text_and_have_few_shapes():
    tokenizer = ByteTokenizer()
    pairs = TINY_E2E * 8
    data = conditional_datasets(pairs, tokenizer, batch_size=4, seed=1)
    batches = list(data.train)
    assert len(batches) == data.steps_per_epoch
    scored = 0
    for x, y, w in batches:
        x, y, w = x.numpy(), y.numpy(), w.numpy()
        assert x.shape[0] == 4 and x.shape[1] % 16 == 0
        for row in range(4):
            length = int((x[row] != tokenizer.padding_id).sum())
            # y is x shifted by one; weights cover the reference and the end.
            np.testing.assert_array_equal(y[row, : length - 1], x[row, 1:length])
            target = y[row][w[row] == 1]
            assert target[-1] == tokenizer.end_of_text_id
            text = bytes(target[:-1].tolist()).decode()
            assert text in {ref for _, ref in TINY_E2E}
            # Everything before the text (MR and separator) is unscored.
            prompt = bytes(x[row, : np.argmax(w[row]) + 1].tolist()).decode()
            assert prompt.endswith(SEPARATOR) and "[" in prompt
            scored += 1
    # Each shuffled epoch drops at most one partial batch per length bucket.
    shapes = {x.shape[1] for x, _, _ in batches}
    assert len(pairs) - scored < 4 * len(shapes)
    # What decides XLA (one compile per shape): the shapes an epoch has.
    assert data.batch_shapes == len(shapes) > 1


def test_the_shuffle_is_reproducible():
    def first_batch(seed):
        data = conditional_datasets(TINY_E2E * 8, ByteTokenizer(), 4, seed=seed)
        return next(iter(data.train))[0].numpy()

    np.testing.assert_array_equal(first_batch(3), first_batch(3))


def test_validation_keeps_every_pair():
    data = conditional_datasets(
        TINY_E2E * 2, ByteTokenizer(), 4, validation_pairs=TINY_E2E
    )
    rows = sum(int(x.shape[0]) for x, _, _ in data.validation)
    assert rows == len(TINY_E2E)


def test_examples_longer_than_the_context_are_rejected():
    with pytest.raises(ValueError, match="more than the model's context_length=16"):
        conditional_datasets(TINY_E2E, ByteTokenizer(), 2, context_length=16)


def test_fewer_pairs_than_a_batch_is_an_error():
    with pytest.raises(ValueError, match="fewer than one batch"):
        conditional_datasets(TINY_E2E, ByteTokenizer(), batch_size=64)


def test_no_full_bucket_is_a_clear_error():
    # Six pairs in three length buckets: no bucket fills a batch of 4.
    pairs = [("name[a]", "A."), ("name[b]", "x" * 20), ("name[c]", "y" * 40)] * 2
    with pytest.raises(ValueError, match="No length bucket.*batch_size=4"):
        conditional_datasets(pairs, ByteTokenizer(), batch_size=4)


def test_padding_stays_within_the_context():
    """A context that isn't a multiple of 16 caps the last bucket."""
    pairs = [("name[a]", "x" * 20)] * 4  # 7 + 1 + 20 + 1 - 1 = 28 tokens
    data = conditional_datasets(pairs, ByteTokenizer(), batch_size=2, context_length=30)
    assert {x.shape[1] for x, _, _ in data.train} == {30}
    uncapped = conditional_datasets(pairs, ByteTokenizer(), batch_size=2)
    assert {x.shape[1] for x, _, _ in uncapped.train} == {32}


def test_mr_values_are_stripped():
    assert parse_meaning_representation("name[ The Eagle ], food[]") == {
        "name": "The Eagle",
        "food": "",
    }
