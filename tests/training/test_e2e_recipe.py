import json
import math
import os

import numpy as np
import pytest

import keras_nlg
from keras_nlg.data.e2e import read_e2e_csv
from keras_nlg.evaluation import evaluate_e2e
from keras_nlg.evaluation.e2e import DEFAULT_NUM_BEAMS
from keras_nlg.generation.config import GenerationConfig
from keras_nlg.training import TrainingConfig, train, train_e2e
from tests.conftest import make_corpus
from tests.data.e2e_files import write_e2e_csv

TINY = dict(
    tokenizer="byte",
    preset="tiny",
    steps=4,
    steps_per_epoch=2,
    batch_size=2,
    verbose=0,
)


# Every attribute of the tiny CSV, each with its longest value: longer than
# any MR in it.
LONGEST_TINY_MR = (
    "name[The Eagle], eatType[pub], food[Italian], priceRange[£20-25], area[riverside]"
)


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory):
    return write_e2e_csv(tmp_path_factory.mktemp("e2e") / "tiny.csv")


@pytest.fixture(scope="module")
def e2e_model(tmp_path_factory, tiny_csv):
    out = tmp_path_factory.mktemp("e2e_model") / "model"
    result = train_e2e(str(out), train_csv=tiny_csv, validation_csv=tiny_csv, **TINY)
    return result


def test_xla_trains_the_bucketed_weighted_batches_as_the_graph_does(tmp_path, tiny_csv):
    # Batches of several lengths (one XLA program each) with a loss mask.
    metrics = {
        jit: train_e2e(
            str(tmp_path / f"jit{jit}"),
            train_csv=tiny_csv,
            validation_csv=tiny_csv,
            **TINY,
            model_overrides={"dropout": 0.0},  # its random masks differ by program
            jit_compile=jit,
        ).metrics
        for jit in (False, True)
    }
    for key in ("loss", "val_loss", "val_perplexity"):
        assert metrics[True][key] == pytest.approx(metrics[False][key], rel=1e-4)


def test_recipe_writes_a_model_directory_with_the_task(e2e_model, tiny_csv):
    loaded = keras_nlg.load(e2e_model.out_dir)
    task = loaded.config["task"]
    assert task["name"] == "e2e" and task["separator"] == "\n"
    # The context fits the longest MR the format allows (every attribute
    # seen, with its longest value) and the text budget, rounded up to 16.
    tokenizer = loaded.tokenizer
    references = [r for refs in read_e2e_csv(tiny_csv).references for r in refs]
    longest_text = max(len(tokenizer.tokenize(r).numpy()) for r in references)
    budget = math.ceil(1.25 * (longest_text + 1))
    assert task["max_new_tokens"] == budget
    prompt = len(tokenizer.tokenize(LONGEST_TINY_MR + "\n").numpy())
    assert loaded.model.context_length == 16 * math.ceil((prompt + budget) / 16)
    assert loaded.model.context_length >= task["longest_example_tokens"]
    assert task["delexicalize"] is False
    training = loaded.config["training"]
    assert training["train_pairs"] == 6 and training["total_steps"] == 4
    first_mr = read_e2e_csv(tiny_csv).meaning_representations[0]
    assert TrainingConfig.from_record(training) == TrainingConfig.for_e2e(
        **{k: v for k, v in TINY.items() if k != "verbose"},
        learning_rate=1e-3,
        warmup_steps=0,
        sample_prompt=first_mr + "\n",
        jit_compile=False,
    )
    metrics = json.load(open(os.path.join(e2e_model.out_dir, "metrics.json")))
    assert np.isfinite(metrics["val_loss"])
    assert metrics["steps_run"] == 4


def test_recipe_writes_its_generation_config(e2e_model):
    task = keras_nlg.load(e2e_model.out_dir).config["task"]
    assert GenerationConfig.from_pretrained(e2e_model.out_dir) == GenerationConfig(
        num_beams=DEFAULT_NUM_BEAMS, max_new_tokens=task["max_new_tokens"]
    )


