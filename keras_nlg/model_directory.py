"""The model directory: one format that every command after `train` reads.

```
DIR/
  model.keras      architecture + weights (no optimizer state)
  tokenizer.json   tokenizer class and config (plus its files, if any)
  config.json      architecture, tokenizer and training settings
  metrics.json     final training/validation figures
  generation_config.json   optional: generation defaults (`GenerationConfig`)
  discriminator.keras      optional: an adversarially trained generator's
                   discriminator (`keras_nlg.models.discriminators`)
  logs/            TensorBoard event files
  checkpoints/     best model so far and the crash-recovery backup
```

The files above `logs/` are one set, written together: staged in
`DIR/.incoming/` and committed by a manifest (`keras_nlg.files`), so a
process killed while saving leaves the previous complete model or the new
one, never a mix or an empty `model.keras`.
"""

import collections
import os

import keras

# Registers our layers and models with Keras' serializer before any load.
import keras_nlg.models  # noqa: F401
from keras_nlg.files import (
    commit_staged,
    directory_lock,
    finish_interrupted_commit,
    has_interrupted_commit,
    read_json_file,
    staging_directory,
    write_json_file,
)
from keras_nlg.generation.config import GENERATION_CONFIG_FILE, GenerationConfig
from keras_nlg.models.discriminators import DISCRIMINATORS
from keras_nlg.models.language_model import LanguageModel
from keras_nlg.models.quantization import quantization_modes
from keras_nlg.tokenizers import (
    TOKENIZER_FILE,
    TOKENIZER_FILES,
    load_tokenizer,
    save_tokenizer,
)

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
DISCRIMINATOR_FILE = "discriminator.keras"
# Every file of the set: a save replaces them all (removing those the new
# model lacks, e.g. another tokenizer's vocabulary).
MODEL_DIRECTORY_FILES = (
    MODEL_FILE,
    CONFIG_FILE,
    METRICS_FILE,
    GENERATION_CONFIG_FILE,
    DISCRIMINATOR_FILE,
    *TOKENIZER_FILES,
)

# The entries of config.json that hold objects (read with `.get` later).
_RECORD_OBJECTS = (
    *("model", "tokenizer", "training", "task", "lora", "rl", "dpo"),
    "adversarial",
)

LoadedModel = collections.namedtuple("LoadedModel", ["model", "tokenizer", "config"])


def save_model_directory(
    directory: str,
    model,
    tokenizer,
    config: dict,
    metrics: dict | None = None,
    generation_config: GenerationConfig | None = None,
    discriminator=None,
) -> None:
    """Writes the model (without optimizer state), tokenizer, config, metrics,
    generation defaults and optional discriminator, as one set: a kill at any
    instant leaves the directory's previous set or this one (see the module
    docstring)."""
    os.makedirs(directory, exist_ok=True)
    with directory_lock(directory, exclusive=True):
        _save_set(
            directory,
            model,
            tokenizer,
            config,
            metrics,
            generation_config,
            discriminator,
        )


def _save_set(
    directory, model, tokenizer, config, metrics, generation_config, discriminator
):
    if quantization_modes(model) and not getattr(model, "saves_quantized", False):
        raise ValueError(
            f"A quantized {type(model).__name__} can't be saved (its config "
            "can't rebuild the int8 layers); save the float model. Received: a "
            f"model quantized to {', '.join(quantization_modes(model))}"
        )
    staging = staging_directory(directory)
    # A fresh copy of the weights: the trained instance carries the compiled
    # optimizer and (under a distribution strategy) mirrored variables; the
    # shipped file needs neither.
    inference_model = type(model).from_config(model.get_config())
    inference_model.set_weights(model.get_weights())
    inference_model.save(os.path.join(staging, MODEL_FILE))
    save_tokenizer(tokenizer, staging)
    write_json_file(os.path.join(staging, CONFIG_FILE), config)
    if metrics is not None:
        write_json_file(os.path.join(staging, METRICS_FILE), metrics)
    if generation_config is not None:
        generation_config.save_pretrained(staging)
    if discriminator is not None:
        discriminator.save(os.path.join(staging, DISCRIMINATOR_FILE))
    commit_staged(directory, replaces=MODEL_DIRECTORY_FILES)


