"""Perplexity / bits per byte, BLEU, ROUGE, diversity, and the E2E task."""

from keras_nlg.evaluation.bleu import bleu
from keras_nlg.evaluation.diversity import diversity
from keras_nlg.evaluation.e2e import evaluate_e2e, generate_for_mrs, write_outputs
from keras_nlg.evaluation.perplexity import perplexity, sliding_windows
from keras_nlg.evaluation.rouge import rouge

__all__ = [
    "bleu",
    "diversity",
    "evaluate_e2e",
    "generate_for_mrs",
    "perplexity",
    "rouge",
    "sliding_windows",
    "write_outputs",
]
