"""The decode loop in `keras.ops`, compiled with `jax.jit`: generation on JAX.

TensorFlow runs `engine.py`, whose ops are chosen per runtime (XLA inside the
loop, `TensorStridedSliceUpdate` for the SavedModel that TF Serving's GPU
build runs, TFLite builtins) and whose top-k/top-p avoid XLA:CPU's slow sort;
`keras.ops` cannot express those choices, and the exports need them, so the
TensorFlow path stays as it is. This module is the same loop for the other
backends, over the same contract and the same rules:

- the model step is `call_with_cache` on the model's own static-shape cache
  (`keras_nlg.models.LanguageModel`);
- the processors are `logits_processors.ban_end_of_text` and
  `apply_repetition_penalty` themselves (written in `keras.ops`);
- a sample is the Gumbel-max draw of `sampling.select_next_token` with the
  same counter-based noise (`uniform_noise` below computes `sampling.py`'s
  hash bit for bit) over the tokens that top-k, top-p and min-p keep, the
  thresholds read off the sorted row as `truncation.full_row_thresholds`
  does outside XLA.

So for the same weights and seed the tokens equal the TensorFlow engine's:
greedy ones exactly, sampled ones up to float32 ties (a token whose
preceding mass equals `top_p` to rounding). `no_repeat_ngram_size` and beam
search exist only on TensorFlow; `generate` says so with a `ValueError`.

The model's variables enter the compiled function as arguments
(`keras.StatelessScope`), not as constants baked into the program, so one
compilation serves a model whose weights change (training callbacks).
"""

import weakref
from typing import NamedTuple

import keras
import numpy as np
from keras import ops

from keras_nlg.generation.logits_processors import (
    apply_repetition_penalty,
    ban_end_of_text,
)
from keras_nlg.layers.column_update import update_columns

_COMPILED = weakref.WeakKeyDictionary()  # model -> {(processing, shapes): fn}


class PortableKnobs(NamedTuple):
    """Per-row settings (each `(B,)`; see `engine.DecodeKnobs`)."""

    max_new_tokens: object
    min_new_tokens: object
    temperature: object
    top_k: object
    top_p: object
    min_p: object
    repetition_penalty: object


def portable_knobs(rows: int, **settings) -> PortableKnobs:
    """`PortableKnobs` of NumPy arrays, each setting broadcast to `(rows,)`."""
    integers = ("max_new_tokens", "min_new_tokens", "top_k")

    def column(name):
        dtype = np.int32 if name in integers else np.float32
        return np.broadcast_to(np.asarray(settings[name], dtype), (rows,)).copy()

    return PortableKnobs(*(column(name) for name in PortableKnobs._fields))


def row_seeds(seed: int, rows: int):
    """int32 `(rows, 2)` NumPy: row r draws from `(seed, r)`, the same in any
    batch (see sampling.py)."""
    return np.stack(
        [np.full([rows], seed % (2**31 - 1)), np.arange(rows)], axis=1
    ).astype(np.int32)


def _uint32(value):
    return ops.convert_to_tensor(np.uint32(value), "uint32")


def _mix(x):
    """`sampling._mix` (Wellons' "lowbias32") on uint32 tensors."""
    x = ops.bitwise_xor(x, ops.right_shift(x, _uint32(16)))
    x = x * _uint32(0x7FEB352D)
    x = ops.bitwise_xor(x, ops.right_shift(x, _uint32(15)))
    x = x * _uint32(0x846CA68B)
    return ops.bitwise_xor(x, ops.right_shift(x, _uint32(16)))


