"""`keras-nlg export` to TFLite and to a TF Serving SavedModel."""

import json
import os

import pytest

from keras_nlg.cli import main
from keras_nlg.export import TFLiteGenerator


def test_export_tflite_then_run_it(tmp_path, trained_model_dir, capsys):
    out = str(tmp_path / "tflite")
    args = ["export", "--model", trained_model_dir, "--format", "tflite"]
    assert main([*args, "--out", out, "--quantize", "dynamic_int8"]) == 0
    printed = capsys.readouterr().out
    assert "model.tflite" in printed and "signatures decode, prefill" in printed
    assert "next-token agreement" in printed
    metadata = json.load(open(os.path.join(out, "metadata.json")))
    assert metadata["quantization"] == "dynamic_int8"
    assert metadata["prefill_length"] == 16  # half of the context of 32
    texts = TFLiteGenerator(out).generate(["KING:"], max_new_tokens=8)
    assert len(texts) == 1


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--quantize", "int4"], "--quantize"),
        (["--prefill-length", "0"], "--prefill-length"),
        (["--prefill-length", "40"], "prefill_length=40"),
        (["--format", "onnx"], "--format"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    tmp_path, trained_model_dir, capsys, extra, message
):
    args = ["export", "--model", trained_model_dir, "--out", str(tmp_path / "o")]
    if "--format" not in extra:
        args += ["--format", "tflite"]
    try:
        code = main([*args, *extra])
    except SystemExit as exit:  # argparse rejects bad choices itself
        code = exit.code
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_a_directory_that_is_not_a_model(tmp_path, capsys):
    args = ["export", "--model", str(tmp_path), "--format", "tflite"]
    assert main([*args, "--out", str(tmp_path / "o")]) == 2
    assert "Not a keras_nlg model directory" in capsys.readouterr().err


def test_export_saved_model(tmp_path, trained_model_dir, capsys):
    out = tmp_path / "export" / "tiny" / "1"
    args = ["export", "--model", trained_model_dir, "--format", "saved_model"]
    assert main([*args, "--out", str(out), "--max-batch-size", "4"]) == 0
    printed = capsys.readouterr().out
    assert "signatures serving_default, generate_ids, score" in printed
    assert "max batch 4" in printed and "core TensorFlow: none" in printed
    assert "runs on tensorflow_serving_cpu, tensorflow_serving_gpu" in printed
    assert os.path.isfile(out / "saved_model.pb")
    xla = tmp_path / "export" / "tiny" / "2"
    assert main([*args, "--out", str(xla), "--xla"]) == 0
    assert printed_line(capsys).endswith("runs on tensorflow_serving_cpu")


def printed_line(capsys):
    return capsys.readouterr().out.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--format", "saved_model", "--quantize", "int8"], "tflite or litertlm only"),
        (["--format", "tflite", "--max-batch-size", "4"], "saved_model only"),
        (["--format", "tflite", "--xla"], "saved_model only"),
        (["--format", "saved_model"], "integer version"),
    ],
)
def test_flags_of_the_other_format(tmp_path, trained_model_dir, capsys, argv, message):
    argv = ["export", *argv, "--model", trained_model_dir, "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
