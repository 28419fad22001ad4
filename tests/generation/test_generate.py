import logging

import keras
import numpy as np
import pytest

from keras_nlg.generation import generate, generate_stream, reference_generate
from keras_nlg.generation.engine import Processing, _cache_segments, compiled_decode
from keras_nlg.models import TransformerLanguageModel, build_model
from keras_nlg.tokenizers import ByteTokenizer

PROMPTS = ["ROMEO:", "a much longer prompt, of another length", "", "月光"]


@pytest.fixture(scope="module", params=["transformer", "lstm"])
def model(request):
    keras.utils.set_random_seed(0)
    return build_model(request.param, "tiny", vocabulary_size=258)


@pytest.fixture(scope="module")
def tokenizer():
    return ByteTokenizer()


def test_cached_greedy_equals_uncached_reference(model, tokenizer):
    ours = generate(model, tokenizer, PROMPTS, max_new_tokens=20, return_details=True)
    texts, ids = reference_generate(
        model, tokenizer, PROMPTS, max_new_tokens=20, return_token_ids=True
    )
    assert [g.token_ids for g in ours] == ids
    assert [g.text for g in ours] == texts


def test_ragged_batch_equals_each_prompt_alone(model, tokenizer):
    batched = generate(model, tokenizer, PROMPTS, max_new_tokens=12)
    alone = [generate(model, tokenizer, p, max_new_tokens=12)[0] for p in PROMPTS]
    assert batched == alone


def test_log_probs_match_a_full_pass(model, tokenizer):
    (result,) = generate(
        model, tokenizer, "KING:", max_new_tokens=8, return_details=True
    )
    context = list(b"KING:") + result.token_ids
    logits = np.asarray(model(np.asarray([context], np.int32)), np.float64)[0]
    log_softmax = (
        logits
        - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True))
        - logits.max(-1, keepdims=True)
    )
    expected = [log_softmax[4 + i, t] for i, t in enumerate(result.token_ids)]
    np.testing.assert_allclose(result.log_probs, expected, atol=1e-4)


def test_no_retrace_for_another_prompt_in_the_same_bucket(model, tokenizer):
    generate(model, tokenizer, ["abc", "de"], max_new_tokens=5)
    loop = compiled_decode(model, Processing())
    traces = loop.experimental_get_tracing_count()
    generate(
        model, tokenizer, ["xyzw", "q"], max_new_tokens=7
    )  # same buckets (cache 8 + 7 ≤ 16)
    assert loop.experimental_get_tracing_count() == traces


@pytest.fixture(scope="module")
def narrow_model():
    """Narrow next to its context, so that long generations decode in segments."""
    keras.utils.set_random_seed(1)
    return TransformerLanguageModel(
        258,
        context_length=96,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
    )


@pytest.mark.slow
def test_segmented_decode_equals_the_reference_and_each_prompt_alone(
    narrow_model, tokenizer
):
    # The longest prompt (39 tokens) + 50 new tokens fill the 96 columns; the
    # loop then runs over caches of 54, 68, 82 and 96 columns.
    assert _cache_segments(narrow_model, 39, 96) == (54, 68, 82, 96)
    ours = generate(
        narrow_model, tokenizer, PROMPTS, max_new_tokens=50, return_details=True
    )
    texts, ids = reference_generate(
        narrow_model, tokenizer, PROMPTS, max_new_tokens=50, return_token_ids=True
    )
    assert [g.token_ids for g in ours] == ids
    assert [len(g.token_ids) for g in ours] == [50] * len(PROMPTS)  # no early end
    assert [g.text for g in ours] == texts
    # Alone, each prompt has other segment boundaries.
    alone = [
        generate(narrow_model, tokenizer, p, max_new_tokens=50)[0] for p in PROMPTS
    ]
    assert alone == texts


def test_segmented_decode_samples_what_streaming_samples(narrow_model, tokenizer):
    # Streaming advances over the whole cache after its first chunk: the same
    # tokens from another loop shape.
    settings = dict(max_new_tokens=70, do_sample=True, top_p=0.9, seed=5)
    streamed = "".join(
        generate_stream(
            narrow_model, tokenizer, "ROMEO:", tokens_per_chunk=4, **settings
        )
    )
    assert streamed == generate(narrow_model, tokenizer, "ROMEO:", **settings)[0]


