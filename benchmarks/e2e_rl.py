"""RL fine-tuning of the E2E recipe model for semantic fidelity, measured.

Starts from a likelihood-trained E2E model directory (e.g. the one
`python benchmarks/e2e.py --split generalisation --out DIR` keeps), runs
`keras_nlg.training.rl.rl_finetune` (RLOO + KL to the start) on the training
MRs that the generalisation split leaves in, with the reward
`slot_error:1.0,bleu:0.5` (minus the slot error rate of the text, plus half
its sentence BLEU against the MR's references), then scores the starting
and the tuned model on the held-out part of the split and on dev, each with
greedy decoding, beam 3 and beam 3 + slot-error reranking: BLEU (lowercased,
multi-reference), ROUGE-L, SER with its added/missing/wrong/repeated counts,
distinct-2. The peer measured in the same run is the starting model itself.
It also writes the reward/KL curves (`history.json`) and ten examples whose
greedy SER changed (`examples.md`) into `--out`.

    python benchmarks/e2e_rl.py --model E2E_DIR --out RL_DIR
    python benchmarks/e2e_rl.py --model E2E_DIR --out RL_DIR --minutes 20 --eval-mrs 200
"""

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_nlg  # noqa: E402
from keras_nlg import datasets  # noqa: E402
from keras_nlg.data.e2e import E2EData, prompt_text, read_e2e_csv  # noqa: E402
from keras_nlg.data.e2e_splits import generalisation_split  # noqa: E402
from keras_nlg.evaluation import evaluate_e2e  # noqa: E402
from keras_nlg.evaluation.slot_errors import text_slot_errors  # noqa: E402
from keras_nlg.training.rl import RLConfig, parse_rewards, rl_finetune  # noqa: E402

DECODINGS = {
    "greedy": dict(num_beams=1, rerank=None),
    "beam 3": dict(num_beams=3, rerank=None),
    "beam 3 + SER rerank": dict(num_beams=3, rerank="slot_errors"),
}


def first(data, count):
    if not count:
        return data
    return E2EData(data.meaning_representations[:count], data.references[:count])


def score(model, tokenizer, data):
    rows = {}
    for name, decoding in DECODINGS.items():
        scores = evaluate_e2e(model, tokenizer, data, **decoding)
        rows[name] = scores
        print(
            f"  {name}: BLEU {scores['bleu']:.2f} SER {scores['slot_error_rate']:.2%}",
            flush=True,
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a lexicalised E2E model dir")
    parser.add_argument("--out", required=True, help="the RL-tuned model directory")
    parser.add_argument("--reward", default="slot_error:1.0,bleu:0.5")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--kl-coef", type=float, default=0.05)
    parser.add_argument("--learning-rate", type=float, default=1e-5)
    parser.add_argument("--samples-per-prompt", type=int, default=4)
    parser.add_argument("--prompts-per-step", type=int, default=8)
    parser.add_argument(
        "--eval-mrs", type=int, help="score the first N MRs of each set"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--evaluate-only", action="store_true", help="score a finished --out run"
    )
    args = parser.parse_args()

    train = read_e2e_csv(datasets.e2e_path("train"))
    rest, held_out = generalisation_split(train, seed=args.seed)
    dev = read_e2e_csv(datasets.e2e_path("dev"))
    eval_sets = {
        "held-out": first(held_out, args.eval_mrs),
        "dev": first(dev, args.eval_mrs),
    }
    max_new = json.load(open(os.path.join(args.model, "config.json")))["task"][
        "max_new_tokens"
    ]

    config = RLConfig(
        steps=args.steps,
        steps_per_epoch=50,
        prompts_per_step=args.prompts_per_step,
        samples_per_prompt=args.samples_per_prompt,
        max_new_tokens=max_new,
        learning_rate=args.learning_rate,
        kl_coef=args.kl_coef,
        max_minutes=args.minutes,
        seed=args.seed,
    )
    mrs = list(rest.meaning_representations)
    if args.evaluate_only:  # score a finished run again
        with open(os.path.join(args.out, "history.json")) as f:
            history = json.load(f)
        rl_minutes = (
            json.load(open(os.path.join(args.out, "metrics.json")))["train_seconds"]
            / 60
        )
    else:
        started = time.perf_counter()
        result = rl_finetune(
            args.model,
            [prompt_text(mr) for mr in mrs],
            args.out,
            parse_rewards(args.reward),
            config,
            references=[list(r) for r in rest.references],
            reward_prompts=mrs,
            verbose=2,
        )
        rl_minutes = (time.perf_counter() - started) / 60
        history = result.history
        with open(os.path.join(args.out, "history.json"), "w") as f:
            json.dump(history, f)
        del result

    # Both loaded after the run: each with its own tokenizer resources.
    start_model = keras_nlg.load(args.model)
    tuned = keras_nlg.load(args.out)
    table = {}
    for set_name, data in eval_sets.items():
        for label, loaded in (("start", start_model), ("RL", tuned)):
            print(f"{set_name}, {label}:", flush=True)
            table[(set_name, label)] = score(loaded.model, loaded.tokenizer, data)

    examples = []
    data = eval_sets["held-out"]
    before = table[("held-out", "start")]["greedy"]["outputs"]
    after = table[("held-out", "RL")]["greedy"]["outputs"]
    for mr, a, b in zip(data.meaning_representations, before, after, strict=True):
        errors_a, errors_b = (
            text_slot_errors(a, mr).count,
            text_slot_errors(b, mr).count,
        )
        if errors_a != errors_b and len(examples) < 10:
            examples.append(
                f"- `{mr}`\n  - start ({errors_a} errors): {a}\n"
                f"  - RL ({errors_b} errors): {b}"
            )
    with open(os.path.join(args.out, "examples.md"), "w") as f:
        f.write("\n".join(examples) + "\n")

    steps_run = len(history["reward_mean"]) * config.steps_per_epoch
    rewards, cpu = history["reward_mean"], platform.processor() or "?"
    print(
        f"\nE2E RL: reward {args.reward}, {steps_run} steps (≤), {rl_minutes:.1f} min "
        f"RL on {os.cpu_count()} CPU cores ({cpu}); "
        f"k={config.samples_per_prompt}, {config.prompts_per_step} prompts/step, "
        f"kl_coef {config.kl_coef}, lr {config.learning_rate}; "
        f"reward {rewards[0]:.4f} → {rewards[-1]:.4f}, "
        f"KL {history['kl'][-1]:.4f}"
    )
    print(
        "| set | model | decoding | BLEU | ROUGE-L | SER "
        "| added/missing/wrong/repeated | distinct-2 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for (set_name, label), rows in table.items():
        for name, s in rows.items():
            c = s["slot_errors"]
            counts = f"{c['added']}/{c['missing']}/{c['wrong']}/{c['repeated']}"
            print(
                f"| {set_name} | {label} | {name} | {s['bleu']:.2f} "
                f"| {s['rougeL']:.4f} | {s['slot_error_rate']:.2%} | {counts} "
                f"| {s['distinct_2']:.4f} |"
            )
    for set_name in eval_sets:
        a = table[(set_name, "start")]["greedy"]["slot_error_rate"]
        b = table[(set_name, "RL")]["greedy"]["slot_error_rate"]
        print(f"{set_name}: greedy SER ratio RL / start = {b / max(a, 1e-9):.2f}")


if __name__ == "__main__":
    main()
