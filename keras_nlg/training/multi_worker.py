"""Training under `tf.distribute.MultiWorkerMirroredStrategy`: who writes, and
two Keras 3.15 faults worked around for the length of one `fit`.

Every worker runs the same `fit` (the collectives need all of them); only the
chief writes (model directory, backups, best checkpoint, TensorBoard, sample
texts), as TensorFlow's multi-worker guide prescribes. All workers *read* the
chief's backup to resume, so `out_dir` must be on a filesystem each worker
sees; `check_same_resume_epoch` turns a worker that cannot see it into a
clear error instead of a silent divergence.

The two faults (keras-team/keras#20585, tensorflow/tensorflow#72388), both
in `keras/src/backend/tensorflow/trainer.py` of Keras 3.15, bite as soon as
a strategy spans more than one worker:

1. `fit` builds the model symbolically from its first batch, which it
   obtains by `strategy.reduce("MEAN", batch)` over the whole `(x, y)`
   structure; the collective reduce cannot take a nested structure and
   fails with "Attempt to convert a value (PerReplica...) with an
   unsupported type". Only the shapes and dtypes matter for that build:
   `keras_fit_workarounds` builds from the dataset's `element_spec`.
2. `train_step`/`test_step` logs are scalars, and multi-worker `fit`
   reduces each with `strategy.reduce("MEAN", v, axis=0)`, which fails on
   a 0-d tensor ("Invalid reduction dimension 0 for input with 0
   dimensions"). `_rank_one_logs` hands them over as shape `[1]`: the
   reduce over axis 0 then gives the mean over every replica as a scalar,
   which is what Keras means to compute.

Both are set on the model instance (not on Keras' classes) and removed when
`fit` returns, with the step functions Keras compiled from them. Why patch
at all: the fix belongs in Keras (the issue is open); the alternative, our
own training loop, would give up Keras' `fit`.
"""

import contextlib

import keras
import tensorflow as tf
from keras import tree


def is_multi_worker(strategy) -> bool:
    """True for a `MultiWorkerMirroredStrategy` spanning more than one worker
    (one worker alone runs like a `MirroredStrategy` and needs none of this)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec() if resolver is not None else None
    if not spec:
        return False
    return sum(spec.num_tasks(job) for job in spec.jobs) > 1


def writes_outputs(strategy) -> bool:
    """Whether this process writes the run's files: always outside
    multi-worker training, else only on the chief (TensorFlow's
    `should_checkpoint`)."""
    return not is_multi_worker(strategy) or strategy.extended.should_checkpoint


def worker_name(strategy) -> str:
    """'worker 1' (TF_CONFIG's task) for messages; '' outside multi-worker."""
    if not is_multi_worker(strategy):
        return ""
    resolver = strategy.cluster_resolver
    return f"{resolver.task_type} {resolver.task_id}"


@contextlib.contextmanager
def keras_fit_workarounds(model, strategy, dataset):
    """Lets `model.fit(dataset)` run under a distribution `strategy` (see the
    module docstring); does nothing for a model built outside a strategy's
    scope (Keras then builds it in the first traced step).

    The symbolic build reads `dataset.element_spec` instead of a batch: the
    batch Keras draws opens an iterator of its own, and `fit`'s next one
    then gets the next reshuffled order (`reshuffle_each_iteration`), so a
    distributed run would not see the batches a single-process run sees.
    """
    if getattr(model, "_distribute_strategy", None) is None:  # Keras' own test
        yield
        return
    specs = tree.map_structure(
        lambda spec: keras.KerasTensor(spec.shape, spec.dtype), dataset.element_spec
    )

    def symbolic_build_from_spec(iterator=None, data_batch=None):
        if data_batch is None:
            data_batch = specs
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    patches = {"_maybe_symbolic_build": symbolic_build_from_spec}
    if is_multi_worker(strategy):
        train_step, test_step = model.train_step, model.test_step
        patches["train_step"] = lambda data: _rank_one_logs(train_step(data))
        patches["test_step"] = lambda data: _rank_one_logs(test_step(data))
    # Through __dict__: Keras' Layer.__setattr__ would track the functions.
    # Keras caches the compiled step functions (`make_train_function`): drop
    # them on entry, so `fit` compiles with the patched steps, and on exit,
    # so no later call keeps them.
    saved = {name: model.__dict__[name] for name in patches if name in model.__dict__}
    model.__dict__.update(patches)
    model.train_function = model.test_function = None
    try:
        yield
    finally:
        for name in patches:
            model.__dict__.pop(name, None)
        model.__dict__.update(saved)
        model.train_function = model.test_function = None


def _rank_one_logs(logs):
    return tree.map_structure(
        lambda v: tf.reshape(v, [1]) if tf.is_tensor(v) and v.shape.rank == 0 else v,
        logs,
    )


def check_same_resume_epoch(strategy, epoch: int, backup_dir: str):
    """Raises `RuntimeError` unless every worker resumes at `epoch`.

    A worker that cannot see the chief's backup (`out_dir` on local disk)
    would start from scratch while the others resume: the replicas'
    weights would differ and training would go on, silently wrong.
    """
    if not is_multi_worker(strategy):
        return
    value = tf.constant([epoch], tf.int32)
    epochs = strategy.gather(strategy.run(lambda: value), axis=0).numpy().tolist()
    if min(epochs) != max(epochs):
        raise RuntimeError(
            f"The workers would resume at different epochs ({epochs}; "
            f"{worker_name(strategy)}: {epoch}): every worker must "
            f"read the same backup {backup_dir}. Put out_dir on a filesystem "
            "that all workers see."
        )


def check_multi_worker_config(strategy, config, processes: int = 1):
    """`ValueError` for settings a multi-worker run (a multi-worker
    `strategy`, or `processes` > 1 under `keras.distribution`) cannot
    honour: a time budget (`minutes`, `max_minutes`) is measured by each
    worker's own clock, so the workers would stop at different steps and the
    one still running would wait forever in its next collective."""
    if not is_multi_worker(strategy) and processes == 1:
        return
    for name in ("minutes", "max_minutes"):
        value = getattr(config, name)
        if value:
            raise ValueError(
                f"`{name}` cannot be used with multi-worker training (each worker "
                "would stop at its own step); give `steps` or `epochs` instead. "
                f"Received: {name}={value!r}"
            )


# What a collective raises when a peer went away (gRPC "connection reset",
# the coordination service's heartbeat timeout, an aborted collective).
_LOST_PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.AbortedError,
)


@contextlib.contextmanager
def lost_worker_as_error(strategy, backup_dir: str):
    """Turns TensorFlow's error for a vanished peer into a `RuntimeError`
    that says what happened and how to go on. Outside multi-worker training
    the errors pass through unchanged."""
    try:
        yield
    except _LOST_PEER_ERRORS as error:
        if not is_multi_worker(strategy):
            raise
        raise RuntimeError(
            f"Multi-worker training stopped on {worker_name(strategy)}: another "
            f"worker is gone ({type(error).__name__}: {_cause(error)}). Re-run every "
            f"worker with the same command to resume from the backup in "
            f"{backup_dir}."
        ) from error


def _cause(error) -> str:
    """The line of a TensorFlow runtime error that names the cause (its
    message starts with "Graph execution error:" and a traceback)."""
    lines = [line.strip() for line in str(error).splitlines()]
    preamble = ("Graph execution error", "Detected at", "File")
    for line in lines:
        if line and not line.startswith(preamble):
            return line
    return lines[0] if lines else type(error).__name__
