"""`keras-nlg evaluate`: perplexity on text, or BLEU/ROUGE/diversity on E2E."""

import dataclasses
import json
import os
import sys

from keras_nlg.cli.common import given, positive_int, reject_flags
from keras_nlg.files import write_file_atomically


def add_parser(subparsers):
    evaluate = subparsers.add_parser(
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
        "--context", type=positive_int, help="window tokens (default: the model's)"
    )
    evaluate.add_argument(
        "--stride",
        type=positive_int,
        help="tokens between window starts (default: half the context)",
    )
    evaluate.add_argument(
        "--batch-size",
        type=positive_int,
        help="windows per forward pass (default 8); --task e2e: prompts per "
        "generate call (default 32)",
    )
    evaluate.add_argument(
        "--output",
        metavar="FILE",
        help="--task e2e: write the outputs, one line per distinct MR",
    )
    evaluate.add_argument(
        "--slot-error-report",
        metavar="FILE",
        help="--task e2e: write each MR's slot errors (JSON lines: mr, output, "
        "added, missing, wrong, repeated)",
    )
    evaluate.add_argument(
        "--num-beams", type=positive_int, help="--task e2e: beam width (1 = greedy)"
    )
    evaluate.add_argument(
        "--rerank",
        choices=("slot_errors", "none"),
        help="--task e2e: keep the beam candidate with the fewest slot errors "
        "(default: the model directory's choice, else none)",
    )
    evaluate.add_argument("--max-new-tokens", type=positive_int)
    evaluate.add_argument(
        "--cased",
        action="store_true",
        help="--task e2e: case-sensitive BLEU (the official scorer lowercases)",
    )
    evaluate.add_argument(
        "--json", action="store_true", help="print the figures as one JSON object"
    )
    return evaluate


def run(args):
    if args.task == "lm":
        return _run_perplexity(args)
    return _run_e2e(args)


def _run_perplexity(args):
    reject_flags(
        {
            "--output": args.output,
            "--slot-error-report": args.slot_error_report,
            "--num-beams": args.num_beams,
            "--rerank": args.rerank,
            "--max-new-tokens": args.max_new_tokens,
            "--cased": args.cased or None,
        },
        "applies to --task e2e only",
    )
    from keras_nlg import load
    from keras_nlg.data import read_text_files
    from keras_nlg.evaluation import perplexity

    loaded = load(args.model)
    figures = perplexity(
        loaded.model,
        loaded.tokenizer,
        read_text_files(args.data),
        window_length=args.context,
        stride=args.stride,
        **given(batch_size=args.batch_size),
    )
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"perplexity {figures['perplexity']:.4f} "
        f"({figures['bits_per_token']:.4f} bits/token, "
        f"{figures['bits_per_byte']:.4f} bits/byte, "
        f"{figures['bits_per_character']:.4f} bits/character) over "
        f"{figures['tokens']:,} tokens; windows of {figures['window_length']} "
        f"tokens at stride {figures['stride']}"
    )


def _run_e2e(args):
    if len(args.data) != 1:
        raise ValueError(f"--task e2e takes one CSV. Received: {args.data}")
    reject_flags(
        {"--context": args.context, "--stride": args.stride},
        "applies to perplexity (--task lm) only",
    )
    from keras_nlg import load
    from keras_nlg.evaluation import evaluate_e2e
    from keras_nlg.evaluation.e2e import E2EDecoding

    loaded = load(args.model)
    # What the model directory records (beams in its generation_config.json,
    # text budget, delexicalisation and reranking in its task), then the flags.
    decoding = E2EDecoding.for_model(
        loaded.model,
        loaded.config.get("task"),
        num_beams=args.num_beams,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
    )
    if args.rerank is not None:
        decoding = dataclasses.replace(
            decoding, rerank=None if args.rerank == "none" else args.rerank
        )
    scores = evaluate_e2e(
        loaded.model,
        loaded.tokenizer,
        args.data[0],
        decoding,
        lowercase=not args.cased,
        output_path=args.output,
    )
    outputs = scores.pop("outputs")
    details = scores.pop("slot_error_details")
    if args.slot_error_report:
        _write_slot_error_report(args.slot_error_report, outputs, details)
    if args.json:
        print(json.dumps(scores))
    else:
        print("| metric | value |\n|---|---|")
        case = "cased" if args.cased else "lowercased"
        print(f"| BLEU ({case}) | {scores['bleu']:.2f} |")
        for name in ("rouge1", "rouge2", "rougeL", "distinct_1", "distinct_2"):
            print(f"| {name} | {scores[name]:.4f} |")
        print(f"| repetition rate | {scores['repetition_rate']:.4f} |")
        counts = scores["slot_errors"]
        if counts is None:
            print(f"| slot error rate | n/a ({scores['slot_error_rate_skipped']}) |")
        else:
            print(
                f"| slot error rate | {scores['slot_error_rate']:.2%} "
                f"({counts['added']} added, {counts['missing']} missing, "
                f"{counts['wrong']} wrong, {counts['repeated']} repeated "
                f"of {counts['num_slots']} slots) |"
            )
        # Which words were counted: it depends on the texts' scripts.
        print(
            f"tokenization: BLEU {scores['bleu_tokenize']} (sacrebleu), "
            f"ROUGE {scores['rouge_tokenizer']}, "
            f"distinct/repetition {scores['diversity_tokenizer']} words"
        )
        print(
            f"{len(outputs)} MRs, beam {scores['num_beams']}"
            f"{', reranked by slot errors' if scores.get('rerank') else ''}, "
            f"{scores['generation_seconds']:.1f} s to generate"
        )
    if args.output:
        print(f"outputs: {os.path.abspath(args.output)}", file=sys.stderr)
    if args.slot_error_report:
        path = os.path.abspath(args.slot_error_report)
        print(f"slot error report: {path}", file=sys.stderr)


def _write_slot_error_report(path, outputs, details):
    """One JSON line per MR; written whole or not at all (temp file, rename)."""
    if details is None:
        raise ValueError(
            "--slot-error-report needs English outputs for MRs of the E2E slots"
        )

    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as f:
            for output, errors in zip(outputs, details, strict=True):
                line = {"mr": errors["mr"], "output": output, **errors}
                f.write(json.dumps(line) + "\n")

    write_file_atomically(path, write)
