"""`GenerationConfig`: every generation setting, its default and its check.

The one place where generation settings are defined and validated, as Hugging
Face's `GenerationConfig` is for `transformers` (field names are theirs).
`keras_nlg.generate`, `generate_stream`, the CLI, the SavedModel export
(its SignatureDef defaults) and the TFLite runner and metadata all take one,
so a new setting lands here once and reaches every runtime. A model
directory may carry `generation_config.json` (only the fields that differ
from the defaults); `keras_nlg.load` attaches it to the model as
`model.generation_config`, and every runtime then takes its defaults from it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings

import numpy as np

from keras_nlg.argument_checks import MAX_COUNT, fail, is_count, is_int, is_number
from keras_nlg.files import read_json_file, write_json_file

GENERATION_CONFIG_FILE = "generation_config.json"

# Deprecated keyword names still accepted by `GenerationConfig.replace` (and
# so by `generate(**overrides)`): old name -> field name.
_RENAMED = {"stop": "stop_strings"}


@dataclasses.dataclass(frozen=True)
class GenerationConfig:
    """Generation settings, validated when made (Hugging Face's names).

    Decoding is greedy unless `do_sample`; beam search when `num_beams` > 1.
    Per step, the logits go through, in this order (Hugging Face's order):
    `min_new_tokens` (end-of-text banned), `repetition_penalty`,
    `no_repeat_ngram_size` (tokens banned), then, when sampling,
    `temperature`, `top_k`, `top_p` and `min_p` (each an independent
    filter: a token must pass every filter that is on). Each setting is off
    at its default.

    Args:
        max_new_tokens: int > 0, new tokens at most per sequence.
        min_new_tokens: int ≥ 0, end-of-text is banned before this many
            new tokens (Hugging Face's `MinNewTokensLengthLogitsProcessor`).
        do_sample: sample instead of taking the argmax.
        temperature: float > 0; the logits are divided by it when sampling.
        top_k: int ≥ 0, sample among the `top_k` most likely tokens (0: off).
        top_p: float in (0, 1], sample from the smallest set of most likely
            tokens whose probability reaches `top_p` (nucleus sampling,
            Holtzman et al. 2020; 1: off).
        min_p: float in [0, 1), keep the tokens whose probability is at least
            `min_p` × the most likely token's (Nguyen et al. 2024, "Turning
            Up the Heat: Min-p Sampling"; 0: off).
        repetition_penalty: float ≥ 1, CTRL's penalty (Keskar et al. 2019)
            on tokens already in the prompt or the output (1: off; not
            applied in beam search).
        no_repeat_ngram_size: int ≥ 0, a token that would complete an
            n-gram of this size already present in the prompt or the output
            is banned (0: off; not applied in beam search).
        num_beams: int > 0, beam width; > 1 runs beam search
            (deterministic, so `do_sample` must be False).
        length_penalty: float; beam scores are log-probability /
            length^length_penalty (> 0 favours longer sequences).
        num_return_sequences: int > 0, sequences per prompt: samples with
            `do_sample`, the best beams (≤ `num_beams`) in beam search.
        stop_strings: strings that end the text at their first occurrence
            (the string itself is not returned); `stop` is a deprecated alias.
        seed: int or None; the same seed and prompts give the same text, row
            by row (see `keras_nlg.generation.sampling`); None draws a fresh
            seed per call.

    Raises:
        ValueError: for a value out of its range or a combination that can't
            work, naming the field(s) and the value(s) received.
        TypeError: for an unknown field name.

    Example:

    >>> config = GenerationConfig(do_sample=True, top_p=0.9, seed=1)
    >>> config.replace(temperature=0.7).temperature
    0.7
    """

    max_new_tokens: int = 64
    min_new_tokens: int = 0
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    num_beams: int = 1
    length_penalty: float = 1.0
    num_return_sequences: int = 1
    stop_strings: tuple[str, ...] | None = None
    seed: int | None = None

    def __post_init__(self):
        if self.stop_strings is not None and not isinstance(self.stop_strings, str):
            try:
                object.__setattr__(self, "stop_strings", tuple(self.stop_strings))
            except TypeError:
                pass  # not iterable: refused below
        self.validate()

    def validate(self) -> None:
        """Checks every field on its own and every combination (see Raises)."""
        for name in ("max_new_tokens", "num_beams", "num_return_sequences"):
            value = getattr(self, name)
            if not is_count(value):
                fail(name, value, f"a positive integer ≤ {MAX_COUNT}")
        for name in ("min_new_tokens", "top_k", "no_repeat_ngram_size"):
            value = getattr(self, name)
            if not is_int(value) or value < 0:
                fail(name, value, "an integer ≥ 0 (0 = off)")
        if not isinstance(self.do_sample, bool):
            fail("do_sample", self.do_sample, "True or False")
        if not is_number(self.temperature) or not 0 < self.temperature < math.inf:
            fail("temperature", self.temperature, "a finite number > 0")
        if not is_number(self.top_p) or not 0 < self.top_p <= 1:
            fail("top_p", self.top_p, "in (0, 1] (1 = off)")
        if not is_number(self.min_p) or not 0 <= self.min_p < 1:
            fail("min_p", self.min_p, "in [0, 1) (0 = off)")
        rp = self.repetition_penalty
        if not is_number(rp) or not 1 <= rp < math.inf:
            fail("repetition_penalty", rp, "a finite number ≥ 1 (1 = off)")
        lp = self.length_penalty
        if not is_number(lp) or not math.isfinite(lp):
            fail("length_penalty", lp, "a finite number")
        stop = self.stop_strings
        if stop is not None and (
            isinstance(stop, str)
            or not isinstance(stop, tuple)
            or not all(isinstance(s, str) and s for s in stop)
        ):
            raise TypeError(
                "`stop_strings` must be a list of non-empty strings. "
                f"Received: stop_strings={stop!r}"
            )
        if self.seed is not None and not is_int(self.seed):
            raise TypeError(
                f"`seed` must be an int or None. Received: seed={self.seed!r}"
            )
        if self.min_new_tokens > self.max_new_tokens:
            raise ValueError(
                "`min_new_tokens` must be ≤ max_new_tokens. Received: "
                f"min_new_tokens={self.min_new_tokens}, "
                f"max_new_tokens={self.max_new_tokens}"
            )
        if self.num_beams > 1 and self.do_sample:
            raise ValueError(
                "Beam search is deterministic; sampling within beams is not "
                f"supported. Received: num_beams={self.num_beams}, do_sample=True"
            )
        if self.num_beams > 1 and self.num_return_sequences > self.num_beams:
            raise ValueError(
                "Beam search returns at most num_beams sequences. Received: "
                f"num_return_sequences={self.num_return_sequences}, "
                f"num_beams={self.num_beams}"
            )
        if self.num_return_sequences > 1 and not self.do_sample and self.num_beams == 1:
            raise ValueError(
                "Greedy decoding returns the same sequence every time; use "
                "do_sample=True for several sequences. Received: "
                f"num_return_sequences={self.num_return_sequences}, do_sample=False"
            )
        if self.num_beams > 1 and (
            self.repetition_penalty != 1 or self.no_repeat_ngram_size
        ):
            raise ValueError(
                "Beam search applies neither repetition_penalty nor "
                "no_repeat_ngram_size. Received: "
                f"num_beams={self.num_beams}, "
                f"repetition_penalty={self.repetition_penalty}, "
                f"no_repeat_ngram_size={self.no_repeat_ngram_size}"
            )

    def check_vocabulary(self, vocabulary_size: int) -> None:
        """`ValueError` unless `top_k` ≤ `vocabulary_size` (checked at use)."""
        if self.top_k > vocabulary_size:
            fail("top_k", self.top_k, f"an integer in [0, {vocabulary_size}] (0 = off)")

    def replace(self, **overrides) -> GenerationConfig:
        """A copy with `overrides` applied and validated (`stop` → `stop_strings`).

        Raises:
            TypeError: naming an argument that is not a field.
        """
        for old, new in _RENAMED.items():
            if old in overrides:
                warnings.warn(
                    f"`{old}` is deprecated; use `{new}`.",
                    DeprecationWarning,
                    stacklevel=3,
                )
                overrides[new] = overrides.pop(old)
        unknown = sorted(set(overrides) - set(self.field_names()))
        if unknown:
            raise TypeError(
                f"Unknown generation setting(s): {', '.join(unknown)}. Expected "
                f"some of: {', '.join(self.field_names())}"
            )
        return dataclasses.replace(self, **overrides)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in dataclasses.fields(cls))

    def to_dict(self, diff_only: bool = False) -> dict:
        """Fields as JSON-ready values; with `diff_only`, those ≠ the defaults."""
        values = dataclasses.asdict(self)
        if values["stop_strings"] is not None:
            values["stop_strings"] = list(values["stop_strings"])
        if diff_only:
            defaults = dataclasses.asdict(GenerationConfig())
            values = {k: v for k, v in values.items() if v != defaults[k]}
        return values

    @classmethod
    def from_dict(cls, values: dict, source: str = "the settings") -> GenerationConfig:
        """`GenerationConfig(**values)`; errors name `source` (e.g. the file)."""
        if not isinstance(values, dict):
            raise ValueError(f"{source} must hold a JSON object. Received: {values!r}")
        try:
            return cls().replace(**values)
        except (TypeError, ValueError) as error:
            raise type(error)(f"{source}: {error}") from None

    def save_pretrained(self, directory: str | os.PathLike) -> str:
        """Writes `generation_config.json` (non-default fields) into `directory`."""
        path = os.path.join(os.fspath(directory), GENERATION_CONFIG_FILE)
        write_json_file(path, self.to_dict(diff_only=True))
        return path

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> GenerationConfig | None:
        """The directory's `generation_config.json`, or None if it has none.

        Raises:
            ValueError: if the file is not valid JSON or holds a bad value
                (the message names the file).
        """
        path = os.path.join(os.fspath(directory), GENERATION_CONFIG_FILE)
        if not os.path.isfile(path):
            return None
        # Any JSON value: `from_dict` names the file when it is not an object.
        return cls.from_dict(read_json_file(path, None), source=path)


def resolve_generation_config(
    model, generation_config: GenerationConfig | None, overrides: dict
) -> GenerationConfig:
    """The config a call runs with: `generation_config`, else the model's
    (`model.generation_config`, from its directory), else the defaults; then
    the call's keyword `overrides`.

    Raises:
        TypeError: if `generation_config` is not a `GenerationConfig`, or an
            override is not a field.
    """
    if generation_config is None:
        generation_config = getattr(model, "generation_config", None)
        if generation_config is None:
            generation_config = GenerationConfig()
    if not isinstance(generation_config, GenerationConfig):
        raise TypeError(
            "`generation_config` must be a GenerationConfig (pass settings as "
            "keyword arguments). Received: "
            f"generation_config={generation_config!r}"
        )
    return generation_config.replace(**overrides) if overrides else generation_config


# What `keras-nlg generate` starts from for a model directory without
# generation_config.json: sampling, since greedy text from a small model
# falls into loops, and a page of text (the CLI's defaults since 0.1).
CLI_DEFAULTS = GenerationConfig(max_new_tokens=200, do_sample=True, temperature=0.8)


def fresh_seed(config: GenerationConfig) -> int:
    """`config.seed`, or a fresh one when it is None."""
    if config.seed is not None:
        return config.seed
    return int(np.random.default_rng().integers(2**31 - 1))
