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
    python benchmarks/e2e.py --split generalisation --delexicalize --rerank both

`--split generalisation` trains on the training set less the held-out part
of `keras_nlg.data.e2e_splits.generalisation_split` (unseen attribute sets
and the longest MRs) and scores on that part as well as on dev; settings are
chosen on it. Every row reports the slot error rate (SER) beside BLEU.
"""

import argparse
import csv
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
from keras_nlg.data.e2e_splits import generalisation_split  # noqa: E402
from keras_nlg.evaluation import (  # noqa: E402
    bleu,
    diversity,
    evaluate_e2e,
    rouge,
    slot_errors,
)
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


def write_csv(path, data):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("mr", "ref"))
        writer.writerows(data.pairs())
    return path


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
    parser.add_argument("--split", choices=("dev", "generalisation"), default="dev")
    parser.add_argument("--delexicalize", action="store_true")
    parser.add_argument(
        "--rerank",
        choices=("none", "slot_errors", "both"),
        default="none",
        help="rerank the beam by slot errors (both: a row with and without)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args()

    train_data = read_e2e_csv(datasets.e2e_path("train"))
    dev = read_e2e_csv(datasets.e2e_path("dev"))
    eval_sets = {"dev": dev}
    if args.split == "generalisation":
        train_data, held_out = generalisation_split(train_data, seed=args.seed)
        eval_sets = {"held-out": held_out, "dev": dev}
    if args.dev_mrs:
        eval_sets = {
            name: E2EData(
                data.meaning_representations[: args.dev_mrs],
                data.references[: args.dev_mrs],
            )
            for name, data in eval_sets.items()
        }
    reranks = {
        "none": [None],
        "slot_errors": ["slot_errors"],
        "both": [None, "slot_errors"],
    }

    with tempfile.TemporaryDirectory() as scratch:
        out_dir = args.out or os.path.join(scratch, "e2e")
        start = time.perf_counter()
        result = train_e2e(
            out_dir,
            E2E_RECIPE,
            train_csv=write_csv(os.path.join(scratch, "train.csv"), train_data),
            delexicalize=args.delexicalize,
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
        delex = ", delexicalised" if args.delexicalize else ""
        for set_name, data in eval_sets.items():
            for beams in args.beams:
                for rerank in reranks[args.rerank] if beams > 1 else [None]:
                    scores = evaluate_e2e(
                        result.model,
                        result.tokenizer,
                        data,
                        num_beams=beams,
                        delexicalize=args.delexicalize,
                        rerank=rerank,
                    )
                    reranked = ", SER rerank" if rerank else ""
                    name = f"{set_name}: keras_nlg{delex}, beam {beams}{reranked}"
                    rows.append((name, scores))
                    print(f"{name}: BLEU {scores['bleu']:.2f}", flush=True)
                    mrs = data.meaning_representations
                    for mr, text in list(zip(mrs, scores["outputs"], strict=True))[:2]:
                        print(f"  {mr}\n    → {text}")

    for set_name, data in eval_sets.items():
        retrieved = retrieval_outputs(train_data, data)
        ser = slot_errors(retrieved, data.meaning_representations)
        peer = {
            "bleu": bleu(retrieved, data.references, lowercase=True)["bleu"],
            "rougeL": rouge(retrieved, data.references)["rougeL"],
            **diversity(retrieved),
            "slot_error_rate": ser.slot_error_rate,
            "generation_seconds": 0.0,
        }
        rows.append((f"{set_name}: retrieval baseline (nearest training MR)", peer))

    training = result.config["training"]
    print(
        f"\nE2E: trained on {len(train_data.meaning_representations)} MRs; scored on "
        + ", ".join(
            f"{name} ({len(data.meaning_representations)} MRs)"
            for name, data in eval_sets.items()
        )
        + f"; {os.cpu_count()} CPU cores "
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
    print(
        "| system | **BLEU** (lc) | ROUGE-L | SER | distinct-2 | repetition "
        "| decode s |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, s in rows:
        print(
            f"| {name} | **{s['bleu']:.2f}** | {s['rougeL']:.4f} "
            f"| {s['slot_error_rate']:.2%} "
            f"| {s['distinct_2']:.4f} | {s['repetition_rate']:.4f} "
            f"| {s['generation_seconds']:.0f} |"
        )
    first_set = next(iter(eval_sets))
    ours = [row for row in rows if row[0].startswith(f"{first_set}: keras_nlg")]
    best_name, best = max(ours, key=lambda row: row[1]["bleu"])
    peer = dict(rows)[f"{first_set}: retrieval baseline (nearest training MR)"]
    print(
        f"\nbest on {first_set}: {best_name}: BLEU {best['bleu']:.2f} = "
        f"{best['bleu'] / peer['bleu']:.3f}x the retrieval baseline, "
        f"{best['bleu'] / GOAL_BLEU:.3f}x the goal of {GOAL_BLEU:.0f}"
    )


if __name__ == "__main__":
    main()
