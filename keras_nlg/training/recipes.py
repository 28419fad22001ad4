"""Each training recipe's defaults and rules, read by `TrainingConfig`.

`"lm"` (`train`), `"finetune"` (`finetune`) and `"e2e"` (`train_e2e`): the
defaults a recipe fills in, the fields it has no use for, the settings
only one recipe takes, and the fields checked by kind (see
`keras_nlg.training.config`).
"""

from keras_nlg.argument_checks import is_int

RECIPES = ("lm", "finetune", "e2e")
# Tokenizers `train` and `train_e2e` can build (evaluation.words has another
# list: the word splitters of the diversity metrics).
TRAINING_TOKENIZERS = ("byte", "sentencepiece")

DEFAULT_LEARNING_RATE = {"transformer": 1e-3, "lstm": 2e-3}
DEFAULT_SEQUENCE_LENGTH = 256  # the cap when the model's context is longer
DEFAULT_SENTENCEPIECE_VOCABULARY = {"lm": 8000, "e2e": 2000}
# Fine-tuning every weight takes small steps; LoRA adapters start at zero
# and need larger ones.
FINETUNE_LEARNING_RATE = 1e-4
LORA_LEARNING_RATE = 1e-3
# The E2E recipe's defaults were chosen on the dev set (benchmarks/RESULTS.md,
# "E2E"); its model also gets dropout (see `E2E_DROPOUT`).
E2E_LEARNING_RATE = 1e-3
E2E_DROPOUT = 0.1

# The settings a recipe fills in when left `None` (constant per recipe).
# Those that depend on other fields, the data or the model are rules of
# their own: `training_length`, `resolved_learning_rate`,
# `resolved_vocabulary_size`, `resolved_sequence_length`,
# `resolved_warmup_steps`; the E2E sample prompt is the first validation MR.
# Shared parts: a new model (lm, e2e), training on text files (lm, finetune).
_NEW_MODEL = dict(arch="transformer", preset="small", batch_size=32, weight_decay=0.1)
_TEXT_FILES = dict(validation_fraction=0.1, sample_prompt="\n", documents="file")
# What one document of the text files is (end-of-text goes between them).
DOCUMENT_UNITS = ("file", "line")
RECIPE_DEFAULTS = {
    "lm": {**_NEW_MODEL, **_TEXT_FILES, "tokenizer": "byte"},
    "finetune": {**_TEXT_FILES, "batch_size": 8, "weight_decay": 0.0},
    "e2e": {
        **_NEW_MODEL,
        "tokenizer": "sentencepiece",
        # Off by default although it wins on the generalisation split
        # (benchmarks/RESULTS.md, "E2E generalisation": +4.7 held-out BLEU):
        # `generate`, the CLI's generate and the exports don't put the values
        # back yet, only `evaluate`/`generate_for_mrs` do.
        "delexicalize": False,
    },
}
# Runs at least this long compile their train step with XLA by default
# (`TrainingConfig.resolved_jit_compile`). On this 2-core CPU the XLA step of
# the mini preset (batch 24) takes 54 ms against 75 ms, for ~1.5 s more
# compiling: even at ~20 ms saved per step that breaks even near 75 steps;
# 200 leaves a margin for smaller models, which save less per step, and
# keeps short runs (the test suite's) from paying the compile. GPT-2 124M
# fine-tuning (batch 8 x 256): 8.0 -> 7.2 s per step for ~7 s more compiling,
# even after ~9 steps (benchmarks/RESULTS.md, nanoGPT section). The rule is
# per distinct batch shape, each compiled once: the E2E recipe's length
# buckets (small preset, batch 32: 403 -> 321 ms per step, but 5 shapes
# compiled in 32 s against 5 s of graph retracing; even near 340 steps).
XLA_MIN_STEPS = 200
# The most steps between validations with `steps` (`minutes` plans its own).
STEPS_PER_EPOCH = {"lm": 200, "finetune": 200, "e2e": 500}
# Training length when neither `steps` nor `epochs` is given.
DEFAULT_LENGTH = {
    "lm": ("steps", 1000),
    "finetune": ("steps", 200),
    "e2e": ("epochs", 6),
}

# What `keras-nlg train` (task lm) prints after training: a sample of this
# length after this prompt (also the prompt of its TensorBoard samples).
COMMAND_LINE_SAMPLE_PROMPT = "ROMEO:"
COMMAND_LINE_SAMPLE_TOKENS = 300

# The fields a recipe has no use for, and why (the error says so; the E2E
# ones name the flag too, as `keras-nlg train --task e2e` reports them).
NOT_APPLICABLE = {
    "finetune": {
        name: f"`{name}` does not apply to fine-tuning (the model keeps its own)"
        for name in ("arch", "preset", "model_overrides", "tokenizer")
        + ("vocabulary_size",)
    },
    "e2e": {
        "sequence_length": "`sequence_length`/--sequence-length does not apply to "
        "--task e2e (each example is one MR and its text)",
        "validation_fraction": "`validation_fraction` does not apply to --task e2e "
        "(it validates on the validation CSV)",
        "validation_steps": "`validation_steps`/--validation-steps does not apply to "
        "--task e2e (it validates on all of the validation CSV)",
        "documents": "`documents`/--documents does not apply to --task e2e (each "
        "example is one MR and its text)",
    },
}
# Fields only one recipe uses: recipe -> (fields, how the error names it).
RECIPE_ONLY = {
    "finetune": (("lora_rank", "lora_alpha"), "fine-tuning"),
    "e2e": (("delexicalize",), "--task e2e"),
}
POSITIVE_INTS = (
    *("vocabulary_size", "steps", "epochs", "batch_size", "sequence_length"),
    *("validation_steps", "steps_per_epoch", "lora_rank"),
)


def _optional(kind):
    return lambda value: value is None or isinstance(value, kind)


# The fields checked by type (TypeError): name, test, what the error expects.
TYPE_RULES = (
    ("seed", is_int, "an int"),
    ("delexicalize", _optional(bool), "True or False"),
    ("jit_compile", _optional(bool), "True or False"),
    ("sample_prompt", _optional(str), "a string"),
    ("model_overrides", _optional(dict), "a dict of model constructor arguments"),
)
