"""`keras_nlg.serving.server.run_server` end to end: the same greedy text by
gRPC, REST (both forms), the SavedModel in-process and `keras_nlg.generate`;
the wire contract's generation inputs reaching the model; SIGTERM drain."""

import threading
import time

import pytest

import keras_nlg
from keras_nlg.export import wire_contract
from keras_nlg.serving.client import GrpcClient, RestClient
from keras_nlg.serving.process import ServerProcess
from tests.export.saved_model.conftest import settings
from tests.serving.wire import PROMPTS


def test_greedy_parity_grpc_rest_in_process_and_generate(
    server, serving_model_dir, saved_model_dir
):
    import tensorflow as tf

    grpc_target, rest_url = server
    via_grpc = GrpcClient(grpc_target, "tiny").generate(PROMPTS, max_new_tokens=12)
    via_rest = RestClient(rest_url, "tiny").generate(PROMPTS, max_new_tokens=12)
    via_columns = RestClient(rest_url, "tiny", form="inputs").generate(
        PROMPTS, max_new_tokens=12
    )
    loaded = tf.saved_model.load(saved_model_dir)
    # In-process, every input is given (TF Serving fills the defaults).
    in_process = loaded.signatures["serving_default"](
        prompt=tf.constant(PROMPTS), **settings()
    )["text"]
    model, tokenizer, _ = keras_nlg.load(serving_model_dir)
    expected = keras_nlg.generate(model, tokenizer, PROMPTS, max_new_tokens=12)
    assert via_grpc == via_rest == via_columns == expected
    assert [t.decode() for t in in_process.numpy()] == expected


def test_every_generation_input_of_the_contract_reaches_the_model(server):
    grpc_target, rest_url = server
    client = GrpcClient(grpc_target, "tiny")
    inputs = client.metadata()["serving_default"]["inputs"]
    missing = sorted(set(wire_contract.GENERATION_INPUTS) - set(inputs))
    assert not missing, f"the exported signature does not take {missing}"
    # Each new input at its "off" value changes nothing.
    neutral = {"min_new_tokens": 0, "min_p": 0.0, "no_repeat_ngram_size": 0}
    plain = client.generate(PROMPTS, max_new_tokens=8)
    assert client.generate(PROMPTS, max_new_tokens=8, **neutral) == plain
    assert (
        RestClient(rest_url, "tiny").generate(PROMPTS, max_new_tokens=8, **neutral)
        == plain
    )


@pytest.mark.slow
def test_sigterm_drains_in_flight_requests(base_path):
    server = ServerProcess(base_path, "tiny", rest=False)
    grpc_target = server.grpc_target
    outcome = {}

    def ask():
        outcome["text"] = GrpcClient(grpc_target, "tiny").generate(
            ["a"], max_new_tokens=40
        )

    thread = threading.Thread(target=ask)
    thread.start()
    time.sleep(0.2)
    assert server.stop() == 0  # SIGTERM
    thread.join(60)
    assert "text" in outcome
    assert any("Server stopped." in line for line in server.log)
