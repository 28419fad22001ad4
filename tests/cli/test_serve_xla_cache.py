"""`keras-nlg serve --xla_cache_dir`: what it does to TF_XLA_FLAGS."""

import os

import pytest

from keras_nlg.cli.serve import default_xla_cache_dir, use_xla_cache

FLAG = "--tf_xla_persistent_cache_directory"


@pytest.mark.parametrize(
    "environment, given, expected",
    [
        ("", "{tmp}/a", "{FLAG}={tmp}/a"),
        ("--x=1 {FLAG}=/old", "{tmp}/a", "--x=1 {FLAG}={tmp}/a"),  # given wins
        ("--x=1 {FLAG}=/old", "", "--x=1"),  # '' turns it off
        ("--x=1 {FLAG}=/old", None, "--x=1 {FLAG}=/old"),  # the default keeps it
        ("--x=1", None, "--x=1 {FLAG}={default}"),
    ],
)
def test_the_cache_flag(environment, given, expected, tmp_path, monkeypatch):
    def fill(text):
        return text.format(tmp=tmp_path, FLAG=FLAG, default=default_xla_cache_dir())

    monkeypatch.setenv("TF_XLA_FLAGS", fill(environment))
    use_xla_cache(None if given is None else fill(given))
    assert os.environ["TF_XLA_FLAGS"] == fill(expected)


def test_a_given_directory_that_cannot_be_made_is_a_value_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TF_XLA_FLAGS", "")
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="--xla_cache_dir can't be created"):
        use_xla_cache(str(tmp_path / "file" / "xla"))
