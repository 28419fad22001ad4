"""`export_transformers`: our Transformer as a Hugging Face GPT-2 directory.

The round trip through our own importer must give the same logits bit for
bit; with `transformers` installed (the `[hf]` extra), `GPT2LMHeadModel`
on the exported directory must give our logits within 1e-4 and the same
greedy tokens, and `AutoTokenizer` our token ids.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import keras_nlg
from keras_nlg.export import export_transformers
from keras_nlg.export.hugging_face import gpt2_config
from keras_nlg.model_directory import save_model_directory
from keras_nlg.models import LSTMLanguageModel, TransformerLanguageModel
from keras_nlg.models.gpt2_checkpoint import import_gpt2
from tests.cli.runner import assert_one_line_exit_2, run_cli

TEXTS = ["Hello world, hello keras.", "the cat sat\non the mat ", "é ü 𝄞 ok"]


def _logits(model, token_ids):
    return np.asarray(model(np.asarray([token_ids], np.int32)))[0]


def _prompt_ids(tokenizer):
    ids = tokenizer.tokenize(TEXTS[0]).numpy().tolist()
    assert len(ids) >= 3
    return ids


@pytest.fixture(scope="module")
def untied_model_dir(tokenizer_model_dirs, tmp_path_factory):
    """GPT-2 BPE, an untied output projection, no biases: both exported."""
    _, tokenizer, config = keras_nlg.load(tokenizer_model_dirs["gpt2_bpe"])
    model = TransformerLanguageModel(
        tokenizer.vocabulary_size,
        context_length=64,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=24,
        tie_embeddings=False,
        use_bias=False,
        approximate_gelu=False,
        scale_attention_by_inverse_layer_index=True,
    )
    model(np.zeros((1, 4), np.int32))
    rng = np.random.default_rng(5)
    for weight in model.weights:
        weight.assign(rng.normal(0, 0.5, weight.shape).astype(np.float32))
    directory = str(tmp_path_factory.mktemp("untied") / "model")
    config = dict(
        config, model={"class_name": type(model).__name__, "config": model.get_config()}
    )
    save_model_directory(directory, model, tokenizer, config)
    return directory


@pytest.fixture(scope="module", params=["tied", "untied"])
def exported(request, tokenizer_model_dirs, untied_model_dir, tmp_path_factory):
    """`(our model directory, exported HF directory)`."""
    source = (
        tokenizer_model_dirs["gpt2_bpe"]
        if request.param == "tied"
        else untied_model_dir
    )
    out = str(tmp_path_factory.mktemp("hf") / request.param)
    assert export_transformers(source, out) == out
    return source, out


def test_import_of_the_export_gives_the_same_logits(exported, tmp_path):
    source, out = exported
    assert sorted(os.listdir(out)) == [
        "config.json",
        "merges.txt",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.json",
    ]
    ours, tokenizer, _ = keras_nlg.load(source)
    again, again_tokenizer, _ = import_gpt2(out, str(tmp_path / "again"))
    ids = _prompt_ids(tokenizer)
    np.testing.assert_array_equal(_logits(again, ids), _logits(ours, ids))
    for text in TEXTS:
        assert (
            again_tokenizer.tokenize(text).numpy().tolist()
            == tokenizer.tokenize(text).numpy().tolist()
        )


# transformers runs in a child process, as in tests/models/test_gpt2_checkpoint.py:
# torch and TensorFlow in one process can abort at import (CUDA builds of torch
# load triton).
_TRANSFORMERS_RUN = """
import json
import sys

import numpy as np
import torch
import transformers

directory, request_file, result = sys.argv[1:4]
with open(request_file) as f:
    request = json.load(f)
model = transformers.GPT2LMHeadModel.from_pretrained(directory).eval()
answer = {}
with torch.no_grad():
    ids = torch.tensor([request["ids"]])
    answer["logits"] = model(ids).logits[0].numpy().tolist()
    new_tokens = request["new_tokens"]
    if new_tokens:
        output = model.generate(
            ids,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            pad_token_id=request["pad_token_id"],
        )
        answer["generated"] = output[0, len(request["ids"]) :].tolist()
if request["texts"]:
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    answer["token_ids"] = [tokenizer(text)["input_ids"] for text in request["texts"]]
with open(result, "w") as f:
    json.dump(answer, f)
