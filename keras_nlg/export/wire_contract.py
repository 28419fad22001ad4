"""The SavedModel wire contract: the names and dtypes that cross the wire.

One place shared by the exporter (`keras_nlg.export.saved_model`), the
TF-Serving-protocol server (`keras_nlg.serving`) and the clients, so a name
changes everywhere at once. A leaf module: it imports nothing, not even
TensorFlow (dtypes are TensorFlow/NumPy dtype names), so clients stay light.

The defaults of the optional generation inputs are not here: they come from
the exported model's `GenerationConfig` and travel in the SignatureDef's
`defaults` (see `keras_nlg.export.saved_model`).
"""

SERVING_DEFAULT = "serving_default"
GENERATE_IDS = "generate_ids"
SCORE = "score"
SIGNATURES = (SERVING_DEFAULT, GENERATE_IDS, SCORE)

# Required inputs, per signature: name -> dtype name (shape in the comment).
PROMPT = "prompt"  # string [batch]
TOKEN_IDS = "token_ids"  # int32 [batch, length], right-padded
PROMPT_LENGTH = "prompt_length"  # int32 [batch]
TEXT = "text"  # string [batch]

# Optional inputs of serving_default and generate_ids, each [1] (one value
# for the request) or [batch]: name -> dtype name. Their meaning is that of
# the `GenerationConfig` field of the same name; `temperature` 0 is greedy.
GENERATION_INPUTS = {
    "max_new_tokens": "int32",
    "min_new_tokens": "int32",
    "temperature": "float32",
    "top_k": "int32",
    "top_p": "float32",
    "min_p": "float32",
    "no_repeat_ngram_size": "int32",
    "seed": "int32",
}

# Outputs: serving_default -> text, num_generated_tokens; generate_ids ->
# token_ids, num_generated_tokens; score -> log_likelihood, num_tokens.
NUM_GENERATED_TOKENS = "num_generated_tokens"  # int32 [batch]
LOG_LIKELIHOOD = "log_likelihood"  # float32 [batch], natural log
NUM_TOKENS = "num_tokens"  # int32 [batch]

MAX_PROMPT_BYTES = 1 << 20
# Files beside the graph in a version directory.
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"  # TF Serving's name
MODEL_CARD_FILE = "model_card.json"
