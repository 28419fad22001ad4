"""`keras_nlg.serving.client`: what the clients put on the wire. No server:
the transport is replaced by a recorder."""

import numpy as np
import pytest

from keras_nlg.export import wire_contract
from keras_nlg.serving.client import SETTING_DTYPES, GrpcClient, RestClient

SIGNATURE_DEFS = {
    "serving_default": {
        "outputs": {
            "text": {"dtype": "DT_STRING"},
            "num_generated_tokens": {"dtype": "DT_INT32"},
        }
    },
    "score": {
        "outputs": {
            "log_likelihood": {"dtype": "DT_FLOAT"},
            "num_tokens": {"dtype": "DT_INT32"},
        }
    },
}
NEW_SETTINGS = {"min_new_tokens": 3, "min_p": 0.05, "no_repeat_ngram_size": 2}


def test_settings_are_the_wire_contracts_generation_inputs():
    assert set(SETTING_DTYPES) == set(wire_contract.GENERATION_INPUTS)
    assert {"min_new_tokens", "min_p", "no_repeat_ngram_size"} <= set(SETTING_DTYPES)
    for name, dtype in wire_contract.GENERATION_INPUTS.items():
        assert SETTING_DTYPES[name] == np.dtype(dtype)


class RecordingGrpcClient(GrpcClient):
    """Records `predict` inputs instead of calling a server."""

    def __init__(self):
        super().__init__("127.0.0.1:1", "tiny", retries=0)
        self._signature_defs = SIGNATURE_DEFS
        self.sent = []

    def predict(self, inputs, signature_name=wire_contract.SERVING_DEFAULT):
        self.sent.append((signature_name, inputs))
        rows = len(next(iter(inputs.values())))
        if signature_name == "score":
            return {
                "log_likelihood": np.full([rows], -1.5, np.float32),
                "num_tokens": np.full([rows], 4, np.int32),
            }
        return {"text": np.array([b"out"] * rows, object)}


def test_grpc_generate_sends_new_settings_with_contract_dtypes():
    client = RecordingGrpcClient()
    texts = client.generate(
        ["a", "月"], max_new_tokens=4, temperature=0, top_k=None, **NEW_SETTINGS
    )
    assert texts == ["out", "out"]
    ((signature, inputs),) = client.sent
    assert signature == "serving_default"
    assert inputs["prompt"].tolist() == [b"a", "月".encode()]
    # None means "the model's default": not sent.
    assert set(inputs) == {"prompt", "max_new_tokens", "temperature", *NEW_SETTINGS}
    for name in ("max_new_tokens", "temperature", *NEW_SETTINGS):
        assert inputs[name].dtype == np.dtype(wire_contract.GENERATION_INPUTS[name])
        assert inputs[name].shape == (1,)
    assert inputs["min_new_tokens"][0] == 3 and inputs["no_repeat_ngram_size"][0] == 2
    assert inputs["min_p"][0] == np.float32(0.05)


def test_grpc_score_sends_text_to_the_score_signature():
    client = RecordingGrpcClient()
    assert client.score("to be") == [(-1.5, 4)]
    ((signature, inputs),) = client.sent
    assert signature == "score" and inputs["text"].tolist() == [b"to be"]


@pytest.mark.parametrize("client_class", [GrpcClient, RestClient])
def test_unknown_setting_is_refused_before_any_request(client_class):
    target = "127.0.0.1:1" if client_class is GrpcClient else "http://127.0.0.1:1"
    client = client_class(target, "tiny")
    with pytest.raises(TypeError, match=r"\['beam_width'\].*min_p"):
        client.generate(["a"], beam_width=3)


@pytest.mark.parametrize("form", ["instances", "inputs"])
def test_rest_generate_sends_new_settings_in_both_forms(form, monkeypatch):
    client = RestClient("http://127.0.0.1:1/", "tiny", label="canary", form=form)
    client._signature_defs = SIGNATURE_DEFS
    sent = []

    def request(url, payload=None):
        sent.append((url, payload))
        if form == "inputs":
            return {"outputs": {"text": ["x", "y"], "num_generated_tokens": [1, 1]}}
        return {"predictions": [{"text": "x"}, {"text": "y"}]}

    monkeypatch.setattr(client, "_request", request)
    assert client.generate(["a", "b"], seed=7, **NEW_SETTINGS) == ["x", "y"]
    ((url, payload),) = sent
    assert url == "http://127.0.0.1:1/v1/models/tiny/labels/canary:predict"
    assert payload["signature_name"] == "serving_default"
    if form == "inputs":
        assert payload["inputs"] == {
            "prompt": ["a", "b"],
            "seed": [7],
            "min_new_tokens": [3],
            "min_p": [pytest.approx(0.05)],
            "no_repeat_ngram_size": [2],
        }
    else:
        assert payload["instances"] == [
            {
                "prompt": p,
                "seed": 7,
                "min_new_tokens": 3,
                "min_p": pytest.approx(0.05),
                "no_repeat_ngram_size": 2,
            }
            for p in ("a", "b")
        ]
        # JSON numbers of the contract's kind: ints stay ints.
        assert type(payload["instances"][0]["min_new_tokens"]) is int


def test_constructor_and_prompt_checks():
    with pytest.raises(ValueError, match="not both"):
        GrpcClient("127.0.0.1:1", "tiny", version=1, label="stable")
    with pytest.raises(ValueError, match="form"):
        RestClient("http://127.0.0.1:1", "tiny", form="rows")
    with pytest.raises(TypeError, match="list of strings"):
        RecordingGrpcClient().generate([b"bytes"])
