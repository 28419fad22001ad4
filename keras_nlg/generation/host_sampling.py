"""Next-token choice on the host, in float64 NumPy, one row at a time.

Runtimes that step a model one call at a time choose each token outside the
model: the TFLite runner (as a mobile app does, `export/README.md`) and the
uncached reference generator. They share this one sampler,
which applies a `GenerationConfig` by the same rules, in the same order, as
the compiled loop (`logits_processors.py`, `sampling.py`); only the random
draw differs (NumPy's generator here, counter-based Gumbel noise there), so
greedy choices agree exactly and sampled ones agree in distribution.
"""

from __future__ import annotations

import numpy as np

from keras_nlg.generation.config import GenerationConfig


def _softmax(logits):
    shifted = logits - logits.max()
    probabilities = np.exp(shifted)
    return probabilities / probabilities.sum()


def repeated_ngram_tokens(history, ngram_size: int) -> set[int]:
    """Tokens that would complete an n-gram already in `history`.

    Hugging Face's `NoRepeatNGramLogitsProcessor` rule: with `n` =
    `ngram_size`, token `history[j]` is banned when the `n - 1` tokens before
    it equal the last `n - 1` tokens of `history` (n = 1: every token seen).
    """
    n = ngram_size
    if n <= 0 or len(history) < n - 1:
        return set()
    tail = list(history[len(history) - (n - 1) :]) if n > 1 else []
    return {
        history[j]
        for j in range(n - 1, len(history))
        if list(history[j - (n - 1) : j]) == tail
    }


def process_logits(
    logits, config: GenerationConfig, history, num_generated: int, end_of_text_id
):
    """The logits after `config`'s processors: float64 `(V,)`, bans at -inf.

    Args:
        logits: `(V,)` next-token logits.
        history: the real tokens so far (prompt, then generated).
        num_generated: tokens generated so far.
    """
    logits = np.array(logits, np.float64)
    if num_generated < config.min_new_tokens:
        logits[end_of_text_id] = -np.inf
    if config.repetition_penalty != 1.0 and len(history):
        seen = np.unique(np.asarray(history, np.int64))
        values = logits[seen]
        logits[seen] = np.where(
            values > 0,
            values / config.repetition_penalty,
            values * config.repetition_penalty,
        )
    banned = repeated_ngram_tokens(list(history), config.no_repeat_ngram_size)
    if banned:
        logits[sorted(banned)] = -np.inf
    return logits


def filter_logits(logits, config: GenerationConfig):
    """Temperature, then top-k, top-p and min-p (float64, removed → -inf).

    The same rules as `keras_nlg.generation.truncation`: top-k keeps ties
    with the k-th logit; the nucleus keeps a token while the mass before it
    is below `top_p`, and ties with its last token; min-p keeps p ≥ min_p ·
    p(top).
    """
    logits = np.asarray(logits, np.float64) / config.temperature
    if config.top_k:
        kth_largest = np.partition(logits, -config.top_k)[-config.top_k]
        logits = np.where(logits < kth_largest, -np.inf, logits)
    if config.top_p < 1.0:
        order = np.argsort(-logits, kind="stable")
        probabilities = _softmax(logits[order])
        keep = np.cumsum(probabilities) - probabilities < config.top_p
        # Tokens tied with the last kept one are kept too, as on the device.
        threshold = logits[order[keep]].min()
        logits = np.where(logits < threshold, -np.inf, logits)
    if config.min_p > 0.0:
        logits = np.where(logits < logits.max() + np.log(config.min_p), -np.inf, logits)
    return logits


class HostSampler:
    """Chooses tokens by a `GenerationConfig`, one row's logits at a time.

    Args:
        config: the settings (beam search is not run here: `num_beams` must
            be 1).
        end_of_text_id: the tokenizer's end-of-text id.
        rng: a `numpy.random.Generator`; default one seeded with
            `config.seed`.

    Raises:
        ValueError: if `config.num_beams` > 1.
    """

    def __init__(self, config: GenerationConfig, end_of_text_id: int, rng=None):
        if config.num_beams != 1:
            raise ValueError(
                "The host sampler runs greedy decoding or sampling, not beam "
                f"search. Received: num_beams={config.num_beams}"
            )
        self.config = config
        self.end_of_text_id = end_of_text_id
        self.rng = np.random.default_rng(config.seed) if rng is None else rng

    def next_token(self, logits, history, num_generated: int) -> int:
        """The next token after `history` (prompt and generated tokens)."""
        logits = process_logits(
            logits, self.config, history, num_generated, self.end_of_text_id
        )
        if not self.config.do_sample:
            return int(np.argmax(logits))
        probabilities = _softmax(filter_logits(logits, self.config))
        return int(self.rng.choice(len(probabilities), p=probabilities))
