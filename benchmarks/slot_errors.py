"""How right are the slot error flags? A hand check, and the corpus figures.

The slot error rate (`keras_nlg.evaluation.slot_errors`) reads slots back
with patterns, so its flags can be wrong. This script

- prints the SER of the human references of the bundled E2E dev set
  (they have real omissions and additions: Dušek et al. 2019);
- `--sample FILE`: writes a random sample of flagged and unflagged dev
  references (MR, text, flags) for a person to judge, skipping the pairs in
  `--exclude` files (samples used while writing the patterns);
- `--check FILE`: scores the judgments in FILE (a sample with fields
  `judged_correct`, `judged_false`, `judged_missed`): precision of the
  flags, and the share of unflagged texts that really have no error. It
  first re-reads every text with today's patterns and says so if the flags
  differ from those judged (the figure is then stale).

    cd benchmarks && python slot_errors.py --check data/slot_errors_hand_check.jsonl

`benchmarks/data/slot_errors_hand_check.jsonl` holds 110 flagged and 110
unflagged dev references (E2E dataset, CC BY-SA 4.0, Novikova et al. 2017)
with one reader's judgment of every flag, made after the patterns were last
changed, on pairs not looked at while writing them.
"""

import argparse
import json
import os
import random

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_nlg.data.e2e import read_e2e_csv  # noqa: E402
from keras_nlg.datasets import e2e_path  # noqa: E402
from keras_nlg.evaluation.slot_errors import slot_errors  # noqa: E402

KINDS = ("added", "missing", "wrong", "repeated")


def _dev_report():
    pairs = read_e2e_csv(e2e_path("dev")).pairs()
    mrs, texts = [mr for mr, _ in pairs], [text for _, text in pairs]
    return mrs, texts, slot_errors(texts, mrs)


def _flags(result):
    return {
        kind: list(getattr(result, kind)) for kind in KINDS if getattr(result, kind)
    }


def write_sample(path, size, seed, exclude):
    mrs, texts, report = _dev_report()
    seen = {json.loads(line)["dev_pair"] for f in exclude for line in open(f)}
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for group, flagged in (("flagged", True), ("unflagged", False)):
            pool = [
                i
                for i, r in enumerate(report.texts)
                if bool(r.count) == flagged and i not in seen
            ]
            for i in rng.sample(pool, size):
                row = {"dev_pair": i, "group": group, "mr": mrs[i], "text": texts[i]}
                row["flags"] = _flags(report.texts[i])
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {2 * size} dev references to {path}")


def check(path):
    _, _, report = _dev_report()
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    stale = [r for r in rows if _flags(report.texts[r["dev_pair"]]) != r["flags"]]
    if stale:
        print(
            f"STALE: today's patterns flag {len(stale)} of {len(rows)} texts "
            "differently from the judged flags"
        )
    flagged = [r for r in rows if r["group"] == "flagged"]
    unflagged = [r for r in rows if r["group"] == "unflagged"]
    print("| kind | correct flags | all flags | precision |\n|---|---|---|---|")
    for kind in (*KINDS, "all"):
        correct = sum(
            1 for r in flagged for k, *_ in r["judged_correct"] if kind in (k, "all")
        )
        false = sum(
            1 for r in flagged for k, *_ in r["judged_false"] if kind in (k, "all")
        )
        if correct + false:
            print(
                f"| {kind} | {correct} | {correct + false} | "
                f"{correct / (correct + false):.3f} |"
            )
    all_right = sum(1 for r in flagged if not r["judged_false"])
    clean = sum(1 for r in unflagged if not r["judged_missed"])
    missed = sum(len(r["judged_missed"]) for r in rows)
    print(f"flagged texts whose every flag is right: {all_right}/{len(flagged)}")
    print(f"unflagged texts with no real error: {clean}/{len(unflagged)}")
    print(f"real errors the checker missed (both groups): {missed}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", metavar="FILE")
    parser.add_argument("--size", type=int, default=110)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exclude", nargs="*", default=[])
    parser.add_argument("--check", metavar="FILE")
    args = parser.parse_args()
    _, texts, report = _dev_report()
    print(
        f"dev references: {len(texts)} texts, {report.num_slots} MR slots, SER "
        f"{report.slot_error_rate:.2%} ({report.added} added, {report.missing} "
        f"missing, {report.wrong} wrong, {report.repeated} repeated)"
    )
    if args.sample:
        write_sample(args.sample, args.size, args.seed, args.exclude)
    if args.check:
        check(args.check)


if __name__ == "__main__":
    main()
