import keras
import numpy as np
import pytest

from keras_nlg.generation import reference_generate
from keras_nlg.models import build_model
from keras_nlg.tokenizers import ByteTokenizer


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_model("transformer", "tiny", vocabulary_size=258)


class FixedLogits(keras.Model):
    """Always predicts the same next-token distribution (for stop tests)."""

    context_length = None

    def __init__(self, logits):
        super().__init__()
        self.fixed = np.asarray(logits, "float32")

    def call(self, token_ids, training=None):
        batch, length = keras.ops.shape(token_ids)
        return keras.ops.broadcast_to(self.fixed, (batch, length, len(self.fixed)))


def test_greedy_is_deterministic_and_matches_manual_argmax(model):
    tokenizer = ByteTokenizer()
    texts, ids = reference_generate(
        model, tokenizer, ["ab"], max_new_tokens=5, return_token_ids=True
    )
    assert texts == reference_generate(model, tokenizer, ["ab"], max_new_tokens=5)
    context = [97, 98]
    for token in ids[0]:
        logits = np.asarray(model(np.asarray([context], "int32")))[0, -1]
        assert token == int(np.argmax(logits))
        context.append(token)


def test_top_k_one_equals_greedy(model):
    tokenizer = ByteTokenizer()
    greedy = reference_generate(
        model, tokenizer, ["x"], max_new_tokens=8, return_token_ids=True
    )
    top1 = reference_generate(
        model,
        tokenizer,
        ["x"],
        max_new_tokens=8,
        temperature=1.0,
        top_k=1,
        seed=5,
        return_token_ids=True,
    )
    assert greedy[1] == top1[1]


def test_seed_reproducible_and_seeds_differ(model):
    tokenizer = ByteTokenizer()

    def sample(seed):
        return reference_generate(
            model,
            tokenizer,
            ["x", "y"],
            max_new_tokens=20,
            temperature=1.0,
            seed=seed,
            return_token_ids=True,
        )[1]

    assert sample(1) == sample(1)
    assert sample(1) != sample(2)


def test_stops_at_end_of_text_and_empty_prompt_starts_from_it():
    tokenizer = ByteTokenizer()
    logits = np.full(258, -10.0)
    logits[tokenizer.end_of_text_id] = 10.0
    texts, ids = reference_generate(
        FixedLogits(logits), tokenizer, [""], max_new_tokens=10, return_token_ids=True
    )
    assert texts == [""] and ids == [[]]


def test_long_prompt_is_cropped_to_context(model):
    texts = reference_generate(model, ByteTokenizer(), "z" * 200, max_new_tokens=2)
    assert len(texts) == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(prompts=5), "prompts=5"),
        (dict(prompts=["ok", 3]), "prompts"),
        (dict(max_new_tokens=0), "max_new_tokens=0"),
        (dict(temperature=-1.0), "temperature=-1.0"),
        (dict(top_k=-1), "top_k=-1"),
        (dict(top_k=1000), "top_k=1000"),
    ],
)
def test_bad_arguments(model, kwargs, match):
    arguments = {"prompts": "a", "max_new_tokens": 3, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        reference_generate(model, ByteTokenizer(), **arguments)


def test_forward_pass_is_traced_once_per_model(model):
    from keras_nlg.generation.reference import _forward

    reference_generate(
        model, ByteTokenizer(), ["a", "a longer prompt"], max_new_tokens=3
    )
    reference_generate(model, ByteTokenizer(), "another", max_new_tokens=2)
    assert _forward(model).experimental_get_tracing_count() == 1
