"""The serving signatures against the library they came from."""

import numpy as np
import pytest
import tensorflow as tf

import keras_nlg
from tests.export.saved_model.conftest import PROMPTS, settings


def test_greedy_text_equals_generate(loaded, serving_model_dir):
    out = loaded.signatures["serving_default"](
        prompt=tf.constant(PROMPTS), **settings()
    )
    texts = [t.decode() for t in out["text"].numpy()]
    model, tokenizer, _ = keras_nlg.load(serving_model_dir)
    details = keras_nlg.generate(
        model, tokenizer, PROMPTS, max_new_tokens=12, return_details=True
    )
    assert texts == [d.text for d in details]
    # Exactly the tokens behind the text (end-of-text is not one of them).
    expected = [len(d.token_ids) for d in details]
    np.testing.assert_array_equal(out["num_generated_tokens"].numpy(), expected)


def test_new_settings_equal_generate(loaded, serving_model_dir):
    """min_new_tokens, no_repeat_ngram_size and min_p as keras_nlg.generate
    runs them: greedy rows exactly, and a sampled row too (row 0 draws from
    (seed, 0) in both)."""
    model, tokenizer, _ = keras_nlg.load(serving_model_dir)
    serve = loaded.signatures["serving_default"]
    out = serve(
        prompt=tf.constant(PROMPTS),
        **settings(min_new_tokens=[8], no_repeat_ngram_size=[2]),
    )
    expected = keras_nlg.generate(
        model,
        tokenizer,
        PROMPTS,
        max_new_tokens=12,
        min_new_tokens=8,
        no_repeat_ngram_size=2,
    )
    assert [t.decode() for t in out["text"].numpy()] == expected
    assert (out["num_generated_tokens"].numpy() >= 8).all()
    for prompt in PROMPTS[:2]:
        sampled = serve(
            prompt=tf.constant([prompt]),
            **settings(temperature=[1.5], min_p=[0.05], seed=[7]),
        )
        (text,) = keras_nlg.generate(
            model,
            tokenizer,
            prompt,
            max_new_tokens=12,
            do_sample=True,
            temperature=1.5,
            min_p=0.05,
            seed=7,
        )
        assert sampled["text"].numpy()[0].decode() == text


def test_per_row_settings_and_rows_independent_of_batch(loaded):
    serve = loaded.signatures["serving_default"]
    rows = settings(
        max_new_tokens=[3, 12, 7, 12],
        temperature=[0.0, 1.0, 0.9, 1.3],
        top_k=[0, 0, 5, 0],
        top_p=[1.0, 0.9, 1.0, 1.0],
        seed=[0, 11, 12, 13],
    )
    batch = serve(prompt=tf.constant(PROMPTS), **rows)
    assert batch["num_generated_tokens"].numpy()[0] <= 3
    for i in (1, 3):
        alone = serve(
            prompt=tf.constant([PROMPTS[i]]),
            **{n: v[i : i + 1] if len(v) > 1 else v for n, v in rows.items()},
        )
        assert alone["text"].numpy()[0] == batch["text"].numpy()[i]
    again = serve(prompt=tf.constant(PROMPTS), **rows)
    np.testing.assert_array_equal(again["text"].numpy(), batch["text"].numpy())
    other_seed = serve(
        prompt=tf.constant(PROMPTS), **{**rows, "seed": tf.constant([99])}
    )
    assert list(other_seed["text"].numpy()) != list(batch["text"].numpy())


def test_generate_ids_and_score(loaded, serving_model_dir):
    model, tokenizer, _ = keras_nlg.load(serving_model_dir)
    prompt = np.asarray(tokenizer.tokenize("ROMEO:"), np.int32)
    token_ids = np.zeros([2, len(prompt)], np.int32)
    token_ids[0] = prompt
    token_ids[1, :3] = prompt[:3]
    out = loaded.signatures["generate_ids"](
        token_ids=tf.constant(token_ids),
        prompt_length=tf.constant([len(prompt), 3]),
        **settings(),
    )
    details = keras_nlg.generate(
        model, tokenizer, ["ROMEO:", "ROM"], max_new_tokens=12, return_details=True
    )
    for row, d in enumerate(details):
        count = out["num_generated_tokens"].numpy()[row]
        assert out["token_ids"].numpy()[row, :count].tolist() == d.token_ids
        assert (out["token_ids"].numpy()[row, count:] == tokenizer.padding_id).all()

    texts = ["to be or not", "月光 night"]
    scored = loaded.signatures["score"](text=tf.constant(texts))
    for row, text in enumerate(texts):
        ids = [tokenizer.end_of_text_id] + np.asarray(tokenizer.tokenize(text)).tolist()
        logits = np.asarray(model(np.array([ids], np.int32)), np.float64)[0, :-1]
        log_probs = (
            logits
            - np.log(
                np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)
            )
            - logits.max(-1, keepdims=True)
        )
        expected = log_probs[np.arange(len(ids) - 1), ids[1:]].sum()
        assert scored["num_tokens"].numpy()[row] == len(ids) - 1
        np.testing.assert_allclose(
            scored["log_likelihood"].numpy()[row], expected, rtol=1e-4
        )


@pytest.mark.parametrize(
    "prompts, overrides, match",
    [
        ([], {}, "at least one row"),
        (["a"] * 9, {}, "max_batch_size=8"),
        (["a" * ((1 << 20) + 1)], {}, "at most 1048576 bytes"),
        ([b"\xff\xfe"], {}, "valid UTF-8"),
        (["a"], {"max_new_tokens": [0]}, "max_new_tokens"),
        (["a"], {"max_new_tokens": [64]}, r"max_new_tokens. must be in \[1, 63\]"),
        (["a"], {"top_p": [1.5]}, "top_p"),
        (["a"], {"top_p": [0.0]}, "top_p"),
        (["a"], {"temperature": [-1.0]}, "temperature"),
        (["a"], {"top_k": [-1]}, "top_k"),
        (["a"], {"min_p": [1.0]}, "min_p"),
        (["a"], {"min_new_tokens": [-1]}, "min_new_tokens"),
        (["a"], {"no_repeat_ngram_size": [-1]}, "no_repeat_ngram_size"),
        (["a", "b"], {"seed": [1, 2, 3]}, "1 value or one per row"),
    ],
)
def test_bad_inputs_fail_with_the_input_named(loaded, prompts, overrides, match):
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        loaded.signatures["serving_default"](
            prompt=tf.constant(prompts, tf.string), **settings(**overrides)
        )
