"""Can stock TF Serving's GPU build run this SavedModel? A static check.

TF Serving's GPU build places each op on the GPU where a GPU kernel is
registered and on the CPU otherwise (string ops, variables, control flow:
the host side), and it has no XLA JIT compiler for CUDA. The check below is
static (nothing here runs on a GPU); it passes when

- no function is marked `_XlaMustCompile` (`tf.function(jit_compile=True)`):
  "Could not find compiler for platform CUDA" (tensorflow/serving#2214);
- no op is an XLA op (`Xla*`): those have CPU/GPU kernels in TensorFlow, but
  the kernels compile on demand with XLA (#2217, a generate loop with
  `XlaDynamicUpdateSlice`);
- every other op has a GPU kernel registered in this TensorFlow build, or is
  one of the host-side ops in `HOST_OPS`, which the server places on the
  CPU by design. Any other CPU-only op would also be placed on the CPU, with
  copies between devices mid-graph: it is reported for review
  (`unplaceable_ops`) and fails the check, rather than assumed harmless.

On Ampere and newer GPUs TensorFlow runs float32 matmuls in TF32 by
default, which can change greedy tokens against a CPU; set
`NVIDIA_TF32_OVERRIDE=0` in the server's environment for CPU-identical
tokens.

Kernels are read with TensorFlow's kernel registry
(`get_registered_kernels_for_op`); the full `tensorflow` wheel registers
its GPU kernels even on a machine without a GPU. tensorflow-text's ops
(SentencePiece, BPE) are CPU kernels the stock model server links
(`SUPPORTED_TENSORFLOW_OPS` in tensorflow_serving/model_servers/BUILD).
"""

import os

from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import kernels

# Ops that run on the host by design: graph plumbing, variables and
# checkpoints, control flow and function calls, assertions, and the string
# and ragged ops of in-graph tokenization. TF Serving's GPU build places
# them on the CPU, as every TensorFlow GPU runtime does.
HOST_OPS = frozenset(
    {
        # Graph plumbing, function calls, control flow.
        *("Placeholder", "NoOp", "Const", "Identity", "IdentityN"),
        *("PartitionedCall", "StatefulPartitionedCall"),
        *("If", "StatelessIf", "While", "StatelessWhile", "Case", "StatelessCase"),
        "Assert",
        # Variables and checkpoints.
        *("VarHandleOp", "ReadVariableOp", "VarIsInitializedOp"),
        *("DisableCopyOnRead", "AssignVariableOp"),
        *("SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename"),
        *("StringJoin", "StaticRegexFullMatch"),
        # Lookup tables (the GPT-2 BPE vocabulary).
        *("HashTableV2", "MutableHashTableV2", "LookupTableFindV2"),
        *("LookupTableImportV2", "LookupTableSizeV2", "LookupTableInsertV2"),
        *("LookupTableExportV2", "Fingerprint"),
        # Strings and ragged tensors: tokenization and detokenization.
        *("DecodeRaw", "StringLength", "StringSplit", "StringSplitV2"),
        *("UnicodeTranscode", "UnicodeDecode", "UnicodeDecodeWithOffsets"),
        "UnicodeEncode",
        *("UnsortedSegmentJoin", "ReduceJoin", "RegexReplace", "StaticRegexReplace"),
        *("RegexFullMatch", "Substr", "StringToHashBucketFast", "AsString"),
        *("RaggedTensorToTensor", "RaggedTensorFromVariant", "RaggedTensorToVariant"),
        *("RaggedGather", "RaggedRange", "RaggedTensorToSparse"),
        # tensorflow-text (its kernels are CPU-only).
        *("SentencepieceOp", "SentencepieceTokenizeOp", "SentencepieceDetokenizeOp"),
        *("SentencepieceIdToStringOp", "SentencepieceStringToIdOp"),
        "SentencepieceGetPieceSize",
        *("RegexSplitWithOffsets", "UnicodeScriptTokenizeWithOffsets"),
    }
)


def _read_graph(saved_model_dir):
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    return proto.meta_graphs[0].graph_def


def graph_ops(saved_model_dir):
    """Op types in the SavedModel's graph and its functions (sorted)."""
    return _ops(_read_graph(saved_model_dir))


def _ops(graph):
    functions = {function.signature.name for function in graph.library.function}
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops.update(node.op for node in function.node_def)
    # A call of a library function names the function as its op.
    return sorted(ops - functions)


def _device_types(op):
    try:
        registered = kernels.get_registered_kernels_for_op(op)
    except Exception:  # an op this process has no library for
        return set()
    return {kernel.device_type for kernel in registered.kernel}


def gpu_placement(saved_model_dir):
    """What stops TF Serving's GPU build from running a SavedModel.

    Args:
        saved_model_dir: a directory with `saved_model.pb`. A graph with
            tensorflow-text ops is read correctly only after
            `import tensorflow_text` (otherwise they count as unknown).

    Returns:
        dict with
        - `xla_compiled_functions`: functions marked `_XlaMustCompile`;
        - `xla_ops`: `Xla*` op types;
        - `host_ops`: op types without a GPU kernel, all in `HOST_OPS`
          (placed on the CPU);
        - `unplaceable_ops`: op types with neither a GPU kernel nor a place
          in `HOST_OPS`;
        - `gpu_safe`: True when the first, second and fourth are empty.
    """
    graph = _read_graph(saved_model_dir)
    must_compile = sorted(
        function.signature.name
        for function in graph.library.function
        if function.attr["_XlaMustCompile"].b
    )
    host, unplaceable, xla = [], [], []
    for op in _ops(graph):
        if op.startswith("Xla"):
            xla.append(op)
        elif "GPU" not in _device_types(op):
            (host if op in HOST_OPS else unplaceable).append(op)
    return {
        "xla_compiled_functions": must_compile,
        "xla_ops": xla,
        "host_ops": host,
        "unplaceable_ops": unplaceable,
        "gpu_safe": not (must_compile or xla or unplaceable),
    }
