"""`export_saved_model`: a model directory → a TF Serving version directory."""

import os
import shutil
import tempfile

import keras

from keras_nlg.argument_checks import check_positive_int, check_tensorflow_backend
from keras_nlg.export.saved_model.model_card import model_card, write_model_card
from keras_nlg.export.saved_model.settings import served_defaults
from keras_nlg.export.saved_model.signatures import Signatures, endpoints
from keras_nlg.export.saved_model.warmup import write_warmup_file
from keras_nlg.generation.config import GenerationConfig, resolve_generation_config
from keras_nlg.model_directory import load
from keras_nlg.tokenizers import save_tokenizer

DEFAULT_MAX_BATCH_SIZE = 64
DEFAULT_MAX_NEW_TOKENS = GenerationConfig().max_new_tokens


def _check_out_dir(out_dir):
    version = os.path.basename(os.path.normpath(out_dir))
    if not version.isdigit():
        raise ValueError(
            "`out_dir` must end in an integer version directory, TF Serving's "
            f"layout (e.g. export/NAME/1). Received: out_dir={out_dir!r}"
        )
    if os.path.exists(out_dir) and os.listdir(out_dir):
        raise ValueError(
            "`out_dir` already holds a version; a served version is never "
            "overwritten, export a new version number instead. "
            f"Received: out_dir={out_dir!r}"
        )


def export_saved_model(
    model_dir: str,
    out_dir: str,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    generation_config: GenerationConfig | None = None,
    *,
    jit_compile: bool = False,
    model_name: str | None = None,
    warmup_prompt_lengths: tuple[int, ...] = (8, 16, 32, 64),
    **overrides,
) -> dict:
    """Writes a TF Serving SavedModel (`out_dir` = `.../NAME/VERSION`).

    Args:
        model_dir: a keras_nlg model directory.
        out_dir: the version directory to create (TF Serving's layout:
            base path `NAME`, integer `VERSION`); it must not hold a version.
        max_batch_size: rows a call accepts (more → InvalidArgument); match
            `max_batch_size` of the server's batching parameters.
        generation_config: the defaults of the optional generation inputs
            (SignatureDef `defaults`): a `GenerationConfig`, by default the
            model directory's `generation_config.json`, else
            `GenerationConfig()` (greedy, `max_new_tokens` 64, or less where
            the context is shorter).
        jit_compile: XLA-compile the decode loop and the scoring pass (one
            compilation per shape bucket, paid by the warm-up requests):
            several times faster on CPU, but only TF Serving's CPU build can
            run it; its GPU build has no XLA JIT ("Could not find compiler
            for platform CUDA", tensorflow/serving#2214). The default, False,
            writes no XLA function and no `Xla*` op, so every op has a CPU
            and, except host-side ops, a GPU kernel (`gpu_placement`).
        model_name: the name in the warm-up requests and the model card
            (default: the parent directory's name).
        warmup_prompt_lengths: prompt lengths (tokens) the warm-up requests
            compile at every row bucket (those that fit the context); each
            is a compilation at load time, none left for the first requests.

        **overrides: `GenerationConfig` fields applied to it (e.g.
            `max_new_tokens=32`).

    Returns:
        The model card written to `model_card.json` beside the graph.

    Raises:
        ValueError: for a bad setting (`GenerationConfig`'s message), one the
            served loop doesn't run (num_beams, repetition_penalty,
            num_return_sequences), `max_new_tokens` beyond the context, or an
            `out_dir` that is not a new version directory.
    """
    check_tensorflow_backend("export_saved_model")
    _check_out_dir(out_dir)
    check_positive_int("max_batch_size", max_batch_size)
    # Settings first (the directory's generation_config.json is what `load`
    # would attach), so a bad one is refused before the model loads.
    directory_config = None
    if generation_config is None:
        directory_config = GenerationConfig.from_pretrained(model_dir)
    generation = resolve_generation_config(
        None, generation_config or directory_config, overrides
    )
    model, tokenizer, config = load(model_dir)
    generation.check_vocabulary(tokenizer.vocabulary_size)
    signatures = Signatures(model, tokenizer, max_batch_size, jit_compile)
    limit = signatures.max_new_tokens_limit
    if generation.max_new_tokens > limit:
        if "max_new_tokens" in overrides:
            raise ValueError(
                f"`max_new_tokens` must be in [1, {limit}]. "
                f"Received: max_new_tokens={generation.max_new_tokens!r}"
            )
        # A default longer than this model's context: the longest it takes.
        generation = generation.replace(
            max_new_tokens=limit,
            min_new_tokens=min(generation.min_new_tokens, limit),
        )
    defaults = served_defaults(generation, directory_config is not None)
    max_new_tokens = defaults["max_new_tokens"]
    model_name = model_name or os.path.basename(
        os.path.dirname(os.path.normpath(os.path.abspath(out_dir)))
    )
    archive = keras.export.ExportArchive()
    archive.track(model)
    # The in-graph tokenizer's lookup tables (keras-hub's are not tracked by
    # the model): without them the export fails with "untracked resource".
    archive.track(tokenizer.resources)
    for name, (function, input_signature) in endpoints(signatures, defaults).items():
        archive.add_endpoint(name, function, input_signature=input_signature)
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    # Written beside and renamed into place: a server polling the base path
    # never sees a half-written version.
    scratch = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        archive.write_out(scratch, verbose=False)
        assets = os.path.join(scratch, "assets")
        os.makedirs(assets, exist_ok=True)
        save_tokenizer(tokenizer, assets)
        write_warmup_file(
            scratch, signatures, model_name, warmup_prompt_lengths, max_new_tokens
        )
        card = model_card(
            model,
            tokenizer,
            config,
            model_dir,
            scratch,
            signatures,
            max_new_tokens,
            jit_compile,
        )
        card["name"] = model_name
        card["generation_defaults"] = defaults
        write_model_card(scratch, card)
        if os.path.exists(out_dir):
            os.rmdir(out_dir)  # empty (checked above)
        os.rename(scratch, out_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return card
