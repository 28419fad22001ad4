"""SavedModel export in TF Serving's layout: strings in, strings out.

`export_saved_model(model_dir, "export/NAME/VERSION")` writes, with
`keras.export.ExportArchive`:

- `serving_default`: `prompt` tf.string `[batch]`, and optionally
  `max_new_tokens` int32, `temperature` float32 (0 = greedy), `top_k` int32
  (0 = off), `top_p` float32 (1 = off), `seed` int32, each `[batch]` or
  `[1]` (one value for the whole request) → `text` tf.string `[batch]`,
  `num_generated_tokens` int32 `[batch]`: exactly the tokens behind `text`
  (end-of-text, where a row ended with it, is not counted; `text` is their
  detokenization, as `keras_nlg.generate`'s `token_ids` and `text`).
  Stop strings are not served: a client cuts the text.
  The optional inputs have defaults in the SignatureDef (`defaults`), which
  a server fills in for a request that leaves them out.
- `generate_ids`: `token_ids` int32 `[batch, length]` (right-padded) with
  `prompt_length` int32 `[batch]` and the same optional inputs → `token_ids`
  int32 `[batch, new]` (the generated tokens, end-of-text excluded, then
  padding) and `num_generated_tokens` (how many of them).
- `score`: `text` tf.string `[batch]` → `log_likelihood` float32 `[batch]`
  (natural log, of the text's tokens after an end-of-text, as in training)
  and `num_tokens` int32 `[batch]`.

Tokenization, the cached decode loop and detokenization all run in the
graph. By default the graph has no XLA: stock TF Serving runs it on GPU
as on CPU (`placement.gpu_placement` checks it and `model_card.json`'s
`runtimes` records it); `jit_compile=True` XLA-compiles the loop per shape,
several times faster on CPU, for TF Serving's CPU build only. Each row
draws from its own seed (see `keras_nlg.generation.sampling`), so a row's
text doesn't depend on what the server batched it with. Bad inputs (empty
batch, too many rows, a prompt over 1 MiB, invalid UTF-8, out-of-range
settings) fail inside the graph with InvalidArgument and a message naming
the input: TF Serving returns that as INVALID_ARGUMENT.

Beside the graph: `assets/` holds the tokenizer files (for clients of
`generate_ids`), `assets.extra/tf_serving_warmup_requests` a few requests
that compile the common shapes at load time, and `model_card.json`.

The names and dtypes on the wire are `keras_nlg.export.wire_contract`'s.
Modules: `signatures` (the in-graph serving functions), `settings` (the
optional generation inputs: defaults and rules), `graph_checks` (in-graph
input checks), `warmup` (the warm-up file), `model_card`, `placement` (can
TF Serving's GPU build run it), and `exporter`
(`export_saved_model`, which writes them all).
"""

from keras_nlg.export.saved_model.exporter import (
    DEFAULT_MAX_BATCH_SIZE,
    DEFAULT_MAX_NEW_TOKENS,
    export_saved_model,
)
from keras_nlg.export.saved_model.placement import gpu_placement
from keras_nlg.export.saved_model.settings import SERVED_SETTINGS
from keras_nlg.export.saved_model.signatures import (
    MIN_NEW_TOKENS_BUCKET,
    NO_CONTEXT_MAX_NEW_TOKENS,
    NO_CONTEXT_MAX_PROMPT_TOKENS,
)
from keras_nlg.export.wire_contract import (
    MAX_PROMPT_BYTES,
    MODEL_CARD_FILE,
    SIGNATURES,
    WARMUP_FILE,
)

__all__ = [
    "DEFAULT_MAX_BATCH_SIZE",
    "DEFAULT_MAX_NEW_TOKENS",
    "MAX_PROMPT_BYTES",
    "MIN_NEW_TOKENS_BUCKET",
    "MODEL_CARD_FILE",
    "NO_CONTEXT_MAX_NEW_TOKENS",
    "NO_CONTEXT_MAX_PROMPT_TOKENS",
    "SERVED_SETTINGS",
    "SIGNATURES",
    "WARMUP_FILE",
    "export_saved_model",
    "gpu_placement",
]
