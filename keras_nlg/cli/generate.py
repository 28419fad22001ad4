"""`keras-nlg generate`: continue prompts with a trained model.

The flags build a `GenerationConfig` on top of the model directory's
`generation_config.json` (or, without one, `CLI_DEFAULTS`: 200 tokens,
sampling at temperature 0.8). Only the flags given override it, and
`GenerationConfig` alone checks the values, so a bad one gets the same
message here as from the library. `--json`'s `token_ids` and `log_probs`
are exactly those behind its `text` (`keras_nlg.generation.stopping`).
"""

import dataclasses
import json

from keras_nlg.cli.common import (
    add_prompt_arguments,
    given,
    given_fields,
    integer,
    prompts_of,
    real,
)

# The GenerationConfig fields whose flag has the field's name (--stop is
# stop_strings; --greedy and --temperature set do_sample too).
FLAG_FIELDS = (
    "max_new_tokens",
    "min_new_tokens",
    "top_k",
    "top_p",
    "min_p",
    "repetition_penalty",
    "no_repeat_ngram_size",
    "num_beams",
    "length_penalty",
    "num_return_sequences",
    "seed",
)
_DEFAULTS_HELP = " (default: the model's generation_config.json, else %s)"


def add_parser(subparsers):
    generate = subparsers.add_parser(
        "generate", help="continue prompts with a trained model"
    )
    generate.add_argument("--model", required=True, metavar="DIR")
    add_prompt_arguments(generate)
    generate.add_argument(
        "--max-new-tokens",
        type=integer,
        help="new tokens at most" + _DEFAULTS_HELP % 200,
    )
    generate.add_argument(
        "--min-new-tokens", type=integer, help="end-of-text is banned before this many"
    )
    generate.add_argument(
        "--temperature",
        type=real,
        help="0 means greedy; > 0 samples" + _DEFAULTS_HELP % "sampling at 0.8",
    )
    generate.add_argument(
        "--greedy", action="store_true", help="same as --temperature 0"
    )
    generate.add_argument("--top-k", type=integer, help="0: off")
    generate.add_argument("--top-p", type=real, help="1: off")
    generate.add_argument(
        "--min-p", type=real, help="keep tokens ≥ MIN_P × the top one's probability"
    )
    generate.add_argument("--repetition-penalty", type=real, help="1: off")
    generate.add_argument(
        "--no-repeat-ngram-size",
        type=integer,
        help="ban tokens that repeat an n-gram of this size (0: off)",
    )
    generate.add_argument(
        "--num-beams", type=integer, help="beam width; > 1 runs beam search"
    )
    generate.add_argument("--length-penalty", type=real)
    generate.add_argument("--num-return-sequences", type=integer)
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
    return generate


def generation_overrides(args) -> dict:
    """The `GenerationConfig` fields the flags set (only those given).

    `--greedy` or `--temperature 0` turn sampling off (the temperature is
    then not passed), a temperature > 0 turns it on, and `--num-beams` > 1
    turns it off (beam search is deterministic). Values are not checked
    here: `GenerationConfig` does that.
    """
    overrides = given_fields(args, FLAG_FIELDS)
    overrides.update(given(stop_strings=args.stop))
    if args.greedy or args.temperature == 0:
        overrides["do_sample"] = False
    elif args.temperature is not None:
        overrides["temperature"] = args.temperature  # < 0 or NaN: refused
        if args.temperature > 0:
            overrides["do_sample"] = True
    if args.num_beams is not None and args.num_beams > 1:
        overrides["do_sample"] = False
    return overrides


def run(args):
    from keras_nlg import load
    from keras_nlg.generation import generate, generate_stream
    from keras_nlg.generation.config import CLI_DEFAULTS, GenerationConfig

    # The directory's generation_config.json (what `load` attaches as
    # `model.generation_config`), read first so that a bad flag is refused
    # before the model loads.
    args.prompt = prompts_of(args)
    if not args.prompt:
        raise ValueError("Pass --prompt TEXT or --prompt-file PATH")
    base = GenerationConfig.from_pretrained(args.model) or CLI_DEFAULTS
    config = base.replace(**generation_overrides(args))
    if args.stream and (
        args.json or config.num_beams > 1 or config.num_return_sequences > 1
    ):
        raise ValueError(
            "--stream prints one sequence per prompt as text: it does not combine "
            "with --json, --num-beams > 1 or --num-return-sequences > 1"
        )
    loaded = load(args.model)
    if args.stream:
        for prompt in args.prompt:
            print(prompt, end="", flush=True)
            for piece in generate_stream(
                loaded.model, loaded.tokenizer, prompt, generation_config=config
            ):
                print(piece, end="", flush=True)
            print()
        return
    results = generate(
        loaded.model,
        loaded.tokenizer,
        args.prompt,
        generation_config=config,
        return_details=True,
    )
    prompts = [p for p in args.prompt for _ in range(config.num_return_sequences)]
    for prompt, result in zip(prompts, results, strict=True):
        if args.json:
            record = {"prompt": prompt, **dataclasses.asdict(result)}
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(prompt + result.text)
