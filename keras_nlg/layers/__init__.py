"""Building blocks of our language models, written in `keras.ops`."""

from keras_nlg.layers.attention import (
    MultiHeadAttention,
    attention_weights,
    causal_mask,
    masked_softmax,
    scaled_dot_product_attention,
)
from keras_nlg.layers.decoder_block import TransformerDecoderBlock
from keras_nlg.layers.embedding import TokenAndPositionEmbedding, sinusoidal_positions

__all__ = [
    "MultiHeadAttention",
    "TokenAndPositionEmbedding",
    "TransformerDecoderBlock",
    "attention_weights",
    "causal_mask",
    "masked_softmax",
    "scaled_dot_product_attention",
    "sinusoidal_positions",
]