def is_finished_model_directory(directory: str) -> bool:
    """Whether `directory` holds a saved model (a committed `model.keras`)."""
    _finish_interrupted_commit(directory)
    return os.path.isfile(os.path.join(directory, MODEL_FILE))


def _finish_interrupted_commit(directory):
    """A save that a kill interrupted after its commit point, completed."""
    if has_interrupted_commit(directory):
        with directory_lock(directory, exclusive=True):
            finish_interrupted_commit(directory)


def load(directory: str | os.PathLike) -> LoadedModel:
    """Loads a model directory written by `keras-nlg train`.

    The directory's `generation_config.json`, if any, is attached to the
    model as `model.generation_config` (else None): `keras_nlg.generate` and
    every export take their generation defaults from it.

    Returns:
        `LoadedModel(model, tokenizer, config)`.

    Raises:
        ValueError: if `directory` is not a keras_nlg model directory, or
            one of its files (model.keras, config.json, tokenizer.json,
            generation_config.json) is empty, truncated or malformed (naming
            the file).
    """
    if not isinstance(directory, str | os.PathLike):
        raise TypeError(
            "`directory` must be a path to a model directory. "
            f"Received: directory={directory!r:.200}"
        )
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"Model directory not found: {directory}")
    _finish_interrupted_commit(directory)
    with directory_lock(directory, exclusive=False):  # no save in between
        return _load_files(directory)


def _load_files(directory):
    for name in (MODEL_FILE, TOKENIZER_FILE, CONFIG_FILE):
        if not os.path.isfile(os.path.join(directory, name)):
            raise ValueError(
                f"Not a keras_nlg model directory (no {name}): {directory}"
            )
    config_path = os.path.join(directory, CONFIG_FILE)
    config = read_json_file(config_path)
    for key in _RECORD_OBJECTS:  # what later commands read from the record
        if config.get(key) is not None and not isinstance(config[key], dict):
            raise ValueError(
                f"{config_path}: `{key}` must be a JSON object. "
                f"Received: {key}={config[key]!r:.80}"
            )
    model = _load_model_file(os.path.join(directory, MODEL_FILE))
    model.generation_config = GenerationConfig.from_pretrained(directory)
    tokenizer = load_tokenizer(directory)
    return LoadedModel(model, tokenizer, config)


def load_keras_file(path):
    """`keras.saving.load_model(path, safe_mode=True)`, or one `ValueError`
    naming the file.

    Keras raises many types for a damaged archive (zipfile.BadZipFile,
    KeyError, OSError from h5py, ValueError, TypeError...); each becomes one
    error naming the file.
    """
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:
        message = " ".join(f"{type(error).__name__}: {error}".split())
        raise ValueError(f"Cannot load {path}: {message}") from None


def load_discriminator(directory: str):
    """The directory's `discriminator.keras` (safe_mode), or None without one.

    Raises:
        ValueError: for a file that can't be loaded or holds another kind of
            model.
    """
    path = os.path.join(directory, DISCRIMINATOR_FILE)
    with directory_lock(directory, exclusive=False):  # never half a commit
        if not os.path.isfile(path):
            return None
        model = load_keras_file(path)
    if not isinstance(model, tuple(DISCRIMINATORS.values())):
        raise ValueError(
            f"{path} holds a {type(model).__name__}, not a keras_nlg discriminator"
        )
    return model


def _load_model_file(path):
    model = load_keras_file(path)
    if not isinstance(model, LanguageModel):
        raise ValueError(
            f"{path} holds a {type(model).__name__}, not a keras_nlg language "
            "model (TransformerLanguageModel, LSTMLanguageModel)"
        )
    return model