def test_top_k_one_and_tiny_top_p_equal_greedy(model, tokenizer):
    greedy = generate(model, tokenizer, PROMPTS, max_new_tokens=10)
    for settings in (dict(top_k=1), dict(top_p=1e-6)):
        sampled = generate(
            model,
            tokenizer,
            PROMPTS,
            max_new_tokens=10,
            do_sample=True,
            seed=3,
            **settings,
        )
        assert sampled == greedy, settings


def test_seeded_sampling_is_reproducible_and_seeds_differ(model, tokenizer):
    def sample(seed):
        return generate(
            model,
            tokenizer,
            PROMPTS,
            max_new_tokens=16,
            do_sample=True,
            top_p=0.95,
            seed=seed,
        )

    assert sample(1) == sample(1)
    assert sample(1) != sample(2)


def test_num_return_sequences_grouped_per_prompt(model, tokenizer):
    results = generate(
        model,
        tokenizer,
        ["ab", "cd"],
        max_new_tokens=12,
        do_sample=True,
        num_return_sequences=3,
        seed=0,
        return_full_text=True,
    )
    assert len(results) == 6
    assert all(r.startswith("ab") for r in results[:3])
    assert all(r.startswith("cd") for r in results[3:])
    assert len(set(results[:3])) > 1


def test_stop_strings_cut_the_text(model, tokenizer):
    (full,) = generate(model, tokenizer, "ab", max_new_tokens=20)
    stop = full[3:5]
    (cut,) = generate(model, tokenizer, "ab", max_new_tokens=20, stop_strings=[stop])
    assert cut == full[: full.index(stop)]


def test_end_of_text_ends_a_row(tokenizer):
    model = build_model("lstm", "tiny", vocabulary_size=258)
    bias = np.zeros(258, "float32")
    bias[tokenizer.end_of_text_id] = 100.0  # always predicts end-of-text
    model.output_projection.bias.assign(bias)
    (result,) = generate(model, tokenizer, "hi", max_new_tokens=10, return_details=True)
    assert result.text == "" and result.token_ids == []


def test_long_prompt_truncated_with_warning_or_error(tokenizer, caplog):
    model = build_model("transformer", "tiny", vocabulary_size=258)  # context_length 64
    with caplog.at_level(logging.WARNING):
        (text,) = generate(model, tokenizer, "x" * 100, max_new_tokens=8)
    assert "left-truncated" in caplog.text
    with pytest.raises(ValueError, match="truncate=True"):
        generate(model, tokenizer, "x" * 100, max_new_tokens=8, truncate=False)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(prompts=7), "prompts=7"),
        (dict(prompts=["ok", None]), "prompts"),
        (dict(max_new_tokens=0), "max_new_tokens=0"),
        (dict(max_new_tokens=64), "max_new_tokens=64"),
        (dict(do_sample=True, temperature=0.0), "temperature=0.0"),
        (dict(top_p=0.0), "top_p=0.0"),
        (dict(top_p=1.5), "top_p=1.5"),
        (dict(top_k=-1), "top_k=-1"),
        (dict(top_k=259), "top_k=259"),
        (dict(repetition_penalty=0.5), "repetition_penalty=0.5"),
        (dict(num_return_sequences=2), "num_return_sequences=2"),
        (dict(stop_strings="x"), "stop_strings='x'"),
    ],
)
def test_bad_arguments(tokenizer, kwargs, match):
    model = build_model("transformer", "tiny", vocabulary_size=258)
    arguments = {"prompts": "a", "max_new_tokens": 4, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        generate(model, tokenizer, **arguments)


def test_planned_shapes_print_no_retracing_warning():
    """Each bucketed shape is its own tf.function: calls with many batch sizes
    and lengths print none of TensorFlow's "triggered tf.function retracing"
    warnings (which `keras-nlg evaluate` used to print between results)."""
    import io

    import tensorflow as tf

    from tests.generation.bigram import TOKENIZER, bigram

    model = bigram({"s": {"a": 0.5, "b": 0.5}, "a": {"$": 1.0}, "b": {"$": 1.0}})
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    tf.get_logger().addHandler(handler)
    try:
        for rows in range(1, 24, 3):
            generate(model, TOKENIZER, ["s"] * rows, max_new_tokens=4 + rows)
            generate(model, TOKENIZER, ["s"] * rows, max_new_tokens=4, num_beams=2)
    finally:
        tf.get_logger().removeHandler(handler)
    assert "retracing" not in stream.getvalue()