def test_loss_is_the_mean_over_text_tokens_only(e2e_model, tiny_csv):
    """The compiled loss against a float64 NumPy reference with the mask."""
    from keras_nlg.data.e2e import conditional_datasets

    model, tokenizer = e2e_model.model, e2e_model.tokenizer
    data = conditional_datasets(
        read_e2e_csv(tiny_csv).pairs(), tokenizer, batch_size=2, seed=0
    )
    x, y, w = (t.numpy() for t in next(iter(data.train)))
    logits = np.asarray(model(x, training=False), np.float64)
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, y[..., None], axis=-1)[..., 0]
    expected = (nll * w).sum() / w.sum()
    loss, perplexity = model.evaluate(
        x, y, sample_weight=w, batch_size=len(x), verbose=0
    )
    assert loss == pytest.approx(expected, rel=1e-5)
    # The perplexity metric sees the mask too (a weighted metric).
    assert perplexity == pytest.approx(np.exp(expected), rel=1e-4)
    # Not the mean over all positions (MR and padding included).
    assert abs(loss - nll.mean()) > 1e-3


def test_evaluate_e2e_scores_each_distinct_mr_and_writes_outputs(
    e2e_model, tiny_csv, tmp_path
):
    output = tmp_path / "out" / "outputs.txt"
    scores = evaluate_e2e(
        e2e_model.model,
        e2e_model.tokenizer,
        tiny_csv,
        num_beams=2,
        max_new_tokens=12,
        output_path=str(output),
    )
    lines = output.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines) - 1 == 3  # one line per distinct MR
    assert lines[:-1] == scores["outputs"]
    assert all("\n" not in text for text in scores["outputs"])
    for name in ("bleu", "rouge1", "rougeL", "distinct_2", "repetition_rate"):
        assert np.isfinite(scores[name])
    assert scores["meaning_representations"] == 3 and scores["num_beams"] == 2
    greedy = evaluate_e2e(
        e2e_model.model, e2e_model.tokenizer, tiny_csv, num_beams=1, max_new_tokens=12
    )
    prompts = [mr + "\n" for mr in read_e2e_csv(tiny_csv).meaning_representations]
    expected = keras_nlg.generate(
        e2e_model.model, e2e_model.tokenizer, prompts, max_new_tokens=12
    )
    assert greedy["outputs"] == [" ".join(text.split()) for text in expected]


def test_an_mr_longer_than_any_in_training_is_generated(e2e_model):
    """Room is decided per batch: the longest in-format MR never fails."""
    from keras_nlg.evaluation import generate_for_mrs

    task = keras_nlg.load(e2e_model.out_dir).config["task"]
    mrs = ["name[Zizzi], food[Italian]", LONGEST_TINY_MR]
    texts = generate_for_mrs(
        e2e_model.model,
        e2e_model.tokenizer,
        mrs,
        num_beams=1,
        max_new_tokens=task["max_new_tokens"],
        batch_size=1,
    )
    assert len(texts) == 2 and all(isinstance(text, str) for text in texts)
    # An MR past the context is refused by name, not left to fail deep inside.
    too_long = "name[" + "x" * e2e_model.model.context_length + "]"
    with pytest.raises(ValueError, match="no room to generate"):
        generate_for_mrs(e2e_model.model, e2e_model.tokenizer, [too_long], num_beams=1)


def test_delexicalised_recipe_trains_on_placeholders(tmp_path, tiny_csv):
    from keras_nlg.data.delexicalize import PLACEHOLDERS

    out = tmp_path / "model"
    result = train_e2e(
        str(out),
        train_csv=tiny_csv,
        validation_csv=tiny_csv,
        delexicalize=True,
        **TINY,
    )
    loaded = keras_nlg.load(result.out_dir)
    assert TrainingConfig.for_e2e().delexicalize is False  # opt-in, see config
    assert loaded.config["task"]["delexicalize"] is True
    assert PLACEHOLDERS["name"] in loaded.config["training"]["sample_prompt"]
    scores = evaluate_e2e(
        loaded.model,
        loaded.tokenizer,
        tiny_csv,
        num_beams=1,
        max_new_tokens=8,
        delexicalize=True,
    )
    assert len(scores["outputs"]) == 3


