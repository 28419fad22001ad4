"""The E2E NLG recipe end to end: train from scratch, decode the dev set, score it.

Runs `keras_nlg.training.train_e2e` (what `keras-nlg train --task e2e` runs)
with its defaults on the bundled training set, then `evaluate_e2e` on the 547
dev MRs for each beam width, and prints BLEU (lowercased, as the official
scorer; sacrebleu 13a, multi-reference), ROUGE-L, distinct-2, training time
and parameters. The peer measured in the same run is a retrieval baseline:
each dev MR gets the first reference of the training MR that shares the most
attribute values with it (the kind of template system the challenge started
from). Published reference points (test set, so only indicative): TGen
BLEU 65.93 / ROUGE-L 0.6850; GPT-2 M + LoRA BLEU 70.4.

    python benchmarks/e2e.py                         # the 60-minute recipe
    python benchmarks/e2e.py --tokenizer byte --steps 550 --minutes 12 --beams 1
    python benchmarks/e2e.py --dev-mrs 50 --epochs 1 # a quick look
"""

import argparse
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_nlg import datasets  # noqa: E402
from keras_nlg.data.e2e import (  # noqa: E402
    E2EData,
    parse_meaning_representation,
    read_e2e_csv,
)
from keras_nlg.evaluation import bleu, diversity, evaluate_e2e, rouge  # noqa: E402
from keras_nlg.training import (  # noqa: E402
    TRAINING_TOKENIZERS,
    TrainingConfig,
    train_e2e,
)

E2E_RECIPE = TrainingConfig.for_e2e()

GOAL_BLEU = 66.0


def retrieval_outputs(train, dev):
    """For each dev MR, the first reference of the most similar training MR."""
    train_items = [
        set(parse_meaning_representation(mr).items())
        for mr in train.meaning_representations
    ]
    outputs = []
    for mr in dev.meaning_representations:
        items = set(parse_meaning_representation(mr).items())
        scores = [len(items & other) - len(items ^ other) for other in train_items]
        best = max(range(len(scores)), key=scores.__getitem__)
        outputs.append(train.references[best][0])
    return outputs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--minutes", type=float, default=58.0, help="cap on training-step time"
    )
    parser.add_argument("--epochs", type=int, default=E2E_RECIPE.training_length()[1])
    parser.add_argument(
        "--steps", type=int, help="train this many steps instead of --epochs"
    )
    parser.add_argument(
        "--tokenizer",
        default=E2E_RECIPE.tokenizer,
        choices=TRAINING_TOKENIZERS,
    )
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--dev-mrs", type=int, help="score only the first N dev MRs")
    parser.add_argument("--out", help="keep the model directory here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args()

    train_data = read_e2e_csv(datasets.e2e_path("train"))
    dev = read_e2e_csv(datasets.e2e_path("dev"))
    if args.dev_mrs:
        dev = E2EData(
            dev.meaning_representations[: args.dev_mrs],
            dev.references[: args.dev_mrs],
        )

    with tempfile.TemporaryDirectory() as scratch:
        out_dir = args.out or os.path.join(scratch, "e2e")
        start = time.perf_counter()
        result = train_e2e(
            out_dir,
            E2E_RECIPE,
            tokenizer=args.tokenizer,
            epochs=None if args.steps else args.epochs,
            steps=args.steps,
            steps_per_epoch=min(500, args.steps or 500),
            max_minutes=args.minutes,
            seed=args.seed,
            verbose=args.verbose,
        )
        wall_minutes = (time.perf_counter() - start) / 60
        rows = []
        for beams in args.beams:
            scores = evaluate_e2e(result.model, result.tokenizer, dev, num_beams=beams)
            rows.append((f"keras_nlg, {args.tokenizer}, beam {beams}", scores))
            print(f"beam {beams}: BLEU {scores['bleu']:.2f}", flush=True)
            examples = zip(dev.meaning_representations, scores["outputs"], strict=True)
            for mr, text in list(examples)[:3]:
                print(f"  {mr}\n    → {text}")

    retrieved = retrieval_outputs(train_data, dev)
    peer = {
        "bleu": bleu(retrieved, dev.references, lowercase=True)["bleu"],
        "rougeL": rouge(retrieved, dev.references)["rougeL"],
        **diversity(retrieved),
        "generation_seconds": 0.0,
    }
    rows.append(("retrieval baseline (nearest training MR)", peer))

    training = result.config["training"]
    print(
        f"\nE2E dev set ({len(dev.meaning_representations)} MRs, "
        f"{sum(map(len, dev.references))} references), {os.cpu_count()} CPU cores "
        f"({platform.processor() or platform.machine()}); training: "
        f"{training['planned_epochs']} epochs x "
        f"{training['planned_steps_per_epoch']} steps planned, "
        f"{result.metrics['steps_run']} run, "
        f"{result.metrics['train_seconds'] / 60:.1f} min in fit, "
        f"{wall_minutes:.1f} min wall (tokenizer + data + fit + save), "
        f"{result.metrics['parameters']:,} parameters, "
        f"vocabulary {result.tokenizer.vocabulary_size:,}, "
        f"val_loss {result.metrics.get('val_loss', float('nan')):.4f}"
    )
    print("| system | **BLEU** (lc) | ROUGE-L | distinct-2 | repetition | decode s |")
    print("|---|---|---|---|---|---|")
    for name, s in rows:
        print(
            f"| {name} | **{s['bleu']:.2f}** | {s['rougeL']:.4f} "
            f"| {s['distinct_2']:.4f} | {s['repetition_rate']:.4f} "
            f"| {s['generation_seconds']:.0f} |"
        )
    best_name, best = max(rows[:-1], key=lambda row: row[1]["bleu"])
    print(
        f"\nbest: {best_name}: BLEU {best['bleu']:.2f} = "
        f"{best['bleu'] / peer['bleu']:.3f}x the retrieval baseline, "
        f"{best['bleu'] / GOAL_BLEU:.3f}x the goal of {GOAL_BLEU:.0f}"
    )


if __name__ == "__main__":
    main()
