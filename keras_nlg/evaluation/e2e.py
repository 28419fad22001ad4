"""Scoring an MR → text model on an E2E-format CSV (`keras-nlg evaluate --task e2e`)."""

from __future__ import annotations

import dataclasses
import os
import time

from keras_nlg.argument_checks import check_positive_int
from keras_nlg.data.delexicalize import delexicalize_mr, relexicalize
from keras_nlg.data.e2e import E2EData, prompt_text, read_e2e_csv
from keras_nlg.evaluation.bleu import bleu
from keras_nlg.evaluation.diversity import diversity
from keras_nlg.evaluation.rouge import rouge
from keras_nlg.evaluation.slot_errors import (
    is_e2e_meaning_representation,
    slot_errors,
    text_slot_errors,
)
from keras_nlg.evaluation.words import writing_system
from keras_nlg.files import write_file_atomically
from keras_nlg.generation import generate
from keras_nlg.generation.reranking import generate_reranked

RERANKERS = (None, "slot_errors")
DEFAULT_NUM_BEAMS = 3  # chosen by dev BLEU (benchmarks/RESULTS.md, "E2E")
# The E2E recipe records its reranking choice in the model directory's task
# (`keras-nlg evaluate --task e2e` uses it unless --rerank says otherwise).
# Chosen on the generalisation split (benchmarks/RESULTS.md, "E2E
# generalisation"): held-out SER 4.6% → 2.4% for 0.6 BLEU.
DEFAULT_RERANK = "slot_errors"


@dataclasses.dataclass(frozen=True)
class E2EDecoding:
    """How an MR → text model decodes (`generate_for_mrs`, `evaluate_e2e`).

    Attributes:
        num_beams: beam width (1 = greedy); None: the model's generation
            config's, else `DEFAULT_NUM_BEAMS` (see `default_num_beams`).
        max_new_tokens: the text budget (the recipe records the longest
            training text with headroom); None: all the context leaves.
            Needed for a model without a context limit (the LSTM).
        length_penalty: beam search's, as in `GenerationConfig`.
        batch_size: MRs per `generate` call.
        delexicalize: the model was trained delexicalised: prompts carry
            placeholders for `name`/`near`, whose values are put back into
            the texts (`keras_nlg.data.delexicalize`).
        rerank: `"slot_errors"`: of the beam's `num_beams` candidates, keep
            the one with the fewest slot errors against its MR, ties by
            model score (TGen's reranker; `generation.reranking`); None
            keeps the top beam, as does a single beam (nothing to rerank).

    Raises:
        ValueError: for a `batch_size` that is not a positive integer or a
            `rerank` not in `RERANKERS`.
    """

    num_beams: int | None = None
    max_new_tokens: int | None = None
    length_penalty: float = 1.0
    batch_size: int = 32
    delexicalize: bool = False
    rerank: str | None = None

    def __post_init__(self):
        check_positive_int("batch_size", self.batch_size)
        if self.rerank not in RERANKERS:
            raise ValueError(
                f"`rerank` must be one of {RERANKERS}. Received: rerank={self.rerank!r}"
            )

    @classmethod
    def for_model(cls, model, task: dict | None = None, **overrides) -> E2EDecoding:
        """The decoding a model directory records, then `overrides` (None
        values are skipped): its `config.json` task's `max_new_tokens`,
        `delexicalize` and `rerank`, and its generation config's beams."""
        task = task or {}
        recorded = {
            "num_beams": default_num_beams(getattr(model, "generation_config", None)),
            "max_new_tokens": task.get("max_new_tokens"),
            "delexicalize": bool(task.get("delexicalize")),
            "rerank": task.get("rerank"),
        }
        given = {name: value for name, value in overrides.items() if value is not None}
        return cls(**{**recorded, **given})


def default_num_beams(generation_config=None) -> int:
    """The beam width used when none is given.

    The model's generation config decides when it has one (its directory's
    `generation_config.json`, which `keras_nlg.load` attaches as
    `model.generation_config`): the settings a model ships with apply to
    every runtime. Without one, `DEFAULT_NUM_BEAMS`.
    """
    if generation_config is None:
        return DEFAULT_NUM_BEAMS
    return generation_config.num_beams


