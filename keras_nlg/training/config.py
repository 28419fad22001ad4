"""`TrainingConfig`: every training setting, its default and its check.

The one place where the settings of `train`, `finetune` and `train_e2e` are
defined and validated, as `keras_nlg.generation.GenerationConfig` is for
generation. Each entry point takes one (its keyword arguments override it),
fills in the defaults that depend on the data or the model (the resolved
config) and records that whole config in the model directory's
`config.json` under `"training"`, so a run can be repeated from its record
(`TrainingConfig.from_record`).

Three recipes share the fields; a field that a recipe has no use for stays
`None` (see `RECIPES`):

- `"lm"` (`train`): a language model on text files.
- `"finetune"` (`finetune`): continue training a model directory; the model
  keeps its architecture, size and tokenizer.
- `"e2e"` (`train_e2e`): the E2E NLG data-to-text recipe, a Transformer
  trained on `MR + "\\n" + text` pairs from CSVs.
"""

from __future__ import annotations

import dataclasses
import math

from keras_nlg.argument_checks import MAX_COUNT, fail, is_count, is_int, is_number
from keras_nlg.models.presets import preset_config, preset_names
from keras_nlg.training.recipes import (
    COMMAND_LINE_SAMPLE_PROMPT,
    DEFAULT_LEARNING_RATE,
    DEFAULT_LENGTH,
    DEFAULT_SENTENCEPIECE_VOCABULARY,
    DEFAULT_SEQUENCE_LENGTH,
    DOCUMENT_UNITS,
    E2E_LEARNING_RATE,
    FINETUNE_LEARNING_RATE,
    LORA_LEARNING_RATE,
    NOT_APPLICABLE,
    POSITIVE_INTS,
    RECIPE_DEFAULTS,
    RECIPE_ONLY,
    RECIPES,
    STEPS_PER_EPOCH,
    TRAINING_TOKENIZERS,
    TYPE_RULES,
    XLA_MIN_STEPS,
)

