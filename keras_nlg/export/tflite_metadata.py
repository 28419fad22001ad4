"""What a `.tflite` export holds: its file names, its ops and `metadata.json`.

A leaf for both sides of the TFLite export: the exporter writes the
metadata, the host runner (`litert_runner`) and apps read it. It says how
to drive the file without opening the model: the cache tensors (names,
shapes, dtypes, from the model's `cache_spec`), the signatures' inputs and
outputs, the tokenizer and the context.
"""

import os

import numpy as np

from keras_nlg.files import read_json_file
from keras_nlg.tokenizers import TOKENIZER_FILE

TFLITE_FILE = "model.tflite"
METADATA_FILE = "metadata.json"
METADATA_FORMAT = "keras_nlg.tflite/1"


def tflite_ops(path_or_bytes) -> list[str]:
    """Sorted names of the ops in a `.tflite` file, in every subgraph.

    Reads the flatbuffer itself: the interpreter's op list covers only the
    main subgraph, and a Flex op hidden in a WHILE body must show up too.
    A custom op (Flex ones are `Flex<TF op>`) appears under its custom name.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    if isinstance(path_or_bytes, bytes):
        flatbuffer = path_or_bytes
    else:
        with open(path_or_bytes, "rb") as f:
            flatbuffer = f.read()
    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    builtin_names = {
        code: name
        for name, code in vars(schema.BuiltinOperator).items()
        if not name.startswith("_")
    }
    opcodes = []
    for i in range(model.OperatorCodesLength()):
        opcode = model.OperatorCodes(i)
        if opcode.CustomCode():
            opcodes.append(opcode.CustomCode().decode())
        else:
            # Codes past 127 live in the newer field; the old one saturates.
            code = max(opcode.BuiltinCode(), opcode.DeprecatedBuiltinCode())
            opcodes.append(builtin_names[code])
    used = set()
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        for o in range(subgraph.OperatorsLength()):
            used.add(opcodes[subgraph.Operators(o).OpcodeIndex()])
    return sorted(used)


def _signature_details(path):
    """`{signature: {"inputs"/"outputs": {tensor: {shape, dtype}}}}` of a file."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    signatures = {}
    for name in interpreter.get_signature_list():
        runner = interpreter.get_signature_runner(name)
        signatures[name] = {
            f"{kind}s": {
                tensor: {
                    "shape": details["shape"].tolist(),
                    "dtype": np.dtype(details["dtype"]).name,
                }
                for tensor, details in sorted(
                    getattr(runner, f"get_{kind}_details")().items()
                )
            }
            for kind in ("input", "output")
        }
    return signatures


def _common(values):
    """The value all of `values` share, or None."""
    return values[0] if all(value == values[0] for value in values) else None


def cache_metadata(cache_spec) -> dict:
    """The `cache` entry: each tensor, and the shape and dtype they share."""
    tensors = [
        {"name": t.name, "shape": list(t.shape), "dtype": t.dtype}
        for t in cache_spec.tensors
    ]
    return {
        "names": cache_spec.names,
        "shape": _common([t["shape"] for t in tensors]),
        "dtype": _common([t["dtype"] for t in tensors]),
        "tensors": tensors,
        "has_positions": cache_spec.has_positions,
        "layout": cache_spec.layout,
    }


def tflite_metadata(model, tokenizer, config, path, quantize, prefill_length, cache):
    """The metadata of the `.tflite` at `path` (tokenizer files beside it).

    `cache` is the `CacheSpec` of the file's cache (batch 1).
    """
    tokenizer_spec = read_json_file(os.path.join(os.path.dirname(path), TOKENIZER_FILE))
    files = sorted(os.listdir(os.path.dirname(path)))
    return {
        "format": METADATA_FORMAT,
        "architecture": type(model).__name__,
        "model_config": model.get_config(),
        "quantization": quantize,
        "size_bytes": os.path.getsize(path),
        "vocabulary_size": tokenizer.vocabulary_size,
        "end_of_text_id": tokenizer.end_of_text_id,
        "padding_id": tokenizer.padding_id,
        "special_tokens": tokenizer.special_tokens,
        "tokenizer": {
            "class_name": tokenizer_spec["class_name"],
            "files": [f for f in files if f not in (TFLITE_FILE, METADATA_FILE)],
        },
        "context_length": model.context_length,
        "prefill_length": prefill_length,
        "cache": cache_metadata(cache),
        "signatures": _signature_details(path),
        "ops": tflite_ops(path),
        "source": {
            "arch": config.get("arch"),
            "preset": config.get("preset"),
            "task": config.get("task"),
        },
    }