def generate_for_mrs(
    model,
    tokenizer,
    meaning_representations,
    decoding: E2EDecoding | None = None,
    **overrides,
) -> list[str]:
    """One text per MR: beam search (greedy with `num_beams=1`), in order.

    Room to generate is decided per batch of MRs: `max_new_tokens` (the
    recipe records the longest training text with some headroom), cut to
    what the model's context leaves after the batch's longest prompt. MRs
    are batched by prompt length, so one long MR costs only its batch some
    room, and an MR longer than any seen in training still gets generated.
    Texts are single lines (newlines become spaces).

    Args:
        model, tokenizer: an MR → text model (`keras-nlg train --task e2e`).
        meaning_representations: MR strings.
        decoding: an `E2EDecoding` (default `E2EDecoding()`), with the
            keyword `overrides` (its fields) applied.

    Raises:
        ValueError: when an MR's prompt leaves no room in the context (or
            `max_new_tokens` is missing for a model without a context
            limit, the LSTM).
    """
    decoding = dataclasses.replace(decoding or E2EDecoding(), **overrides)
    num_beams, max_new_tokens = decoding.num_beams, decoding.max_new_tokens
    if num_beams is None:
        num_beams = default_num_beams(getattr(model, "generation_config", None))
    original = meaning_representations = list(meaning_representations)
    values = [{} for _ in meaning_representations]
    if decoding.delexicalize:
        delexicalized = [delexicalize_mr(mr) for mr in meaning_representations]
        meaning_representations = [mr for mr, _ in delexicalized]
        values = [slot_values for _, slot_values in delexicalized]
    prompts = [prompt_text(mr) for mr in meaning_representations]
    lengths = [len(ids) for ids in tokenizer.tokenize(prompts).to_list()]
    context = model.context_length
    if max_new_tokens is None and context is None:
        raise ValueError(
            "`max_new_tokens` is needed for a model without a context limit "
            "(the LSTM). Received: max_new_tokens=None"
        )
    order = sorted(range(len(prompts)), key=lambda i: (lengths[i], i))
    texts = [None] * len(prompts)
    for start in range(0, len(order), decoding.batch_size):
        batch = order[start : start + decoding.batch_size]
        room = max_new_tokens or context
        if context is not None:
            longest = max(lengths[i] for i in batch)
            room = min(room, context - longest)
            if room < 1:
                raise ValueError(
                    f"The MR prompt has {longest} tokens: no room to generate in "
                    f"the context of context_length={context}. Received: "
                    f"mr={original[batch[-1]][:80]!r}"
                )
        options = dict(
            max_new_tokens=room,
            num_beams=num_beams,
            length_penalty=decoding.length_penalty,
            truncate=False,
        )
        batch_prompts = [prompts[i] for i in batch]
        if decoding.rerank is None or num_beams < 2:  # one beam: no candidates
            outputs = generate(model, tokenizer, batch_prompts, **options)
        else:

            def slot_error_count(index, text, batch=batch):
                i = batch[index]
                if not is_e2e_meaning_representation(original[i]):
                    return 0  # not E2E's slots: the top beam stays
                return text_slot_errors(
                    relexicalize(text, values[i]), original[i]
                ).count

            outputs = generate_reranked(
                model, tokenizer, batch_prompts, slot_error_count, **options
            )
        for i, text in zip(batch, outputs, strict=True):
            texts[i] = " ".join(relexicalize(text, values[i]).split())
    return texts


