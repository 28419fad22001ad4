import json

import pytest

from keras_nlg.tokenizers import GPT2Tokenizer
from tests.tokenizers.gpt2_files import tiny_gpt2_vocabulary, write_gpt2_tokenizer_files


def test_merges_apply_and_end_of_text_is_the_vocabulary_entry(tmp_path):
    tokenizer = GPT2Tokenizer.from_files(*write_gpt2_tokenizer_files(str(tmp_path)))
    vocabulary = tiny_gpt2_vocabulary()
    assert tokenizer.end_of_text_id == vocabulary["<|endoftext|>"]
    assert tokenizer.tokenize(" the").numpy().tolist() == [vocabulary["Ġthe"]]
    assert tokenizer.id_to_token(vocabulary["Ġthe"]) == "Ġthe"


def test_unreadable_or_incomplete_files(tmp_path):
    vocabulary_file, merges_file = write_gpt2_tokenizer_files(str(tmp_path))
    with pytest.raises(ValueError, match="missing.json"):
        GPT2Tokenizer.from_files(str(tmp_path / "missing.json"), merges_file)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        GPT2Tokenizer.from_files(str(tmp_path / "bad.json"), merges_file)
    vocabulary = tiny_gpt2_vocabulary()
    del vocabulary["<|endoftext|>"]
    (tmp_path / "no_eot.json").write_text(json.dumps(vocabulary))
    with pytest.raises(ValueError, match="<\\|endoftext\\|>"):
        GPT2Tokenizer.from_files(str(tmp_path / "no_eot.json"), merges_file)
