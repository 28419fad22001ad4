"""Adversarial (SeqGAN-style) training against a temperature-swept MLE
baseline, on the synthetic oracle benchmark of SeqGAN and Texygen.

A random LSTM oracle (vocabulary 5,000, width 32, N(0, 1) weights, fixed
seed) writes 10,000 training and 5,000 held-out sequences of 20 tokens. A
generator of the oracle's size is trained by maximum likelihood (Adam 0.01,
batches of 64, as SeqGAN), then, from that start, by
`keras_nlg.training.adversarial.AdversarialTrainer` (discriminator
pre-training, then rounds of discriminator updates and policy-gradient
updates with Monte Carlo rollout credit). Both are scored, in the same run,
at temperatures 0.6 … 1.4: NLL_oracle (realism), NLL_test (coverage) and
self-BLEU-3 (`keras_nlg.training.adversarial.oracle`). The peer is the MLE
model swept over temperature (Caccia et al., ICLR 2020): the GAN helps only
where its curve lies below the MLE curve in the NLL_oracle–NLL_test plane.

    python benchmarks/adversarial.py --out /tmp/adversarial
    python benchmarks/adversarial.py --quick --out /tmp/adversarial-quick
    python benchmarks/adversarial.py --part real_text --out /tmp/adversarial
    python benchmarks/adversarial.py --part oracle --discriminator cnn --out DIR

The real-text part (E2E references, byte-level tiny Transformer; `--kl-coef`
and `--mle-steps` set the GAN's guards, and a likelihood model already in
`--out` is reused so that settings compare from one start) prints
samples of the MLE model at the temperature whose held-out NLL matches the
GAN's, next to the GAN's, and writes `real_text.json`.

Writes `results.json` and `quality_diversity.png` into `--out`, and prints
a table and the ratios.
"""

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_nlg.models import LSTMLanguageModel  # noqa: E402
from keras_nlg.training.adversarial import (  # noqa: E402
    AdversarialConfig,
    AdversarialTrainer,
)
from keras_nlg.training.adversarial import oracle as bench  # noqa: E402
from keras_nlg.training.adversarial.train import (  # noqa: E402
    new_discriminator,
)
from keras_nlg.training.rl.run import epochs_of, step_dataset  # noqa: E402

TEMPERATURES = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4)
PUBLISHED = "SeqGAN table 1 (NLL_oracle): random 10.310, MLE 9.038, SeqGAN 8.736"


def settings(quick):
    if quick:
        return dict(
            vocabulary=500, train=1000, test=500, mle_epochs=5, samples=300,
            temperatures=(0.8, 1.0, 1.2),
            gan=AdversarialConfig(
                steps=6, steps_per_epoch=3, batch_size=32, sample_length=20,
                discriminator_pretrain_steps=6, discriminator_steps=1,
                rollouts=2, generator_learning_rate=1e-2,
                discriminator_learning_rate=1e-3, discriminator="lstm",
                discriminator_dim=32,
            ),
        )  # fmt: skip
    return dict(
        vocabulary=bench.VOCABULARY_SIZE, train=10_000, test=5_000, mle_epochs=50,
        samples=2_000, temperatures=TEMPERATURES,
        gan=AdversarialConfig(
            steps=300, steps_per_epoch=20, batch_size=64, sample_length=20,
            discriminator_pretrain_steps=1500, discriminator_steps=5,
            rollouts=4, generator_learning_rate=2e-3,
            discriminator_learning_rate=1e-3, discriminator="lstm",
            discriminator_dim=64,
        ),
    )  # fmt: skip


