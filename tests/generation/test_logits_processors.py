"""min_p, min_new_tokens and no_repeat_ngram_size against float64 NumPy rules."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nlg.generation import (
    GenerationConfig,
    HostSampler,
    generate,
    generate_stream,
    reference_generate,
)
from keras_nlg.generation.host_sampling import filter_logits, repeated_ngram_tokens
from keras_nlg.generation.logits_processors import (
    ban_end_of_text,
    repeated_ngram_bans,
)
from keras_nlg.generation.sampling import truncate_logits
from keras_nlg.models import build_model
from keras_nlg.tokenizers import ByteTokenizer
from tests.generation.bigram import TOKENIZER, bigram


def reference_keep(logits, top_k, top_p, min_p):
    """float64 NumPy, written from the definitions: top-k, then the nucleus of
    the renormalised top-k distribution, and min-p on the full distribution
    (p ≥ min_p · p_max; the ratio doesn't change under renormalisation)."""
    logits = np.asarray(logits, np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    order = np.argsort(-logits, kind="stable")
    keep = np.zeros(len(logits), bool)
    k = top_k or len(logits)
    candidates = order[:k]
    # ties with the k-th logit are kept
    keep[logits >= logits[candidates[-1]]] = True
    kept = np.flatnonzero(keep)
    kept = kept[np.argsort(-logits[kept], kind="stable")]
    renormalised = probs[kept] / probs[kept].sum()
    mass_before = np.cumsum(renormalised) - renormalised
    nucleus = np.zeros(len(logits), bool)
    nucleus[kept[mass_before < top_p]] = True
    # ties with the last token of the nucleus are kept
    nucleus |= keep & (logits >= logits[kept[mass_before < top_p]].min())
    return nucleus & (probs >= min_p * probs.max())


@pytest.mark.parametrize("top_k", [0, 1, 5, 40])
@pytest.mark.parametrize("top_p", [1.0, 0.9, 0.5])
@pytest.mark.parametrize("min_p", [0.0, 0.05, 0.3])
def test_top_k_top_p_min_p_keep_what_the_reference_keeps(top_k, top_p, min_p):
    rng = np.random.default_rng(top_k * 100 + int(top_p * 10) + int(min_p * 100))
    logits = rng.normal(0, 3, size=(6, 64)).astype(np.float32)
    filtered = truncate_logits(logits, top_k, top_p, min_p)
    ours = np.isfinite(np.asarray(filtered))
    for row in range(len(logits)):
        expected = reference_keep(logits[row], top_k, top_p, min_p)
        np.testing.assert_array_equal(ours[row], expected)
        # The host sampler's filter (float64) keeps the same tokens.
        config = GenerationConfig(do_sample=True, top_k=top_k, top_p=top_p, min_p=min_p)
        host = np.isfinite(filter_logits(logits[row], config))
        np.testing.assert_array_equal(host, expected)


def test_min_p_per_row_and_off():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]] * 3, np.float32))
    min_p = np.array([0.0, 0.5, 0.31], np.float32)
    kept = np.isfinite(np.asarray(truncate_logits(logits, 0, 1.0, min_p)))
    # p / p_max = 1, 0.6, 0.3, 0.1
    np.testing.assert_array_equal(
        kept,
        [
            [True, True, True, True],
            [True, True, False, False],
            [True, True, False, False],
        ],
    )


def test_min_new_tokens_bans_end_of_text_only_before_the_minimum():
    scores = np.zeros((2, 5), np.float32)
    out = np.asarray(
        ban_end_of_text(scores, tf.constant(2), np.array([3, 2], np.int32), 4)
    )
    assert np.isneginf(out[0, 4]) and np.isfinite(out[0, :4]).all()
    assert np.isfinite(out[1]).all()


def reference_bans(sequence, valid, length, n):
    """Hugging Face's rule over the real tokens before `length`."""
    tokens = [t for t, v in zip(sequence[:length], valid[:length], strict=True) if v]
    return repeated_ngram_tokens(tokens, n)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4])
def test_repeated_ngram_bans_match_the_reference(n):
    rng = np.random.default_rng(n)
    vocabulary_size, rows, columns = 6, 8, 20
    sequence = rng.integers(0, 3, size=(rows, columns)).astype(np.int32)
    valid = np.ones((rows, columns), bool)
    for row in range(rows):
        valid[row, : rng.integers(0, 5)] = False  # left padding
        sequence[row, ~valid[row]] = 5  # a padding id that never repeats
    length = 14
    banned = np.asarray(
        repeated_ngram_bans(sequence, valid, tf.constant(length), n, vocabulary_size)
    )
    for row in range(rows):
        expected = np.zeros(vocabulary_size, bool)
        expected[sorted(reference_bans(sequence[row], valid[row], length, n))] = True
        np.testing.assert_array_equal(banned[row], expected, err_msg=f"row {row}")


