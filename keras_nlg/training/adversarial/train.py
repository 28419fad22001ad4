"""`adversarial_train()`: a likelihood-trained model directory and real texts
in, an adversarially trained model directory (generator and discriminator)
out.

The generator's maximum-likelihood pre-training is `keras_nlg.training.train`
(`keras-nlg train`); this takes its model directory. Samples start after
end-of-text (a document start) and end with it, so the generator should have
learned the texts as documents of their own: `train(..., documents="line")`
(`--documents line`) for texts one per line, as the data file here is.
The discriminator is new (`config.discriminator`), or the one saved beside
the generator when the starting directory is itself an adversarial run's
output.
"""

from __future__ import annotations

import logging

import keras

from keras_nlg.generation.stopping import ids_to_text
from keras_nlg.model_directory import load, load_discriminator
from keras_nlg.models.discriminators import build_discriminator
from keras_nlg.training.adversarial.config import AdversarialConfig
from keras_nlg.training.adversarial.sequences import SequenceFormat, encode_texts
from keras_nlg.training.adversarial.trainer import AdversarialTrainer
from keras_nlg.training.fit import TrainResult, check_out_dir
from keras_nlg.training.rl.run import fit_trainer, load_start, save_tuned

logger = logging.getLogger(__name__)


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError(f"`texts` must be a list of strings. Received: {texts!r:.80}")
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise ValueError(
            "`texts` holds no real text: adversarial training needs real examples "
            "for the discriminator."
        )
    return texts


def new_discriminator(config: AdversarialConfig, vocabulary_size: int):
    """The discriminator `config` describes, sized for `sample_length` tokens."""
    width = config.discriminator_dim
    if config.discriminator == "transformer":
        # Heads of 32 features or more, as many as divide the width.
        heads = next(h for h in range(max(1, width // 32), 0, -1) if width % h == 0)
        sizes = dict(
            num_layers=config.discriminator_layers,
            num_heads=heads,
            hidden_dim=width,
            intermediate_dim=2 * width,
        )
    elif config.discriminator == "cnn":
        sizes = dict(embedding_dim=width)  # SeqGAN's widths and filters
    else:
        sizes = dict(embedding_dim=width, units=width)
    return build_discriminator(
        config.discriminator, vocabulary_size, config.sample_length, **sizes
    )


def adversarial_train(
    model_dir: str,
    texts,
    out_dir: str,
    config: AdversarialConfig | None = None,
    *,
    callbacks: list | None = None,
    verbose="auto",
    overwrite: bool = False,
    **overrides,
) -> TrainResult:
    """Adversarial (SeqGAN-style) training of a model directory's generator.

    Args:
        model_dir: a keras_nlg model directory (Transformer or LSTM), trained
            by maximum likelihood (`train`), or an earlier adversarial run's
            (its `discriminator.keras` is then trained on).
        texts: real examples, one string each (e.g. the lines of a file);
            each becomes its first `sample_length - 1` tokens and end-of-text.
        out_dir: the model directory to write (not `model_dir`): the
            generator, `discriminator.keras`, `config.json` with the
            `adversarial` record, and `logs/` (TensorBoard: discriminator
            loss and accuracy on real and fake, generator reward, samples).
        config: an `AdversarialConfig` (default `AdversarialConfig()`).
        callbacks: extra Keras callbacks.
        verbose: Keras' `fit` verbosity.
        overwrite: replace a finished model in `out_dir` (else a `ValueError`).
        **overrides: `AdversarialConfig` fields replacing `config`'s.

    Returns:
        A `TrainResult`; `history` holds the per-epoch means of
        `discriminator_loss`, `real_accuracy`, `fake_accuracy`,
        `generator_loss`, `reward_mean`, `reward_std`, `kl`, `mle_loss`.

    Raises:
        ValueError: for an invalid setting (naming it), no real text, fewer
            texts than `batch_size`, a generator context or discriminator
            too short for `sample_length`, or an `out_dir` that is `model_dir`
            or holds a finished model (without `overwrite`).
        TypeError: for texts that are not strings.
    """
    config = (config or AdversarialConfig()).replace(**overrides)
    texts = _check_texts(texts)
    check_out_dir(out_dir, overwrite, model_dir)
    keras.utils.set_random_seed(config.seed)
    start = load_start(model_dir, "Adversarial training")
    generator, tokenizer = start.policy, start.tokenizer
    reference = load(model_dir).model if config.kl_coef else None
    sequence_format = SequenceFormat(
        start_id=tokenizer.end_of_text_id,
        end_of_text_id=tokenizer.end_of_text_id,
        padding_id=tokenizer.padding_id,
        length=config.sample_length,
    )
    discriminator = load_discriminator(model_dir)
    if discriminator is None:
        discriminator = new_discriminator(config, generator.vocabulary_size)
    else:
        logger.warning(
            "Continuing with %s's discriminator (%s); the discriminator, "
            "discriminator_dim and discriminator_layers settings don't apply.",
            model_dir,
            type(discriminator).__name__,
        )
        if discriminator.vocabulary_size != generator.vocabulary_size:
            raise ValueError(
                f"{model_dir}'s discriminator reads {discriminator.vocabulary_size} "
                f"token ids, its generator {generator.vocabulary_size}."
            )
    trainer = AdversarialTrainer(
        generator,
        discriminator,
        encode_texts(tokenizer, texts, sequence_format),
        sequence_format,
        config,
        reference=reference,
        detokenize=lambda ids: ids_to_text(tokenizer, ids, None)[1],
    )
    trainer.compile()
    run = fit_trainer(trainer, out_dir, config, callbacks, verbose, log_samples=True)
    record = {
        "adversarial": {
            "discriminator_model": {
                "class_name": type(discriminator).__name__,
                "config": discriminator.get_config(),
            }
        }
    }
    return save_tuned(start, out_dir, config, record, run, discriminator)
