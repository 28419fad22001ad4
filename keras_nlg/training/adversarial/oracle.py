"""The synthetic benchmark of text GANs: a random LSTM oracle whose likelihood
is known, so quality and diversity are measured exactly.

As in SeqGAN (Yu et al., AAAI 2017, section 5) and the Texygen benchmark
(Zhu et al., SIGIR 2018): an LSTM with every parameter drawn from N(0, 1)
(vocabulary 5,000, embedding and hidden size 32) generates sequences of 20
tokens; a generator is trained on them, then scored by

- **NLL_oracle**: the oracle's mean per-token negative log-likelihood of the
  generator's samples (lower: more realistic);
- **NLL_test**: the generator's mean per-token negative log-likelihood of
  held-out oracle samples (lower: better coverage, more diverse);
- **self-BLEU**: BLEU of each sample against the other samples (higher: less
  diverse; Texygen's definition, nltk's BLEU with smoothing method 1).

The oracle is our `LSTMLanguageModel` with its weights redrawn, so its
samples come from our compiled sampling loop and its likelihoods from one
forward pass; sequences start after token 0 (SeqGAN's start token) and have
no end token. Published figures for this setting (SeqGAN, table 1,
NLL_oracle): random 10.310, MLE 9.038, SeqGAN 8.736; our oracle is another
random draw, so only differences within one run compare.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from keras_nlg.generation.tracing import traced_once
from keras_nlg.models import LSTMLanguageModel
from keras_nlg.training.adversarial.sequences import SequenceFormat, sample_sequences

VOCABULARY_SIZE = 5000
WIDTH = 32
SEQUENCE_LENGTH = 20
ORACLE_FORMAT = SequenceFormat(
    start_id=0, end_of_text_id=None, padding_id=0, length=SEQUENCE_LENGTH
)


def oracle_model(
    vocabulary_size: int = VOCABULARY_SIZE, width: int = WIDTH, seed: int = 0
) -> LSTMLanguageModel:
    """The oracle: an LSTM language model with every weight drawn from N(0, 1)."""
    model = LSTMLanguageModel(vocabulary_size, embedding_dim=width, units=width)
    rng = np.random.default_rng(seed)
    model.set_weights(
        [rng.standard_normal(w.shape).astype("float32") for w in model.get_weights()]
    )
    return model


def sample_in_batches(model, count, seed, sequence_format, temperature=1.0, batch=1000):
    """`count` sequences `(count, length)` int32, sampled `batch` at a time."""
    out = []
    for i, start in enumerate(range(0, count, batch)):
        rows = min(batch, count - start)
        ids, _ = sample_sequences(
            model, batch, seed * 1_000_003 + i, sequence_format, temperature
        )
        out.append(ids[:rows])
    return np.concatenate(out)


def _nll_sum(model, ids, mask, temperature):
    logits = model(ids[:, :-1]) / temperature
    log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32))
    chosen = tf.gather(log_probs, ids[:, 1:], batch_dims=2)
    return -tf.reduce_sum(tf.cast(chosen, tf.float64) * tf.cast(mask, tf.float64))


def mean_nll(
    model, token_ids, sequence_format=ORACLE_FORMAT, temperature=1.0, batch=1000
):
    """Mean per-token negative log-likelihood (nats) of `token_ids` `(n, L)`
    under `model` with its logits divided by `temperature`, over each row's
    real tokens (`sequence_format.mask`: the end token counts; every column
    for the oracle's sequences, which have no end)."""
    mask = sequence_format.mask(token_ids)
    token_ids = sequence_format.with_start(token_ids)
    nll_sum = traced_once(model, "nll_sum", _nll_sum)
    total = 0.0
    for start in range(0, len(token_ids), batch):
        total += float(
            nll_sum(
                tf.constant(token_ids[start : start + batch]),
                tf.constant(mask[start : start + batch]),
                tf.constant(temperature, tf.float32),
            )
        )
    return total / mask.sum()


def self_bleu(samples, max_order: int = 3, hypotheses: int = 200, seed: int = 0):
    """Texygen's self-BLEU-`max_order`: the mean BLEU of `hypotheses` samples,
    each against all the other samples as references (nltk, smoothing
    method 1). Samples are rows of token ids."""
    samples = [list(map(str, row)) for row in np.asarray(samples)]
    picked = np.random.default_rng(seed).choice(
        len(samples), min(hypotheses, len(samples)), replace=False
    )
    weights = (1.0 / max_order,) * max_order
    smoothing = SmoothingFunction().method1
    scores = [
        sentence_bleu(
            samples[:i] + samples[i + 1 :],
            samples[i],
            weights,
            smoothing_function=smoothing,
        )
        for i in picked
    ]
    return float(np.mean(scores))


def pretrain_mle(
    model,
    token_ids,
    epochs,
    batch_size=64,
    learning_rate=1e-2,
    seed=0,
    sequence_format=ORACLE_FORMAT,
    validation_ids=None,
    patience=2,
):
    """Maximum-likelihood training on token sequences `(n, L)` with Keras'
    `fit` (the MLE baseline and the GAN's starting point; SeqGAN: Adam,
    learning rate 0.01, batches of 64). With `validation_ids`, Keras'
    `EarlyStopping` keeps the weights of the epoch with the lowest validation
    loss, stopping `patience` epochs after it (a small generator overfits
    10,000 sequences within ~10 epochs). Returns the history dict."""
    import keras

    def pairs(ids):
        ids = sequence_format.with_start(ids)
        return ids[:, :-1], ids[:, 1:]

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=5.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    keras.utils.set_random_seed(seed)
    callbacks = []
    if validation_ids is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)
        )
    history = model.fit(
        *pairs(token_ids),
        batch_size=batch_size,
        epochs=epochs,
        validation_data=None if validation_ids is None else pairs(validation_ids),
        callbacks=callbacks,
        verbose=0,
    )
    return history.history


