import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nlg.generation import generate
from keras_nlg.generation.beam_search import compiled_beam_search
from keras_nlg.models import build_model
from tests.generation.bigram import TOKENIZER, bigram


def sequence_log_prob(model, prompt, ids):
    context = [ord(prompt[-1])] + ids
    return sum(
        model.table[a, b] for a, b in zip(context[:-1], context[1:], strict=True)
    )


def test_beam_search_beats_greedy_on_a_hand_set_distribution():
    # Greedy takes "a" (0.6) and then faces ten equally likely digits (0.1 each);
    # "b" (0.4) is followed by "c" for sure: 0.4 > 0.06.
    digits = {str(d): 0.1 for d in range(10)}
    model = bigram(
        {
            "s": {"a": 0.6, "b": 0.4},
            "a": digits,
            "b": {"c": 1.0},
            "c": {"$": 1.0},
            **{d: {"$": 1.0} for d in digits},
        }
    )
    (greedy,) = generate(model, TOKENIZER, "s", max_new_tokens=2, return_details=True)
    (beam,) = generate(
        model, TOKENIZER, "s", max_new_tokens=2, num_beams=2, return_details=True
    )
    assert greedy.text[0] == "a" and beam.text == "bc"
    assert sequence_log_prob(model, "s", beam.token_ids) > sequence_log_prob(
        model, "s", greedy.token_ids
    )
    np.testing.assert_allclose(sum(beam.log_probs), np.log(0.4), atol=1e-5)


def test_finished_hypothesis_ends_at_end_of_text_and_length_penalty_matters():
    # "x" ends at once with 0.5, or continues "yyyy…" with 0.5 then 0.9 per step.
    model = bigram({"s": {"$": 0.5, "y": 0.5}, "y": {"y": 0.9, "$": 0.1}})
    short = generate(
        model, TOKENIZER, "s", max_new_tokens=6, num_beams=3, length_penalty=0.0
    )
    long = generate(
        model, TOKENIZER, "s", max_new_tokens=6, num_beams=3, length_penalty=3.0
    )
    assert short == [""]  # log 0.5 beats every longer hypothesis without normalization
    assert long[0].startswith("yy")


@pytest.mark.parametrize("arch", ["transformer", "lstm"])
def test_one_beam_equals_greedy(arch):
    keras.utils.set_random_seed(1)
    model = build_model(arch, "tiny", vocabulary_size=258)
    prompts = ["ab", "longer prompt"]
    greedy = generate(model, TOKENIZER, prompts, max_new_tokens=15, return_details=True)
    padded = np.full((2, 16), TOKENIZER.padding_id, np.int32)
    mask = np.ones((2, 64 if arch == "transformer" else 80), bool)
    for row, prompt in enumerate(prompts):
        ids = list(prompt.encode())
        padded[row, 16 - len(ids) :] = ids
        mask[row, : 16 - len(ids)] = False
    search = compiled_beam_search(model, num_beams=1)
    tokens, _, _ = search(
        padded, mask, tf.constant(15), tf.constant(0), tf.constant(1.0), 256, 257
    )
    for row, result in enumerate(greedy):
        assert (
            np.asarray(tokens)[row, 0, : len(result.token_ids)].tolist()
            == result.token_ids
        )


def test_returns_the_best_beams_in_order():
    keras.utils.set_random_seed(2)
    model = build_model("transformer", "tiny", vocabulary_size=258)
    results = generate(
        model,
        TOKENIZER,
        ["ab", "c"],
        max_new_tokens=8,
        num_beams=4,
        num_return_sequences=3,
        return_details=True,
        length_penalty=0.0,
    )
    assert len(results) == 6
    for group in (results[:3], results[3:]):
        totals = [sum(r.log_probs) for r in group]
        assert totals == sorted(totals, reverse=True)
        assert len({tuple(r.token_ids) for r in group}) == 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_beams=0), "num_beams=0"),
        (dict(num_beams=2, num_return_sequences=3), "num_return_sequences=3"),
        (dict(num_beams=2, do_sample=True), "do_sample=True"),
    ],
)
def test_bad_beam_arguments(kwargs, match):
    model = build_model("transformer", "tiny", vocabulary_size=258)
    with pytest.raises(ValueError, match=match):
        generate(model, TOKENIZER, "a", max_new_tokens=4, **kwargs)