def uniform_noise(seeds, step, token_ids):
    """`sampling.uniform_noise`, bit for bit: float32 `(B, N)` in (0, 1).

    An int32 → uint32 cast keeps the bits (two's complement), as
    `tf.bitcast` does.
    """
    seeds = ops.cast(seeds, "uint32")
    key = _mix(ops.cast(ops.cast(step, "int32"), "uint32"))
    key = _mix(ops.bitwise_xor(key, seeds[:, :1]))
    key = _mix(ops.bitwise_xor(key, seeds[:, 1:]))
    tokens = ops.cast(ops.cast(token_ids, "int32"), "uint32")
    bits = _mix(ops.bitwise_xor(key, _mix(tokens)))
    top = ops.cast(ops.right_shift(bits, _uint32(8)), "float32")
    return (top + 0.5) * 2.0**-24


def _take(values, index):
    """`values[b, index[b]]` as `(B, 1)`."""
    index = ops.reshape(ops.cast(index, "int32"), [-1, 1])
    return ops.take_along_axis(values, index, axis=1)


def full_row_thresholds(logits, top_k, top_p, min_p):
    """float32 `(B, 1)`: the logit threshold of top-k, top-p and min-p.

    The rules of `keras_nlg.generation.truncation`, read off the row sorted
    in descending order (its path outside XLA). Knobs are `(B, 1)`.
    """
    vocabulary_size = logits.shape[-1]
    sorted_logits = ops.flip(ops.sort(logits, axis=-1), axis=-1)
    k = ops.minimum(top_k, vocabulary_size)
    top_k_threshold = ops.where(
        k > 0, _take(sorted_logits, ops.maximum(k - 1, 0)), -float("inf")
    )
    log_normaliser = ops.where(
        top_k > 0,
        ops.logsumexp(
            ops.where(logits >= top_k_threshold, logits, -float("inf")),
            axis=-1,
            keepdims=True,
        ),
        ops.logsumexp(logits, axis=-1, keepdims=True),
    )
    ranks = ops.arange(vocabulary_size, dtype="int32")[None, :]
    in_top_k = ops.logical_or(top_k <= 0, ranks < top_k)
    probabilities = ops.where(in_top_k, ops.exp(sorted_logits - log_normaliser), 0.0)
    shifted = ops.concatenate(
        [ops.zeros_like(probabilities[:, :1]), probabilities[:, :-1]], axis=-1
    )
    mass_before = ops.cumsum(shifted, axis=-1)  # exclusive
    kept = ops.logical_and(ops.logical_or(mass_before < top_p, top_p >= 1.0), in_top_k)
    last_kept = ops.sum(ops.cast(kept, "int32"), axis=-1) - 1
    nucleus = _take(sorted_logits, last_kept)
    top_logit = ops.max(logits, axis=-1, keepdims=True)
    return ops.maximum(nucleus, top_logit + ops.log(min_p))


def select_next_token(logits, do_sample, knobs, seeds, step):
    """int32 `(B,)`: greedy argmax, or the Gumbel-max sample of
    `sampling.select_next_token` (rows with temperature 0 stay greedy)."""
    greedy = ops.cast(ops.argmax(logits, axis=-1), "int32")
    if not do_sample:
        return greedy
    column = [ops.reshape(value, [-1, 1]) for value in knobs]
    temperature, top_k, top_p, min_p = column
    sampling = temperature > 0
    scaled = logits / ops.where(sampling, temperature, 1.0)
    threshold = full_row_thresholds(scaled, top_k, top_p, min_p)
    token_ids = ops.arange(logits.shape[-1], dtype="int32")[None, :]
    noise = uniform_noise(seeds, step, token_ids)
    noisy = scaled - ops.log(-ops.log(noise))
    sampled = ops.argmax(ops.where(scaled >= threshold, noisy, -float("inf")), axis=-1)
    return ops.where(sampling[:, 0], ops.cast(sampled, "int32"), greedy)


