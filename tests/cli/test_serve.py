"""`keras-nlg serve`: its flag checks (the server itself: tests/serving/)."""

import pytest

from keras_nlg.cli import main


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model_name", "m"], "--model_base_path"),
        (["--model_base_path", "/nonexistent/m"], "not a directory"),
        (
            ["--model_base_path", "{tmp}", "--batching_parameters_file", "b.txt"],
            "--batching_parameters_file needs --enable_batching",
        ),
    ],
)
def test_bad_flags_are_one_line_and_exit_code_2(tmp_path, capsys, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(["serve", *argv]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
