"""`keras-nlg client`: its flags and errors (a live server: tests/serving/)."""

import socket

from keras_nlg.cli import main


def test_without_a_prompt(capsys):
    assert main(["client", "--model_name", "m"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--prompt is required" in lines[0], lines


def test_without_a_server_is_one_line(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free: nothing listens there
    argv = ["client", "--target", f"127.0.0.1:{port}", "--model_name", "m"]
    assert main([*argv, "--prompt", "hi"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "UNAVAILABLE" in lines[0], lines


def test_settings_reach_the_client(monkeypatch, capsys):
    sent = {}

    class Client:
        def __init__(self, target, model_name, version=None, label=None):
            pass

        def generate(self, prompts, **settings):
            sent.update(settings)
            return [" there" for _ in prompts]

    monkeypatch.setattr("keras_nlg.serving.client.GrpcClient", Client)
    flags = ["--min-new-tokens", "2", "--min-p", "0.1", "--no-repeat-ngram-size", "3"]
    assert main(["client", "--prompt", "hi", "--top-k", "5", *flags]) == 0
    assert capsys.readouterr().out == "hi there\n"
    given = {name: value for name, value in sent.items() if value is not None}
    assert given == {
        "min_new_tokens": 2,
        "min_p": 0.1,
        "no_repeat_ngram_size": 3,
        "top_k": 5,
    }
