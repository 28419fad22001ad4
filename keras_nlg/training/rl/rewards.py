"""Rewards for RL fine-tuning: the contract, the built-ins, weighted sums.

A reward is any Python callable

    reward(prompts, completions, references) -> float array, shape [n]

with `n = len(completions)`; `prompts[i]` is the prompt completion i
answers (for `--task e2e`, its meaning representation) and `references[i]`
its list of reference texts (empty when the data has none). Rewards run on
the host between the compiled sampling loop and the update, so any Python
works: a regular expression, a metric library, a Keras classifier.

`check_rewards` holds every reward to that contract (shape, finite values)
and names the reward that broke it. Built-ins (`REWARDS`) and the CLI's
`--reward "slot_error:1.0,bleu:0.5"` specs are parsed by `parse_rewards`.
"""

from __future__ import annotations

import os
import re

import numpy as np
from sacrebleu.metrics import BLEU

from keras_nlg.evaluation.rouge import rouge
from keras_nlg.evaluation.slot_errors import (
    is_e2e_meaning_representation,
    text_slot_errors,
)
from keras_nlg.model_directory import load_keras_file
from keras_nlg.tokenizers import load_tokenizer


def reward_name(reward) -> str:
    """A reward's name for messages and logs."""
    return (
        getattr(reward, "name", None)
        or getattr(reward, "__name__", None)
        or (type(reward).__name__)
    )


def check_rewards(reward, values, n: int) -> np.ndarray:
    """`values` as float64 `[n]`, or a `ValueError` naming `reward`."""
    name = reward_name(reward)
    try:
        array = np.asarray(values, dtype="float64")
    except (TypeError, ValueError):
        raise ValueError(
            f"The reward {name!r} must return {n} numbers. Received: {values!r:.120}"
        ) from None
    if array.shape != (n,):
        raise ValueError(
            f"The reward {name!r} must return an array of shape [{n}] (one value "
            f"per completion). Received: shape={list(array.shape)}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"The reward {name!r} returned a non-finite value (NaN or inf). "
            f"Received: {array.tolist()!r:.120}"
        )
    return array


def negative_slot_error_rate(prompts, completions, references):
    """-(slot errors / MR slots) per text (E2E's SER, `evaluation.slot_errors`).

    0 for a text that realises its MR exactly; -1 or below when every slot
    is wrong, missing, added or repeated. The prompts must be E2E MRs.
    """
    values = []
    for mr, text in zip(prompts, completions, strict=True):
        if not is_e2e_meaning_representation(mr):
            raise ValueError(
                "The reward 'slot_error' needs E2E meaning representations as "
                f"prompts (e.g. `--task e2e`). Received: prompt={mr!r:.80}"
            )
        errors = text_slot_errors(text, mr)
        slots = max(1, mr.count("["))
        values.append(-errors.count / slots)
    return values


negative_slot_error_rate.name = "slot_error"


def _need_references(name, references):
    if any(not refs for refs in references):
        raise ValueError(
            f"The reward {name!r} needs reference texts for every prompt "
            "(`--task e2e`, or a prompts file with references)."
        )


def sentence_bleu(prompts, completions, references):
    """Sentence BLEU (sacrebleu, effective order, smoothing 'exp') / 100, in [0, 1]."""
    _need_references("bleu", references)
    metric = BLEU(effective_order=True, lowercase=True)
    return [
        metric.sentence_score(text, list(refs)).score / 100.0
        for text, refs in zip(completions, references, strict=True)
    ]


sentence_bleu.needs_references = True
sentence_bleu.name = "bleu"


def rouge_l(prompts, completions, references):
    """ROUGE-L F-measure (rouge-score) against the best reference, in [0, 1]."""
    _need_references("rouge_l", references)
    return [
        rouge([text], [list(refs)])["rougeL"]
        for text, refs in zip(completions, references, strict=True)
    ]


rouge_l.needs_references = True
rouge_l.name = "rouge_l"


class LengthWindow:
    """1 inside `[min_words, max_words]` words, falling linearly to 0 outside.

    A text `d` words outside the window scores `max(0, 1 - d / min_words)`
    below it and `max(0, 1 - d / max_words)` above it.
    """

    def __init__(self, min_words: int, max_words: int):
        if not (isinstance(min_words, int) and isinstance(max_words, int)) or not (
            0 < min_words <= max_words
        ):
            raise ValueError(
                "The reward 'length' needs whole numbers 0 < min_words <= max_words. "
                f"Received: min_words={min_words!r}, max_words={max_words!r}"
            )
        self.name = f"length={min_words}-{max_words}"
        self.min_words, self.max_words = min_words, max_words

    def __call__(self, prompts, completions, references):
        values = []
        for text in completions:
            words = len(text.split())
            if words < self.min_words:
                values.append(max(0.0, 1 - (self.min_words - words) / self.min_words))
            elif words > self.max_words:
                values.append(max(0.0, 1 - (words - self.max_words) / self.max_words))
            else:
                values.append(1.0)
        return values