def decode(
    model,
    prompt_ids,
    padding_mask,
    knobs,
    seeds,
    end_of_text_id,
    padding_id,
    do_sample,
    penalize,
):
    """Prefill, then one cached step per token until every row has ended.

    Args:
        prompt_ids: int32 `(B, P)`, left-padded with `padding_id`.
        padding_mask: bool `(B, S)`, False on padding columns; `S - P` is
            the capacity for new tokens.
        knobs: `PortableKnobs`, each `(B,)`.
        seeds: int32 `(B, 2)`, one seed pair per row.
        end_of_text_id, padding_id: ints.
        do_sample, penalize: Python bools (one compiled loop per pair).

    Returns:
        `(tokens, log_probs)`: int32 and float32 `(B, S - P)`; a row ends at
        end-of-text or after its `max_new_tokens` and holds `padding_id`
        (log-prob 0) afterwards. Log-probs are under the model's unmodified
        distribution, as in `engine._advance`.
    """
    batch, prompt_length = prompt_ids.shape
    capacity = padding_mask.shape[1] - prompt_length
    vocabulary_size = model.vocabulary_size
    cache = model.empty_cache(batch, padding_mask.shape[1])
    logits, cache = model.call_with_cache(prompt_ids, cache, 0, padding_mask)
    seen = ops.zeros((batch, vocabulary_size if penalize else 1), "bool")
    if penalize:
        in_prompt = ops.one_hot(prompt_ids, vocabulary_size, dtype="bool")
        seen = ops.any(
            ops.logical_and(in_prompt, padding_mask[:, :prompt_length, None]), axis=1
        )
    sampling_knobs = (knobs.temperature, knobs.top_k, knobs.top_p, knobs.min_p)

    def keep_going(step, *_):
        return step < capacity

    def body(step, last_logits, cache, seen, finished, tokens, log_probs):
        scores = ban_end_of_text(
            last_logits, step, knobs.min_new_tokens, end_of_text_id
        )
        if penalize:
            scores = apply_repetition_penalty(scores, seen, knobs.repetition_penalty)
        token = select_next_token(scores, do_sample, sampling_knobs, seeds, step)
        log_prob = _take(ops.log_softmax(last_logits, axis=-1), token)[:, 0]
        token = ops.where(finished, padding_id, token)
        log_prob = ops.where(finished, 0.0, log_prob)
        tokens = update_columns(tokens, step, token[:, None])
        log_probs = update_columns(log_probs, step, log_prob[:, None])
        finished = ops.logical_or(
            ops.logical_or(finished, token == end_of_text_id),
            step + 1 >= knobs.max_new_tokens,
        )
        if penalize:
            new = ops.one_hot(token, vocabulary_size, dtype="bool")
            seen = ops.logical_or(seen, new)
        logits, cache = model.call_with_cache(
            token[:, None], cache, prompt_length + step, padding_mask
        )
        # All rows ended: jump past the capacity, which ends the loop.
        step = ops.where(ops.all(finished), capacity + 1, step + 1)
        return step, logits[:, -1], cache, seen, finished, tokens, log_probs

    state = (
        ops.convert_to_tensor(0, "int32"),
        logits[:, -1],
        cache,
        seen,
        ops.zeros((batch,), "bool"),
        ops.full((batch, capacity), padding_id, "int32"),
        ops.zeros((batch, capacity), "float32"),
    )
    state = ops.while_loop(keep_going, body, state)
    return state[5], state[6]


def jit_with_weights(model, key, function, static_argnums=()):
    """`jax.jit` of `function(model, *arguments)`, made once per model and key,
    with the model's current variables passed in on every call.

    Inside, the variables read the values passed (`keras.StatelessScope`),
    so the program holds no weights as constants and a model trained since
    the compilation is run with its new weights. `static_argnums` count
    from the first argument after `model`.
    """
    backend = keras.backend.backend()
    if backend != "jax":
        raise ValueError(
            "The portable decode loop runs on the JAX backend (TensorFlow uses "
            f"the compiled TensorFlow engine). Received: backend={backend!r}"
        )
    import jax

    functions = _COMPILED.setdefault(model, {})
    if key not in functions:
        model_ref = weakref.ref(model)

        def stateless(values, *arguments):
            model = model_ref()
            mapping = zip(model.variables, values, strict=True)
            with keras.StatelessScope(state_mapping=mapping):
                return function(model, *arguments)

        functions[key] = jax.jit(
            stateless, static_argnums=tuple(i + 1 for i in static_argnums)
        )
    jitted = functions[key]

    def run(*arguments):
        return jitted([variable.value for variable in model.variables], *arguments)

    return run