def write_outputs(path, texts) -> None:
    """One output per line, as tuetschek/e2e-metrics' `measure_scores.py`
    reads; written whole or not at all (`write_file_atomically`)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)

    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as f:
            for text in texts:
                f.write(" ".join(text.split()) + "\n")

    write_file_atomically(path, write)


def evaluate_e2e(
    model,
    tokenizer,
    data: str | os.PathLike | E2EData,
    decoding: E2EDecoding | None = None,
    *,
    lowercase: bool = True,
    output_path: str | None = None,
    **overrides,
) -> dict:
    """Generates a text for every distinct MR and scores it against its references.

    Args:
        model, tokenizer: an MR → text model (`keras-nlg train --task e2e`).
        data: an E2E-format CSV (or `E2EData`); MRs are scored in order of
            first appearance, each against all of its references.
        decoding, **overrides: how to decode (see `generate_for_mrs`).
        lowercase: BLEU on lowercased text, as the official E2E scorer.
        output_path: also write the outputs file (one line per MR).

    Returns:
        A dict: the scores of `score_outputs` (BLEU, ROUGE, diversity and
        the tokenization each used), the slot errors of `semantic_fidelity`,
        `meaning_representations`, `num_beams`,
        `generation_seconds`, and the `outputs` (texts, in MR order).
    """
    if not isinstance(data, E2EData):
        data = read_e2e_csv(data)
    decoding = dataclasses.replace(decoding or E2EDecoding(), **overrides)
    if decoding.num_beams is None:
        num_beams = default_num_beams(getattr(model, "generation_config", None))
        decoding = dataclasses.replace(decoding, num_beams=num_beams)
    start = time.perf_counter()
    outputs = generate_for_mrs(model, tokenizer, data.meaning_representations, decoding)
    seconds = time.perf_counter() - start
    if output_path is not None:
        write_outputs(output_path, outputs)
    return {
        **score_outputs(outputs, data.references, lowercase=lowercase),
        **semantic_fidelity(outputs, data.meaning_representations),
        "meaning_representations": len(outputs),
        "num_beams": decoding.num_beams,
        "rerank": decoding.rerank,
        "generation_seconds": seconds,
        "outputs": outputs,
    }


def score_outputs(outputs, references, lowercase: bool = True) -> dict:
    """BLEU, ROUGE and diversity of `outputs` (one per MR) against `references`.

    Each metric picks the tokenization that fits the texts' scripts (see
    `bleu`, `rouge`, `diversity`), and the result says which it used.

    Returns:
        A dict: `bleu` (0–100), `bleu_signature`, `rouge1`/`rouge2`/`rougeL`
        (0–1), `distinct_1`/`distinct_2`, `repetition_rate`, and the
        tokenizations: `bleu_tokenize` (sacrebleu's option),
        `rouge_tokenizer` and `diversity_tokenizer`.
    """
    bleu_scores = bleu(outputs, references, lowercase=lowercase)
    rouge_scores = rouge(outputs, references)
    diversity_scores = diversity(outputs)
    return {
        "bleu": bleu_scores["bleu"],
        "bleu_signature": bleu_scores["signature"],
        "rouge1": rouge_scores["rouge1"],
        "rouge2": rouge_scores["rouge2"],
        "rougeL": rouge_scores["rougeL"],
        "distinct_1": diversity_scores["distinct_1"],
        "distinct_2": diversity_scores["distinct_2"],
        "repetition_rate": diversity_scores["repetition_rate"],
        "bleu_tokenize": bleu_scores["tokenize"],
        "rouge_tokenizer": rouge_scores["tokenizer"],
        "diversity_tokenizer": diversity_scores["tokenizer"],
    }


def semantic_fidelity(outputs, meaning_representations) -> dict:
    """Slot error rate of `outputs` (see `keras_nlg.evaluation.slot_errors`).

    Returns:
        `slot_error_rate` (a fraction), `slot_errors` (the counts `added`,
        `missing`, `wrong`, `repeated` and `num_slots`) and
        `slot_error_details` (per output: its `mr` and the slots of each
        kind); all None, with `slot_error_rate_skipped` saying why, when the
        MRs are not E2E's eight slots or the outputs are not English.
    """
    reason = None
    if not all(is_e2e_meaning_representation(mr) for mr in meaning_representations):
        reason = "the MRs have attributes that are not E2E slots"
    elif writing_system(outputs) != "latin":
        reason = "the outputs are not English"
    if reason is not None:
        return {
            "slot_error_rate": None,
            "slot_errors": None,
            "slot_error_details": None,
            "slot_error_rate_skipped": reason,
        }
    report = slot_errors(outputs, meaning_representations)
    kinds = ("added", "missing", "wrong", "repeated")
    return {
        "slot_error_rate": report.slot_error_rate,
        "slot_errors": {
            **{kind: getattr(report, kind) for kind in kinds},
            "num_slots": report.num_slots,
        },
        "slot_error_details": [
            {"mr": mr, **{kind: list(getattr(text, kind)) for kind in kinds}}
            for mr, text in zip(meaning_representations, report.texts, strict=True)
        ],
    }
