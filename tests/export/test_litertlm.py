"""`.litertlm` bundles run in the real LiteRT-LM engine (litert-lm-api's C++
engine, CPU backend) and give `keras_nlg.generate`'s greedy tokens."""

import os

import litert_lm
import numpy as np
import pytest

import keras_nlg
from keras_nlg.cli import main
from keras_nlg.export.litertlm import export_litertlm
from keras_nlg.tokenizers.hugging_face import hugging_face_tokenizer
from tests.export.conftest import TOKENIZER_KINDS
from tests.tokenizers.test_interface import MARKUP_TEXTS, TEXTS

PROMPTS = ["ROMEO:", "KING:\nto be or not", "the queen and the"]
# Forward and backward alphabets: the next letter depends on the last two,
# so the engine must attend through its cache to continue them.
ALPHABET_PROMPTS = ["abcd", "klmn", "zyxw", "ponm"]
NEW_TOKENS = 32


@pytest.fixture(scope="module")
def confident_model_dir(tmp_path_factory):
    """A byte-level model directory trained to continue alphabets.

    Random weights (`tokenizer_model_dirs`) leave logit margins small enough
    that int8 weights flip some greedy choices; that is quantization, not
    the engine (the engine's int8 tokens equal the LiteRT interpreter's on
    the same file). A model sure of its next token must give the same
    tokens in int8 as in float32. One tokenizer: quantization touches the
    weights only, and each tokenizer's bundling is checked in float32.
    """
    from keras_nlg.training import train

    root = tmp_path_factory.mktemp("alphabet")
    letters = "abcdefghijklmnopqrstuvwxyz"
    corpus = root / "alphabet.txt"
    corpus.write_text(
        "".join((letters * 10 + "\n" + letters[::-1] * 10 + "\n") * 20),
        encoding="utf-8",
    )
    directory = str(root / "byte")
    train(
        directory,
        data_paths=[str(corpus)],
        tokenizer="byte",
        preset="tiny",
        sequence_length=64,
        model_overrides={"context_length": 64},
        learning_rate=3e-3,
        batch_size=8,
        steps=300,
        steps_per_epoch=300,
        verbose=0,
    )
    return directory


def engine_greedy(bundle_path, prompts, new_tokens):
    """Texts the engine generates greedily (top-p with one candidate), and
    the ids its tokenizer gives each prompt."""
    litert_lm.set_min_log_severity(litert_lm.LogSeverity.ERROR)
    texts, token_ids = [], []
    with litert_lm.Engine(bundle_path, backend=litert_lm.Backend.CPU()) as engine:
        for prompt in prompts:
            with engine.create_session(
                apply_prompt_template=False,
                sampler_config=litert_lm.SamplerConfig(top_k=1, top_p=0.0),
                max_output_tokens=new_tokens,
            ) as session:
                session.run_prefill([prompt])
                texts.append(session.run_decode().texts[0])
            token_ids.append(engine.tokenize(prompt))
    return texts, token_ids


def check_same_generation(bundle_path, model_dir, prompts, min_margin=None):
    """The engine's greedy text equals `keras_nlg.generate`'s. With
    `min_margin` (nats; for int8 files), only up to the first token whose
    float top-2 logit margin is below it: at a near-tie int8 rounding may
    pick the other token, and the texts rightly part there."""
    model, tokenizer, _ = keras_nlg.load(model_dir)
    expected = keras_nlg.generate(
        model, tokenizer, prompts, max_new_tokens=NEW_TOKENS, return_details=True
    )
    texts, prompt_ids = engine_greedy(bundle_path, prompts, NEW_TOKENS)
    # The engine tokenized each prompt as we do ...
    assert prompt_ids == [tokenizer.tokenize(p).numpy().tolist() for p in prompts]
    # ... and continued it with the same tokens, hence the same text. The
    # Python API passes text as a C string: a generated NUL byte ends it.
    expected_texts = [g.text.split("\x00")[0] for g in expected]
    if min_margin is None:
        assert texts == expected_texts
        return texts
    compared = 0
    for ids, generation, text in zip(prompt_ids, expected, texts, strict=True):
        sure = _confident_prefix(model, ids, generation.token_ids, min_margin)
        prefix = tokenizer.detokenize(generation.token_ids[:sure]).numpy()
        prefix = prefix.decode("utf-8", "ignore")  # a cut character dropped
        assert text.startswith(prefix.split("\x00")[0]), (text, prefix)
        compared += sure
    # Not vacuous: at least a whole continuation's worth of sure tokens.
    assert compared >= NEW_TOKENS, compared
    return texts