# `minutes` beyond a year is a typo (and 60 × it must stay finite).
MAX_MINUTES = 525_600


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Training settings, validated when made.

    `None` means "the recipe's default": a constant one is filled in when
    the config is made (e.g. `TrainingConfig().batch_size == 32`), one that
    depends on the data or the model when training starts (the resolved
    config, recorded in `config.json`). Use the named constructors for the
    other recipes: `for_finetune()`, `for_e2e()`, `for_command_line()`.

    Args:
        recipe: `"lm"`, `"finetune"` or `"e2e"` (see the module docstring).
        arch: `"transformer"` or `"lstm"` (E2E: transformer only).
        preset: model size from `keras_nlg.models.PRESETS` (default small).
        model_overrides: constructor arguments replacing the preset's.
        tokenizer: `"byte"`, or `"sentencepiece"` (a unigram model trained on
            the training data first; the E2E default).
        vocabulary_size: SentencePiece vocabulary size (default 8000; E2E 2000).
        steps: optimizer steps to train (default 1000; fine-tuning 200).
        epochs: full passes over the training data instead (E2E default 6).
        batch_size: global batch size, split across replicas (default 32;
            fine-tuning 8).
        sequence_length: tokens per example; default the model's context
            length capped at 256 (not for E2E: an example is one MR + text).
        learning_rate: finite peak AdamW learning rate > 0; default 1e-3 for
            a transformer, 2e-3 for an LSTM, 1e-4 fine-tuning every weight,
            1e-3 with LoRA or for E2E.
        warmup_steps: linear warm-up steps (default 5% of training, ≤ 200).
        weight_decay: AdamW decoupled weight decay ≥ 0 (default 0.1;
            fine-tuning 0).
        validation_fraction: held-out tail of the corpus, in [0, 1)
            (default 0.1; E2E validates on its validation CSV instead).
        validation_steps: cap on validation batches per epoch (default all).
        steps_per_epoch: with `steps`, the most steps between validations,
            logs and backups (default 200; E2E 500, resolved when training
            starts: `resolved_steps_per_epoch`); `steps` is split into equal
            epochs, so it may be rounded up by a few steps (recorded as
            `total_steps`). With `minutes`: validate every this many steps
            (default: the budget decides).
        lora_rank: fine-tuning only: train rank-`lora_rank` adapters
            (merged into the saved model) instead of every weight.
        lora_alpha: LoRA scale numerator (update scaled by alpha / rank).
        max_minutes: stop after this many minutes of training steps (the
            model so far is saved; its schedule is cut short).
        minutes: train to a time budget instead of a step count: the whole
            run (from the call of `train`/`finetune`/`train_e2e` to the
            written directory) is sized to this many minutes of wall time
            after measuring the machine's step and validation time, and the
            learning rate decays fully within it
            (`keras_nlg.training.budget`). Not with `steps`, `epochs` or
            `max_minutes`; `steps_per_epoch`, if given, caps the steps
            between validations (default: the budget decides, ≤ 5% of the
            time on validation).
        sample_prompt: prompt of the TensorBoard text sample (default a
            newline; E2E: the first validation MR).
        documents: text files only: `"file"` (each file is one document, the
            default) or `"line"` (each non-empty line is one: short texts,
            one per line, each then starts after end-of-text and ends with
            it, as `generate` from an empty prompt and adversarial training
            expect).
        delexicalize: E2E only: train on MRs and texts with `name`/`near`
            replaced by placeholders (`keras_nlg.data.delexicalize`), the
            values put back after decoding by `generate_for_mrs` and
            `keras-nlg evaluate` (default False: `generate` and the exports
            don't relexicalise yet; see benchmarks/RESULTS.md for its gain).
        jit_compile: compile the train step with XLA (default: when it
            pays, see `resolved_jit_compile`).
        seed: seed of weights, data order and samples.

    Raises:
        ValueError: for a value out of its range, a field the recipe has no
            use for, or a combination that can't work, naming the field and
            the value received.
        TypeError: for an unknown field name (`replace`, `from_dict`) or a
            value of the wrong type.

    Example:

    >>> config = TrainingConfig(preset="tiny", steps=100)
    >>> config.replace(learning_rate=3e-4).learning_rate
    0.0003
    >>> TrainingConfig.for_finetune(lora_rank=8).resolved_learning_rate()
    0.001
    """

    recipe: str = "lm"
    arch: str | None = None
    preset: str | None = None
    model_overrides: dict | None = None
    tokenizer: str | None = None
    vocabulary_size: int | None = None
    steps: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    sequence_length: int | None = None
    learning_rate: float | None = None
    warmup_steps: int | None = None
    weight_decay: float | None = None
    validation_fraction: float | None = None
    validation_steps: int | None = None
    steps_per_epoch: int | None = None
    lora_rank: int | None = None
    lora_alpha: float | None = None
    max_minutes: float | None = None
    minutes: float | None = None
    sample_prompt: str | None = None
    documents: str | None = None
    delexicalize: bool | None = None
    jit_compile: bool | None = None
    seed: int = 0

    def __post_init__(self):
        if self.recipe not in RECIPES:
            fail("recipe", self.recipe, f"one of {RECIPES}")
        for name, value in RECIPE_DEFAULTS[self.recipe].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if isinstance(self.model_overrides, dict):
            # A copy: the caller's dict may change after, the config may not.
            object.__setattr__(self, "model_overrides", dict(self.model_overrides))
        self.validate()

    # Named constructors: the recipes' starting points.

    @classmethod
    def for_finetune(cls, **settings) -> TrainingConfig:
        """Continue training a model directory (`finetune`)."""
        return cls(recipe="finetune", **settings)

    @classmethod
    def for_e2e(cls, **settings) -> TrainingConfig:
        """The E2E data-to-text recipe (`train_e2e`)."""
        return cls(recipe="e2e", **settings)

    @classmethod
    def for_command_line(cls, **settings) -> TrainingConfig:
        """`keras-nlg train` (task lm): samples after `COMMAND_LINE_SAMPLE_PROMPT`."""
        return cls(**{"sample_prompt": COMMAND_LINE_SAMPLE_PROMPT, **settings})

    def validate(self) -> None:
        """Checks every field on its own and every combination (see Raises)."""
        for name in POSITIVE_INTS:
            value = getattr(self, name)
            if value is not None and not is_count(value):
                fail(name, value, f"a positive integer ≤ {MAX_COUNT}")
        warmup = self.warmup_steps
        if warmup is not None and (not is_int(warmup) or warmup < 0):
            fail("warmup_steps", warmup, "an integer ≥ 0")
        for name in ("learning_rate", "lora_alpha", "max_minutes", "minutes"):
            value = getattr(self, name)
            if value is not None and (not is_number(value) or not 0 < value < math.inf):
                fail(name, value, "a finite number > 0")
        wd = self.weight_decay
        if wd is not None and (not is_number(wd) or not 0 <= wd < math.inf):
            fail("weight_decay", wd, "a finite number ≥ 0")
        vf = self.validation_fraction
        if vf is not None and (not is_number(vf) or not 0 <= vf < 1):
            fail("validation_fraction", vf, "in [0, 1)")
        for name, is_valid, expected in TYPE_RULES:
            value = getattr(self, name)
            if not is_valid(value):
                raise TypeError(
                    f"`{name}` must be {expected}. Received: {name}={value!r}"
                )
        if self.documents is not None and self.documents not in DOCUMENT_UNITS:
            fail("documents", self.documents, f"one of {DOCUMENT_UNITS}")
        if self.tokenizer is not None and self.tokenizer not in TRAINING_TOKENIZERS:
            fail("tokenizer", self.tokenizer, f"one of {TRAINING_TOKENIZERS}")
        if self.arch is not None:
            preset_names(self.arch)  # ValueError naming an unknown arch
            if self.preset is not None:
                preset_config(self.arch, self.preset)  # ... or preset
        self._check_recipe_fields()
        if self.steps is not None and self.epochs is not None:
            raise ValueError(
                "Give `steps` or `epochs`, not both. "
                f"Received: steps={self.steps}, epochs={self.epochs}"
            )
        if self.minutes is not None and self.minutes > MAX_MINUTES:
            fail("minutes", self.minutes, f"at most {MAX_MINUTES} (a year)")
        if self.steps is not None and warmup is not None and warmup >= self.steps:
            raise ValueError(
                "`warmup_steps` must be less than `steps`. Received: "
                f"warmup_steps={warmup}, steps={self.steps}"
            )
        for other in ("steps", "epochs", "max_minutes"):
            if self.minutes is not None and getattr(self, other) is not None:
                raise ValueError(
                    f"Give `minutes` or `{other}`, not both (`minutes` sizes the "
                    f"run to the time). Received: minutes={self.minutes}, "
                    f"{other}={getattr(self, other)}"
                )
        if self.vocabulary_size is not None and self.tokenizer != "sentencepiece":
            raise ValueError(
                "`vocabulary_size` applies to the sentencepiece tokenizer only. "
                f"Received: vocabulary_size={self.vocabulary_size}, "
                f"tokenizer={self.tokenizer!r}"
            )

    def _check_recipe_fields(self):
        for name, why in NOT_APPLICABLE.get(self.recipe, {}).items():
            value = getattr(self, name)
            if value is not None:
                raise ValueError(f"{why}. Received: {name}={value!r}")
        for recipe, (names, where) in RECIPE_ONLY.items():
            for name in names if self.recipe != recipe else ():
                value = getattr(self, name)
                if value is not None:
                    raise ValueError(
                        f"`{name}` applies to {where} only. Received: "
                        f"{name}={value!r}, recipe={self.recipe!r}"
                    )
        if self.recipe == "e2e" and self.arch != "transformer":
            raise ValueError(
                "`arch`: --task e2e trains a transformer (--arch lstm is not "
                f"offered). Received: arch={self.arch!r}"
            )

    # The defaults that depend on other fields, the model or the data.

    def training_length(self) -> tuple[int | None, int | None]:
        """`(steps, epochs)`, one of them None: as given, else the recipe's
        (both None with `minutes`: the budget plans the steps)."""
        if self.steps is not None or self.epochs is not None or self.minutes:
            return self.steps, self.epochs
        name, value = DEFAULT_LENGTH[self.recipe]
        return (value, None) if name == "steps" else (None, value)

    def resolved_steps_per_epoch(self) -> int | None:
        """`steps_per_epoch`, else the recipe's (None with `minutes`: the
        budget picks the validation cadence)."""
        if self.steps_per_epoch is not None or self.minutes:
            return self.steps_per_epoch
        return STEPS_PER_EPOCH[self.recipe]

    def resolved_learning_rate(self) -> float:
        """`learning_rate`, else the recipe's default (per arch for `"lm"`)."""
        if self.learning_rate is not None:
            return self.learning_rate
        if self.recipe == "finetune":
            return LORA_LEARNING_RATE if self.lora_rank else FINETUNE_LEARNING_RATE
        if self.recipe == "e2e":
            return E2E_LEARNING_RATE
        return DEFAULT_LEARNING_RATE[self.arch]

    def resolved_vocabulary_size(self) -> int:
        """The size of a SentencePiece vocabulary trained for this run."""
        return self.vocabulary_size or DEFAULT_SENTENCEPIECE_VOCABULARY[self.recipe]

    def resolved_sequence_length(self, context_length: int | None) -> int:
        """`sequence_length`, else the model's context capped at 256.

        Raises:
            ValueError: if `sequence_length` exceeds `context_length`.
        """
        length = self.sequence_length
        if length is None:
            length = min(
                context_length or DEFAULT_SEQUENCE_LENGTH, DEFAULT_SEQUENCE_LENGTH
            )
        if context_length and length > context_length:
            raise ValueError(
                "`sequence_length` must be ≤ the model's "
                f"context_length={context_length}. Received: sequence_length={length}"
            )
        return length

    def resolved_warmup_steps(self, total_steps: int) -> int:
        """`warmup_steps`, else 5% of training, at most 200 (none for one step)."""
        if self.warmup_steps is not None:
            return self.warmup_steps
        return min(200, total_steps // 20)

    def resolved_jit_compile(
        self,
        total_steps: int,
        replicas: int,
        backend: str = "tensorflow",
        batch_shapes: int = 1,
    ) -> bool | str:
        """`jit_compile` for `model.compile`: as given, else True where XLA
        pays (TensorFlow, one replica; per distinct batch shape, each
        compiled once, `XLA_MIN_STEPS` steps or a minute of `minutes`), else
        Keras' `"auto"` (off on CPU-only machines, on with a GPU or JAX)."""
        if self.jit_compile is not None:
            return self.jit_compile
        long_enough = total_steps >= XLA_MIN_STEPS * batch_shapes
        if self.minutes:
            long_enough = self.minutes >= batch_shapes
        pays = replicas == 1 and long_enough
        return True if backend == "tensorflow" and pays else "auto"

    # Copies, dicts and the record in config.json.

    def replace(self, **overrides) -> TrainingConfig:
        """A copy with `overrides` applied and validated.

        Raises:
            TypeError: naming an argument that is not a field.
        """
        self._check_names(overrides)
        return dataclasses.replace(self, **overrides)

    @classmethod
    def _check_names(cls, names):
        unknown = sorted(set(names) - set(cls.field_names()))
        if unknown:
            raise TypeError(
                f"Unknown training setting(s): {', '.join(unknown)}. Expected "
                f"some of: {', '.join(cls.field_names())}"
            )

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in dataclasses.fields(cls))

    def to_dict(self) -> dict:
        """Every field as a JSON-ready value (what config.json records)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str = "the settings") -> TrainingConfig:
        """`TrainingConfig(**values)`; errors name `source` (e.g. the file)."""
        if not isinstance(values, dict):
            raise ValueError(f"{source} must hold a JSON object. Received: {values!r}")
        try:
            cls._check_names(values)
            return cls(**values)
        except (TypeError, ValueError) as error:
            raise type(error)(f"{source}: {error}") from None

    @classmethod
    def from_record(cls, record: dict) -> TrainingConfig:
        """The config a model directory was trained with.

        `record` is its `config.json["training"]`: the resolved config's
        fields plus what the run noted about its data and plan
        (`keras_nlg.training.fit.RUN_RECORD_KEYS`), left out here.
        """
        names = set(cls.field_names())
        return cls.from_dict(
            {k: v for k, v in record.items() if k in names}, source="the record"
        )
