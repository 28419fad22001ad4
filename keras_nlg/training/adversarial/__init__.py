"""Adversarial (GAN) training of text generators, SeqGAN-style.

- `sequences`: fixed-length real and sampled sequences, and the Monte Carlo
  completions of their prefixes (the engine's compiled sampling loop).
- `credit`: the discriminator's loss and the generator's per-token credit
  (rollout or prefix values, KL to go, baseline).
- `trainer`: `AdversarialTrainer`, a `keras.Model` whose `train_step` runs
  a round (discriminator updates, policy-gradient updates, MLE updates).
- `train`: `adversarial_train()`, model directory and texts in, model
  directory (generator + `discriminator.keras`) out.
- `oracle`: the synthetic benchmark of SeqGAN and Texygen (a random LSTM
  oracle, NLL_oracle, NLL_test, self-BLEU).
- `config`: `AdversarialConfig`, every setting checked once.

The discriminators themselves are models: `keras_nlg.models.discriminators`.
"""

from keras_nlg.training.adversarial.config import AdversarialConfig
from keras_nlg.training.adversarial.credit import (
    discriminator_loss,
    prefix_masks,
    rollout_values,
    token_advantages,
)
from keras_nlg.training.adversarial.sequences import (
    SequenceFormat,
    complete_prefixes,
    encode_texts,
    sample_sequences,
)
from keras_nlg.training.adversarial.trainer import AdversarialTrainer

__all__ = [
    "AdversarialConfig",
    "AdversarialTrainer",
    "SequenceFormat",
    "complete_prefixes",
    "discriminator_loss",
    "encode_texts",
    "prefix_masks",
    "rollout_values",
    "sample_sequences",
    "token_advantages",
]
