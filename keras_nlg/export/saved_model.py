"""SavedModel export in TF Serving's layout: strings in, strings out.

`export_saved_model(model_dir, "export/NAME/VERSION")` writes, with
`keras.export.ExportArchive`:

- `serving_default`: `prompt` tf.string `[batch]`, and optionally
  `max_new_tokens` int32, `temperature` float32 (0 = greedy), `top_k` int32
  (0 = off), `top_p` float32 (1 = off), `seed` int32, each `[batch]` or
  `[1]` (one value for the whole request) → `text` tf.string `[batch]`,
  `num_generated_tokens` int32 `[batch]` (end-of-text counts as a token).
  The optional inputs have defaults in the SignatureDef (`defaults`), which
  a server fills in for a request that leaves them out.
- `generate_ids`: `token_ids` int32 `[batch, length]` (right-padded) with
  `prompt_length` int32 `[batch]` and the same optional inputs → `token_ids`
  int32 `[batch, new]` (padding after the end) and `num_generated_tokens`.
- `score`: `text` tf.string `[batch]` → `log_likelihood` float32 `[batch]`
  (natural log, of the text's tokens after an end-of-text, as in training)
  and `num_tokens` int32 `[batch]`.

Tokenization, the cached decode loop (XLA-compiled per shape unless
`jit_compile=False`) and detokenization all run in the graph. Each row
draws from its own seed (see `keras_nlg.generation.sampling`), so a row's
text doesn't depend on what the server batched it with. Bad inputs (empty
batch, too many rows, a prompt over 1 MiB, invalid UTF-8, out-of-range
settings) fail inside the graph with InvalidArgument and a message naming
the input: TF Serving returns that as INVALID_ARGUMENT.

Beside the graph: `assets/` holds the tokenizer files (for clients of
`generate_ids`), `assets.extra/tf_serving_warmup_requests` a few requests
that compile the common shapes at load time, and `model_card.json`
(architecture, tokenizer, training data, metrics, signatures, limits, and
the ops a server needs: core TensorFlow only for the byte tokenizer;
tensorflow-text's for SentencePiece and GPT-2 BPE).
"""

import datetime
import json
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from keras_nlg.generation.engine import compiled_decode_rows, traced_once
from keras_nlg.generation.generate import MIN_PROMPT_BUCKET, MIN_ROWS
from keras_nlg.model_directory import METRICS_FILE, load
from keras_nlg.models import LSTMLanguageModel
from keras_nlg.tokenizers import save_tokenizer
from keras_nlg.validation import check_positive_int

MAX_PROMPT_BYTES = 1 << 20
DEFAULT_MAX_BATCH_SIZE = 64
DEFAULT_MAX_NEW_TOKENS = 64
# An LSTM has no context; these bound a request's prompt and loop instead.
LSTM_MAX_PROMPT_TOKENS = 4096
LSTM_MAX_NEW_TOKENS = 1024
MIN_NEW_TOKENS_BUCKET = 16
MODEL_CARD_FILE = "model_card.json"
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
SIGNATURES = ("serving_default", "generate_ids", "score")
# Optional inputs of serving_default / generate_ids: (dtype, default).
GENERATION_SETTINGS = {
    "max_new_tokens": (tf.int32, None),  # default set per export
    "temperature": (tf.float32, 0.0),
    "top_k": (tf.int32, 0),
    "top_p": (tf.float32, 1.0),
    "seed": (tf.int32, 0),
}


def _buckets(minimum, limit):
    """Powers of two from `minimum`, then `limit`: the sizes shapes round to."""
    sizes = []
    size = minimum
    while size < limit:
        sizes.append(size)
        size *= 2
    return tf.constant(sizes + [limit], tf.int32)


def _round_up(value, buckets):
    """The smallest bucket ≥ `value` (scalar int32)."""
    return tf.reduce_min(tf.where(buckets >= value, buckets, buckets[-1]))


def _check(condition, message, *values):
    """An InvalidArgument assertion whose message names the input and value."""
    return tf.debugging.Assert(condition, [message, *values], summarize=8)


def _after(checks, tensor):
    """`tensor`, once `checks` have passed (nothing reads it before)."""
    with tf.control_dependencies(checks):
        return tf.identity(tensor)


