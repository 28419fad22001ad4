"""Text files → tokens → `(x, y)` next-token windows."""

from keras_nlg.data.text_files import read_text_files
from keras_nlg.data.windows import (
    LanguageModelData,
    language_model_datasets,
    tokenize_documents,
)

__all__ = [
    "LanguageModelData",
    "language_model_datasets",
    "read_text_files",
    "tokenize_documents",
]
