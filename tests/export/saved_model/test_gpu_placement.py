"""The default SavedModel runs on TF Serving's GPU build: no XLA function, no
`Xla*` op, every op with a GPU kernel or host-side (see `placement`)."""

import json
import os

import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the SentencePiece/BPE kernels)

import keras_nlg
from keras_nlg.export.saved_model import gpu_placement
from keras_nlg.export.saved_model.placement import HOST_OPS, graph_ops
from tests.export.conftest import TOKENIZER_KINDS
from tests.export.saved_model.conftest import settings

PROMPTS = ["ROMEO:", "KING:\nto be or", "月光"]


def card(version_dir):
    with open(os.path.join(version_dir, "model_card.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_default_export_is_gpu_safe_and_xla_export_is_not(runtime_exports, kind):
    default = gpu_placement(runtime_exports[(kind, False)])
    assert default["xla_compiled_functions"] == []
    assert default["xla_ops"] == []
    assert default["unplaceable_ops"] == []
    assert default["gpu_safe"]
    assert set(default["host_ops"]) <= HOST_OPS
    assert "tensorflow_serving_gpu" in card(runtime_exports[(kind, False)])["runtimes"]

    xla = gpu_placement(runtime_exports[(kind, True)])
    # The decode loop and the scoring pass.
    assert len(xla["xla_compiled_functions"]) == 2
    assert xla["xla_ops"] == ["XlaDynamicUpdateSlice"]
    assert not xla["gpu_safe"]
    assert card(runtime_exports[(kind, True)])["runtimes"] == ["tensorflow_serving_cpu"]


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_both_exports_give_generate_s_greedy_text(
    runtime_exports, tokenizer_model_dirs, kind
):
    model, tokenizer, _ = keras_nlg.load(tokenizer_model_dirs[kind])
    expected = keras_nlg.generate(model, tokenizer, PROMPTS, max_new_tokens=12)
    for xla in (False, True):
        loaded = tf.saved_model.load(runtime_exports[(kind, xla)])
        served = loaded.signatures["serving_default"](
            prompt=tf.constant(PROMPTS), **settings(max_new_tokens=[12])
        )
        assert [t.decode() for t in served["text"].numpy()] == expected, xla


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
