"""`keras-nlg generate`: flags → `GenerationConfig` → `keras_nlg.generate`."""

import json
import shutil

import numpy as np
import pytest

from keras_nlg.cli import main
from keras_nlg.generation.config import GenerationConfig
from tests.cli.runner import (
    assert_main_one_line_exit_2,
    assert_one_line_exit_2,
    run_cli,
)

# flag, its text, and the value the library receives for the field.
BAD_VALUES = {
    "max_new_tokens": ("--max-new-tokens", "0", 0),
    "min_new_tokens": ("--min-new-tokens", "-1", -1),
    "temperature": ("--temperature", "-1", -1.0),
    "top_k": ("--top-k", "-1", -1),
    "top_p": ("--top-p", "2", 2.0),
    "min_p": ("--min-p", "1", 1.0),
    "repetition_penalty": ("--repetition-penalty", "0.5", 0.5),
    "no_repeat_ngram_size": ("--no-repeat-ngram-size", "-2", -2),
    "num_beams": ("--num-beams", "0", 0),
    "length_penalty": ("--length-penalty", "nan", float("nan")),
    "num_return_sequences": ("--num-return-sequences", "0", 0),
    "stop_strings": ("--stop", "", ("",)),
}
# No flag can give a bad value: do_sample is set by --greedy/--temperature/
# --num-beams, and argparse only lets integers through for --seed.
NOT_FLAGS = {"do_sample", "seed"}


def generate(model_dir, *flags, prompt="KING:"):
    return ["generate", "--model", model_dir, "--prompt", prompt, *flags]


def test_every_field_but_do_sample_and_seed_has_a_bad_value():
    assert set(BAD_VALUES) == set(GenerationConfig.field_names()) - NOT_FLAGS