def test_repeated_ngram_bans_take_one_size_per_row():
    sequence = np.array([[1, 2, 3, 1, 2]] * 3, np.int32)
    valid = np.ones_like(sequence, bool)
    banned = np.asarray(
        repeated_ngram_bans(
            sequence, valid, tf.constant(5), np.array([0, 2, 3], np.int32), 4
        )
    )
    assert not banned[0].any()
    assert banned[1].tolist() == [False, False, False, True]  # (2, 3) seen
    assert banned[2].tolist() == [False, False, False, True]  # (1, 2, 3) seen


@pytest.fixture(scope="module", params=["transformer", "lstm"])
def model(request):
    keras.utils.set_random_seed(3)
    return build_model(request.param, "tiny", vocabulary_size=258)


PROMPTS = ["to be or not to be", "", "aaaa"]


@pytest.mark.parametrize(
    "settings",
    [
        dict(no_repeat_ngram_size=2),
        dict(no_repeat_ngram_size=1, min_new_tokens=10),
        dict(no_repeat_ngram_size=3, repetition_penalty=1.3),
        dict(min_new_tokens=24),
    ],
)
def test_greedy_with_processors_equals_the_uncached_reference(model, settings):
    config = GenerationConfig(max_new_tokens=24, **settings)
    ours = generate(model, ByteTokenizer(), PROMPTS, config, return_details=True)
    _, ids = reference_generate(
        model, ByteTokenizer(), PROMPTS, return_token_ids=True, generation_config=config
    )
    assert [g.token_ids for g in ours] == ids
    for prompt, g in zip(PROMPTS, ours, strict=True):
        n = settings.get("no_repeat_ngram_size", 0)
        history = list(prompt.encode()) + g.token_ids
        grams = [tuple(history[i : i + n]) for i in range(len(history) - n + 1)]
        for i in range(max(0, len(prompt.encode()) - n + 1), len(grams) if n else 0):
            assert grams[i] not in grams[:i]  # no n-gram completed twice


def test_min_new_tokens_delays_the_end():
    # "a" ends the text with probability 0.9 unless end-of-text is banned.
    model = bigram({"a": {"$": 0.9, "b": 0.1}, "b": {"a": 1.0}})
    (short,) = generate(model, TOKENIZER, "a", max_new_tokens=8, return_details=True)
    assert short.token_ids == []
    (long,) = generate(
        model, TOKENIZER, "a", max_new_tokens=8, min_new_tokens=5, return_details=True
    )
    assert long.text == "bababa"  # ends at the first end-of-text allowed
    beams = generate(
        model,
        TOKENIZER,
        "a",
        max_new_tokens=8,
        min_new_tokens=3,
        num_beams=2,
        length_penalty=0.0,
    )
    assert beams == ["baba"]


def test_min_p_sampling_never_draws_a_filtered_token():
    # After "a": b 0.6, c 0.35, d 0.05; min_p 0.1 removes d (0.05 < 0.06).
    model = bigram({"a": {"b": 0.6, "c": 0.35, "d": 0.05}})
    texts = generate(
        model,
        TOKENIZER,
        ["a"] * 64,
        max_new_tokens=1,
        do_sample=True,
        min_p=0.1,
        seed=0,
    )
    assert set(texts) == {"b", "c"}
    sampler = HostSampler(
        GenerationConfig(do_sample=True, min_p=0.1, seed=0), TOKENIZER.end_of_text_id
    )
    logits = np.asarray(model.table)[ord("a")]
    draws = {sampler.next_token(logits, [ord("a")], 0) for _ in range(300)}
    assert draws == {ord("b"), ord("c")}


def test_stream_with_new_settings_joins_to_generate(model):
    settings = dict(
        max_new_tokens=20,
        do_sample=True,
        min_p=0.05,
        min_new_tokens=5,
        no_repeat_ngram_size=2,
        seed=11,
    )
    (text,) = generate(model, ByteTokenizer(), "ROMEO:", **settings)
    pieces = generate_stream(
        model, ByteTokenizer(), "ROMEO:", tokens_per_chunk=3, **settings
    )
    assert "".join(pieces) == text