def _confident_prefix(model, prompt_ids, new_ids, min_margin):
    """How many of `new_ids` the float model chose by at least `min_margin`."""
    logits = model(np.asarray([list(prompt_ids) + list(new_ids)], "int32"))[0]
    top2 = np.sort(np.asarray(logits), axis=-1)[:, -2:]
    margins = (top2[:, 1] - top2[:, 0])[len(prompt_ids) - 1 : -1]
    unsure = np.flatnonzero(margins < min_margin)
    return int(unsure[0]) if len(unsure) else len(new_ids)


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_engine_generates_generate_s_tokens_float32(
    tokenizer_model_dirs, kind, tmp_path
):
    summary = export_litertlm(tokenizer_model_dirs[kind], str(tmp_path / "m.litertlm"))
    assert summary["tokenizer"] == (
        "sentencepiece" if kind == "sentencepiece" else "hugging_face"
    )
    texts = check_same_generation(summary["path"], tokenizer_model_dirs[kind], PROMPTS)
    assert len(set(texts)) == len(PROMPTS)  # continuations vary with the prompt


def test_engine_generates_generate_s_tokens_dynamic_int8(confident_model_dir, tmp_path):
    model_dir = confident_model_dir
    summary = export_litertlm(
        model_dir, str(tmp_path / "q.litertlm"), quantize="dynamic_int8"
    )
    assert summary["quantization"] == "dynamic_int8"
    check_same_generation(summary["path"], model_dir, ALPHABET_PROMPTS, min_margin=0.5)


@pytest.mark.parametrize("kind", ["byte", "gpt2_bpe"])
def test_hugging_face_tokenizer_json_tokenizes_identically(tokenizer_model_dirs, kind):
    _, tokenizer, _ = keras_nlg.load(tokenizer_model_dirs[kind])
    converted = hugging_face_tokenizer(tokenizer)
    for text in TEXTS + MARKUP_TEXTS + PROMPTS:
        ids = tokenizer.tokenize(text).numpy().tolist()
        assert converted.encode(text).ids == ids, repr(text)
        assert converted.decode(ids) == text, repr(text)
    # Special ids decode to no text, as with `detokenize`.
    special = list(tokenizer.special_tokens.values())
    ids = tokenizer.tokenize("a<|endoftext|>b").numpy().tolist()
    assert converted.decode(special + ids + special) == "a<|endoftext|>b"


def test_bad_settings_are_refused_by_name(tokenizer_model_dirs, tmp_path):
    byte = tokenizer_model_dirs["byte"]
    with pytest.raises(ValueError, match="quantize='int8'"):
        export_litertlm(byte, str(tmp_path / "m.litertlm"), quantize="int8")
    with pytest.raises(ValueError, match="must end in .litertlm"):
        export_litertlm(byte, str(tmp_path / "m.tflite"))
    (tmp_path / "old.litertlm").write_bytes(b"keep")
    with pytest.raises(ValueError, match="overwrite"):
        export_litertlm(byte, str(tmp_path / "old.litertlm"))
    assert (tmp_path / "old.litertlm").read_bytes() == b"keep"
    with pytest.raises(TypeError, match="SentencePiece model ships as its"):
        hugging_face_tokenizer(
            keras_nlg.load(tokenizer_model_dirs["sentencepiece"]).tokenizer
        )


def test_an_lstm_is_refused_with_the_reason(tmp_path):
    from keras_nlg.training import train
    from tests.conftest import make_corpus

    corpus = tmp_path / "c.txt"
    corpus.write_text(make_corpus(num_lines=50), encoding="utf-8")
    train(
        str(tmp_path / "lstm"),
        arch="lstm",
        data_paths=[str(corpus)],
        preset="tiny",
        batch_size=2,
        sequence_length=16,
        steps=1,
        steps_per_epoch=1,
        verbose=0,
    )
    with pytest.raises(ValueError, match="recurrent state"):
        export_litertlm(str(tmp_path / "lstm"), str(tmp_path / "l.litertlm"))
    assert not os.path.exists(tmp_path / "l.litertlm")


