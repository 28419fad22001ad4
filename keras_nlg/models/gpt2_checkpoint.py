"""GPT-2 checkpoints → keras_nlg: a model and tokenizer, or a model directory.

`read_gpt2` returns a `TransformerLanguageModel` and its `GPT2Tokenizer`
from a local Hugging Face or keras-hub checkpoint (the formats and their
tensor layouts are in `keras_nlg.models.gpt2_reader`); `import_gpt2` also
writes them as a model directory, what `keras-nlg import-gpt2` does.
Which config.json fields are honoured, checked or ignored:
`keras_nlg.models.gpt2_config`.
"""

import os

from keras_nlg.files import staged_directory
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

    Every config.json field is honoured, or refused, or ignored because it
    cannot change the logits: the list is in `keras_nlg.models.gpt2_config`.

    Raises:
        ValueError: naming the file and the problem when the directory holds
            neither format, a file is missing, empty or malformed, a field
            holds a value we don't implement, or a tensor is missing, extra
            or has the wrong shape or dtype.
    """
    return read_gpt2_checkpoint(path, TransformerLanguageModel)


def import_gpt2(checkpoint, out_dir):
    """Converts a GPT-2 checkpoint directory into a keras_nlg model directory.

    Writes into a temporary sibling of `out_dir` and renames it at the end,
    so a failure leaves no half-written directory.

    Returns the `LoadedModel(model, tokenizer, config)` it wrote.

    Raises:
        ValueError: as `read_gpt2`, or if `out_dir` exists and is not an
            empty directory (naming it).
    """
    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.lexists(out_dir) and not (
        os.path.isdir(out_dir) and not os.listdir(out_dir)
    ):
        raise ValueError(
            f"`out_dir` must not exist or be an empty directory. Received: {out_dir}"
        )
    model, tokenizer = read_gpt2(checkpoint)
    config = {
        "arch": "transformer",
        "preset": "gpt2",
        "model": {"class_name": type(model).__name__, "config": model.get_config()},
        "tokenizer": {"class_name": type(tokenizer).__name__},
        "source": {"gpt2_checkpoint": os.path.abspath(os.fspath(checkpoint))},
    }
    with staged_directory(out_dir) as staging:  # replaces an empty `out_dir`
        save_model_directory(staging, model, tokenizer, config)
    return LoadedModel(model, tokenizer, config)
