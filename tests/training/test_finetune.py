import numpy as np
import pytest

import keras_nlg
from keras_nlg.models import TransformerLanguageModel
from keras_nlg.training import enable_lora, finetune, merge_lora, train
from tests.conftest import TINY_TRAIN, make_corpus

FINETUNE = dict(batch_size=4, sequence_length=32, steps=4, steps_per_epoch=2, verbose=0)
IDS = np.array([[72, 101, 108, 108, 111, 32, 116, 104]], "int32")


def tiny_model():
    return TransformerLanguageModel(
        258,
        context_length=32,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
    )


def greedy_by_full_passes(model, tokenizer, prompt, max_new_tokens):
    """Greedy text the slow way: argmax of a full forward pass per token."""
    ids = [int(i) for i in np.asarray(tokenizer.tokenize(prompt))]
    new = []
    for _ in range(max_new_tokens):
        logits = np.asarray(model(np.array([ids + new], "int32"), training=False))
        token = int(np.argmax(logits[0, -1]))
        if token == tokenizer.end_of_text_id:
            break
        new.append(token)
    text = tokenizer.detokenize(np.array(new, "int32"))
    return text.numpy().decode("utf-8") if hasattr(text, "numpy") else text


@pytest.fixture
def new_corpus(tmp_path):
    path = tmp_path / "new.txt"
    path.write_text(make_corpus(seed=7).upper(), encoding="utf-8")
    return str(path)


def test_lora_trains_only_the_adapters(trained_model_dir, new_corpus, tmp_path):
    import keras

    model = keras_nlg.load(trained_model_dir).model
    before = {w.path: w.numpy().copy() for w in model.weights}
    enable_lora(model, rank=2)
    trainable = [w.path for w in model.trainable_weights]
    assert trainable and all("lora_kernel" in path for path in trainable)
    # 6 projections per block, two adapter matrices each.
    assert len(trainable) == 2 * 6 * len(model.blocks)

    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    x = IDS
    y = np.random.default_rng(0).normal(size=(1, 8, 258)).astype("float32")
    model.fit(x, y, epochs=2, verbose=0)
    for weight in model.weights:
        if weight.path in before:
            np.testing.assert_array_equal(weight.numpy(), before[weight.path])
    assert any(
        np.abs(w.numpy()).sum() > 0 for w in model.weights if "lora_kernel_b" in w.path
    )


def test_merged_model_reproduces_the_adapted_outputs():
    model = tiny_model()
    enable_lora(model, rank=4, alpha=8.0)
    rng = np.random.default_rng(1)
    for weight in model.weights:  # B starts at zero: give the adapters an effect
        if "lora_kernel" in weight.path:
            weight.assign(rng.normal(0, 0.3, weight.shape))
    adapted = np.asarray(model(IDS))
    merged = merge_lora(model)
    assert not any("lora" in w.path for w in merged.weights)
    np.testing.assert_allclose(np.asarray(merged(IDS)), adapted, atol=1e-5)
    assert not np.allclose(np.asarray(tiny_model()(IDS)), adapted, atol=1e-3)


@pytest.mark.slow
def test_finetune_with_lora_writes_a_merged_model_directory(
    trained_model_dir, new_corpus, tmp_path
):
    out = str(tmp_path / "tuned")
    # With XLA, as the default 200-step fine-tune compiles it.
    settings = dict(FINETUNE, jit_compile=True)
    result = finetune(trained_model_dir, new_corpus, out, lora_rank=2, **settings)
    assert result.config["training"]["jit_compile"] is True
    assert result.config["lora"] == {"rank": 2, "alpha": None}
    assert result.config["finetuned_from"].endswith("model")
    loaded = keras_nlg.load(out)
    assert not any("lora" in w.path for w in loaded.model.weights)
    original = keras_nlg.load(trained_model_dir).model
    assert not np.allclose(np.asarray(loaded.model(IDS)), np.asarray(original(IDS)))
    # The projections changed, everything LoRA does not touch did not.
    for ours, theirs in zip(loaded.model.weights, original.weights, strict=True):
        relative = ours.path.split("/", 1)[1]
        if relative.endswith("kernel") and "embedding" not in relative:
            continue
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=relative)


@pytest.mark.slow
def test_full_finetune_lowers_the_loss_on_the_new_text(
    trained_model_dir, new_corpus, tmp_path
):
    result = finetune(
        trained_model_dir,
        new_corpus,
        str(tmp_path / "full"),
        **{**FINETUNE, "steps": 8},
    )
    losses = result.history["loss"]
    assert losses[-1] < losses[0]
    assert result.config["lora"] is None


def test_finetune_bad_arguments(trained_model_dir, new_corpus, tmp_path):
    with pytest.raises(ValueError, match="lora_rank=0"):
        finetune(trained_model_dir, new_corpus, str(tmp_path / "a"), lora_rank=0)
    with pytest.raises(ValueError, match="out_dir"):
        finetune(trained_model_dir, new_corpus, trained_model_dir)
    with pytest.raises(ValueError, match="sequence_length=4096"):
        finetune(
            trained_model_dir, new_corpus, str(tmp_path / "b"), sequence_length=4096
        )
    with pytest.raises(ValueError, match="data_paths"):
        finetune(trained_model_dir, [], str(tmp_path / "c"))


@pytest.mark.slow
def test_train_with_a_sentencepiece_tokenizer(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(make_corpus(), encoding="utf-8")
    result = train(
        str(tmp_path / "spm"),
        data_paths=[str(corpus)],
        tokenizer="sentencepiece",
        vocabulary_size=300,
        **TINY_TRAIN,
    )
    loaded = keras_nlg.load(str(tmp_path / "spm"))
    assert type(loaded.tokenizer).__name__ == "SentencePieceTokenizer"
    assert loaded.model.vocabulary_size == loaded.tokenizer.vocabulary_size <= 300
    assert result.config["tokenizer"]["class_name"] == "SentencePieceTokenizer"
    (text,) = keras_nlg.generate(
        loaded.model, loaded.tokenizer, ["KING:"], max_new_tokens=8
    )
    assert text == greedy_by_full_passes(loaded.model, loaded.tokenizer, "KING:", 8)
    with pytest.raises(ValueError, match="tokenizer='wordpiece'"):
        train(str(tmp_path / "x"), data_paths=[str(corpus)], tokenizer="wordpiece")
    with pytest.raises(ValueError, match="vocabulary_size=300"):
        train(str(tmp_path / "y"), data_paths=[str(corpus)], vocabulary_size=300)