class _Signatures:
    """The three serving functions over one model and tokenizer."""

    def __init__(self, model, tokenizer, max_batch_size, jit_compile):
        self.model = model
        self.tokenizer = tokenizer
        self.max_batch_size = max_batch_size
        self.is_lstm = isinstance(model, LSTMLanguageModel)
        self.context = None if self.is_lstm else model.max_length
        self.max_new_tokens_limit = (
            LSTM_MAX_NEW_TOKENS if self.is_lstm else model.max_length - 1
        )
        prompt_limit = LSTM_MAX_PROMPT_TOKENS if self.is_lstm else model.max_length - 1
        self.prompt_buckets = _buckets(MIN_PROMPT_BUCKET, prompt_limit)
        self.new_token_buckets = _buckets(
            min(MIN_NEW_TOKENS_BUCKET, self.max_new_tokens_limit),
            self.max_new_tokens_limit,
        )
        # A lone request decodes beside a filler row (see MIN_ROWS).
        self.batch_buckets = _buckets(min(MIN_ROWS, max_batch_size), max_batch_size)
        self.decode = compiled_decode_rows(model, jit_compile)
        self.forward = traced_once(
            model,
            ("score", jit_compile),
            lambda model, token_ids: model(token_ids),
            jit_compile=jit_compile,
        )

    # Inputs.

    def _check_batch(self, batch, name):
        return [
            _check(
                batch > 0, f"`{name}` must hold at least one row. Received rows:", batch
            ),
            _check(
                batch <= self.max_batch_size,
                f"`{name}` holds more rows than max_batch_size={self.max_batch_size}. "
                "Received rows:",
                batch,
            ),
        ]

    def _check_texts(self, texts, name):
        """`texts` once checked: rows, size, UTF-8."""
        checks = self._check_batch(tf.shape(texts)[0], name)
        lengths = tf.strings.length(texts)  # bytes
        size_check = _check(
            tf.reduce_all(lengths <= MAX_PROMPT_BYTES),
            f"Each `{name}` must be at most {MAX_PROMPT_BYTES} bytes. Received "
            "lengths:",
            lengths,
        )
        # Transcoding changes a string iff it holds invalid UTF-8.
        valid = tf.equal(
            tf.strings.unicode_transcode(
                texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
            ),
            texts,
        )
        utf8_check = _check(
            tf.reduce_all(valid),
            f"Each `{name}` must be valid UTF-8. Received valid rows:",
            valid,
        )
        return _after([*checks, size_check, utf8_check], texts)

    def _settings(self, batch, max_new_tokens, temperature, top_k, top_p, seed):
        """Each setting checked and broadcast to `(batch,)`."""
        values = {}
        checks = []
        for name, value in (
            ("max_new_tokens", max_new_tokens),
            ("temperature", temperature),
            ("top_k", top_k),
            ("top_p", top_p),
            ("seed", seed),
        ):
            size = tf.size(value)
            size_check = _check(
                (size == 1) | (size == batch),
                f"`{name}` must hold 1 value or one per row. Received sizes "
                "(setting, rows):",
                size,
                batch,
            )
            with tf.control_dependencies([size_check]):
                values[name] = tf.broadcast_to(tf.reshape(value, [-1]), [batch])
        limit = self.max_new_tokens_limit
        n = values["max_new_tokens"]
        checks.append(
            _check(
                tf.reduce_all((n >= 1) & (n <= limit)),
                f"`max_new_tokens` must be in [1, {limit}]. Received:",
                n,
            )
        )
        t = values["temperature"]
        checks.append(
            _check(
                tf.reduce_all(tf.math.is_finite(t) & (t >= 0)),
                "`temperature` must be ≥ 0 (0 = greedy). Received:",
                t,
            )
        )
        k = values["top_k"]
        vocabulary_size = self.tokenizer.vocabulary_size
        checks.append(
            _check(
                tf.reduce_all((k >= 0) & (k <= vocabulary_size)),
                f"`top_k` must be in [0, {vocabulary_size}] (0 = off). Received:",
                k,
            )
        )
        p = values["top_p"]
        checks.append(
            _check(
                tf.reduce_all((p > 0) & (p <= 1)),
                "`top_p` must be in (0, 1] (1 = off). Received:",
                p,
            )
        )
        return {name: _after(checks, value) for name, value in values.items()}

    # Decoding.

    def _generate(self, prompts, settings):
        """Ragged prompt ids + per-row settings → `(tokens (B, C), counts (B,))`."""
        eot = self.tokenizer.end_of_text_id
        pad = self.tokenizer.padding_id
        batch = tf.shape(prompts.row_lengths())[0]
        max_new_tokens = settings["max_new_tokens"]
        lengths = tf.cast(prompts.row_lengths(), tf.int32)
        if self.is_lstm:
            room = tf.fill([batch], LSTM_MAX_PROMPT_TOKENS)
        else:
            room = self.context - max_new_tokens
        # Left-truncate to the room before the new tokens; an empty prompt
        # starts from end-of-text (kept = 1 of "[eot] + prompt").
        kept = tf.maximum(tf.minimum(lengths, room), 1)
        with_eot = tf.concat([tf.fill([batch, 1], eot), prompts.to_tensor(pad)], 1)
        prompt_length = _round_up(tf.reduce_max(kept), self.prompt_buckets)
        rows = _round_up(batch, self.batch_buckets)
        new_tokens = _round_up(tf.reduce_max(max_new_tokens), self.new_token_buckets)
        # Left-padded (rows, P): column j of row r holds with_eot[r, start_r + j]
        # where start_r = (length_r + 1) - kept_r - (P - kept_r).
        columns = tf.range(prompt_length)[None, :]  # (1, P)
        first = prompt_length - kept[:, None]  # (B, 1) first real column
        source = lengths[:, None] + 1 - prompt_length + columns
        source = tf.clip_by_value(source, 0, tf.shape(with_eot)[1] - 1)
        prompt_ids = tf.where(
            columns >= first, tf.gather(with_eot, source, batch_dims=1), pad
        )
        padding_mask = tf.range(prompt_length + new_tokens)[None, :] >= first
        # Filler rows up to the batch bucket: one end-of-text token, 1 new.
        filler = rows - batch
        prompt_ids = tf.concat(
            [prompt_ids, tf.fill([filler, prompt_length], eot)], axis=0
        )
        padding_mask = tf.concat(
            [
                padding_mask,
                tf.broadcast_to(
                    tf.range(prompt_length + new_tokens)[None, :] >= prompt_length - 1,
                    [filler, prompt_length + new_tokens],
                ),
            ],
            axis=0,
        )

        def padded(value, fill):
            return tf.concat([value, tf.fill([filler], fill)], axis=0)

        seeds = tf.stack([settings["seed"], tf.zeros_like(settings["seed"])], axis=1)
        tokens, _ = self.decode(
            prompt_ids,
            padding_mask,
            padded(max_new_tokens, 1),
            padded(settings["temperature"], 0.0),
            padded(settings["top_k"], 0),
            padded(settings["top_p"], 1.0),
            tf.concat([seeds, tf.zeros([filler, 2], tf.int32)], axis=0),
            eot,
            pad,
        )
        tokens = tokens[:batch]  # (B, C)
        # Generated = up to and including end-of-text, within the budget.
        is_end = tf.equal(tokens, eot)
        first_end = tf.where(
            tf.reduce_any(is_end, axis=1),
            tf.argmax(tf.cast(is_end, tf.int32), axis=1, output_type=tf.int32) + 1,
            new_tokens,
        )
        counts = tf.minimum(first_end, max_new_tokens)
        in_output = tf.range(tf.shape(tokens)[1])[None, :] < counts[:, None]
        return tf.where(in_output, tokens, pad), counts

    # Signatures.

    def serving_default(self, prompt, **settings):
        prompt = self._check_texts(prompt, "prompt")
        batch = tf.shape(prompt)[0]
        settings = self._settings(batch, **settings)
        tokens, counts = self._generate(self.tokenizer.tokenize(prompt), settings)
        text = self.tokenizer.detokenize(tf.RaggedTensor.from_tensor(tokens, counts))
        return {"text": text, "num_generated_tokens": counts}

    def generate_ids(self, token_ids, prompt_length, **settings):
        batch = tf.shape(token_ids)[0]
        checks = self._check_batch(batch, "token_ids")
        checks.append(
            _check(
                tf.size(prompt_length) == batch,
                "`prompt_length` must hold one length per row of `token_ids`. "
                "Received sizes (prompt_length, rows):",
                tf.size(prompt_length),
                batch,
            )
        )
        checks.append(
            _check(
                tf.reduce_all(
                    (prompt_length >= 0) & (prompt_length <= tf.shape(token_ids)[1])
                ),
                "`prompt_length` must be in [0, columns of `token_ids`]. Received:",
                prompt_length,
            )
        )
        prompt_length = _after(checks, prompt_length)
        prompts = tf.RaggedTensor.from_tensor(token_ids, prompt_length)
        vocabulary_size = self.tokenizer.vocabulary_size
        ids_check = _check(
            tf.reduce_all(prompts.flat_values >= 0)
            & tf.reduce_all(prompts.flat_values < vocabulary_size),
            f"`token_ids` must be in [0, {vocabulary_size}).",
        )
        prompts = prompts.with_flat_values(_after([ids_check], prompts.flat_values))
        settings = self._settings(batch, **settings)
        tokens, counts = self._generate(prompts, settings)
        return {"token_ids": tokens, "num_generated_tokens": counts}

    def score(self, text):
        text = self._check_texts(text, "text")
        eot = self.tokenizer.end_of_text_id
        pad = self.tokenizer.padding_id
        ids = self.tokenizer.tokenize(text)
        batch = tf.shape(text)[0]
        lengths = tf.cast(ids.row_lengths(), tf.int32)  # tokens scored per row
        limit = LSTM_MAX_PROMPT_TOKENS - 1 if self.is_lstm else self.context - 1
        length_check = _check(
            tf.reduce_all(lengths <= limit),
            f"Each `text` must be at most {limit} tokens to score (the context "
            "less the leading end-of-text). Received token counts:",
            lengths,
        )
        lengths = _after([length_check], lengths)
        inputs = tf.concat([tf.fill([batch, 1], eot), ids.to_tensor(pad)], axis=1)
        width = _round_up(tf.reduce_max(lengths) + 1, self.prompt_buckets)
        if not self.is_lstm:
            width = tf.minimum(width, self.context)
        rows = _round_up(batch, self.batch_buckets)
        # Right padding: causal attention never lets it change earlier logits.
        inputs = tf.pad(
            inputs,
            [[0, rows - batch], [0, width - tf.shape(inputs)[1]]],
            constant_values=pad,
        )
        logits = self.forward(inputs)[:batch, :-1]  # (B, W - 1, V) float32
        targets = inputs[:batch, 1:]
        log_probs = tf.gather(tf.nn.log_softmax(logits), targets, batch_dims=2)
        scored = tf.range(width - 1)[None, :] < lengths[:, None]
        log_likelihood = tf.reduce_sum(tf.where(scored, log_probs, 0.0), axis=1)
        return {"log_likelihood": log_likelihood, "num_tokens": lengths}