class OracleProbe(keras.callbacks.Callback):
    """After each epoch: NLL_oracle of 500 fresh samples at temperature 1, and
    the discriminator's accuracy on them and on 500 held-out real sequences
    (never trained on)."""

    def __init__(self, oracle, fmt, held_out_real):
        super().__init__()
        self.oracle, self.fmt, self.curve = oracle, fmt, []
        self.real = held_out_real[:500]

    def on_epoch_end(self, epoch, logs=None):
        trainer = self.model
        ids = bench.sample_in_batches(trainer.generator, 500, 10_000 + epoch, self.fmt)
        everything = np.ones(ids.shape, bool)
        self.curve.append(
            {
                "epoch": epoch + 1,
                "nll_oracle": bench.mean_nll(self.oracle, ids),
                "reward_mean": float((logs or {}).get("reward_mean", 0.0)),
                "held_out_real_accuracy": float(
                    np.mean(trainer.discriminate(self.real, everything) > 0.5)
                ),
                "fresh_fake_accuracy": float(
                    np.mean(trainer.discriminate(ids, everything) <= 0.5)
                ),
            }
        )
        print("  epoch", epoch + 1, {k: round(v, 3) for k, v in self.curve[-1].items()})


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4.5))
    for name, marker in (("mle", "o"), ("gan", "s")):
        rows = results[name]
        axes.plot(
            [r["nll_test"] for r in rows],
            [r["nll_oracle"] for r in rows],
            marker=marker,
            label={"mle": "MLE, temperature sweep", "gan": "GAN, temperature sweep"}[
                name
            ],
        )
        for r in rows:
            axes.annotate(
                f"{r['temperature']:.1f}", (r["nll_test"], r["nll_oracle"]), fontsize=7
            )
    axes.set_xlabel("NLL_test (lower: more diverse / better coverage)")
    axes.set_ylabel("NLL_oracle (lower: more realistic)")
    axes.set_title("Quality-diversity on the oracle benchmark")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def real_text(args):
    """E2E references: a tiny Transformer trained by likelihood, then
    adversarially; MLE samples at the temperature whose held-out NLL matches
    the GAN's at temperature 1, side by side with the GAN's."""
    import keras_nlg
    from keras_nlg import datasets
    from keras_nlg.data.e2e import read_e2e_csv
    from keras_nlg.training import train
    from keras_nlg.training.adversarial import SequenceFormat, encode_texts
    from keras_nlg.training.adversarial.train import adversarial_train

    quick = args.quick
    references = [r for _, r in read_e2e_csv(datasets.e2e_path("train")).pairs()]
    texts = references[: 300 if quick else 20_000]
    data = os.path.join(args.out, "references.txt")
    with open(data, "w", encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
    mle_dir, gan_dir = (os.path.join(args.out, name) for name in ("mle", "gan"))
    started = time.perf_counter()
    # An earlier run's likelihood model in --out is reused: GAN settings
    # (--kl-coef, --mle-steps) then compare from the same start.
    if not os.path.isfile(os.path.join(mle_dir, "model.keras")):
        train(
            mle_dir, data_paths=[data], preset="tiny", batch_size=32,
            sequence_length=64, documents="line", steps=20 if quick else 2000,
            steps_per_epoch=20 if quick else 500, verbose=0,
        )  # fmt: skip
    mle_seconds = time.perf_counter() - started
    config = AdversarialConfig(
        steps=2 if quick else 60, steps_per_epoch=2 if quick else 10,
        batch_size=8 if quick else 32, sample_length=48,
        discriminator_pretrain_steps=2 if quick else 300, discriminator_steps=5,
        rollouts=1 if quick else 2, generator_learning_rate=1e-4,
        discriminator_learning_rate=1e-3, discriminator="lstm",
        discriminator_dim=64, kl_coef=args.kl_coef, mle_steps=args.mle_steps,
    )  # fmt: skip
    started = time.perf_counter()
    adversarial_train(mle_dir, texts, gan_dir, config, overwrite=True, verbose=0)
    gan_seconds = time.perf_counter() - started
    mle, gan = keras_nlg.load(mle_dir), keras_nlg.load(gan_dir)
    dev = [r for _, r in read_e2e_csv(datasets.e2e_path("dev")).pairs()]
    tokenizer = mle.tokenizer
    fmt = SequenceFormat(
        tokenizer.end_of_text_id, tokenizer.end_of_text_id, tokenizer.padding_id, 48
    )
    held_out = encode_texts(tokenizer, dev[: 200 if quick else 2000], fmt)
    gan_nll = bench.mean_nll(gan.model, held_out, fmt)
    sweep = {
        t: bench.mean_nll(mle.model, held_out, fmt, temperature=t)
        for t in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    }
    matched = min(sweep, key=lambda t: abs(sweep[t] - gan_nll))
    settings = dict(do_sample=True, max_new_tokens=47, seed=1)
    prompts = [""] * 6
    mle_texts = keras_nlg.generate(
        mle.model, tokenizer, prompts, temperature=matched, **settings
    )
    gan_texts = keras_nlg.generate(gan.model, gan.tokenizer, prompts, **settings)
    result = {
        "held_out_nll_gan_t1": gan_nll,
        "held_out_nll_mle_by_temperature": sweep,
        "matched_mle_temperature": matched,
        "samples": [
            {"mle": a, "gan": b} for a, b in zip(mle_texts, gan_texts, strict=True)
        ],
        "seconds": {"mle": mle_seconds, "adversarial": gan_seconds},
        "adversarial_config": config.to_dict(),
    }
    with open(os.path.join(args.out, "real_text.json"), "w") as f:
        json.dump(result, f, indent=2, ensure_ascii=False)
    print(f"\nE2E references: held-out NLL (nats/byte) GAN at T=1 {gan_nll:.3f}")
    print("MLE by temperature:", {t: round(v, 3) for t, v in sweep.items()})
    print(f"samples: MLE at T={matched} (matched NLL_test) | GAN at T=1")
    for row in result["samples"]:
        print(f"  MLE: {row['mle']!r}\n  GAN: {row['gan']!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--part", choices=["all", "oracle", "real_text"], default="all")
    parser.add_argument("--kl-coef", type=float, default=0.0, help="real-text GAN")
    parser.add_argument("--mle-steps", type=int, default=0, help="real-text GAN")
    parser.add_argument(
        "--discriminator",
        choices=["lstm", "transformer", "cnn"],
        default="lstm",
        help="the oracle GAN's discriminator (cnn: SeqGAN's)",
    )
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.part in ("all", "real_text"):
        real_text(args)
    if args.part == "real_text":
        return
    s = settings(args.quick)
    fmt = bench.ORACLE_FORMAT
    started = time.perf_counter()
    timings = {}

    oracle = bench.oracle_model(s["vocabulary"], seed=args.seed)
    train = bench.sample_in_batches(oracle, s["train"], 1, fmt)
    test = bench.sample_in_batches(oracle, s["test"], 2, fmt)
    validation = bench.sample_in_batches(oracle, s["test"] // 5, 4, fmt)
    timings["oracle data"] = time.perf_counter() - started

    t = time.perf_counter()
    keras.utils.set_random_seed(args.seed)
    generator = LSTMLanguageModel(
        s["vocabulary"], embedding_dim=bench.WIDTH, units=bench.WIDTH
    )
    random_nll = bench.mean_nll(
        oracle, bench.sample_in_batches(generator, s["samples"], 3, fmt)
    )
    mle_history = bench.pretrain_mle(
        generator, train, s["mle_epochs"], seed=args.seed, validation_ids=validation
    )
    timings["MLE pre-training"] = time.perf_counter() - t

    t = time.perf_counter()
    mle = bench.quality_diversity(
        generator, oracle, test, s["temperatures"], s["samples"]
    )
    timings["MLE sweep"] = time.perf_counter() - t

    t = time.perf_counter()
    config = s["gan"].replace(discriminator=args.discriminator)
    discriminator = new_discriminator(config, s["vocabulary"])
    trainer = AdversarialTrainer(generator, discriminator, train, fmt, config)
    trainer.compile()
    probe = OracleProbe(oracle, fmt, test)
    epochs, epoch_steps = epochs_of(config)
    trainer.fit(
        step_dataset(), epochs=epochs, steps_per_epoch=epoch_steps,
        callbacks=[probe], shuffle=False, verbose=0,
    )  # fmt: skip
    timings["adversarial training"] = time.perf_counter() - t

    t = time.perf_counter()
    gan = bench.quality_diversity(
        generator, oracle, test, s["temperatures"], s["samples"]
    )
    timings["GAN sweep"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - started

    at_one = {
        name: next(r for r in rows if r["temperature"] == 1.0)
        for name, rows in (("mle", mle), ("gan", gan))
    }
    below = bench.points_below_curve(mle, gan)
    mle_1, gan_1 = at_one["mle"], at_one["gan"]
    drop = mle_1["nll_oracle"] - gan_1["nll_oracle"]
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d"),
        "quick": args.quick,
        "settings": {**{k: v for k, v in s.items() if k != "gan"}},
        "adversarial_config": config.to_dict(),
        "random_generator_nll_oracle": random_nll,
        "mle_epochs_run": len(mle_history["loss"]),
        "mle_validation_loss": mle_history["val_loss"],
        "mle": mle,
        "gan": gan,
        "adversarial_curve": probe.curve,
        "nll_oracle_drop_at_t1": drop,
        "gan_points_below_mle_curve": below,
        "seconds": timings,
        "published": PUBLISHED,
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    plot(results, os.path.join(args.out, "quality_diversity.png"))

    print(f"\nrandom generator NLL_oracle {random_nll:.3f}   ({PUBLISHED})")
    print(f"{'model':5} {'T':>4} {'NLL_oracle':>11} {'NLL_test':>9} {'self-BLEU3':>11}")
    for name, rows in (("MLE", mle), ("GAN", gan)):
        for r in rows:
            figures = (r["nll_oracle"], r["nll_test"], r["self_bleu"])
            print(
                f"{name:5} {r['temperature']:4.1f} "
                + "{:11.3f} {:9.3f} {:11.3f}".format(*figures)
            )
    print(
        f"\nNLL_oracle at T=1: MLE {mle_1['nll_oracle']:.3f} -> GAN "
        f"{gan_1['nll_oracle']:.3f} (drop {drop:.3f} nats; goal >= 0.3)"
    )
    ratio = gan_1["nll_test"] / mle_1["nll_test"]
    print(f"GAN ÷ MLE NLL_test at T=1: {ratio:.3f}")
    print(f"GAN points below the MLE temperature curve: {len(below)} of {len(gan)}")
    print("seconds:", {k: round(v, 1) for k, v in timings.items()})


if __name__ == "__main__":
    main()
