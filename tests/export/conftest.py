"""Fixtures shared by the export tests: one tiny model per tokenizer kind."""

import numpy as np
import pytest

# The three tokenizer kinds an export can carry.
TOKENIZER_KINDS = ("byte", "sentencepiece", "gpt2_bpe")
CONTEXT_LENGTH = 64


def randomized(model_dir, out_dir, seed, scale=0.5):
    """A copy of `model_dir` with random weights, larger than any init.

    A briefly trained tiny model repeats its most frequent token, so every
    runtime would agree even if one of them ignored the prompt or the
    cache; random weights make greedy continuations depend on both, and
    their logit margins dwarf int8 rounding.
    """
    import keras_nlg
    from keras_nlg.model_directory import save_model_directory

    model, tokenizer, config = keras_nlg.load(model_dir)
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        mean = 1.0 if "gamma" in weight.path else 0.0
        value = mean + scale * rng.standard_normal(weight.shape)
        weight.assign(value.astype(np.float32))
    save_model_directory(out_dir, model, tokenizer, config)
    return out_dir


@pytest.fixture(scope="session")
def tokenizer_model_dirs(tmp_path_factory):
    """`{kind: model directory}`: tiny Transformers (context 64, random
    weights) with the byte, SentencePiece and GPT-2 BPE tokenizers."""
    from keras_nlg.models.gpt2_checkpoint import import_gpt2
    from keras_nlg.training import train
    from tests.conftest import built_once, make_corpus
    from tests.models.gpt2_fixtures import tiny_backbone, write_hugging_face_checkpoint

    def build(root):
        corpus = root / "corpus.txt"
        corpus.write_text(make_corpus(num_lines=300), encoding="utf-8")
        directories = {}
        for kind, tokenizer in (("byte", "byte"), ("sentencepiece", "sentencepiece")):
            trained = str(root / f"{kind}_trained")
            train(
                trained,
                data_paths=[str(corpus)],
                tokenizer=tokenizer,
                vocabulary_size=300 if tokenizer == "sentencepiece" else None,
                preset="tiny",
                batch_size=4,
                sequence_length=CONTEXT_LENGTH,
                model_overrides={"context_length": CONTEXT_LENGTH},
                steps=1,
                steps_per_epoch=1,
                verbose=0,
            )
            directories[kind] = randomized(trained, str(root / kind), seed=len(kind))
        imported = str(root / "gpt2_imported")
        checkpoint = write_hugging_face_checkpoint(tiny_backbone(), root / "hf")
        import_gpt2(checkpoint, imported)
        directories["gpt2_bpe"] = randomized(imported, str(root / "gpt2"), seed=2)
        return directories

    return built_once(tmp_path_factory, "tokenizer_model_dirs", build)