def _setting_specs():
    return {
        name: tf.TensorSpec([None], dtype, name=name)
        for name, (dtype, _) in GENERATION_SETTINGS.items()
    }


def _defaults(max_new_tokens):
    """Default value of each optional input, as a `[1]` tensor."""
    values = {name: default for name, (_, default) in GENERATION_SETTINGS.items()}
    values["max_new_tokens"] = max_new_tokens
    return {
        name: tf.constant([values[name]], GENERATION_SETTINGS[name][0])
        for name in GENERATION_SETTINGS
    }


def _endpoints(signatures, max_new_tokens):
    """`{name: (function, input signature)}`; optional inputs have defaults."""
    d = _defaults(max_new_tokens)
    settings = _setting_specs()

    # Defaults in the Python signature become the SignatureDef's `defaults`.
    def serving_default(
        prompt,
        max_new_tokens=d["max_new_tokens"],
        temperature=d["temperature"],
        top_k=d["top_k"],
        top_p=d["top_p"],
        seed=d["seed"],
    ):
        return signatures.serving_default(
            prompt,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
        )

    def generate_ids(
        token_ids,
        prompt_length,
        max_new_tokens=d["max_new_tokens"],
        temperature=d["temperature"],
        top_k=d["top_k"],
        top_p=d["top_p"],
        seed=d["seed"],
    ):
        return signatures.generate_ids(
            token_ids,
            prompt_length,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
        )

    return {
        "serving_default": (
            serving_default,
            [tf.TensorSpec([None], tf.string, name="prompt"), *settings.values()],
        ),
        "generate_ids": (
            generate_ids,
            [
                tf.TensorSpec([None, None], tf.int32, name="token_ids"),
                tf.TensorSpec([None], tf.int32, name="prompt_length"),
                *settings.values(),
            ],
        ),
        "score": (signatures.score, [tf.TensorSpec([None], tf.string, name="text")]),
    }


