"""Our exports run on the TF Serving users deploy: its GPU build, and its
TensorFlow version.

GPU: the default SavedModel has no XLA function, no `Xla*` op, and every op
has a GPU kernel or is host-side (`keras_nlg.export.saved_model.placement`).

Version: the newest TF Serving release is 2.20.0 and carries TensorFlow
2.20, while we export with 2.21: an op or attribute newer than 2.20 would
fail at load in the server and nowhere here. A side virtualenv holds
TF Serving's TensorFlow, tensorflow-text and tensorflow-serving-api (no
keras_nlg); every export runs there as the server runs it
(`tf_serving_runtime.py`: a TF1 session over the "serve" MetaGraph,
`PredictRequest` in, `PredictResponse` out), compared with
`keras_nlg.generate` and our own TensorFlow.

The side environment is built once and kept under `~/.cache/keras_nlg/`
(`side_environment.py`; the test session starts building it in the
background when this file is among the tests to run).
"""

import json
import os
import subprocess

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the SentencePiece/BPE kernels)

import keras_nlg
from keras_nlg.export.saved_model import gpu_placement
from keras_nlg.export.saved_model.placement import HOST_OPS, graph_ops
from tests.export.conftest import TOKENIZER_KINDS
from tests.export.saved_model.conftest import XLA_KINDS
from tests.export.saved_model.side_environment import (
    TF_SERVING_VERSION,
    side_environment_python,
)

RUNNER = os.path.join(os.path.dirname(__file__), "tf_serving_runtime.py")
PROMPTS = ["ROMEO:", "KING:\nto be or", "月光"]
MAX_NEW_TOKENS = 12


def request_spec(model_dir):
    _, tokenizer, _ = keras_nlg.load(model_dir)
    ids = [tokenizer.tokenize(prompt).numpy().tolist() for prompt in PROMPTS]
    width = max(len(row) for row in ids)
    return {
        "prompts": PROMPTS,
        "max_new_tokens": MAX_NEW_TOKENS,
        "token_ids": [row + [tokenizer.padding_id] * (width - len(row)) for row in ids],
        "prompt_length": [len(row) for row in ids],
    }


@pytest.fixture(scope="module")
def served_by_tf_serving_version(
    runtime_exports, tokenizer_model_dirs, tmp_path_factory
):
    requests = {"exports": []}
    for (kind, _), export_dir in runtime_exports.items():
        requests["exports"].append(export_dir)
        requests[export_dir] = request_spec(tokenizer_model_dirs[kind])
    path = tmp_path_factory.mktemp("side") / "requests.json"
    path.write_text(json.dumps(requests))
    ran = subprocess.run(
        [side_environment_python(), RUNNER, str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        timeout=900,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    return json.loads(ran.stdout)


def test_the_side_environment_is_tf_serving_s_tensorflow(served_by_tf_serving_version):
    assert served_by_tf_serving_version["tensorflow"].startswith(TF_SERVING_VERSION)


@pytest.mark.parametrize(
    "kind, xla",
    [(kind, False) for kind in TOKENIZER_KINDS] + [(kind, True) for kind in XLA_KINDS],
    ids=lambda value: {False: "default", True: "xla"}.get(value, value),
)
def test_all_three_signatures_match_generate(
    served_by_tf_serving_version, runtime_exports, tokenizer_model_dirs, kind, xla
):
    export_dir = runtime_exports[(kind, xla)]
    served = served_by_tf_serving_version["exports"][export_dir]
    model, tokenizer, _ = keras_nlg.load(tokenizer_model_dirs[kind])
    expected = keras_nlg.generate(
        model, tokenizer, PROMPTS, max_new_tokens=MAX_NEW_TOKENS, return_details=True
    )
    assert served["text"] == [generation.text for generation in expected]
    expected_ids = [list(generation.token_ids) for generation in expected]
    assert served["num_generated_tokens"] == [len(ids) for ids in expected_ids]
    # generate_ids: the same prompts as ids give the same new tokens.
    counts = served["num_generated_token_ids"]
    rows = zip(served["token_ids"], counts, strict=True)
    assert [row[:n] for row, n in rows] == expected_ids
    # score: the same log-likelihoods as our TensorFlow computes.
    score = tf.saved_model.load(export_dir).signatures["score"]
    ours = score(text=tf.constant(PROMPTS))
    assert served["num_tokens"] == ours["num_tokens"].numpy().tolist()
    np.testing.assert_allclose(
        served["log_likelihood"], ours["log_likelihood"].numpy(), rtol=1e-5, atol=1e-4
    )


def card(version_dir):
    with open(os.path.join(version_dir, "model_card.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_default_export_is_gpu_safe(runtime_exports, kind):
    default = gpu_placement(runtime_exports[(kind, False)])
    assert default["xla_compiled_functions"] == []
    assert default["xla_ops"] == []
    assert default["unplaceable_ops"] == []
    assert default["gpu_safe"]
    assert set(default["host_ops"]) <= HOST_OPS
    assert "tensorflow_serving_gpu" in card(runtime_exports[(kind, False)])["runtimes"]


@pytest.mark.parametrize("kind", XLA_KINDS)
def test_xla_export_is_not_gpu_safe(runtime_exports, kind):
    xla = gpu_placement(runtime_exports[(kind, True)])
    # The decode loop and the scoring pass.
    assert len(xla["xla_compiled_functions"]) == 2
    assert xla["xla_ops"] == ["XlaDynamicUpdateSlice"]
    assert not xla["gpu_safe"]
    assert card(runtime_exports[(kind, True)])["runtimes"] == ["tensorflow_serving_cpu"]


def test_an_op_without_a_gpu_kernel_is_reported(tmp_path):
    """The check can fail: a CPU-only op outside the host allowlist, and an
    XLA-compiled function, are both named."""

    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def parse(self, text):
            return tf.strings.to_number(text)  # StringToNumber: CPU only

        @tf.function(
            input_signature=[tf.TensorSpec([None], tf.float32)], jit_compile=True
        )
        def double(self, x):
            return 2.0 * x

    module = Module()
    tf.saved_model.save(
        module,
        str(tmp_path),
        signatures={"parse": module.parse, "double": module.double},
    )
    report = gpu_placement(str(tmp_path))
    assert report["unplaceable_ops"] == ["StringToNumber"]
    assert len(report["xla_compiled_functions"]) == 1
    assert not report["gpu_safe"]
    assert "StringToNumber" in graph_ops(str(tmp_path))
