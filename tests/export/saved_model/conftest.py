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


@pytest.fixture(scope="session")
def loaded(saved_model_dir):
    return tf.saved_model.load(saved_model_dir)


# The three tokenizer kinds a SavedModel can carry, each a tiny model.
TOKENIZER_KINDS = ("byte", "sentencepiece", "gpt2_bpe")


@pytest.fixture(scope="session")
def tokenizer_model_dirs(serving_model_dir, tmp_path_factory):
    """`{kind: model directory}`: the byte-tokenizer serving model, a tiny
    SentencePiece model and a tiny imported GPT-2 (BPE)."""
    from keras_nlg.models.gpt2_checkpoint import import_gpt2
    from keras_nlg.training import train
    from tests.conftest import make_corpus
    from tests.models.gpt2_fixtures import tiny_backbone, write_hugging_face_checkpoint

    root = tmp_path_factory.mktemp("tokenizer_models")
    corpus = root / "corpus.txt"
    corpus.write_text(make_corpus(num_lines=300), encoding="utf-8")
    sentencepiece = str(root / "sentencepiece")
    train(
        sentencepiece,
        data_paths=[str(corpus)],
        tokenizer="sentencepiece",
        vocabulary_size=300,
        preset="tiny",
        batch_size=8,
        sequence_length=32,
        model_overrides={"context_length": 48},
        steps=12,
        steps_per_epoch=12,
        verbose=0,
    )
    gpt2 = str(root / "gpt2")
    import_gpt2(write_hugging_face_checkpoint(tiny_backbone(), root / "hf"), gpt2)
    return {"byte": serving_model_dir, "sentencepiece": sentencepiece, "gpt2_bpe": gpt2}


@pytest.fixture(scope="session")
def runtime_exports(tokenizer_model_dirs, saved_model_dir, tmp_path_factory):
    """`{(kind, xla): version directory}` for every tokenizer kind, exported
    by default (no XLA) and with `jit_compile=True`."""
    from keras_nlg.export import export_saved_model

    root = tmp_path_factory.mktemp("runtime_exports")
    exports = {("byte", False): saved_model_dir}
    for kind, model_dir in tokenizer_model_dirs.items():
        for xla in (False, True):
            if (kind, xla) not in exports:
                out = root / f"{kind}{'_xla' if xla else ''}" / "1"
                export_saved_model(
                    model_dir,
                    str(out),
                    max_batch_size=4,
                    warmup_prompt_lengths=(8,),
                    jit_compile=xla,
                )
                exports[(kind, xla)] = str(out)
    return exports