def _check_out_dir(out_dir):
    version = os.path.basename(os.path.normpath(out_dir))
    if not version.isdigit():
        raise ValueError(
            "`out_dir` must end in an integer version directory, TF Serving's "
            f"layout (e.g. export/NAME/1). Received: out_dir={out_dir!r}"
        )
    if os.path.exists(out_dir) and os.listdir(out_dir):
        raise ValueError(
            "`out_dir` already holds a version; a served version is never "
            "overwritten, export a new version number instead. "
            f"Received: out_dir={out_dir!r}"
        )


def _warmup_requests(signatures, model_name, prompt_lengths):
    """PredictionLog records that compile the shapes of typical traffic.

    The decode loop compiles once per (rows, prompt length, new-token)
    bucket. `generate_ids` reaches each (rows, prompt length) bucket exactly
    whatever the tokenizer, and shares the compiled loop with
    `serving_default`; then `serving_default` and `score` once per row
    bucket. All at the default `max_new_tokens`.
    """
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    def record(signature, inputs):
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
        )
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        log = prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=request)
        )
        return log.SerializeToString()

    row_buckets = [int(rows) for rows in signatures.batch_buckets.numpy()]
    # A token that is neither end-of-text nor padding.
    token = min(
        {0, 1, 2, 3}
        - {signatures.tokenizer.end_of_text_id, signatures.tokenizer.padding_id}
    )
    records = [
        record(
            "generate_ids",
            {
                "token_ids": np.full([rows, length], token, np.int32),
                "prompt_length": np.full([rows], length, np.int32),
            },
        )
        for rows in row_buckets
        for length in prompt_lengths
    ]
    for rows in row_buckets:
        records.append(
            record("serving_default", {"prompt": np.array([b"Hello"] * rows)})
        )
        records.append(record("score", {"text": np.array([b"Hello"] * rows)}))
    return records