@pytest.mark.parametrize("field", sorted(BAD_VALUES))
def test_a_bad_value_gets_generation_configs_message_and_exit_2(
    field, trained_model_dir, capsys
):
    flag, text, value = BAD_VALUES[field]
    with pytest.raises((ValueError, TypeError)) as raised:
        GenerationConfig(**{field: value})
    assert main(generate(trained_model_dir, flag, text)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    message = " ".join(str(raised.value).split())
    assert lines == [f"keras-nlg generate: error: {message}"]
    assert field in message


def test_generation_config_json_sets_the_defaults(tmp_path, trained_model_dir, capsys):
    model_dir = str(tmp_path / "model")
    shutil.copytree(trained_model_dir, model_dir)
    # Without the file: the CLI's 200 new tokens don't fit the context of 32.
    assert main(generate(model_dir, "--json")) == 2
    assert "max_new_tokens=200" in capsys.readouterr().err

    GenerationConfig(max_new_tokens=3).save_pretrained(model_dir)
    assert main(generate(model_dir, "--json", "--seed", "1")) == 0
    record = json.loads(capsys.readouterr().out)
    assert 1 <= len(record["token_ids"]) <= 3

    # do_sample=False in the file: greedy whatever the seed; a flag overrides it.
    GenerationConfig(max_new_tokens=10, do_sample=False).save_pretrained(model_dir)
    outputs = {}
    for name, flags in {
        "file": ["--seed", "1"],
        "file_other_seed": ["--seed", "2"],
        "greedy": ["--greedy", "--max-new-tokens", "10"],
        "file_sampled": ["--temperature", "0.8", "--seed", "3"],
        "sampled": ["--temperature", "0.8", "--seed", "3", "--max-new-tokens", "10"],
    }.items():
        directory = trained_model_dir if name in ("greedy", "sampled") else model_dir
        assert main(generate(directory, *flags)) == 0
        outputs[name] = capsys.readouterr().out
    assert outputs["file"] == outputs["file_other_seed"] == outputs["greedy"]
    assert outputs["file_sampled"] == outputs["sampled"]


def test_a_bad_generation_config_json_is_one_line(tmp_path, trained_model_dir, capsys):
    model_dir = str(tmp_path / "model")
    shutil.copytree(trained_model_dir, model_dir)
    (tmp_path / "model" / "generation_config.json").write_text('{"top_p": 0}')
    assert main(generate(model_dir)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "generation_config.json" in lines[0], lines
    assert "top_p=0" in lines[0]


@pytest.mark.slow
def test_stream_prints_the_same_text(trained_model_dir, capsys):
    # Greedy, two prompts: streamed one by one, printed the same.
    greedy = [
        "generate",
        "--model",
        trained_model_dir,
        "--prompt",
        "床前明月",
        "--prompt",
        "KING:",
        "--max-new-tokens",
        "20",
        "--greedy",
    ]
    assert main(greedy) == 0
    plain = capsys.readouterr().out
    assert main([*greedy, "--stream"]) == 0
    assert capsys.readouterr().out == plain
    # Sampled draws depend on the batch, so compare one prompt with one prompt.
    flags = [
        "generate",
        "--model",
        trained_model_dir,
        "--prompt",
        "床前明月",
        "--max-new-tokens",
        "20",
        "--top-p",
        "0.9",
        "--seed",
        "5",
    ]
    assert main(flags) == 0
    plain = capsys.readouterr().out
    assert main([*flags, "--stream"]) == 0
    assert capsys.readouterr().out == plain
    assert main([*flags, "--stream", "--json"]) == 2
    assert "--stream" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["past_context", "model_dir", "temperature"])
def test_bad_input_is_one_line(tmp_path, trained_model_dir, case, capsys):
    args, expected = {
        "past_context": (
            generate(trained_model_dir, "--max-new-tokens", "500", prompt="x"),
            "max_new_tokens=500",
        ),
        "model_dir": (generate(str(tmp_path), prompt="x"), "Not a keras_nlg model"),
        "temperature": (
            generate(str(tmp_path), "--temperature", "-1", prompt="x"),
            "-1",
        ),
    }[case]
    if case == "past_context":  # once in a fresh process: nothing else on stderr
        assert_one_line_exit_2(run_cli(*args), expected)
    else:
        assert_main_one_line_exit_2(args, expected, capsys)


def test_json_details_end_where_the_text_ends(tmp_path, capsys):
    """--json: token_ids and log_probs cover exactly the printed text, for a
    stop string, the max_new_tokens cut and end-of-text."""
    from tests.export.previous_token_model import save_previous_token_model

    model_dir = save_previous_token_model(str(tmp_path / "model"))
    base = generate(model_dir, "--json", "--greedy", "--max-new-tokens", "24")
    assert main(base) == 0
    full = json.loads(capsys.readouterr().out)
    assert len(full["token_ids"]) == len(full["log_probs"])
    assert bytes(full["token_ids"]).decode() == full["text"]
    if len(full["token_ids"]) < 24:
        pytest.skip("this model's greedy text ended before token 22")
    # The shortest string that first appears after token 21.
    stop = next(
        full["text"][21:end]
        for end in range(22, 25)
        if full["text"].find(full["text"][21:end]) == 21
    )
    assert main([*base, "--stop", stop]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["prompt"] == "KING:"
    assert record["text"] == full["text"][:21]
    assert record["token_ids"] == full["token_ids"][:21]
    assert record["log_probs"] == pytest.approx(full["log_probs"][:21], abs=1e-5)
    # End-of-text first: no text, no ids, no log-probs.
    from keras_nlg import load
    from keras_nlg.model_directory import save_model_directory

    model, tokenizer, config = load(model_dir)
    bias = np.asarray(model.output_projection.bias).copy()
    bias[tokenizer.end_of_text_id] = 100.0
    model.output_projection.bias.assign(bias)
    ending_dir = str(tmp_path / "ending")
    save_model_directory(ending_dir, model, tokenizer, config)
    flags = ["--json", "--greedy", "--max-new-tokens", "24", "--stop", stop]
    assert main(generate(ending_dir, *flags)) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["text"], record["token_ids"], record["log_probs"]) == ("", [], [])


def test_a_prompt_file_or_stdin_is_one_prompt(
    tmp_path, trained_model_dir, capsys, monkeypatch
):
    import io

    prompt = "ROMEO:\nto be or not\n"  # with newlines, as a file holds them
    (tmp_path / "prompt.txt").write_text(prompt, encoding="utf-8")
    common = ["generate", "--model", trained_model_dir, "--max-new-tokens", "5"]
    common += ["--seed", "0"]
    assert main([*common, "--prompt", prompt]) == 0
    expected = capsys.readouterr().out
    assert main([*common, "--prompt-file", str(tmp_path / "prompt.txt")]) == 0
    assert capsys.readouterr().out == expected
    monkeypatch.setattr("sys.stdin", io.StringIO(prompt))
    assert main([*common, "--prompt-file", "-"]) == 0
    assert capsys.readouterr().out == expected
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9")
    for path, named in [("missing.txt", "missing.txt"), ("latin1.txt", "latin1")]:
        argv = [*common, "--prompt-file", str(tmp_path / path)]
        assert_main_one_line_exit_2(argv, named, capsys)
    assert_main_one_line_exit_2(common, "--prompt-file", capsys)