"""


def run_transformers(directory, scratch, ids, new_tokens=0, texts=(), pad_token_id=0):
    """Logits (and greedy tokens, token ids) from transformers in a child
    process; skips without the `[hf]` extra."""
    for package in ("torch", "transformers"):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{package} is not installed (pip install '.[hf]')")
    request = os.path.join(scratch, "request.json")
    with open(request, "w") as f:
        json.dump(
            dict(
                ids=list(ids),
                new_tokens=new_tokens,
                texts=list(texts),
                pad_token_id=pad_token_id,
            ),
            f,
        )
    result = os.path.join(scratch, "result.json")
    subprocess.run(
        [sys.executable, "-c", _TRANSFORMERS_RUN, directory, request, result],
        check=True,
        timeout=300,
    )
    with open(result) as f:
        answer = json.load(f)
    answer["logits"] = np.asarray(answer["logits"], np.float32)
    return answer


def test_transformers_gives_our_logits_and_greedy_tokens(exported, tmp_path):
    source, out = exported
    ours, tokenizer, _ = keras_nlg.load(source)
    ids = _prompt_ids(tokenizer)
    new_tokens = 12
    theirs = run_transformers(
        out,
        str(tmp_path),
        ids,
        new_tokens=new_tokens,
        texts=TEXTS,
        pad_token_id=tokenizer.end_of_text_id,
    )
    for text, their_ids in zip(TEXTS, theirs["token_ids"], strict=True):
        assert their_ids == tokenizer.tokenize(text).numpy().tolist()
    np.testing.assert_allclose(theirs["logits"], _logits(ours, ids), atol=1e-4, rtol=0)
    result = keras_nlg.generate(
        ours,
        tokenizer,
        TEXTS[0],
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        return_details=True,
    )
    assert result[0].token_ids == theirs["generated"]


def test_byte_tokenizer_model_exports_with_a_tokenizer_json(
    tokenizer_model_dirs, tmp_path
):
    out = export_transformers(tokenizer_model_dirs["byte"], tmp_path / "hf")
    assert "vocab.json" not in os.listdir(out)
    from tokenizers import Tokenizer

    hf_tokenizer = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    for text in TEXTS:
        assert hf_tokenizer.encode(text).ids == list(text.encode("utf-8"))
    ours, _, _ = keras_nlg.load(tokenizer_model_dirs["byte"])
    ids = list(TEXTS[1].encode("utf-8"))
    theirs = run_transformers(out, str(tmp_path), ids)
    np.testing.assert_allclose(theirs["logits"], _logits(ours, ids), atol=1e-4, rtol=0)


def test_what_gpt2_cannot_hold_is_refused_and_nothing_is_written(
    tokenizer_model_dirs, tmp_path
):
    out = tmp_path / "hf"
    with pytest.raises(ValueError, match="SentencePieceTokenizer"):
        export_transformers(tokenizer_model_dirs["sentencepiece"], out)
    assert not out.exists()
    assert os.listdir(tmp_path) == []  # no staging directory left behind
    model, tokenizer, config = keras_nlg.load(tokenizer_model_dirs["byte"])
    post_ln = TransformerLanguageModel(
        **{**model.get_config(), "normalize_first": False, "name": None}
    )
    post_ln(np.zeros((1, 2), np.int32))
    post_ln_dir = str(tmp_path / "post_ln")
    save_model_directory(
        post_ln_dir,
        post_ln,
        tokenizer,
        dict(
            config,
            model={
                "class_name": "TransformerLanguageModel",
                "config": post_ln.get_config(),
            },
        ),
    )
    with pytest.raises(ValueError, match="normalize_first"):
        export_transformers(post_ln_dir, out)
    assert not out.exists()
    with pytest.raises(ValueError, match="LSTMLanguageModel"):
        gpt2_config(LSTMLanguageModel(258, embedding_dim=8, units=8), 256)


def test_an_earlier_export_is_replaced_only_with_overwrite(
    tokenizer_model_dirs, tmp_path
):
    source = tokenizer_model_dirs["gpt2_bpe"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    for overwrite, message in ((False, "--overwrite"), (True, "not an earlier")):
        with pytest.raises(ValueError, match=message):
            export_transformers(source, mine, overwrite=overwrite)
    assert (mine / "keep.txt").read_text() == "mine"
    out = tmp_path / "hf"
    export_transformers(source, out)
    (out / "marker.txt").write_text("old")
    with pytest.raises(ValueError, match="overwrite=True"):
        export_transformers(source, out)
    with pytest.raises(ValueError, match="not an earlier export"):
        export_transformers(source, out, overwrite=True)  # marker.txt is not ours
    assert (out / "marker.txt").read_text() == "old"
    (out / "marker.txt").unlink()
    (out / "vocab.json").unlink()  # an earlier export, however partial
    export_transformers(source, out, overwrite=True)
    assert (out / "vocab.json").is_file()
    assert (out / "model.safetensors").is_file()
    assert sorted(os.listdir(tmp_path)) == ["hf", "mine"]  # nothing left aside


def test_out_dir_that_would_lose_the_model_is_refused(tokenizer_model_dirs, tmp_path):
    source = tokenizer_model_dirs["gpt2_bpe"]
    before = sorted(os.listdir(source))
    for out in (source, os.path.dirname(source)):
        with pytest.raises(ValueError, match="model directory"):
            export_transformers(source, out, overwrite=True)
    assert sorted(os.listdir(source)) == before
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with pytest.raises(ValueError, match="symbolic link"):
        export_transformers(source, tmp_path / "link")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        export_transformers(source, tmp_path / "file", overwrite=True)
    (tmp_path / "empty").mkdir()
    export_transformers(source, tmp_path / "empty")
    assert (tmp_path / "empty" / "config.json").is_file()


def test_cli(tokenizer_model_dirs, tmp_path):
    def export(kind, out, *flags):
        model = tokenizer_model_dirs[kind]
        return run_cli(
            "export", "--model", model, "--format", "transformers", "--out", out, *flags
        )

    out = tmp_path / "hf"
    completed = export("gpt2_bpe", str(out))
    assert completed.returncode == 0, completed.stderr
    assert "model.safetensors" in completed.stdout
    assert (out / "config.json").is_file()
    completed = export("sentencepiece", str(tmp_path / "sp"))
    assert_one_line_exit_2(completed, "SentencePieceTokenizer")
    assert not (tmp_path / "sp").exists()
    completed = export("gpt2_bpe", str(tmp_path / "x"), "--quantize", "int8")
    assert_one_line_exit_2(completed, "--quantize")
