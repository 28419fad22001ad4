"""Training under Keras' own distribution API (`keras.distribution`, JAX only).

`train(..., distribution=keras.distribution.DataParallel(...))` builds,
compiles and fits inside `distribution.scope()`; Keras shards each global
batch over the processes and devices (`DataParallel.distribute_dataset`)
and lays the variables out (`ModelParallel` with a `LayoutMap`, e.g.
`keras_nlg.models.transformer_layout_map`).

With several processes (`keras.distribution.initialize`), every process
runs the same `fit` and only process 0 writes the run's files; as under
TensorFlow's multi-worker strategy, the others read its backup to resume.
Every compiled computation over the distributed variables needs all
processes, so the epoch's text sample, which only the writer would draw,
is not drawn there.
"""

import contextlib

import keras


def check_distribution(distribution, strategy=None) -> None:
    """`TypeError`/`ValueError` unless `distribution` can be used here."""
    if distribution is None:
        return
    # Keras exports no base class: DataParallel and ModelParallel share these.
    if not all(hasattr(distribution, n) for n in ("scope", "distribute_dataset")):
        raise TypeError(
            "`distribution` must be a keras.distribution DataParallel or "
            f"ModelParallel. Received: distribution={distribution!r:.200}"
        )
    backend = keras.backend.backend()
    if backend != "jax":
        raise ValueError(
            "`distribution` (keras.distribution) needs Keras' JAX backend; on "
            "TensorFlow pass a tf.distribute `strategy` instead. Received: "
            f"KERAS_BACKEND={backend!r}"
        )
    if strategy is not None:
        raise ValueError(
            "Give `distribution` (JAX) or `strategy` (TensorFlow), not both. "
            f"Received: strategy={strategy!r:.200}"
        )


def distribution_scope(distribution):
    """`distribution.scope()`, or a no-op context for None."""
    return (
        distribution.scope() if distribution is not None else contextlib.nullcontext()
    )


def process_count(distribution) -> int:
    """How many processes share the run (1 without a distribution)."""
    if distribution is None:
        return 1
    import jax

    return jax.process_count()


def is_writer_process(distribution) -> bool:
    """Whether this process writes the run's files (process 0)."""
    if distribution is None:
        return True
    import jax

    return jax.process_index() == 0