class WordList:
    """Share of `words` present (`required`) or absent (`forbidden`), in [0, 1].

    Whole words, case-insensitive (`\\b` boundaries).
    """

    def __init__(self, words, forbidden: bool = False):
        words = [w.strip() for w in words if w.strip()]
        kind = "forbidden_words" if forbidden else "required_words"
        if not words:
            raise ValueError(f"The reward {kind!r} needs at least one word.")
        self.name = f"{kind}={'|'.join(words)}"
        self.forbidden = forbidden
        self.patterns = [
            re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE) for word in words
        ]

    def __call__(self, prompts, completions, references):
        values = []
        for text in completions:
            present = [bool(p.search(text)) for p in self.patterns]
            share = float(np.mean(present))
            values.append(1.0 - share if self.forbidden else share)
        return values


class ClassifierReward:
    """A Keras classifier's probability of "good" as the reward.

    `directory` holds `model.keras` (any Keras model mapping int32 token ids
    `(batch, length)` to a probability `(batch,)` or `(batch, 1)` in [0, 1])
    and the `tokenizer.json` of the tokenizer it reads (`keras_nlg.tokenizers`).
    Loaded with `safe_mode=True`. Texts are tokenized, cut to `max_length`
    tokens (default: the model's fixed input length, else 256) and
    right-padded with the tokenizer's padding id.
    """

    def __init__(self, directory: str, max_length: int | None = None):
        path = os.path.join(os.fspath(directory), "model.keras")
        if not os.path.isfile(path):
            raise ValueError(
                f"The reward 'classifier' needs a directory with model.keras and "
                f"tokenizer.json. Received: {directory!r}"
            )
        self.model = load_keras_file(path)
        self.tokenizer = load_tokenizer(os.fspath(directory))
        fixed = self.model.inputs[0].shape[1] if self.model.inputs else None
        self.max_length = max_length or fixed or 256
        self.name = f"classifier={directory}"

    def __call__(self, prompts, completions, references):
        rows = [
            list(self.tokenizer.tokenize(t))[: self.max_length] for t in completions
        ]
        width = self.max_length
        ids = np.full((len(rows), width), self.tokenizer.padding_id, "int32")
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
        scores = np.asarray(self.model.predict(ids, verbose=0), "float64")
        return scores.reshape(len(rows))


class WeightedSum:
    """`Σ weight × reward`, each term checked against the contract."""

    def __init__(self, terms):
        self.terms = [(reward, float(weight)) for reward, weight in terms]
        self.name = "+".join(f"{w:g}*{reward_name(r)}" for r, w in self.terms)
        self.needs_references = any(
            getattr(reward, "needs_references", False) for reward, _ in self.terms
        )

    def components(self, prompts, completions, references) -> list:
        """Each term's checked values, in the order of `terms`."""
        n = len(completions)
        return [
            check_rewards(reward, reward(prompts, completions, references), n)
            for reward, _ in self.terms
        ]

    def __call__(self, prompts, completions, references):
        parts = self.components(prompts, completions, references)
        return sum(w * part for (_, w), part in zip(self.terms, parts, strict=True))


REWARDS = {
    "slot_error": lambda: negative_slot_error_rate,
    "bleu": lambda: sentence_bleu,
    "rouge_l": lambda: rouge_l,
}
# Built-ins that take an argument: `length=5-30`, `required_words=a|b`, ...
PARAMETRIC_REWARDS = ("length", "required_words", "forbidden_words", "classifier")


def _parametric(name, argument):
    if name == "length":
        match = re.fullmatch(r"(\d+)-(\d+)", argument)
        if not match:
            raise ValueError(
                "The reward 'length' takes MIN-MAX words. "
                f"Received: length={argument!r}"
            )
        return LengthWindow(int(match[1]), int(match[2]))
    if name in ("required_words", "forbidden_words"):
        return WordList(argument.split("|"), forbidden=name == "forbidden_words")
    return ClassifierReward(argument)


def parse_rewards(spec: str) -> WeightedSum:
    """`"slot_error:1.0,bleu:0.5"` → a `WeightedSum` of built-in rewards.

    Each comma-separated item is `NAME[=ARGUMENT][:WEIGHT]` (weight 1 when
    left out): `slot_error`, `bleu`, `rouge_l`, `length=MIN-MAX`,
    `required_words=WORD|WORD`, `forbidden_words=WORD|WORD`,
    `classifier=DIRECTORY`.

    Raises:
        ValueError: for an empty spec, an unknown name, a bad argument or a
            weight that is not a finite number, naming the item.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"`reward` must name at least one reward. Received: {spec!r}")
    terms = []
    for item in spec.split(","):
        item = item.strip()
        head, weight = item, 1.0
        if ":" in item:
            head, _, text = item.rpartition(":")
            try:
                weight = float(text)
            except ValueError:
                if "=" not in head:
                    raise ValueError(
                        f"A reward's weight must be a number. Received: {item!r}"
                    ) from None
                head, weight = item, 1.0  # a colon inside an argument (a path)
            if not np.isfinite(weight):
                raise ValueError(
                    f"A reward's weight must be finite. Received: {item!r}"
                )
        name, _, argument = head.partition("=")
        if name in REWARDS and not argument:
            terms.append((REWARDS[name](), weight))
        elif name in PARAMETRIC_REWARDS and argument:
            terms.append((_parametric(name, argument), weight))
        else:
            known = [*REWARDS, *(f"{n}=..." for n in PARAMETRIC_REWARDS)]
            raise ValueError(f"Unknown reward {item!r}; choose from {known}")
    return WeightedSum(terms)
