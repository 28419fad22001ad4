"""Perplexity and bits per byte/character over whole texts, by sliding window."""

import math

import numpy as np
import tensorflow as tf

from keras_nlg.argument_checks import check_positive_int, pop_renamed_argument
from keras_nlg.data import tokenize_documents

DEFAULT_CONTEXT = 256  # for models without a context limit (the LSTM)


def sliding_windows(
    token_ids, context: int, stride: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows that score every token once, each with up to `context` tokens.

    Window `k` reads `token_ids[k·stride : k·stride + context]` and predicts
    the next token at each position, but only the predictions not made by an
    earlier window count (weight 1); the first window scores all of its
    positions. So every token after the first is scored exactly once, and
    all but those in the first window with at least `context - stride`
    tokens of context. `stride = context` gives plain disjoint windows.

    Returns:
        `(x, y, weights)` NumPy arrays of shape `(windows, context)`; the
        last window is padded with weight 0.
    """
    check_positive_int("context", context)
    check_positive_int("stride", stride)
    if stride > context:
        raise ValueError(
            f"`stride` must be ≤ context={context} (or tokens go unscored). "
            f"Received: stride={stride}"
        )
    token_ids = np.asarray(token_ids, np.int32)
    targets = len(token_ids) - 1
    if targets < 1:
        raise ValueError(
            "`token_ids` must hold at least two tokens (one to score). "
            f"Received: {len(token_ids)} token(s)"
        )
    starts = range(0, max(targets - context, 0) + stride, stride)
    x = np.zeros((len(starts), context), np.int32)
    y = np.zeros((len(starts), context), np.int32)
    weights = np.zeros((len(starts), context), np.float32)
    scored = 0  # targets 0 … scored-1 already have a weight somewhere
    for row, start in enumerate(starts):
        end = min(start + context, targets)
        x[row, : end - start] = token_ids[start:end]
        y[row, : end - start] = token_ids[start + 1 : end + 1]
        weights[row, scored - start : end - start] = 1.0
        scored = end
    return x, y, weights


def perplexity(
    model,
    tokenizer,
    texts,
    window_length: int | None = None,
    stride: int | None = None,
    batch_size: int = 8,
    **deprecated,
) -> dict:
    """Perplexity and bits per byte/character of `texts` under `model`.

    The texts are joined as in training (end-of-text between documents, and
    one before the first, so the first token is predicted too) and scored
    with `sliding_windows`. The cost includes predicting the end-of-text
    between documents; bytes and characters count the texts themselves.

    Args:
        model: a keras_nlg language model.
        tokenizer: its tokenizer.
        texts: a string or list of strings.
        window_length: tokens per window (≤ the model's `context_length`);
            default the model's `context_length` (256 for the LSTM, which has
            no limit). `context` is its deprecated name.
        stride: tokens between window starts; default `window_length // 2`,
            so every token after the first window sees at least half a window.
        batch_size: windows per forward pass.

    Returns:
        A dict: `perplexity`, `nats_per_token`, `bits_per_token`,
        `bits_per_byte`, `bits_per_character`, `tokens` (scored), `bytes`,
        `characters`, `window_length` (also as `context`, its name before
        0.2), `stride`.
    """
    window_length = pop_renamed_argument(
        deprecated, "context", "window_length", window_length
    )
    if deprecated:
        raise TypeError(f"Unexpected argument(s): {', '.join(sorted(deprecated))}")
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, (list, tuple)) or not all(
        isinstance(t, str) for t in texts
    ):
        raise TypeError(
            f"`texts` must be a string or a list of strings. Received: {texts!r:.80}"
        )
    if not "".join(texts):
        raise ValueError(f"`texts` must hold some text. Received: texts={texts!r}")
    context_length = getattr(model, "context_length", None)
    if window_length is None:
        window_length = context_length or DEFAULT_CONTEXT
    check_positive_int("window_length", window_length)
    if context_length is not None and window_length > context_length:
        raise ValueError(
            "`window_length` must be ≤ the model's context_length="
            f"{context_length}. Received: window_length={window_length}"
        )
    if stride is None:
        stride = max(1, window_length // 2)
    check_positive_int("batch_size", batch_size)
    token_ids = np.concatenate(
        [[tokenizer.end_of_text_id], tokenize_documents(texts, tokenizer)]
    )
    x, y, weights = sliding_windows(token_ids, window_length, stride)
    total = _total_negative_log_likelihood(model, x, y, weights, batch_size)
    tokens = int(weights.sum())
    num_bytes = sum(len(text.encode("utf-8")) for text in texts)
    characters = sum(len(text) for text in texts)
    nats = total / tokens
    return {
        "perplexity": math.exp(nats),
        "nats_per_token": nats,
        "bits_per_token": nats / math.log(2),
        "bits_per_byte": total / math.log(2) / max(num_bytes, 1),
        "bits_per_character": total / math.log(2) / max(characters, 1),
        "tokens": tokens,
        "bytes": num_bytes,
        "characters": characters,
        "window_length": window_length,
        "context": window_length,
        "stride": stride,
    }


def _total_negative_log_likelihood(model, x, y, weights, batch_size):
    """Σ weight · −log p(y | x), summed in float64 on the host."""

    @tf.function(jit_compile=True)
    def batch_nll(x, y, weights):
        logits = tf.cast(model(x, training=False), tf.float32)  # (B, T, V)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        return tf.reduce_sum(nll * weights, axis=-1)  # (B,)

    total = 0.0
    for start in range(0, len(x), batch_size):
        rows = slice(start, start + batch_size)
        batch = [array[rows] for array in (x, y, weights)]
        missing = batch_size - len(batch[0])
        if missing:  # one compiled shape: pad the last batch with weight 0
            batch = [np.pad(a, [(0, missing), (0, 0)]) for a in batch]
        total += float(np.sum(batch_nll(*batch).numpy(), dtype=np.float64))
    return total