def _graph_ops(saved_model_dir):
    """Op types in the SavedModel's graph and functions."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    graph = proto.meta_graphs[0].graph_def
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops.update(node.op for node in function.node_def)
    return sorted(ops)


def export_saved_model(
    model_dir: str,
    out_dir: str,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    max_new_tokens: int | None = None,
    jit_compile: bool = True,
    model_name: str | None = None,
    warmup_prompt_lengths: tuple[int, ...] = (8, 16, 32, 64),
) -> dict:
    """Writes a TF Serving SavedModel (`out_dir` = `.../NAME/VERSION`).

    Args:
        model_dir: a keras_nlg model directory.
        out_dir: the version directory to create (TF Serving's layout:
            base path `NAME`, integer `VERSION`); it must not hold a version.
        max_batch_size: rows a call accepts (more → InvalidArgument); match
            `max_batch_size` of the server's batching parameters.
        max_new_tokens: default of the optional `max_new_tokens` input
            (default 64, or less where the context is shorter).
        jit_compile: XLA-compile the decode loop and the scoring pass (one
            compilation per shape bucket, paid by the warm-up requests).
            Use False for a TF Serving build without XLA JIT.
        model_name: the name in the warm-up requests and the model card
            (default: the parent directory's name).
        warmup_prompt_lengths: prompt lengths (tokens) the warm-up requests
            compile at every row bucket (those that fit the context); each
            is a compilation at load time, none left for the first requests.

    Returns:
        The model card written to `model_card.json` beside the graph.
    """
    _check_out_dir(out_dir)
    check_positive_int("max_batch_size", max_batch_size)
    model, tokenizer, config = load(model_dir)
    signatures = _Signatures(model, tokenizer, max_batch_size, jit_compile)
    if max_new_tokens is None:
        max_new_tokens = min(DEFAULT_MAX_NEW_TOKENS, signatures.max_new_tokens_limit)
    if (
        not isinstance(max_new_tokens, int)
        or not 1 <= max_new_tokens <= signatures.max_new_tokens_limit
    ):
        raise ValueError(
            f"`max_new_tokens` must be in [1, {signatures.max_new_tokens_limit}]. "
            f"Received: max_new_tokens={max_new_tokens!r}"
        )
    model_name = model_name or os.path.basename(
        os.path.dirname(os.path.normpath(os.path.abspath(out_dir)))
    )
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (function, input_signature) in _endpoints(
        signatures, max_new_tokens
    ).items():
        archive.add_endpoint(name, function, input_signature=input_signature)
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    # Written beside and renamed into place: a server polling the base path
    # never sees a half-written version.
    scratch = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        archive.write_out(scratch, verbose=False)
        assets = os.path.join(scratch, "assets")
        os.makedirs(assets, exist_ok=True)
        save_tokenizer(tokenizer, assets)
        os.makedirs(os.path.join(scratch, "assets.extra"), exist_ok=True)
        with tf.io.TFRecordWriter(os.path.join(scratch, WARMUP_FILE)) as writer:
            # Longer prompts are cut to the room beside the default new tokens
            # (their shapes are those of the smallest bucket holding it).
            room = (signatures.context or LSTM_MAX_PROMPT_TOKENS) - max_new_tokens
            lengths = [
                n for n in warmup_prompt_lengths if n <= max(room, MIN_PROMPT_BUCKET)
            ]
            for request in _warmup_requests(signatures, model_name, lengths):
                writer.write(request)
        card = _model_card(
            model,
            tokenizer,
            config,
            model_dir,
            scratch,
            signatures,
            max_new_tokens,
            jit_compile,
        )
        card["name"] = model_name
        with open(os.path.join(scratch, MODEL_CARD_FILE), "w") as f:
            json.dump(card, f, indent=2)
            f.write("\n")
        if os.path.exists(out_dir):
            os.rmdir(out_dir)  # empty (checked above)
        os.rename(scratch, out_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return card


def _model_card(
    model, tokenizer, config, model_dir, export_dir, signatures, max_new_tokens, jit
):
    metrics_path = os.path.join(model_dir, METRICS_FILE)
    metrics = None
    if os.path.isfile(metrics_path):
        with open(metrics_path) as f:
            metrics = json.load(f)
    ops = _graph_ops(export_dir)
    # tf.raw_ops lists core TensorFlow's ops; XLA's (cache updates inside the
    # compiled loop) come with any XLA-enabled TensorFlow; the rest come from
    # tensorflow-text, whose op library the server must load.
    xla_ops = [op for op in ops if op.startswith("Xla")]
    text_ops = [op for op in ops if not hasattr(tf.raw_ops, op) and op not in xla_ops]
    from keras_nlg import __version__

    return {
        "format": "keras_nlg.saved_model/1",
        "keras_nlg_version": __version__,
        "exported_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "architecture": type(model).__name__,
        "model_config": model.get_config(),
        "parameters": int(model.count_params()),
        "tokenizer": {
            "class_name": type(tokenizer).__name__,
            "vocabulary_size": tokenizer.vocabulary_size,
            "end_of_text_id": tokenizer.end_of_text_id,
            "padding_id": tokenizer.padding_id,
            "special_tokens": tokenizer.special_tokens,
        },
        "training": config.get("training"),
        "source": {k: config.get(k) for k in ("arch", "preset", "task")},
        "metrics": metrics,
        "signatures": list(SIGNATURES),
        "limits": {
            "max_batch_size": signatures.max_batch_size,
            "max_prompt_bytes": MAX_PROMPT_BYTES,
            "max_new_tokens": signatures.max_new_tokens_limit,
            "default_max_new_tokens": max_new_tokens,
            "context_length": signatures.context,
        },
        "jit_compile": jit,
        "ops": {"all": ops, "xla": xla_ops, "tensorflow_text": text_ops},
    }
