"""`model_card.json`: what a served version is, for people and servers.

Architecture, tokenizer, training data and metrics, the signatures and
their limits, the ops a server needs (core TensorFlow only for the byte
tokenizer, tensorflow-text's for SentencePiece and GPT-2 BPE) and the
runtimes it runs on (`runtimes`: TF Serving's GPU build only without XLA,
see `placement.gpu_placement`).
"""

import datetime
import json
import os

import tensorflow as tf

from keras_nlg.export import wire_contract as wire
from keras_nlg.export.saved_model.placement import gpu_placement, graph_ops
from keras_nlg.files import read_json_file
from keras_nlg.model_directory import METRICS_FILE

CARD_FORMAT = "keras_nlg.saved_model/1"


def model_card(
    model, tokenizer, config, model_dir, export_dir, signatures, max_new_tokens, jit
):
    """The card of the SavedModel in `export_dir` (its graph already written)."""
    metrics_path = os.path.join(model_dir, METRICS_FILE)
    metrics = None
    if os.path.isfile(metrics_path):
        metrics = read_json_file(metrics_path)
    ops = graph_ops(export_dir)
    placement = gpu_placement(export_dir)
    # tf.raw_ops lists core TensorFlow's ops; XLA's (cache updates inside the
    # compiled loop) come with any XLA-enabled TensorFlow; the rest come from
    # tensorflow-text, whose op library the server must load.
    xla_ops = placement["xla_ops"]
    text_ops = [op for op in ops if not hasattr(tf.raw_ops, op) and op not in xla_ops]
    from keras_nlg import __version__

    return {
        "format": CARD_FORMAT,
        "keras_nlg_version": __version__,
        "exported_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "architecture": type(model).__name__,
        "model_config": model.get_config(),
        "parameters": int(model.count_params()),
        "tokenizer": {
            "class_name": type(tokenizer).__name__,
            "vocabulary_size": tokenizer.vocabulary_size,
            "end_of_text_id": tokenizer.end_of_text_id,
            "padding_id": tokenizer.padding_id,
            "special_tokens": tokenizer.special_tokens,
        },
        "training": config.get("training"),
        "source": {k: config.get(k) for k in ("arch", "preset", "task")},
        "metrics": metrics,
        "signatures": list(wire.SIGNATURES),
        "limits": {
            "max_batch_size": signatures.max_batch_size,
            "max_prompt_bytes": wire.MAX_PROMPT_BYTES,
            "max_new_tokens": signatures.max_new_tokens_limit,
            "default_max_new_tokens": max_new_tokens,
            "context_length": signatures.context_length,
        },
        "jit_compile": jit,
        "runtimes": runtimes(placement),
        "gpu_placement": placement,
        "ops": {"all": ops, "xla": xla_ops, "tensorflow_text": text_ops},
    }


def runtimes(placement):
    """Where the export runs: TF Serving CPU always (its builds have XLA's
    CPU JIT), TF Serving GPU only without XLA (`placement.gpu_placement`)."""
    names = ["tensorflow_serving_cpu"]
    if placement["gpu_safe"]:
        names.append("tensorflow_serving_gpu")
    return names


def write_model_card(version_dir, card):
    with open(os.path.join(version_dir, wire.MODEL_CARD_FILE), "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
