"""The bad-input matrix: each case names the argument and the value received.

Library: `ValueError`/`TypeError` whose message holds the argument and value.
CLI: exit code 2 and one line on stderr (in-process, plus one fresh process
where a C++ library could write to the terminal itself). The cases are the
ones a hostile-user session found, and their relatives.
"""

import math

import keras
import pytest

import keras_nlg
from keras_nlg import evaluation
from keras_nlg.generation import generate_stream
from keras_nlg.models import TransformerLanguageModel
from keras_nlg.tokenizers import ByteTokenizer, SentencePieceTokenizer
from keras_nlg.training import TrainingConfig
from tests.cli.runner import (
    assert_main_one_line_exit_2,
    assert_one_line_exit_2,
    run_cli,
)

TOKENIZER = ByteTokenizer()


@pytest.fixture(scope="module")
def model():
    model = TransformerLanguageModel(
        TOKENIZER.vocabulary_size,
        context_length=16,
        num_layers=1,
        num_heads=1,
        hidden_dim=8,
        intermediate_dim=16,
    )
    model(keras.ops.zeros((1, 4), "int32"))
    return model


GENERATE_CASES = [
    (dict(seed="abc"), TypeError, "seed='abc'"),
    (dict(top_p=None), ValueError, "top_p=None"),
    (dict(num_beams=2, length_penalty=math.nan), ValueError, "length_penalty=nan"),
    (dict(do_sample=True, temperature=math.inf), ValueError, "temperature=inf"),
    (dict(max_new_tokens=10**30), ValueError, "max_new_tokens=1000000"),
    (dict(prompts="\ud800"), ValueError, "prompts[0]='\\ud800'"),
    (dict(prompts=["ok", b"bytes"]), TypeError, "prompts="),
    (dict(model=None), TypeError, "model=None"),
    (dict(tokenizer=None), TypeError, "tokenizer=None"),
    (dict(tokenizer="byte"), TypeError, "tokenizer='byte'"),
]


@pytest.mark.parametrize("case, error, expected", GENERATE_CASES)
def test_generate(model, case, error, expected):
    arguments = {"model": model, "tokenizer": TOKENIZER, "prompts": "a", **case}
    arguments.setdefault("max_new_tokens", 2)
    with pytest.raises(error) as raised:
        keras_nlg.generate(**arguments)
    assert expected in str(raised.value)


@pytest.mark.parametrize(
    "case, error, expected",
    [
        (dict(model=None), TypeError, "model=None"),
        (dict(prompt="\ud800"), ValueError, "prompts[0]='\\ud800'"),
        (dict(top_k=-1), ValueError, "top_k=-1"),
    ],
)
def test_generate_stream(model, case, error, expected):
    arguments = {"model": model, "tokenizer": TOKENIZER, "prompt": "a", **case}
    with pytest.raises(error) as raised:
        list(generate_stream(**arguments, max_new_tokens=2))
    assert expected in str(raised.value)


@pytest.mark.parametrize(
    "call, error, expected",
    [
        (lambda: keras_nlg.load(None), TypeError, "directory=None"),
        (lambda: keras_nlg.load(3), TypeError, "directory=3"),
        (lambda: evaluation.bleu(None, None), TypeError, "hypotheses=None"),
        (lambda: evaluation.bleu(["a"], None), TypeError, "references=None"),
        (lambda: evaluation.bleu(["a"], ["a"]), ValueError, "references[0]='a'"),
        (lambda: TOKENIZER.tokenize("\ud800"), ValueError, "inputs='\\ud800'"),
        (lambda: TOKENIZER.tokenize(["a", "\udfff"]), ValueError, "inputs[1]"),
        (lambda: TOKENIZER.tokenize(None), TypeError, "inputs=None"),
        (lambda: TOKENIZER.detokenize([[1.5]]), TypeError, "token_ids"),
        (lambda: TrainingConfig(steps=10**30), ValueError, "steps=" + "1" + "0" * 30),
        (lambda: TrainingConfig(batch_size=2**31), ValueError, "batch_size=2147483648"),
        (
            lambda: TrainingConfig(learning_rate=math.inf),
            ValueError,
            "learning_rate=inf",
        ),
    ],
)
def test_library(call, error, expected):
    with pytest.raises(error) as raised:
        call()
    assert expected in str(raised.value)


def test_detokenize_takes_the_rows_tokenize_of_a_list_gives():
    rows = TOKENIZER.tokenize(["ab", "c"]).to_list()  # [[97, 98], [99]]
    texts = TOKENIZER.detokenize(rows).numpy().tolist()
    assert texts == [b"ab", b"c"]
    assert TOKENIZER.detokenize([[], []]).numpy().tolist() == [b"", b""]


