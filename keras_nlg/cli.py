"""`keras-nlg`: the command-line front end. Parses, calls the library, prints.

Bad input never shows a traceback: it is one line on stderr and exit code 2.
"""

import argparse
import dataclasses
import json
import logging
import os
import re
import sys

EXIT_BAD_INPUT = 2
_ARCHES = ("transformer", "lstm")


class _ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (no usage block)."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _number(convert, description, accept):
    """An argparse `type` that converts, then checks a bound."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        # `not accept(...)` also rejects NaN, for which every comparison fails.
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, "a positive integer", lambda value: value > 0)
_non_negative_int = _number(int, "an integer ≥ 0", lambda value: value >= 0)
_positive_float = _number(float, "a number > 0", lambda value: value > 0)
_non_negative_float = _number(float, "a number ≥ 0", lambda value: value >= 0)


def build_parser():
    parser = _ArgumentParser(
        prog="keras-nlg",
        description="Train and generate with keras_nlg language models.",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_ArgumentParser
    )

    train = commands.add_parser("train", help="train a language model on text files")
    train.add_argument(
        "--task",
        choices=("lm", "e2e"),
        default="lm",
        help="lm: language model on text files; e2e: MR → text on E2E CSVs",
    )
    train.add_argument("--arch", choices=_ARCHES, default="transformer")
    train.add_argument(
        "--data",
        nargs="+",
        metavar="PATH",
        help="UTF-8 text files (default: Tiny Shakespeare); with --task e2e one "
        "CSV in the E2E format (default: the bundled training set)",
    )
    train.add_argument(
        "--validation-data",
        metavar="CSV",
        help="--task e2e: CSV for the validation loss (default: bundled dev set)",
    )
    train.add_argument(
        "--init",
        metavar="DIR",
        help="--task e2e: start from this pre-trained model directory",
    )
    train.add_argument(
        "--max-minutes",
        type=_positive_float,
        help="stop after this many minutes of training steps",
    )
    train.add_argument(
        "--out", required=True, metavar="DIR", help="model directory to write"
    )
    train.add_argument(
        "--preset", default="small", help="model size (tiny, small, ...)"
    )
    length = train.add_mutually_exclusive_group()
    length.add_argument(
        "--steps",
        type=_positive_int,
        help="optimizer steps (default 1000; --task e2e: 6 epochs)",
    )
    length.add_argument("--epochs", type=_positive_int, help="passes over the data")
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument("--sequence-length", type=_positive_int)
    train.add_argument("--learning-rate", type=_positive_float)
    train.add_argument(
        "--steps-per-epoch",
        type=_positive_int,
        default=200,
        help="with --steps: steps between validation, logs and backups",
    )
    train.add_argument("--validation-steps", type=_positive_int)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--sample-prompt",
        help="prompt of the printed and TensorBoard samples (default ROMEO:)",
    )
    train.add_argument(
        "--max-new-tokens",
        type=_positive_int,
        help="length of the printed sample (default 300)",
    )
    train.add_argument(
        "--tokenizer",
        choices=("byte", "sentencepiece"),
        help="sentencepiece: train a SentencePiece model on --data first "
        "(default: byte; --task e2e: sentencepiece)",
    )
    train.add_argument(
        "--vocab-size",
        type=_positive_int,
        help="SentencePiece vocabulary size (default 8000; --task e2e: 2000)",
    )

    evaluate = commands.add_parser(
        "evaluate",
        help="perplexity on held-out text, or BLEU/ROUGE/diversity on an E2E CSV",
    )
    evaluate.add_argument("--model", required=True, metavar="DIR")
    evaluate.add_argument(
        "--data",
        required=True,
        nargs="+",
        metavar="PATH",
        help="UTF-8 text files; with --task e2e one CSV with mr/ref columns",
    )
    evaluate.add_argument("--task", choices=("lm", "e2e"), default="lm")
    evaluate.add_argument(
        "--context", type=_positive_int, help="window tokens (default: the model's)"
    )
    evaluate.add_argument(
        "--stride",
        type=_positive_int,
        help="tokens between window starts (default: half the context)",
    )
    evaluate.add_argument(
        "--batch-size",
        type=_positive_int,
        help="windows per forward pass (default 8); --task e2e: prompts per "
        "generate call (default 32)",
    )
    evaluate.add_argument(
        "--output",
        metavar="FILE",
        help="--task e2e: write the outputs, one line per distinct MR",
    )
    evaluate.add_argument(
        "--num-beams", type=_positive_int, help="--task e2e: beam width (1 = greedy)"
    )
    evaluate.add_argument("--max-new-tokens", type=_positive_int)
    evaluate.add_argument(
        "--cased",
        action="store_true",
        help="--task e2e: case-sensitive BLEU (the official scorer lowercases)",
    )
    evaluate.add_argument(
        "--json", action="store_true", help="print the figures as one JSON object"
    )

    import_gpt2 = commands.add_parser(
        "import-gpt2",
        help="convert a local GPT-2 checkpoint (Hugging Face or keras-hub) "
        "into a model directory",
    )
    import_gpt2.add_argument("--checkpoint", required=True, metavar="PATH")
    import_gpt2.add_argument("--out", required=True, metavar="DIR")

    finetune = commands.add_parser(
        "finetune", help="continue training a model directory on new text"
    )
    finetune.add_argument("--model", required=True, metavar="DIR")
    finetune.add_argument("--data", required=True, nargs="+", metavar="PATH")
    finetune.add_argument("--out", required=True, metavar="DIR")
    finetune.add_argument(
        "--lora-rank",
        type=_positive_int,
        help="train rank-R LoRA adapters only (merged into the saved model)",
    )
    finetune.add_argument("--lora-alpha", type=_positive_float)
    finetune_length = finetune.add_mutually_exclusive_group()
    finetune_length.add_argument(
        "--steps", type=_positive_int, help="optimizer steps (default 200)"
    )
    finetune_length.add_argument("--epochs", type=_positive_int)
    finetune.add_argument("--batch-size", type=_positive_int, default=8)
    finetune.add_argument("--sequence-length", type=_positive_int)
    finetune.add_argument(
        "--learning-rate",
        type=_positive_float,
        help="default 1e-4, or 1e-3 with --lora-rank",
    )
    finetune.add_argument("--steps-per-epoch", type=_positive_int, default=200)
    finetune.add_argument("--seed", type=int, default=0)

    export = commands.add_parser(
        "export",
        help="convert a model directory for deployment (TF Serving SavedModel, TFLite)",
    )
    export.add_argument("--model", required=True, metavar="DIR")
    export.add_argument("--format", choices=("saved_model", "tflite"), required=True)
    export.add_argument(
        "--out",
        required=True,
        metavar="OUTDIR",
        help="saved_model: export/NAME/VERSION (TF Serving's layout)",
    )
    export.add_argument(
        "--quantize",
        choices=("none", "float16", "dynamic_int8", "int8"),
        help="tflite: none (default), float16, dynamic_int8, or int8 (calibrated "
        "on the model's training data)",
    )
    export.add_argument(
        "--max-batch-size",
        type=_positive_int,
        help="saved_model: rows per call (default 64)",
    )
    export.add_argument(
        "--max-new-tokens",
        type=_positive_int,
        help="saved_model: default of the request's max_new_tokens (default 64)",
    )
    export.add_argument(
        "--no-xla",
        action="store_true",
        help="saved_model: don't XLA-compile the decode loop",
    )
    export.add_argument(
        "--prefill-length",
        type=_positive_int,
        help="tokens per prefill call (default 32, at most half the context)",
    )
    export.add_argument(
        "--with-generate",
        action="store_true",
        help="add the one-call greedy generate signature (a WHILE op)",
    )

    serve = commands.add_parser(
        "serve",
        help="serve SavedModels over TF Serving's gRPC and REST protocol "
        "(development and CI; production uses TF Serving itself)",
    )
    # TF Serving's own flag names, so its command lines work unchanged.
    serve.add_argument("--port", type=int, default=8500, help="gRPC port (0: free)")
    serve.add_argument(
        "--rest_api_port", type=int, default=-1, help="REST port (0: free, -1: off)"
    )
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--model_name", default="default")
    serve.add_argument("--model_base_path")
    serve.add_argument("--model_config_file")
    serve.add_argument(
        "--enable_batching", type=_flag_bool, nargs="?", const=True, default=False
    )
    serve.add_argument("--batching_parameters_file")
    serve.add_argument("--file_system_poll_wait_seconds", type=float, default=1.0)
    serve.add_argument("--monitoring_config_file")
    serve.add_argument(
        "--max_request_bytes",
        type=_positive_int,
        default=4 << 20,
        help="larger requests get RESOURCE_EXHAUSTED",
    )

    client = commands.add_parser(
        "client", help="query a TF Serving endpoint (gRPC, or REST with --rest URL)"
    )
    client.add_argument("--target", default="localhost:8500", help="gRPC host:port")
    client.add_argument("--rest", metavar="URL", help="use REST at this base URL")
    client.add_argument("--model_name", "--model-name", default="default")
    client.add_argument("--version", type=_positive_int)
    client.add_argument("--label")
    client.add_argument("--prompt", action="append", metavar="TEXT")
    client.add_argument("--max-new-tokens", type=_positive_int)
    client.add_argument("--temperature", type=_non_negative_float)
    client.add_argument("--top-k", type=int)
    client.add_argument("--top-p", type=float)
    client.add_argument("--seed", type=int)
    client.add_argument(
        "--metadata", action="store_true", help="print status and signatures"
    )
    client.add_argument("--json", action="store_true")

    generate = commands.add_parser(
        "generate", help="continue prompts with a trained model"
    )
    generate.add_argument("--model", required=True, metavar="DIR")
    generate.add_argument("--prompt", action="append", required=True, metavar="TEXT")
    generate.add_argument("--max-new-tokens", type=_positive_int, default=200)
    generate.add_argument(
        "--temperature", type=_non_negative_float, default=0.8, help="0 means greedy"
    )
    generate.add_argument(
        "--greedy", action="store_true", help="same as --temperature 0"
    )
    generate.add_argument("--top-k", type=_non_negative_int, default=0)
    generate.add_argument("--top-p", type=_positive_float, default=1.0)
    generate.add_argument("--repetition-penalty", type=_positive_float, default=1.0)
    generate.add_argument("--num-beams", type=_positive_int, default=1)
    generate.add_argument("--length-penalty", type=float, default=1.0)
    generate.add_argument("--num-return-sequences", type=_positive_int, default=1)
    generate.add_argument(
        "--stop", action="append", metavar="TEXT", help="end the text at this string"
    )
    generate.add_argument("--seed", type=int)
    generate.add_argument(
        "--stream", action="store_true", help="print the text as it is generated"
    )
    generate.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per sequence: prompt, text, token_ids, log_probs",
    )
    return parser


def _flag_bool(text):
    """TF Serving's boolean flags: `--flag`, `--flag=true`, `--flag=false`."""
    if text.lower() in ("true", "1"):
        return True
    if text.lower() in ("false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _reject_flags(flags, reason):
    """`ValueError` for the first flag given (not None) that doesn't apply."""
    for flag, value in flags.items():
        if value is not None:
            raise ValueError(f"{flag} {reason}")


def _train(args):
    if args.task == "e2e":
        return _train_e2e(args)
    _reject_flags(
        {"--validation-data": args.validation_data, "--init": args.init},
        "applies to --task e2e only",
    )
    from keras_nlg.generation import sample_continuation
    from keras_nlg.training import TrainingTimeLimit, train

    args.sample_prompt = "ROMEO:" if args.sample_prompt is None else args.sample_prompt
    args.max_new_tokens = args.max_new_tokens or 300

    result = train(
        args.out,
        arch=args.arch,
        data_paths=args.data,
        preset=args.preset,
        steps=args.steps,
        epochs=args.epochs,
        batch_size=args.batch_size,
        sequence_length=args.sequence_length,
        learning_rate=args.learning_rate,
        steps_per_epoch=args.steps_per_epoch,
        validation_steps=args.validation_steps,
        seed=args.seed,
        sample_prompt=args.sample_prompt,
        tokenizer=args.tokenizer or "byte",
        vocabulary_size=args.vocab_size,
        callbacks=(
            [TrainingTimeLimit(args.max_minutes * 60)] if args.max_minutes else None
        ),
    )
    sample = sample_continuation(
        result.model,
        result.tokenizer,
        args.sample_prompt,
        args.max_new_tokens,
        args.seed,
    )
    metrics = result.metrics
    print(f"\n--- sample ---\n{args.sample_prompt}{sample}\n--------------")
    if "val_loss" in metrics:
        print(
            f"validation loss {metrics['val_loss']:.3f} nats/token "
            f"({metrics['val_bits_per_token']:.3f} bits/token)"
        )
    print(f"model directory: {os.path.abspath(result.out_dir)}")
    print(f"TensorBoard logs: {os.path.abspath(result.log_dir)}")
    print(f"  view them with: tensorboard --logdir {result.log_dir}")


def _train_e2e(args):
    from keras_nlg.training import train_e2e

    if args.arch != "transformer":
        raise ValueError("--task e2e trains a transformer (--arch lstm is not offered)")
    if args.sequence_length is not None:
        raise ValueError(
            "--sequence-length does not apply to --task e2e "
            "(each example is one MR and its text)"
        )
    if args.data is not None and len(args.data) != 1:
        raise ValueError(f"--task e2e takes one training CSV. Received: {args.data}")
    _reject_flags(
        {
            "--validation-steps": args.validation_steps,
            "--sample-prompt": args.sample_prompt,
            "--max-new-tokens": args.max_new_tokens,
        },
        "does not apply to --task e2e (it validates on all of --validation-data "
        "and samples a dev MR)",
    )
    options = {} if args.tokenizer is None else {"tokenizer": args.tokenizer}
    result = train_e2e(
        args.out,
        train_csv=args.data[0] if args.data else None,
        validation_csv=args.validation_data,
        vocabulary_size=args.vocab_size,
        preset=args.preset,
        init_model_dir=args.init,
        steps=args.steps,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        max_minutes=args.max_minutes,
        steps_per_epoch=args.steps_per_epoch,
        seed=args.seed,
        **options,
    )
    metrics = result.metrics
    if "val_loss" in metrics:
        print(f"validation loss {metrics['val_loss']:.3f} nats/token (text part)")
    print(f"model directory: {os.path.abspath(result.out_dir)}")
    print(
        f"score it: keras-nlg evaluate --task e2e --model {result.out_dir} "
        "--data DEV_OR_TEST.csv --output outputs.txt"
    )


def _evaluate(args):
    from keras_nlg import load
    from keras_nlg.evaluation import evaluate_e2e, perplexity

    if args.task == "lm":
        _reject_flags(
            {
                "--output": args.output,
                "--num-beams": args.num_beams,
                "--max-new-tokens": args.max_new_tokens,
                "--cased": args.cased or None,
            },
            "applies to --task e2e only",
        )
        from keras_nlg.data import read_text_files

        loaded = load(args.model)
        figures = perplexity(
            loaded.model,
            loaded.tokenizer,
            read_text_files(args.data),
            context=args.context,
            stride=args.stride,
            batch_size=args.batch_size or 8,
        )
        if args.json:
            print(json.dumps(figures))
            return
        print(
            f"perplexity {figures['perplexity']:.4f} "
            f"({figures['bits_per_token']:.4f} bits/token, "
            f"{figures['bits_per_byte']:.4f} bits/byte, "
            f"{figures['bits_per_character']:.4f} bits/character) over "
            f"{figures['tokens']:,} tokens; windows of {figures['context']} "
            f"tokens at stride {figures['stride']}"
        )
        return

    if len(args.data) != 1:
        raise ValueError(f"--task e2e takes one CSV. Received: {args.data}")
    _reject_flags(
        {"--context": args.context, "--stride": args.stride},
        "applies to perplexity (--task lm) only",
    )
    from keras_nlg.evaluation.e2e import DEFAULT_NUM_BEAMS

    loaded = load(args.model)
    task = loaded.config.get("task") or {}
    scores = evaluate_e2e(
        loaded.model,
        loaded.tokenizer,
        args.data[0],
        num_beams=args.num_beams or DEFAULT_NUM_BEAMS,
        # Default: the room recorded at training (the model's context less
        # the longest training prompt).
        max_new_tokens=args.max_new_tokens or task.get("max_new_tokens"),
        batch_size=args.batch_size or 32,
        lowercase=not args.cased,
        output_path=args.output,
    )
    outputs = scores.pop("outputs")
    if args.json:
        print(json.dumps(scores))
    else:
        print("| metric | value |\n|---|---|")
        case = "cased" if args.cased else "lowercased"
        print(f"| BLEU ({case}) | {scores['bleu']:.2f} |")
        for name in ("rouge1", "rouge2", "rougeL", "distinct_1", "distinct_2"):
            print(f"| {name} | {scores[name]:.4f} |")
        print(f"| repetition rate | {scores['repetition_rate']:.4f} |")
        print(
            f"{len(outputs)} MRs, beam {scores['num_beams']}, "
            f"{scores['generation_seconds']:.1f} s to generate"
        )
    if args.output:
        print(f"outputs: {os.path.abspath(args.output)}", file=sys.stderr)


def _export(args):
    if args.format == "saved_model":
        return _export_saved_model(args)
    _reject_flags(
        {
            "--max-batch-size": args.max_batch_size,
            "--max-new-tokens": args.max_new_tokens,
            "--no-xla": args.no_xla or None,
        },
        "applies to --format saved_model only",
    )
    from keras_nlg.export import export_tflite

    metadata = export_tflite(
        args.model,
        args.out,
        quantize=args.quantize or "none",
        prefill_length=args.prefill_length,
        include_generate=args.with_generate,
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


def _export_saved_model(args):
    _reject_flags(
        {
            "--quantize": args.quantize,
            "--prefill-length": args.prefill_length,
            "--with-generate": args.with_generate or None,
        },
        "applies to --format tflite only",
    )
    from keras_nlg.export import export_saved_model
    from keras_nlg.export.saved_model import DEFAULT_MAX_BATCH_SIZE

    card = export_saved_model(
        args.model,
        args.out,
        max_batch_size=args.max_batch_size or DEFAULT_MAX_BATCH_SIZE,
        max_new_tokens=args.max_new_tokens,
        jit_compile=not args.no_xla,
    )
    limits = card["limits"]
    print(
        f"wrote {os.path.abspath(args.out)} (model {card['name']}): signatures "
        f"{', '.join(card['signatures'])}; max batch {limits['max_batch_size']}, "
        f"default max_new_tokens {limits['default_max_new_tokens']}; ops outside "
        f"core TensorFlow: {', '.join(card['ops']['tensorflow_text']) or 'none'}"
    )


def _serve(args):
    from keras_nlg.serving.batching import BatchingParameters
    from keras_nlg.serving.models import ModelConfig, ModelManager
    from keras_nlg.serving.server import run_server

    if bool(args.model_config_file) == bool(args.model_base_path):
        raise ValueError(
            "Pass --model_config_file, or --model_name with --model_base_path. "
            f"Received: model_config_file={args.model_config_file!r}, "
            f"model_base_path={args.model_base_path!r}"
        )
    if args.model_config_file:
        configs = ModelConfig.from_file(args.model_config_file)
    else:
        configs = [ModelConfig(args.model_name, args.model_base_path)]
    for config in configs:
        if not os.path.isdir(config.base_path):
            raise ValueError(
                f"The base path of model {config.name!r} is not a directory. "
                f"Received: base_path={config.base_path!r}"
            )
    batching = None
    if args.enable_batching:
        batching = BatchingParameters()
        if args.batching_parameters_file:
            batching = BatchingParameters.from_file(args.batching_parameters_file)
    elif args.batching_parameters_file:
        raise ValueError(
            "--batching_parameters_file needs --enable_batching. "
            f"Received: batching_parameters_file={args.batching_parameters_file!r}"
        )
    prometheus_path = None
    if args.monitoring_config_file:
        with open(args.monitoring_config_file) as f:
            text = f.read()
        if "enable: true" in text:
            match = re.search(r'path:\s*"([^"]+)"', text)
            prometheus_path = (
                match.group(1) if match else "/monitoring/prometheus/metrics"
            )
    run_server(
        ModelManager(configs),
        port=args.port,
        rest_api_port=args.rest_api_port,
        host=args.host,
        batching=batching,
        poll_seconds=args.file_system_poll_wait_seconds,
        max_request_bytes=args.max_request_bytes,
        prometheus_path=prometheus_path,
    )


def _client(args):
    from keras_nlg.serving.client import GrpcClient, RestClient

    settings = {
        "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature,
        "top_k": args.top_k,
        "top_p": args.top_p,
        "seed": args.seed,
    }
    if args.rest:
        client = RestClient(
            args.rest, args.model_name, version=args.version, label=args.label
        )
    else:
        client = GrpcClient(
            args.target, args.model_name, version=args.version, label=args.label
        )
    if not args.metadata and not args.prompt:
        raise ValueError("--prompt is required (or --metadata)")
    import grpc

    from keras_nlg.serving.client import RestError

    try:
        if args.metadata:
            summary = {"status": client.status(), "signatures": client.metadata()}
            print(json.dumps(summary, indent=2))
            return
        texts = client.generate(args.prompt, **settings)
    except grpc.RpcError as error:
        raise ValueError(f"{error.code().name}: {error.details()}") from None
    except RestError as error:
        raise ValueError(str(error)) from None
    if args.json:
        print(
            json.dumps(
                [
                    {"prompt": p, "text": t}
                    for p, t in zip(args.prompt, texts, strict=True)
                ],
                ensure_ascii=False,
            )
        )
        return
    for prompt, text in zip(args.prompt, texts, strict=True):
        print(prompt + text)


def _import_gpt2(args):
    from keras_nlg.models.gpt2_checkpoint import import_gpt2

    loaded = import_gpt2(args.checkpoint, args.out)
    print(
        f"imported GPT-2 ({loaded.model.count_params():,} parameters, "
        f"{loaded.model.num_layers} layers, context {loaded.model.max_length}) "
        f"into {os.path.abspath(args.out)}"
    )


def _finetune(args):
    from keras_nlg.training import finetune

    result = finetune(
        args.model,
        args.data,
        args.out,
        steps=args.steps,
        epochs=args.epochs,
        batch_size=args.batch_size,
        sequence_length=args.sequence_length,
        learning_rate=args.learning_rate,
        lora_rank=args.lora_rank,
        lora_alpha=args.lora_alpha,
        steps_per_epoch=args.steps_per_epoch,
        seed=args.seed,
    )
    metrics = result.metrics
    if "val_loss" in metrics:
        print(f"validation loss {metrics['val_loss']:.3f} nats/token")
    print(f"model directory: {os.path.abspath(result.out_dir)}")


def _generate(args):
    from keras_nlg import load
    from keras_nlg.generation import generate, generate_stream

    if args.stream and (
        args.json or args.num_beams > 1 or args.num_return_sequences > 1
    ):
        raise ValueError(
            "--stream prints one sequence per prompt as text: it does not combine "
            "with --json, --num-beams > 1 or --num-return-sequences > 1"
        )
    loaded = load(args.model)
    do_sample = not args.greedy and args.temperature > 0 and args.num_beams == 1
    settings = dict(
        max_new_tokens=args.max_new_tokens,
        do_sample=do_sample,
        temperature=args.temperature if do_sample else 1.0,
        top_k=args.top_k,
        top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
        stop=args.stop,
        seed=args.seed,
    )
    if args.stream:
        for prompt in args.prompt:
            print(prompt, end="", flush=True)
            for piece in generate_stream(
                loaded.model, loaded.tokenizer, prompt, **settings
            ):
                print(piece, end="", flush=True)
            print()
        return
    results = generate(
        loaded.model,
        loaded.tokenizer,
        args.prompt,
        num_beams=args.num_beams,
        length_penalty=args.length_penalty,
        num_return_sequences=args.num_return_sequences,
        return_details=True,
        **settings,
    )
    prompts = [p for p in args.prompt for _ in range(args.num_return_sequences)]
    for prompt, result in zip(prompts, results, strict=True):
        if args.json:
            record = {"prompt": prompt, **dataclasses.asdict(result)}
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(prompt + result.text)


def _import_tensorflow_quietly():
    """Imports TensorFlow with file descriptor 2 pointed at /dev/null.

    TensorFlow's C++ runtime prints several lines at import and device
    discovery (absl, oneDNN, CUDA probes) that TF_CPP_MIN_LOG_LEVEL no longer
    silences; without this, a one-line error would arrive under a screenful
    of noise.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow

        import keras_nlg.models  # noqa: F401

        # Device discovery logs a cuInit error on machines without a GPU.
        tensorflow.config.list_physical_devices()
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _import_tensorflow_quietly()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        commands = {
            "train": _train,
            "generate": _generate,
            "import-gpt2": _import_gpt2,
            "finetune": _finetune,
            "evaluate": _evaluate,
            "export": _export,
            "serve": _serve,
            "client": _client,
        }
        commands[args.command](args)
    except (ValueError, TypeError, OSError) as error:
        message = " ".join(str(error).split())  # one line, whatever the library wrote
        print(f"keras-nlg {args.command}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except FloatingPointError as error:
        print(f"keras-nlg {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("keras-nlg: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
