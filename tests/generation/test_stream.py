import keras
import pytest

from keras_nlg.generation import generate, generate_stream
from keras_nlg.models import build_model
from tests.generation.bigram import TOKENIZER, bigram

PROMPTS = ["ROMEO:", "床前", ""]


@pytest.fixture(scope="module", params=["transformer", "lstm"])
def model(request):
    keras.utils.set_random_seed(0)
    return build_model(request.param, "tiny", vocabulary_size=258)


@pytest.mark.parametrize("settings", [{}, dict(do_sample=True, top_p=0.9, seed=4)])
def test_pieces_join_to_what_generate_returns(model, settings):
    for prompt in PROMPTS:
        pieces = list(
            generate_stream(
                model,
                TOKENIZER,
                prompt,
                max_new_tokens=23,
                tokens_per_chunk=3,
                **settings,
            )
        )
        assert (
            "".join(pieces)
            == generate(model, TOKENIZER, prompt, max_new_tokens=23, **settings)[0]
        )


def test_never_splits_a_multibyte_character():
    text = "月光"  # bytes e6 9c 88 e5 85 89, then end-of-text
    chain = list(text.encode()) + ["$"]
    transitions = {"s": {chr(chain[0]): 1.0}}
    for a, b in zip(chain[:-1], chain[1:], strict=True):
        transitions[chr(a)] = {"$" if b == "$" else chr(b): 1.0}
    model = bigram(transitions)
    pieces = list(
        generate_stream(model, TOKENIZER, "s", max_new_tokens=10, tokens_per_chunk=1)
    )
    assert pieces == ["月", "光"]


def test_stop_string_is_never_half_printed():
    transitions = {
        "s": {"a": 1.0},
        "a": {"b": 1.0},
        "b": {"c": 1.0},
        "c": {"d": 1.0},
        "d": {"a": 1.0},
    }
    model = bigram(transitions)
    pieces = list(
        generate_stream(
            model,
            TOKENIZER,
            "s",
            max_new_tokens=12,
            stop_strings=["cd"],
            tokens_per_chunk=1,
        )
    )
    assert "".join(pieces) == "ab"
    assert all("c" not in piece for piece in pieces)


def test_bad_arguments():
    model = build_model("transformer", "tiny", vocabulary_size=258)
    with pytest.raises(TypeError, match="prompt"):
        next(generate_stream(model, TOKENIZER, ["a", "b"]))
    with pytest.raises(ValueError, match="tokens_per_chunk=0"):
        next(generate_stream(model, TOKENIZER, "a", tokens_per_chunk=0))