def compiled_decode(model, do_sample: bool, penalize: bool):
    """`decode` for `model` under `jax.jit`, once per `(do_sample, penalize)`.

    Called as `(prompt_ids, padding_mask, knobs, seeds, end_of_text_id,
    padding_id)` with NumPy arrays; returns NumPy arrays. Only the JAX
    backend; TensorFlow has `engine.compiled_decode`.
    """
    jitted = jit_with_weights(
        model,
        ("decode", do_sample, penalize),
        lambda model, *arguments: decode(model, *arguments, do_sample, penalize),
        static_argnums=(4, 5),
    )

    def run(prompt_ids, padding_mask, knobs, seeds, end_of_text_id, padding_id):
        tokens, log_probs = jitted(
            np.asarray(prompt_ids, np.int32),
            np.asarray(padding_mask, bool),
            PortableKnobs(*(np.asarray(k) for k in knobs)),
            np.asarray(seeds, np.int32),
            int(end_of_text_id),
            int(padding_id),
        )
        return np.asarray(tokens), np.asarray(log_probs)

    return run


def bucketed_forward(model, minimum: int = 16):
    """`forward(token_ids)`: logits of a `(1, n)` window, for the uncached
    reference generator on JAX.

    A jitted call compiles once per shape, and the reference's window grows
    by a token a step; so the window is right-padded to a power of two (at
    most the model's context) and the first `n` positions are returned:
    position t sees tokens 0 … t only, so the padding changes nothing.
    """
    jitted = jit_with_weights(
        model, "forward", lambda model, ids: model(ids, training=False)
    )

    def forward(token_ids):
        token_ids = np.asarray(token_ids, np.int32)
        length = token_ids.shape[1]
        size = max(minimum, 1 << (length - 1).bit_length())
        if model.context_length is not None:
            size = min(size, model.context_length)
        padded = np.zeros((token_ids.shape[0], size), np.int32)
        padded[:, :length] = token_ids
        return np.asarray(jitted(padded))[:, :length]

    return forward


def sample_rows(
    model,
    config,
    prompt_ids,
    padding_mask,
    seed,
    real_rows,
    end_of_text_id,
    padding_id,
):
    """`(tokens, log_probs)` NumPy `(B, C)` for a `GenerationConfig`, on JAX.

    Rows from `real_rows` on are filler (a budget of one token). Stop
    strings are for the caller to cut from the text (the loop runs to
    `max_new_tokens`).

    Raises:
        ValueError: for `num_beams` > 1 or `no_repeat_ngram_size` > 0, which
            only the TensorFlow loops offer.
    """
    for name, value, off in (
        ("num_beams", config.num_beams, 1),
        ("no_repeat_ngram_size", config.no_repeat_ngram_size, 0),
    ):
        if value != off:
            raise ValueError(
                f"`{name}` is offered on the TensorFlow backend only; on "
                f"{keras.backend.backend()!r} use the default ({off}). "
                f"Received: {name}={value!r}"
            )
    rows = len(prompt_ids)
    settings = {name: getattr(config, name) for name in PortableKnobs._fields}
    budgets = np.where(np.arange(rows) < real_rows, config.max_new_tokens, 1)
    knobs = portable_knobs(rows, **{**settings, "max_new_tokens": budgets})
    run = compiled_decode(model, config.do_sample, config.repetition_penalty != 1.0)
    return run(
        prompt_ids,
        padding_mask,
        knobs,
        row_seeds(seed, rows),
        end_of_text_id,
        padding_id,
    )
