"""Cost of choosing one token, per decode step: greedy, top-p, and the full sort.

`select_next_token` on GPT-2-sized logits (V = 50,257), XLA-compiled (as in
`keras_nlg.generate`) and as a plain graph (as in the default SavedModel),
at batch 1 and 8, on two kinds of rows:

- peaked: normal logits × 6, a nucleus (top-p 0.9) of a few tokens, as a
  trained model's usually is; the candidates' path answers;
- flat: normal logits × 0.55, what random GPT-2 weights give (the
  generation benchmark's model): the nucleus is ~80% of the vocabulary, so
  the whole row is searched.

The peer is the sort-based nucleus that the sampler used before (sort the
row, softmax, cumulative sum, Gumbel-max over the row), written out here.

    python benchmarks/top_p.py

Prints milliseconds per call (best of --repeats after a warm-up call) and
the overhead over greedy.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_nlg.generation.sampling import select_next_token, uniform_noise  # noqa: E402

VOCABULARY_SIZE = 50257


def sorted_nucleus_sample(logits, top_p, seeds, step):
    """The full-sort way: sort, softmax, cumsum, threshold, Gumbel-max."""
    sorted_logits = tf.sort(logits, axis=-1, direction="DESCENDING")
    probabilities = tf.nn.softmax(sorted_logits, axis=-1)
    mass_before = tf.cumsum(probabilities, axis=-1, exclusive=True)
    kept = tf.reduce_sum(tf.cast(mass_before < top_p, tf.int32), axis=-1) - 1
    threshold = tf.gather(sorted_logits, kept, batch_dims=1)[:, None]
    token_ids = tf.range(tf.shape(logits)[-1])[None, :]
    gumbel = -tf.math.log(-tf.math.log(uniform_noise(seeds, step, token_ids)))
    filtered = tf.where(logits < threshold, -float("inf"), logits)
    return tf.argmax(filtered + gumbel, axis=-1, output_type=tf.int32)


def best_ms(function, arguments, repeats):
    function(*arguments).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*arguments).numpy()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    step = tf.constant(3)
    print(
        "| rows | batch | runtime | greedy ms | top-p ms | full-sort top-p ms "
        "| top-p overhead ms | full-sort overhead ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for kind, scale in (("peaked", 6.0), ("flat", 0.55)):
        for batch in (1, 8):
            rng = np.random.default_rng(0)
            logits = tf.constant(
                (rng.normal(size=(batch, VOCABULARY_SIZE)) * scale).astype(np.float32)
            )
            seeds = tf.constant(
                np.stack([np.arange(batch), np.arange(batch) + 1], 1).astype(np.int32)
            )
            for runtime, jit_compile in (("XLA", True), ("graph", False)):

                def compiled(function, jit_compile=jit_compile):
                    return tf.function(function, jit_compile=jit_compile)

                greedy = compiled(
                    lambda x, s: select_next_token(x, False, 1.0, 0, 1.0, s, step)
                )
                top_p = compiled(
                    lambda x, s: select_next_token(
                        x,
                        True,
                        tf.constant(1.0),
                        tf.constant(0),
                        tf.constant(0.9),
                        s,
                        step,
                    )
                )
                full_sort = compiled(
                    lambda x, s: sorted_nucleus_sample(x, 0.9, s, step)
                )
                times = [
                    best_ms(f, (logits, seeds), args.repeats)
                    for f in (greedy, top_p, full_sort)
                ]
                print(
                    f"| {kind} | {batch} | {runtime} | {times[0]:.2f} | {times[1]:.2f} "
                    f"| {times[2]:.2f} | {times[1] - times[0]:.2f} "
                    f"| {times[2] - times[0]:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