def test_sentencepiece_vocabulary_larger_than_the_text_allows(tmp_path):
    path = tmp_path / "small.txt"
    path.write_text("hello world\nthe cat sat\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"vocabulary_size=100000.*value <= \d+"):
        SentencePieceTokenizer.train([str(path)], 100000)
    # Without the hard limit (what `train` does for its default size) the
    # trainer makes what the text yields.
    small = SentencePieceTokenizer.train([str(path)], 100000, hard_vocab_limit=False)
    assert 256 < small.vocabulary_size < 1000


def test_export_tflite_refuses_to_overwrite(tmp_path):
    from keras_nlg.export import export_tflite

    (tmp_path / "model.tflite").write_bytes(b"an earlier export")
    with pytest.raises(ValueError, match="overwrite=True"):
        export_tflite(str(tmp_path / "no model here"), str(tmp_path))
    assert (tmp_path / "model.tflite").read_bytes() == b"an earlier export"


@pytest.fixture
def finished_dir(tmp_path):
    """A directory that holds a finished model (only its presence matters)."""
    (tmp_path / "model.keras").write_bytes(b"a finished model")
    return str(tmp_path)


CLI_CASES = [
    (["train", "--steps", "1" + "0" * 30, "--out", "{tmp}/x"], "steps=1000"),
    (["train", "--out", "{finished}"], "--overwrite"),
    (["train", "--minutes", "0", "--out", "{tmp}/x"], "--minutes"),
    (["train", "--minutes", "1", "--steps", "5", "--out", "{tmp}/x"], "--steps"),
    (
        ["train", "--minutes", "1", "--max-minutes", "2", "--out", "{tmp}/x"],
        "minutes=1.0, max_minutes=2.0",
    ),
    (
        ["finetune", "--model", "{tmp}", "--data", "x", "--out", "{finished}"],
        "overwrite",
    ),
    (
        ["export", "--format", "saved_model", "--model", "{tmp}", "--out", "{tmp}/1"]
        + ["--overwrite"],
        "--overwrite applies to --format tflite or litertlm or transformers only",
    ),
    (
        ["export", "--format", "tflite", "--model", "{tmp}", "--out", "{finished}"],
        "overwrite",
    ),
    (["generate", "--model", None, "--prompt", "x"], "directory"),
]


@pytest.mark.parametrize("argv, expected", CLI_CASES)
def test_cli(argv, expected, tmp_path, finished_dir, capsys):
    if "tflite" in argv:
        (tmp_path / "tflite").mkdir()
        (tmp_path / "tflite" / "model.tflite").write_bytes(b"x")
        finished_dir = str(tmp_path / "tflite")
    argv = [str(tmp_path / "missing") if arg is None else arg for arg in argv]
    argv = [a.format(tmp=tmp_path, finished=finished_dir) for a in argv]
    assert_main_one_line_exit_2(argv, expected, capsys)
    assert not any(p.name.startswith(".partial") for p in tmp_path.iterdir())


@pytest.mark.slow
def test_sentencepiece_logs_stay_off_the_cli_error_line(tmp_path):
    """A fresh process: the C++ SentencePiece inside tensorflow-text writes
    to the terminal itself, which only a real stderr shows."""
    corpus = tmp_path / "small.txt"
    corpus.write_text("hello world\nthe cat sat\n" * 20, encoding="utf-8")
    completed = run_cli(
        "train",
        "--data",
        str(corpus),
        "--tokenizer",
        "sentencepiece",
        "--vocab-size",
        "100000",
        "--out",
        str(tmp_path / "out"),
    )
    assert_one_line_exit_2(completed, "Please set it to a value <=")
    assert not (tmp_path / "out" / "model.keras").exists()


def _flip_bytes(path):
    data = bytearray(path.read_bytes())
    for i in range(100, len(data), 997):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGES = {
    "model.keras flipped bytes": (_flip_bytes, "model.keras: BadZipFile"),
    "tokenizer.json holds []": (
        lambda path: path.parent.joinpath("tokenizer.json").write_text("[]"),
        "tokenizer.json must hold a JSON object",
    ),
    "config.json field of the wrong type": (
        lambda path: path.parent.joinpath("config.json").write_text('{"task": 5}'),
        "config.json: `task` must be a JSON object. Received: task=5",
    ),
    "generation_config.json value of the wrong type": (
        lambda path: path.parent.joinpath("generation_config.json").write_text(
            '{"num_beams": "x"}'
        ),
        "generation_config.json: `num_beams` must be",
    ),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_model_directory_names_the_file(
    damage, trained_model_dir, tmp_path, capsys
):
    import shutil

    directory = tmp_path / "model"
    shutil.copytree(trained_model_dir, directory)
    change, expected = DAMAGES[damage]
    change(directory / "model.keras")
    argv = ["generate", "--model", str(directory), "--prompt", "a"]
    assert_main_one_line_exit_2(argv, expected, capsys)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("garbage {{{", 'no field named "garbage"'),
        ("model_config_list {}", "lists no model_config_list"),
        ("model_config_list { config { name: 'm' } }", "base_path=''"),
    ],
)
def test_a_bad_serving_config_names_the_file(text, expected, tmp_path, capsys):
    path = tmp_path / "models.config"
    path.write_text(text)
    argv = ["serve", f"--model_config_file={path}", "--port=0", "--rest_api_port=0"]
    assert_main_one_line_exit_2(argv, expected, capsys)