def test_cli_writes_the_bundle(tokenizer_model_dirs, tmp_path, capsys):
    out = tmp_path / "m.litertlm"
    args = ["export", "--model", tokenizer_model_dirs["byte"], "--format", "litertlm"]
    assert main([*args, "--out", str(out), "--quantize", "dynamic_int8"]) == 0
    assert "dynamic_int8" in capsys.readouterr().out
    assert out.stat().st_size > 0
    assert main([*args, "--out", str(out)]) == 2
    assert "overwrite" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "x.litertlm"), "--xla"]) == 2


def test_a_conversation_s_next_turn_fits_the_cache_left(tokenizer_model_dirs, tmp_path):
    """After 6 + 32 tokens of a 64-column cache, a second prompt can't take a
    32-token prefill (the engine refuses a chunk past the columns left);
    the bundle's shorter prefill signatures let it continue."""
    summary = export_litertlm(
        tokenizer_model_dirs["byte"], str(tmp_path / "m.litertlm")
    )
    assert summary["prefill_lengths"] == [32, 8, 1]
    litert_lm.set_min_log_severity(litert_lm.LogSeverity.ERROR)
    with litert_lm.Engine(summary["path"], backend=litert_lm.Backend.CPU()) as engine:
        with engine.create_session(
            apply_prompt_template=False,
            sampler_config=litert_lm.SamplerConfig(top_k=1, top_p=0.0),
            max_output_tokens=NEW_TOKENS,
        ) as session:
            session.run_prefill(["ROMEO:"])
            session.run_decode()
            session.run_prefill(["abc"])
            assert session.run_decode().texts[0]


def test_llm_metadata_sampler_and_what_it_leaves_out(tokenizer_model_dirs):
    from keras_nlg.export.litertlm import llm_metadata
    from keras_nlg.generation import GenerationConfig

    _, tokenizer, _ = keras_nlg.load(tokenizer_model_dirs["byte"])
    greedy, dropped = llm_metadata(tokenizer, 64, GenerationConfig())
    assert (greedy.sampler_params.k, greedy.sampler_params.p) == (1, 0.0)
    assert list(greedy.stop_tokens[0].token_ids.ids) == [tokenizer.end_of_text_id]
    assert greedy.max_num_tokens == 64 and dropped == {}
    config = GenerationConfig(
        do_sample=True, top_k=5, top_p=0.9, temperature=0.7, seed=2**31, min_p=0.1
    )
    sampled, dropped = llm_metadata(tokenizer, 64, config)
    params = sampled.sampler_params
    assert (params.k, params.seed) == (5, 1)
    assert (params.p, params.temperature) == pytest.approx((0.9, 0.7))
    assert dropped == {"min_p": 0.1}
    _, dropped = llm_metadata(tokenizer, 64, GenerationConfig(num_beams=3))
    assert dropped == {"num_beams": 3}


def test_gpt2_tokenizer_json_splits_where_ours_does():
    """NUL and U+096C are tokenized alone by ours; merges that would join
    them with a neighbour must not apply in the tokenizer.json either."""
    from keras_nlg.tokenizers import GPT2Tokenizer
    from keras_nlg.tokenizers.gpt2_files import byte_symbols

    vocabulary = {symbol: i for i, symbol in enumerate(byte_symbols())}
    merges = ["Ġ à", "à ¥", "Ġà ¥", "a b"]
    for rule in merges:
        vocabulary.setdefault(rule.replace(" ", ""), len(vocabulary))
    vocabulary["<|endoftext|>"] = len(vocabulary)
    tokenizer = GPT2Tokenizer(vocabulary, merges)
    converted = hugging_face_tokenizer(tokenizer)
    for text in [" ६", "ab ६ab", "a\x00b ab", "\x00", "६६ a६b", " à¥x"]:
        ids = tokenizer.tokenize(text).numpy().tolist()
        assert converted.encode(text).ids == ids, repr(text)
        assert converted.decode(ids) == text, repr(text)
