"""GPT-2 checkpoints → keras_nlg: a model and tokenizer, or a model directory.

`read_gpt2` returns a `TransformerLanguageModel` and its `GPT2Tokenizer`
from a local Hugging Face or keras-hub checkpoint (the formats and their
tensor layouts are in `keras_nlg.models.gpt2_reader`); `import_gpt2` also
writes them as a model directory, what `keras-nlg import-gpt2` does.
"""

import os

from keras_nlg.model_directory import LoadedModel, save_model_directory
from keras_nlg.models.gpt2_reader import (
    HF_WEIGHTS_FILE,
    KERAS_HUB_WEIGHTS_FILE,
    read_gpt2_checkpoint,
)
from keras_nlg.models.transformer import TransformerLanguageModel

__all__ = ["HF_WEIGHTS_FILE", "KERAS_HUB_WEIGHTS_FILE", "import_gpt2", "read_gpt2"]


def read_gpt2(path):
    """Returns `(model, tokenizer)` from a GPT-2 checkpoint directory.

    Raises:
        ValueError: naming the file and the problem when the directory holds
            neither format, the architecture is not GPT-2, or a tensor is
            missing or has the wrong shape.
    """
    return read_gpt2_checkpoint(path, TransformerLanguageModel)


def import_gpt2(checkpoint, out_dir):
    """Converts a GPT-2 checkpoint directory into a keras_nlg model directory.

    Returns the `LoadedModel(model, tokenizer, config)` it wrote.
    """
    model, tokenizer = read_gpt2(checkpoint)
    config = {
        "arch": "transformer",
        "preset": "gpt2",
        "model": {"class_name": type(model).__name__, "config": model.get_config()},
        "tokenizer": {"class_name": type(tokenizer).__name__},
        "source": {"gpt2_checkpoint": os.path.abspath(os.fspath(checkpoint))},
    }
    save_model_directory(out_dir, model, tokenizer, config)
    return LoadedModel(model, tokenizer, config)