def quality_diversity(model, oracle, test_ids, temperatures, samples=2000, seed=0):
    """The benchmark's figures for `model` sampled at each temperature.

    Returns one dict per temperature: `temperature`, `nll_oracle` (the
    oracle's NLL of `samples` sequences sampled at that temperature),
    `nll_test` (the NLL of the held-out `test_ids` under the model's
    distribution at that temperature, logits divided by it) and `self_bleu`
    (100 of the first 1,000 samples against the other 999).
    """
    rows = []
    for temperature in temperatures:
        ids = sample_in_batches(model, samples, seed, ORACLE_FORMAT, temperature)
        rows.append(
            {
                "temperature": float(temperature),
                "nll_oracle": mean_nll(oracle, ids),
                "nll_test": mean_nll(model, test_ids, temperature=temperature),
                "self_bleu": self_bleu(ids[:1000], hypotheses=100),
            }
        )
    return rows


def points_below_curve(curve_rows, rows):
    """The `rows` (dicts with `nll_test`, `nll_oracle`) strictly below the
    temperature curve `curve_rows`: better NLL_oracle than the curve's
    lowest at the same NLL_test.

    The curve is the polyline through `curve_rows` in temperature order.
    NLL_test is not monotonic in temperature (it is lowest near 1), so the
    polyline can pass over one NLL_test more than once; a point must beat
    its lowest crossing. Points outside the curve's NLL_test range are not
    compared. Each returned row gains `curve_nll_oracle`, the value it beat.
    """
    ordered = sorted(curve_rows, key=lambda r: r["temperature"])
    below = []
    for row in rows:
        x = row["nll_test"]
        crossings = [
            a["nll_oracle"]
            + (x - a["nll_test"])
            / (b["nll_test"] - a["nll_test"])
            * (b["nll_oracle"] - a["nll_oracle"])
            for a, b in zip(ordered[:-1], ordered[1:], strict=True)
            if min(a["nll_test"], b["nll_test"])
            <= x
            <= max(a["nll_test"], b["nll_test"])
            and a["nll_test"] != b["nll_test"]
        ]
        if crossings and row["nll_oracle"] < min(crossings):
            below.append({**row, "curve_nll_oracle": min(crossings)})
    return below
