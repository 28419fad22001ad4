"""DPO end to end: the margin moves toward the chosen texts; bad pairs are named."""

import json

import numpy as np
import pytest

import keras_nlg
from keras_nlg.training.rl import RLConfig, dpo, read_pairs

PAIRS = [
    {"prompt": p, "chosen": "aa aa", "rejected": "bb bb"}
    for p in ("a", "b", "ab ", "ba ", "bb ", "aa ")
]


def test_dpo_moves_the_margin_toward_the_chosen_texts(trained_model_dir, tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in PAIRS), encoding="utf-8")
    result = dpo(
        trained_model_dir,
        str(path),
        str(tmp_path / "dpo"),
        RLConfig(steps=12, steps_per_epoch=4, prompts_per_step=4, learning_rate=3e-3),
        verbose=0,
    )
    margins = result.history["margin"]
    assert margins[0] < margins[-1] and margins[-1] > 0.5, margins
    assert result.history["accuracy"][-1] == 1.0
    # The written model prefers the chosen text more than the start did.
    start = keras_nlg.load(trained_model_dir).model
    tuned = keras_nlg.load(result.out_dir).model
    assert result.config["dpo"]["pairs"] == len(PAIRS)
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(start.get_weights(), tuned.get_weights(), strict=True)
    )


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "preference pairs .* is empty"),
        ("\n\n", "is empty"),
        ("{not json", "line 1: not JSON"),
        ('{"prompt": "a", "chosen": "b"}', "line 1: a pair needs string fields"),
        ('\n{"prompt": 1, "chosen": "b", "rejected": "c"}', "line 2"),
    ],
)
def test_bad_pair_files_name_the_file_and_line(tmp_path, text, match):
    path = tmp_path / "pairs.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=match):
        read_pairs(str(path))


def test_bad_settings_and_pairs_are_named(trained_model_dir, tmp_path):
    with pytest.raises(ValueError, match="beta"):
        dpo(trained_model_dir, PAIRS, str(tmp_path / "x"), beta=0.0)
    with pytest.raises(ValueError, match=r"pairs\[1\]"):
        dpo(trained_model_dir, [PAIRS[0], {"prompt": "a"}], str(tmp_path / "x"))
    with pytest.raises(ValueError, match="context"):
        long = [{"prompt": "a" * 500, "chosen": "b", "rejected": "c"}]
        dpo(trained_model_dir, long, str(tmp_path / "x"))
