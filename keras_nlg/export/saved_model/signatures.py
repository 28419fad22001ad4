"""The in-graph serving functions: `serving_default`, `generate_ids`, `score`.

`Signatures` holds a model and its tokenizer and implements the three
functions with TensorFlow ops only (tokenization, the cached decode loop,
detokenization); `endpoints` gives them the Python signatures whose
defaults become the SignatureDefs' `defaults`. Shapes round up to buckets
(powers of two) so that the XLA-compiled loop compiles once per bucket.
What the model is matters only through the `LanguageModel` contract: its
`context_length` (None: no limit, then `NO_CONTEXT_*` bound a request) and
its decode step.
"""

import inspect

import tensorflow as tf

from keras_nlg.export import wire_contract as wire
from keras_nlg.export.saved_model.graph_checks import (
    after,
    check,
    check_rows,
    checked_texts,
)
from keras_nlg.export.saved_model.settings import (
    SERVED_SETTINGS,
    checked_settings,
    default_values,
    filler_value,
    setting_specs,
)
from keras_nlg.generation.engine import compiled_served_decode, knobs_for_rows
from keras_nlg.generation.packing import pack_prompts
from keras_nlg.generation.shapes import MIN_PROMPT_BUCKET, MIN_ROWS
from keras_nlg.generation.tracing import traced_once

# A model without a context limit (`context_length` None, the LSTM): these
# bound a request's prompt and loop instead.
NO_CONTEXT_MAX_PROMPT_TOKENS = 4096
NO_CONTEXT_MAX_NEW_TOKENS = 1024
MIN_NEW_TOKENS_BUCKET = 16


def buckets(minimum, limit):
    """Powers of two from `minimum`, then `limit`: the sizes shapes round to."""
    sizes = []
    size = minimum
    while size < limit:
        sizes.append(size)
        size *= 2
    return tf.constant(sizes + [limit], tf.int32)


def round_up(value, sizes):
    """The smallest of `sizes` ≥ `value` (scalar int32)."""
    return tf.reduce_min(tf.where(sizes >= value, sizes, sizes[-1]))


