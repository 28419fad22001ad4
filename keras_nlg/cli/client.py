"""`keras-nlg client`: query a TF Serving endpoint (gRPC, or REST)."""

import json

from keras_nlg.cli.common import (
    add_prompt_arguments,
    integer,
    non_negative_float,
    positive_int,
    prompts_of,
    real,
)


def add_parser(subparsers):
    client = subparsers.add_parser(
        "client", help="query a TF Serving endpoint (gRPC, or REST with --rest URL)"
    )
    client.add_argument("--target", default="localhost:8500", help="gRPC host:port")
    client.add_argument("--rest", metavar="URL", help="use REST at this base URL")
    client.add_argument("--model_name", "--model-name", default="default")
    client.add_argument("--version", type=positive_int)
    client.add_argument("--label")
    add_prompt_arguments(client)
    # Each setting is sent only when given: the model's defaults apply.
    client.add_argument("--max-new-tokens", type=positive_int)
    client.add_argument("--min-new-tokens", type=integer)
    client.add_argument("--temperature", type=non_negative_float)
    client.add_argument("--top-k", type=int)
    client.add_argument("--top-p", type=float)
    client.add_argument("--min-p", type=real)
    client.add_argument("--no-repeat-ngram-size", type=integer)
    client.add_argument("--seed", type=int)
    client.add_argument(
        "--metadata", action="store_true", help="print status and signatures"
    )
    client.add_argument("--json", action="store_true")
    return client


def run(args):
    from keras_nlg.serving.client import GrpcClient, RestClient

    settings = {
        "max_new_tokens": args.max_new_tokens,
        "min_new_tokens": args.min_new_tokens,
        "temperature": args.temperature,
        "top_k": args.top_k,
        "top_p": args.top_p,
        "min_p": args.min_p,
        "no_repeat_ngram_size": args.no_repeat_ngram_size,
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
    args.prompt = prompts_of(args)
    if not args.metadata and not args.prompt:
        raise ValueError("--prompt is required (or --prompt-file, or --metadata)")
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
        records = [
            {"prompt": p, "text": t} for p, t in zip(args.prompt, texts, strict=True)
        ]
        print(json.dumps(records, ensure_ascii=False))
        return
    for prompt, text in zip(args.prompt, texts, strict=True):
        print(prompt + text)
