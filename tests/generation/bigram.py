"""A language model with a hand-set next-token distribution, for tests."""

import keras
import numpy as np
from keras import ops

from keras_nlg.tokenizers import ByteTokenizer

TOKENIZER = ByteTokenizer()


class BigramModel(keras.Model):
    """A hand-set distribution: next-token log-probs depend on the last token."""

    context_length = None

    def __init__(self, log_probs):
        super().__init__()
        self.table = np.asarray(log_probs, "float32")
        self.vocabulary_size = self.table.shape[0]

    def empty_cache(self, batch_size, length=None):
        return ops.zeros((batch_size, 1))

    def call_with_cache(self, token_ids, cache, cache_index, padding_mask=None):
        return ops.take(self.table, token_ids, axis=0), cache

    def call(self, token_ids):
        return ops.take(self.table, token_ids, axis=0)


def bigram(transitions):
    table = np.full((258, 258), -30.0)
    for source, targets in transitions.items():
        table[ord(source)] = -30.0
        for target, p in targets.items():
            table[
                ord(source), TOKENIZER.end_of_text_id if target == "$" else ord(target)
            ] = np.log(p)
    return BigramModel(table)
