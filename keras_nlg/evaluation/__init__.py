"""Perplexity / bits per byte, BLEU, ROUGE, diversity, slot error rate, and
the E2E task."""

from keras_nlg.evaluation.bleu import bleu
from keras_nlg.evaluation.diversity import diversity
from keras_nlg.evaluation.e2e import evaluate_e2e, generate_for_mrs, write_outputs
from keras_nlg.evaluation.perplexity import perplexity, sliding_windows
from keras_nlg.evaluation.rouge import rouge
from keras_nlg.evaluation.slot_errors import SlotErrorReport, slot_errors

__all__ = [
    "SlotErrorReport",
    "bleu",
    "diversity",
    "evaluate_e2e",
    "generate_for_mrs",
    "perplexity",
    "rouge",
    "sliding_windows",
    "slot_errors",
    "write_outputs",
]