class Signatures:
    """The three serving functions over one model and tokenizer.

    Attributes:
        context_length: the model's, None for no limit.
        max_prompt_tokens: the longest prompt (tokens) a row keeps.
        max_new_tokens_limit: the largest `max_new_tokens` accepted.
        batch_buckets: the row counts a batch rounds up to.
    """

    def __init__(self, model, tokenizer, max_batch_size, jit_compile):
        self.model = model
        self.tokenizer = tokenizer
        self.max_batch_size = max_batch_size
        self.context_length = model.context_length
        if self.context_length is None:
            self.max_prompt_tokens = NO_CONTEXT_MAX_PROMPT_TOKENS
            self.max_new_tokens_limit = NO_CONTEXT_MAX_NEW_TOKENS
        else:
            self.max_prompt_tokens = self.context_length - 1
            self.max_new_tokens_limit = self.context_length - 1
        self.prompt_buckets = buckets(MIN_PROMPT_BUCKET, self.max_prompt_tokens)
        self.new_token_buckets = buckets(
            min(MIN_NEW_TOKENS_BUCKET, self.max_new_tokens_limit),
            self.max_new_tokens_limit,
        )
        # A lone request decodes beside a filler row (see MIN_ROWS).
        self.batch_buckets = buckets(min(MIN_ROWS, max_batch_size), max_batch_size)
        self.decode = compiled_served_decode(model, jit_compile)
        self.forward = traced_once(
            model,
            ("score", jit_compile),
            lambda model, token_ids: model(token_ids),
            jit_compile=jit_compile,
        )

    def prompt_room(self, max_new_tokens):
        """Tokens a prompt may keep beside `max_new_tokens` new ones."""
        if self.context_length is None:
            return tf.fill(tf.shape(max_new_tokens), NO_CONTEXT_MAX_PROMPT_TOKENS)
        return self.context_length - max_new_tokens

    def _settings(self, rows, settings):
        return checked_settings(
            rows,
            settings,
            self.max_new_tokens_limit,
            self.tokenizer.vocabulary_size,
        )

    def _generate(self, prompts, settings):
        """Ragged prompt ids + per-row settings → `(tokens (B, C), counts (B,))`.

        Row b's generated tokens are `tokens[b, :counts[b]]` (padding after):
        end-of-text, when it came, is not among them.
        """
        eot = self.tokenizer.end_of_text_id
        pad = self.tokenizer.padding_id
        batch = tf.shape(prompts.row_lengths())[0]
        max_new_tokens = settings["max_new_tokens"]
        room = self.prompt_room(max_new_tokens)
        # The tokens each prompt keeps (as `pack_prompts` counts them): the
        # longest sets the prompt bucket.
        lengths = tf.cast(prompts.row_lengths(), tf.int32)
        kept = tf.maximum(tf.minimum(lengths, room), 1)
        prompt_length = round_up(tf.reduce_max(kept), self.prompt_buckets)
        rows = round_up(batch, self.batch_buckets)
        new_tokens = round_up(tf.reduce_max(max_new_tokens), self.new_token_buckets)
        prompt_ids, padding_mask, _ = pack_prompts(
            prompts, room, rows, prompt_length, prompt_length + new_tokens, eot, pad
        )
        # Filler rows (up to the row bucket) decode one token, greedily.
        filler = rows - batch
        per_row = {
            name: tf.concat([value, tf.fill([filler], filler_value(name))], axis=0)
            for name, value in settings.items()
        }
        seeds = tf.stack([per_row["seed"], tf.zeros_like(per_row["seed"])], axis=1)
        knobs = knobs_for_rows(
            rows,
            repetition_penalty=1.0,
            **{n: per_row[n] for n in per_row if n != "seed"},
        )
        tokens, _ = self.decode(prompt_ids, padding_mask, knobs, seeds, eot, pad)
        tokens = tokens[:batch]  # (B, C)
        # The tokens behind the text: those before end-of-text (which is not
        # one of them, as in `keras_nlg.generate`'s `token_ids`), within the
        # budget. Stop strings are not served (a client-side cut).
        is_end = tf.equal(tokens, eot)
        first_end = tf.where(
            tf.reduce_any(is_end, axis=1),
            tf.argmax(tf.cast(is_end, tf.int32), axis=1, output_type=tf.int32),
            new_tokens,
        )
        counts = tf.minimum(first_end, max_new_tokens)
        in_output = tf.range(tf.shape(tokens)[1])[None, :] < counts[:, None]
        return tf.where(in_output, tokens, pad), counts

    # Signatures.

    def serving_default(self, prompt, **settings):
        prompt = checked_texts(prompt, wire.PROMPT, self.max_batch_size)
        settings = self._settings(tf.shape(prompt)[0], settings)
        tokens, counts = self._generate(self.tokenizer.tokenize(prompt), settings)
        text = self.tokenizer.detokenize(tf.RaggedTensor.from_tensor(tokens, counts))
        return {wire.TEXT: text, wire.NUM_GENERATED_TOKENS: counts}

    def generate_ids(self, token_ids, prompt_length, **settings):
        rows = tf.shape(token_ids)[0]
        checks = check_rows(rows, wire.TOKEN_IDS, self.max_batch_size)
        checks.append(
            check(
                tf.size(prompt_length) == rows,
                "`prompt_length` must hold one length per row of `token_ids`. "
                "Received sizes (prompt_length, rows):",
                tf.size(prompt_length),
                rows,
            )
        )
        checks.append(
            check(
                tf.reduce_all(
                    (prompt_length >= 0) & (prompt_length <= tf.shape(token_ids)[1])
                ),
                "`prompt_length` must be in [0, columns of `token_ids`]. Received:",
                prompt_length,
            )
        )
        prompt_length = after(checks, prompt_length)
        prompts = tf.RaggedTensor.from_tensor(token_ids, prompt_length)
        vocabulary_size = self.tokenizer.vocabulary_size
        ids_check = check(
            tf.reduce_all(prompts.flat_values >= 0)
            & tf.reduce_all(prompts.flat_values < vocabulary_size),
            f"`token_ids` must be in [0, {vocabulary_size}).",
        )
        prompts = prompts.with_flat_values(after([ids_check], prompts.flat_values))
        settings = self._settings(rows, settings)
        tokens, counts = self._generate(prompts, settings)
        return {wire.TOKEN_IDS: tokens, wire.NUM_GENERATED_TOKENS: counts}

    def score(self, text):
        text = checked_texts(text, wire.TEXT, self.max_batch_size)
        eot = self.tokenizer.end_of_text_id
        pad = self.tokenizer.padding_id
        ids = self.tokenizer.tokenize(text)
        batch = tf.shape(text)[0]
        lengths = tf.cast(ids.row_lengths(), tf.int32)  # tokens scored per row
        limit = self.max_prompt_tokens
        length_check = check(
            tf.reduce_all(lengths <= limit),
            f"Each `text` must be at most {limit} tokens to score (the context "
            "less the leading end-of-text). Received token counts:",
            lengths,
        )
        lengths = after([length_check], lengths)
        inputs = tf.concat([tf.fill([batch, 1], eot), ids.to_tensor(pad)], axis=1)
        width = round_up(tf.reduce_max(lengths) + 1, self.prompt_buckets)
        if self.context_length is not None:
            width = tf.minimum(width, self.context_length)
        rows = round_up(batch, self.batch_buckets)
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
        return {wire.LOG_LIKELIHOOD: log_likelihood, wire.NUM_TOKENS: lengths}


def _with_settings(method, required, defaults):
    """`method` as a function of the required inputs, then each optional
    setting with its default: the Python signature `tf.function` reads, whose
    defaults become the SignatureDef's."""
    parameters = [
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        for name in required
    ] + [
        inspect.Parameter(
            name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=defaults[name]
        )
        for name in SERVED_SETTINGS
    ]
    signature = inspect.Signature(parameters)

    def endpoint(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return method(**bound.arguments)

    endpoint.__signature__ = signature
    endpoint.__name__ = method.__name__
    return endpoint


def endpoints(signatures, defaults):
    """`{name: (function, input signature)}`; optional inputs have `defaults`
    (`settings.served_defaults`)."""
    defaults = default_values(defaults)
    settings = setting_specs()
    return {
        wire.SERVING_DEFAULT: (
            _with_settings(signatures.serving_default, [wire.PROMPT], defaults),
            [tf.TensorSpec([None], tf.string, name=wire.PROMPT), *settings],
        ),
        wire.GENERATE_IDS: (
            _with_settings(
                signatures.generate_ids,
                [wire.TOKEN_IDS, wire.PROMPT_LENGTH],
                defaults,
            ),
            [
                tf.TensorSpec([None, None], tf.int32, name=wire.TOKEN_IDS),
                tf.TensorSpec([None], tf.int32, name=wire.PROMPT_LENGTH),
                *settings,
            ],
        ),
        wire.SCORE: (
            signatures.score,
            [tf.TensorSpec([None], tf.string, name=wire.TEXT)],
        ),
    }
