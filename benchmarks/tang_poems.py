"""Byte-level vs SentencePiece Transformers on Chinese (Tang poems), same training time.

Both train with `keras_nlg.training.train` on the bundled Tang poems (traditional
characters) with the same preset, batch and time budget; the SentencePiece model
first learns its vocabulary on the training files (not counted in the budget). The
last 5% of the corpus (whole poems at the end of the file) is held out.

Bits per character make the two comparable: the held-out cross-entropy per token
(`val_loss`, over windows at stride = sequence length) times held-out tokens per
character, over ln 2.

    python benchmarks/tang_poems.py                # 10 minutes per model
    python benchmarks/tang_poems.py --minutes 2    # a quick look

Prints the table, the ratio SentencePiece / byte in bits per character, and greedy
and sampled poems from each model.
"""

import argparse
import math
import os
import platform
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from shakespeare import steps_per_second  # noqa: E402

import keras_nlg  # noqa: E402
from keras_nlg import datasets  # noqa: E402
from keras_nlg.data import read_text_files, tokenize_documents  # noqa: E402
from keras_nlg.tokenizers import ByteTokenizer, SentencePieceTokenizer  # noqa: E402
from keras_nlg.training import TrainingTimeLimit, train  # noqa: E402

HELD_OUT = 0.05
PROMPT = "春夜\n"


def held_out_tokens_per_character(tokenizer, path):
    tokens = tokenize_documents(read_text_files([path]), tokenizer)
    held_out = tokens[int(len(tokens) * (1 - HELD_OUT)) :]
    text = tokenizer.detokenize(np.asarray(held_out, np.int32)).numpy().decode()
    return len(held_out) / len(text)


def run(name, args, out_root, path):
    if name == "sentencepiece":
        tokenizer = SentencePieceTokenizer.train(path, args.vocab_size)
        train_options = dict(tokenizer="sentencepiece", vocabulary_size=args.vocab_size)
    else:
        tokenizer, train_options = ByteTokenizer(), {}
    rate = steps_per_second(
        "transformer",
        args.preset,
        args.batch_size,
        args.sequence_length,
        tokenizer.vocabulary_size,
    )
    planned_steps = max(20, int(0.95 * rate * args.minutes * 60))
    budget = TrainingTimeLimit(args.minutes * 60)
    out_dir = os.path.join(out_root, name)
    result = train(
        out_dir,
        data_paths=[path],
        preset=args.preset,
        steps=planned_steps,
        steps_per_epoch=min(200, planned_steps),
        batch_size=args.batch_size,
        sequence_length=args.sequence_length,
        validation_fraction=HELD_OUT,
        seed=args.seed,
        verbose=args.verbose,
        callbacks=[budget],
        **train_options,
    )
    per_character = held_out_tokens_per_character(result.tokenizer, path)
    steps = int(result.model.optimizer.iterations)
    model, tokenizer, _ = keras_nlg.load(out_dir)
    samples = keras_nlg.generate(
        model,
        tokenizer,
        [PROMPT] * 2,
        max_new_tokens=48,
        do_sample=True,
        top_p=0.9,
        seed=0,
    )
    greedy = keras_nlg.generate(model, tokenizer, [PROMPT], max_new_tokens=48)
    return {
        "name": name,
        "vocabulary": tokenizer.vocabulary_size,
        "val_nats_per_token": result.metrics["val_loss"],
        "tokens_per_character": per_character,
        "bits_per_character": result.metrics["val_loss"] * per_character / math.log(2),
        "parameters": result.metrics["parameters"],
        "steps": steps,
        "characters_per_second": steps
        * args.batch_size
        * args.sequence_length
        / per_character
        / budget.spent,
        "samples": greedy + samples,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="per model")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args()

    path = datasets.tang_poems_path()
    with tempfile.TemporaryDirectory() as out_root:
        rows = [run(name, args, out_root, path) for name in ("byte", "sentencepiece")]

    print(
        f"\nTang poems, {args.minutes:g} min of training per model, preset "
        f"{args.preset}, batch {args.batch_size} x {args.sequence_length} tokens, "
        f"held out: last {HELD_OUT:.0%}, {os.cpu_count()} CPU cores "
        f"({platform.processor() or platform.machine()})"
    )
    print(
        "| tokenizer | vocabulary | parameters | steps | held-out nats/token "
        "| tokens/char | **bits/char** | train chars/s |"
    )
    print("|" + "---|" * 8)
    for r in rows:
        print(
            f"| {r['name']} | {r['vocabulary']:,} | {r['parameters']:,} | {r['steps']} "
            f"| {r['val_nats_per_token']:.4f} | {r['tokens_per_character']:.3f} "
            f"| **{r['bits_per_character']:.3f}** | {r['characters_per_second']:,.0f} |"
        )
    byte, sentencepiece = rows
    print(
        "\nSentencePiece / byte bits per character: "
        f"{sentencepiece['bits_per_character'] / byte['bits_per_character']:.3f} "
        "(< 1: SentencePiece is better)"
    )
    for r in rows:
        print(
            f"\n--- {r['name']}: greedy, then two top-p 0.9 samples, prompt {PROMPT!r}"
        )
        for text in r["samples"]:
            print(PROMPT + text)
            print("~~~")


if __name__ == "__main__":
    main()
