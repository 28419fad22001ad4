"""`keras-nlg export`: a model directory as a TF Serving SavedModel, a TFLite
file, a LiteRT-LM bundle, or a Hugging Face transformers GPT-2 directory.

Which flag applies to which `--format` is a rule about the flags, so it
stays here; the settings themselves are checked by the exporters.
"""

import os

from keras_nlg.cli.common import add_out_arguments, given, positive_int, reject_flags


def add_parser(subparsers):
    export = subparsers.add_parser(
        "export",
        help="convert a model directory for deployment (TF Serving SavedModel, "
        "TFLite, LiteRT-LM) or for Hugging Face transformers",
    )
    export.add_argument("--model", required=True, metavar="DIR")
    export.add_argument(
        "--format",
        choices=("saved_model", "tflite", "litertlm", "transformers"),
        required=True,
    )
    add_out_arguments(
        export,
        metavar="OUTDIR",
        help="saved_model: export/NAME/VERSION (TF Serving's layout; a version "
        "is never overwritten, export a new one); tflite: a folder; litertlm: "
        "FILE.litertlm; transformers: a folder (GPT2LMHeadModel.from_pretrained)",
    )
    export.add_argument(
        "--quantize",
        choices=("none", "float16", "dynamic_int8", "int8"),
        help="tflite: none (default), float16, dynamic_int8, or int8 (calibrated "
        "on the model's training data); litertlm: none or dynamic_int8",
    )
    export.add_argument(
        "--quality-data",
        nargs="+",
        metavar="PATH",
        help="tflite: text files for int8 calibration and the quality figures "
        "(default: the bundled E2E sets for an E2E model, else Tiny Shakespeare)",
    )
    export.add_argument(
        "--max-batch-size",
        type=positive_int,
        help="saved_model: rows per call (default 64)",
    )
    export.add_argument(
        "--max-new-tokens",
        type=positive_int,
        help="saved_model: default of the request's max_new_tokens (default 64)",
    )
    xla = export.add_mutually_exclusive_group()
    xla.add_argument(
        "--xla",
        action="store_true",
        help="saved_model: XLA-compile the decode loop (several times faster on "
        "CPU; TF Serving's GPU build can't run it)",
    )
    xla.add_argument(
        "--no-xla",
        action="store_true",
        help="saved_model: no XLA, runs on TF Serving CPU and GPU (the default)",
    )
    export.add_argument(
        "--prefill-length",
        type=positive_int,
        help="tflite, litertlm: tokens per prefill call (default 32, at most half "
        "the context)",
    )
    export.add_argument(
        "--with-generate",
        action="store_true",
        help="add the one-call greedy generate signature (a WHILE op)",
    )
    return export


# The flags that apply to some formats only (their destinations).
FORMAT_FLAGS = {
    "saved_model": ("max_batch_size", "max_new_tokens", "xla", "no_xla"),
    "tflite": (
        "quantize",
        "prefill_length",
        "with_generate",
        "overwrite",
        "quality_data",
    ),
    "litertlm": ("quantize", "prefill_length", "overwrite"),
    "transformers": ("overwrite",),
}


def run(args):
    for name in sorted({n for names in FORMAT_FLAGS.values() for n in names}):
        if name not in FORMAT_FLAGS[args.format]:
            formats = [f for f, names in FORMAT_FLAGS.items() if name in names]
            reject_flags(
                {"--" + name.replace("_", "-"): getattr(args, name) or None},
                f"applies to --format {' or '.join(formats)} only",
            )
    if args.format == "litertlm":
        return _run_litertlm(args)
    if args.format == "saved_model":
        return _run_saved_model(args)
    if args.format == "transformers":
        from keras_nlg.export import export_transformers

        path = export_transformers(args.model, args.out, overwrite=args.overwrite)
        print(
            f"wrote {path} (Hugging Face GPT-2: config.json, model.safetensors, "
            "tokenizer files)"
        )
        return None
    from keras_nlg.export import export_tflite

    metadata = export_tflite(
        args.model,
        args.out,
        prefill_length=args.prefill_length,
        include_generate=args.with_generate,
        quality_data=args.quality_data,
        overwrite=args.overwrite,
        **given(quantize=args.quantize),
    )
    quality = metadata["quality"]
    print(
        f"wrote {os.path.join(os.path.abspath(args.out), 'model.tflite')} "
        f"({metadata['size_bytes'] / 1e6:.2f} MB, {metadata['quantization']}), "
        f"signatures "
        f"{', '.join(sorted(metadata['signatures']))}"
    )
    print(
        f"quality vs float32 Keras over {quality['positions']} held-out positions: "
        f"perplexity ratio {quality['perplexity_ratio']:.4f}, next-token agreement "
        f"{quality['next_token_agreement']:.1%}"
    )


def _run_saved_model(args):
    from keras_nlg.export import export_saved_model

    card = export_saved_model(
        args.model,
        args.out,
        jit_compile=args.xla,
        **given(max_batch_size=args.max_batch_size, max_new_tokens=args.max_new_tokens),
    )
    limits = card["limits"]
    print(
        f"wrote {os.path.abspath(args.out)} (model {card['name']}): signatures "
        f"{', '.join(card['signatures'])}; max batch {limits['max_batch_size']}, "
        f"default max_new_tokens {limits['default_max_new_tokens']}; ops outside "
        f"core TensorFlow: {', '.join(card['ops']['tensorflow_text']) or 'none'}; "
        f"runs on {', '.join(card['runtimes'])}"
    )


def _run_litertlm(args):
    from keras_nlg.export.litertlm import export_litertlm

    summary = export_litertlm(
        args.model,
        args.out,
        prefill_length=args.prefill_length,
        overwrite=args.overwrite,
        **given(quantize=args.quantize),
    )
    print(
        f"wrote {summary['path']} ({summary['size_bytes'] / 1e6:.2f} MB, "
        f"{summary['quantization']}, {summary['tokenizer']} tokenizer) for LiteRT-LM: "
        f"context {summary['context_length']}, prefill {summary['prefill_length']}, "
        f"stop token {summary['end_of_text_id']}"
    )
