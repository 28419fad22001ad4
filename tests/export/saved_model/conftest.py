"""Fixtures of the SavedModel tests (the trained and exported model they share
with the serving tests is in tests/conftest.py)."""

import pytest
import tensorflow as tf

PROMPTS = ["ROMEO:", "", "KING:\nto be or not to be", "月光"]
SETTINGS = {
    "max_new_tokens": ([12], tf.int32),
    "min_new_tokens": ([0], tf.int32),
    "temperature": ([0.0], tf.float32),
    "top_k": ([0], tf.int32),
    "top_p": ([1.0], tf.float32),
    "min_p": ([0.0], tf.float32),
    "no_repeat_ngram_size": ([0], tf.int32),
    "seed": ([0], tf.int32),
}


def settings(**overrides):
    """The optional inputs as tensors: greedy, 12 new tokens, unless overridden."""
    values = {name: value for name, (value, _) in SETTINGS.items()}
    values.update(overrides)
    return {name: tf.constant(values[name], SETTINGS[name][1]) for name in values}


# The tokenizer kinds also exported with `jit_compile=True`.
XLA_KINDS = ("byte",)


@pytest.fixture(scope="session")
def loaded(saved_model_dir):
    return tf.saved_model.load(saved_model_dir)


@pytest.fixture(scope="session")
def runtime_exports(tokenizer_model_dirs, tmp_path_factory):
    """`{(kind, xla): version directory}`: every tokenizer kind exported by
    default (no XLA), and the byte model also with `jit_compile=True`.

    The tokenizers run outside the XLA-compiled functions (host ops, see
    `keras_nlg.export.saved_model.placement`), so one tokenizer is enough
    to prove the XLA variant; each export costs ~15 s of CI. Not checked
    so: TF Serving's TensorFlow running an XLA function beside the
    tensorflow-text ops (SentencePiece, BPE) of the same signature."""
    from tests.conftest import built_once

    def build(root):
        from keras_nlg.export import export_saved_model

        exports = []
        for kind, model_dir in tokenizer_model_dirs.items():
            for xla in (False, True) if kind in XLA_KINDS else (False,):
                out = root / f"{kind}{'_xla' if xla else ''}" / "1"
                export_saved_model(
                    model_dir,
                    str(out),
                    max_batch_size=4,
                    warmup_prompt_lengths=(8,),
                    jit_compile=xla,
                )
                exports.append([kind, xla, str(out)])
        return exports

    built = built_once(tmp_path_factory, "runtime_exports", build)
    return {(kind, xla): path for kind, xla, path in built}