@pytest.mark.slow
def test_pretrained_start_keeps_its_tokenizer_and_context(tmp_path, tiny_csv):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(make_corpus(), encoding="utf-8")
    pretrained = train(
        str(tmp_path / "lm"),
        data_paths=[str(corpus)],
        preset="tiny",
        batch_size=2,
        sequence_length=96,
        model_overrides={"context_length": 128},
        steps=2,
        steps_per_epoch=2,
        verbose=0,
    )
    result = train_e2e(
        str(tmp_path / "e2e"),
        train_csv=tiny_csv,
        validation_csv=tiny_csv,
        init_model_dir=pretrained.out_dir,
        **{**TINY, "steps": 2},
    )
    assert result.config["pretrained_from"] == os.path.abspath(pretrained.out_dir)
    assert result.model.context_length == 96
    assert type(result.tokenizer) is type(pretrained.tokenizer)


def test_pretrained_context_too_short_is_a_clear_error(trained_model_dir, tiny_csv):
    with pytest.raises(ValueError, match="more than the model's context_length=32"):
        train_e2e(
            "/tmp/unused-e2e",
            train_csv=tiny_csv,
            validation_csv=tiny_csv,
            init_model_dir=trained_model_dir,
            **TINY,
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(tokenizer="words"), "tokenizer='words'"),
        (dict(max_minutes=0), "max_minutes=0"),
        (dict(batch_size=0), "batch_size=0"),
        (dict(learning_rate=-1.0), "learning_rate=-1.0"),
        (dict(arch="lstm"), "--arch lstm is not offered"),
        (dict(sequence_length=8), "--sequence-length does not apply"),
        (dict(train_csv=["a.csv", "b.csv"]), "takes one training CSV"),
        (dict(recipe="lm"), "recipe='lm'"),
    ],
)
def test_bad_arguments(tmp_path, tiny_csv, kwargs, message):
    with pytest.raises(ValueError, match=message):
        train_e2e(
            str(tmp_path / "m"),
            **{"train_csv": tiny_csv, "validation_csv": tiny_csv, **TINY, **kwargs},
        )


def test_slot_error_reranking_never_keeps_more_errors(e2e_model, tiny_csv):
    from keras_nlg.evaluation import generate_for_mrs
    from keras_nlg.evaluation.slot_errors import text_slot_errors

    mrs = read_e2e_csv(tiny_csv).meaning_representations
    options = dict(num_beams=3, max_new_tokens=24)
    top = generate_for_mrs(e2e_model.model, e2e_model.tokenizer, mrs, **options)
    reranked = generate_for_mrs(
        e2e_model.model, e2e_model.tokenizer, mrs, rerank="slot_errors", **options
    )
    for mr, first, chosen in zip(mrs, top, reranked, strict=True):
        assert text_slot_errors(chosen, mr).count <= text_slot_errors(first, mr).count
    # MRs of other slots are decoded (the top beam kept), not refused.
    (text,) = generate_for_mrs(
        e2e_model.model,
        e2e_model.tokenizer,
        ["title[Foo], year[1999]"],
        rerank="slot_errors",
        **options,
    )
    assert isinstance(text, str)
    with pytest.raises(ValueError, match="rerank='bleu'"):
        generate_for_mrs(e2e_model.model, e2e_model.tokenizer, mrs, rerank="bleu")


def test_the_context_rule_covers_an_mr_with_every_slot_at_its_longest():
    """All eight E2E slots, each with its longest value in the bundled training
    set (bytes: the byte tokenizer's tokens), fit the recipe's prompt room."""
    from keras_nlg.data.e2e import parse_meaning_representation
    from keras_nlg.datasets import e2e_path
    from keras_nlg.evaluation.e2e_slots import SLOTS
    from keras_nlg.tokenizers import ByteTokenizer
    from keras_nlg.training.e2e import _longest_in_format_prompt

    data = read_e2e_csv(e2e_path("train"))
    longest = {}
    for mr in data.meaning_representations:
        for slot, value in parse_meaning_representation(mr).items():
            if len(value.encode()) > len(longest.get(slot, "").encode()):
                longest[slot] = value
    assert set(longest) == set(SLOTS)
    mr = ", ".join(f"{slot}[{longest[slot]}]" for slot in SLOTS)
    tokens = len((mr + "\n").encode())
    assert _longest_in_format_prompt(data, ByteTokenizer()) == tokens
