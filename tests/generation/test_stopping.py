"""Details agree with the text they come with: `keras_nlg.generation.stopping`.

The bigram oracle's next token is known, so a stop string sits at a known
token: prompt ">" continues "abcdefghijklmnopqrstuvwxyzabc…", one byte per
token, and the stop "vw" first appears after token 21 ("…u").
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_nlg.generation import (
    GenerationConfig,
    generate,
    generate_stream,
    reference_generate,
)
from keras_nlg.generation.engine import Processing, compiled_advance
from keras_nlg.generation.generate import (
    STOP_CHECK_TOKENS,
    pad_prompts,
    sample_until_done,
)
from keras_nlg.generation.stopping import ids_to_text
from tests.generation.bigram import TOKENIZER, bigram

LETTERS = "abcdefghijklmnopqrstuvwxyz"
ALPHABET = {
    ">": {"a": 1.0},
    **{a: {b: 1.0} for a, b in zip(LETTERS, LETTERS[1:] + "a", strict=True)},
}
# "w" ends the text: the prompt "t" continues "uvw" then end-of-text.
ENDING = {**ALPHABET, "w": {"$": 1.0}}


def check_agreement(result):
    """The invariant: the ids are the fewest tokens behind the text."""
    assert len(result.log_probs) == len(result.token_ids)
    decoded = bytes(result.token_ids).decode("utf-8", "replace")
    assert decoded == result.text  # byte tokens: a stop begins on a boundary


def test_the_issue_case_ids_and_log_probs_end_with_the_text():
    model = bigram(ALPHABET)
    (result,) = generate(
        model, TOKENIZER, ">", max_new_tokens=24, stop=["vw"], return_details=True
    )
    assert result.text == LETTERS[:21]
    assert result.token_ids == list(LETTERS[:21].encode())
    np.testing.assert_allclose(result.log_probs, np.zeros(21), atol=1e-6)
    check_agreement(result)


@pytest.mark.parametrize(
    "settings, texts",
    [
        # max_new_tokens cut, end-of-text cut, stop-string cut, per row.
        (dict(max_new_tokens=5), ["abcde", "uvw", "bcdef"]),
        (dict(max_new_tokens=30, stop_strings=["ef", "zz"]), ["abcd", "uvw", "bcd"]),
        (
            dict(max_new_tokens=30, stop_strings=["v"]),
            [LETTERS[:21], "u", "bcdefghijklmnopqrstu"],
        ),
    ],
)
def test_every_cut_agrees_with_its_ids(settings, texts):
    model = bigram(ENDING)
    results = generate(
        model, TOKENIZER, [">", "t", "a"], return_details=True, **settings
    )
    assert [r.text for r in results] == texts
    for result in results:
        check_agreement(result)


def test_num_return_sequences_and_beams_agree_with_their_text():
    model = bigram({**ALPHABET, "e": {"f": 0.6, "x": 0.4}, "x": {"$": 1.0}})
    for settings in (
        dict(do_sample=True, seed=1, num_return_sequences=4),
        dict(num_beams=3, num_return_sequences=2),
    ):
        results = generate(
            model,
            TOKENIZER,
            [">", "c"],
            max_new_tokens=20,
            stop_strings=["gh"],
            return_details=True,
            **settings,
        )
        assert {r.text for r in results} <= {"abcdef", "abcdex", "def", "dex"}
        for result in results:
            check_agreement(result)


def test_the_loop_ends_once_every_row_has_hit_a_stop_string():
    model = bigram(ALPHABET)
    config = GenerationConfig(max_new_tokens=60, stop_strings=["vw"])
    prompt_ids, padding_mask = pad_prompts(model, TOKENIZER, [">", "b"], 60, True, 1)
    state = sample_until_done(
        config, TOKENIZER, model, prompt_ids, padding_mask, 0, real_rows=2
    )
    # The stop comes at token 22 (row ">") and 21 (row "b"): the second chunk.
    assert int(state.step) == 2 * STOP_CHECK_TOKENS
    tokens = np.asarray(state.tokens)
    assert (tokens[:, 2 * STOP_CHECK_TOKENS :] == TOKENIZER.padding_id).all()


def test_the_loop_ends_at_end_of_text_beside_a_filler_row():
    # One prompt decodes beside a filler row, which must not keep it going.
    model = bigram(ENDING)
    config = GenerationConfig(max_new_tokens=60)
    prompt_ids, padding_mask = pad_prompts(model, TOKENIZER, ["t"], 60, True, 1)
    assert prompt_ids.shape[0] == 2  # the prompt and a filler row
    state = sample_until_done(
        config, TOKENIZER, model, prompt_ids, padding_mask, 0, real_rows=1
    )
    assert int(state.step) > 60  # "every row ended", after 4 tokens
    assert np.asarray(state.tokens)[0, :4].tolist() == [
        *b"uvw",
        TOKENIZER.end_of_text_id,
    ]


def test_chunked_decoding_does_not_retrace():
    model = bigram(ALPHABET)
    generate(model, TOKENIZER, [">"], max_new_tokens=40, stop_strings=["xyz"])
    advance = compiled_advance(model, Processing())
    traces = advance.experimental_get_tracing_count()
    generate(model, TOKENIZER, ["c"], max_new_tokens=40, stop_strings=["pq"])
    # Another step count in the same cache bucket (8 + 38 ≤ 48 columns).
    generate(model, TOKENIZER, ["d"], max_new_tokens=38, stop_strings=["z"])
    assert advance.experimental_get_tracing_count() == traces


def test_stream_pieces_join_to_the_text_of_the_details():
    model = bigram(ENDING)
    for prompt, settings in (
        (">", dict(max_new_tokens=24, stop_strings=["vw"])),
        ("t", dict(max_new_tokens=24)),
        (">", dict(max_new_tokens=7)),
    ):
        (result,) = generate(model, TOKENIZER, prompt, return_details=True, **settings)
        pieces = generate_stream(
            model, TOKENIZER, prompt, tokens_per_chunk=5, **settings
        )
        assert "".join(pieces) == result.text


class SplitTokenizer:
    """Tokens of several characters, to place a stop string inside one."""

    end_of_text_id = 0
    pieces = ["", "ab", "c.", "\nd", "ef"]

    def detokenize(self, ids):
        text = "".join(self.pieces[i] for i in np.asarray(ids).tolist())
        return tf.constant(text.encode())


@pytest.mark.parametrize(
    "stop, text, ids",
    [
        ("\n", "abc.", [1, 2]),  # begins where "\nd" begins: not kept
        (".", "abc", [1, 2]),  # begins inside "c.": that token is kept
        ("d", "abc.\n", [1, 2, 3]),  # inside "\nd"
        ("ab", "", []),
        ("zz", "abc.\ndef", [1, 2, 3, 4]),
    ],
)
def test_a_stop_string_inside_a_token_keeps_that_token(stop, text, ids):
    tokenizer = SplitTokenizer()
    kept, cut, _ = ids_to_text(tokenizer, [1, 2, 3, 4, 0, 1], [stop])
    assert (cut, kept) == (text, ids)
    # The fewest tokens whose text starts with the cut text.
    assert "".join(tokenizer.pieces[i] for i in kept).startswith(cut)
    if kept:
        assert not "".join(tokenizer.pieces[i] for i in kept[:-1]).startswith(cut)


def test_the_uncached_reference_cuts_by_the_same_rule():
    model = bigram(ENDING)
    config = GenerationConfig(max_new_tokens=30, stop_strings=["mn"])
    texts, ids = reference_generate(
        model, TOKENIZER, [">", "t"], generation_config=config, return_token_ids=True
    )
    results = generate(model, TOKENIZER, [">", "t"], config, return_details=True)
    assert texts == [r.text for r in results] == ["abcdefghijkl", "uvw"]
    assert ids == [r.token_ids for r in results]
