"""Checkpoints that survive a kill at any instant: the resumable backup
(`RunBackup`) and the best model so far (`BestModelCheckpoint`).

Both extend Keras' callbacks (`BackupAndRestore`, `ModelCheckpoint`) rather
than replace them; only how they write changes.

Why not Keras' `BackupAndRestore` as it is (3.15): it writes
`latest.weights.h5` and `training_metadata.json` in place, so a process
killed mid-write leaves a file that every later run fails to open ("file
signature not found") until the user deletes the folder; it deletes the
backup when `fit` ends, before our final save, so a kill during that save
loses the whole run; and it backs up the weights of an epoch whose loss
became NaN, which the next run then resumes from.
This subclass keeps Keras' resume mechanics (the epoch to
start from, the weights with the optimizer's state) and changes the writes:

- each backup writes `epoch-<N>.weights.h5` under a temporary name, renamed
  into place, then `training_metadata.json` (atomically) names it: the
  metadata is the commit point, and always names a complete file;
- an epoch whose logs hold NaN or inf is not backed up;
- the backup outlives `fit`; the caller calls `discard()` once the model
  directory is written, or when the run failed;
- a backup that can't be read is moved aside to `backup.unreadable-<time>`
  (nothing deleted) with a warning, and the run starts from scratch.
"""

import logging
import math
import os
import shutil
import time

import keras

from keras_nlg.files import read_json_file, write_file_atomically, write_json_file
from keras_nlg.training.budget import BudgetPlan
from keras_nlg.training.multi_worker import check_same_resume_epoch
from keras_nlg.training.snapshot import TrainingState

logger = logging.getLogger(__name__)

METADATA_FILE = "training_metadata.json"
_LEGACY_WEIGHTS = "latest.weights.h5"  # Keras' own name (older backups)


class RunBackup(keras.callbacks.BackupAndRestore):
    """Backs up the model (and optimizer) after each epoch, and resumes from it.

    Args:
        backup_dir: the folder of the backup (`DIR/checkpoints/backup`).
        save_dir: where this process writes its backups (default
            `backup_dir`). A multi-worker run's other workers resume from
            the chief's `backup_dir` but save into a scratch folder: saving
            is a collective on multi-process JAX, so every process saves,
            and only the chief's files are kept.

    Attributes:
        resumed_from_epoch: the epoch the run resumed at (0: a fresh start).
        restored_logs: the resumed epoch's logs (dict of floats; empty on a
            fresh start): a run resumed after its last epoch trains nothing,
            and these are its final figures.
        budget: a time-budgeted run's `TimeBudget` (set by the caller): its
            plan and the end it reached go into each backup, so a resumed
            run keeps its schedule.
    """

    def __init__(self, backup_dir: str, save_dir: str | None = None):
        super().__init__(backup_dir, delete_checkpoint=False)
        self.save_dir = save_dir or backup_dir
        self.writes = self.save_dir == backup_dir  # may move an unreadable one
        self.resumed_from_epoch = 0
        self.restored_logs = {}
        self.budget = None

    def recorded_plan(self):
        """`(BudgetPlan, stop_step)` of the time-budgeted run the backup was
        written by, or None (no backup, an unreadable one, or a run planned
        by steps)."""
        try:
            metadata = read_json_file(os.path.join(self.backup_dir, METADATA_FILE))
        except (OSError, ValueError):
            return None
        plan = BudgetPlan.from_dict(metadata.get("plan"))
        stop = (metadata.get("plan") or {}).get("stop_step")
        if plan is None or not isinstance(stop, int) or stop < 1:
            return None
        return plan, stop

    def on_train_begin(self, logs=None):
        if os.path.isdir(self.backup_dir):
            self._restore_or_set_aside()
        check_same_resume_epoch(
            getattr(self.model, "distribute_strategy", None),  # None on JAX
            self.resumed_from_epoch,
            self.backup_dir,
        )

    def _restore_or_set_aside(self):
        try:
            self._restore()
        except (ValueError, OSError) as error:
            # A non-chief worker reads while the chief may set it aside: it
            # starts afresh too, and `check_same_resume_epoch` compares.
            if not self.writes or not os.path.isdir(self.backup_dir):
                logger.warning("Could not resume from %s (%s)", self.backup_dir, error)
                return
            aside = f"{self.backup_dir}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}"
            os.replace(self.backup_dir, aside)
            logger.warning(
                "Could not resume from the backup %s (%s); moved it to %s and "
                "started from the first epoch.",
                self.backup_dir,
                error,
                aside,
            )

    def _restore(self):
        metadata_path = os.path.join(self.backup_dir, METADATA_FILE)
        if not os.path.exists(metadata_path):
            if any(name.endswith(".h5") for name in os.listdir(self.backup_dir)):
                raise ValueError(f"{metadata_path} is missing")
            return  # an empty folder: nothing was backed up yet
        metadata = read_json_file(metadata_path)
        epoch = metadata.get("epoch")
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise ValueError(f"{metadata_path}: bad epoch {epoch!r}")
        weights = metadata.get("weights", _LEGACY_WEIGHTS)
        if not isinstance(weights, str) or os.path.basename(weights) != weights:
            raise ValueError(f"{metadata_path}: bad weights file {weights!r}")
        weights_path = os.path.join(self.backup_dir, weights)
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        # Keras assigns what it can before a mismatch raises: keep the fresh
        # state to put back, so a failed resume really starts from scratch.
        fresh = TrainingState(self.model)
        try:
            self.model.load_weights(weights_path)
        except Exception as error:  # h5py/Keras raise many types
            fresh.restore()
            message = " ".join(f"{type(error).__name__}: {error}".split())
            raise ValueError(f"cannot load {weights_path}: {message}") from None
        self.model._initial_epoch = epoch  # what Keras' own restore sets
        self.resumed_from_epoch = epoch
        self.restored_logs = metadata.get("logs") or {}
        logger.warning(
            "Resuming at epoch %d from the backup %s", epoch, self.backup_dir
        )

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        finite = {}
        for name, value in (logs or {}).items():
            try:
                finite[name] = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(finite[name]):
                logger.warning(
                    "Epoch %d: %s is %s; not backed up.", epoch + 1, name, value
                )
                return
        self._save_model(finite)

    def _save_model(self, logs=None):
        os.makedirs(self.save_dir, exist_ok=True)
        name = f"epoch-{self._current_epoch}.weights.h5"
        write_file_atomically(
            os.path.join(self.save_dir, name),
            lambda path: self.model.save_weights(path, overwrite=True),
        )
        write_json_file(
            os.path.join(self.save_dir, METADATA_FILE),
            {
                "epoch": self._current_epoch,
                "batch": self._last_batch_seen,
                "weights": name,
                "logs": logs or {},
                **self._plan_record(),
            },
        )
        for other in os.listdir(self.save_dir):
            if other.endswith(".weights.h5") and other != name:
                os.remove(os.path.join(self.save_dir, other))

    def _plan_record(self):
        if self.budget is None:
            return {}
        plan = self.budget.plan.to_dict()
        return {"plan": {**plan, "stop_step": self.budget.stop_step}}

    def last_logs(self, history: dict) -> dict:
        """The run's final figures (floats): the last epoch of `history`
        (`fit`'s `History.history`), over the backup's own for a run resumed
        after its last epoch, which trains nothing."""
        last = dict(self.restored_logs)
        last.update({name: float(v[-1]) for name, v in history.items() if v})
        return last

    def discard(self):
        """Removes the backup: the run's output is complete, or it failed."""
        shutil.rmtree(self.save_dir, ignore_errors=True)


class BestModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """`keras.callbacks.ModelCheckpoint` that writes `.partial.<name>` and
    renames it into place: Keras writes the file in place, so a kill
    mid-write would leave a truncated `best.keras` instead of the previous
    best one. Same arguments as Keras' callback (`save_best_only` defaults to
    True); `filepath` without `{epoch}`-style placeholders.

    With `backup` (the run's `RunBackup`, before this callback in the list),
    the best monitored value so far is kept beside the file
    (`<name>.best.json`) and a resumed run starts from it: Keras' callback
    starts each `fit` with no best, so the first epoch after a resume would
    replace a better model saved before the interruption.
    """

    def __init__(self, filepath, *args, backup=None, **kwargs):
        kwargs.setdefault("save_best_only", True)  # the best model, as named
        super().__init__(filepath, *args, **kwargs)
        self._backup = backup
        self._best_file = filepath + ".best.json"

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._backup is None or not self._backup.resumed_from_epoch:
            return
        if not os.path.exists(self.filepath):
            return
        try:
            record = read_json_file(self._best_file)
            best = float(record["best"]) if record["monitor"] == self.monitor else None
        except (OSError, ValueError, KeyError, TypeError):
            best = None  # unreadable: the next epoch sets a new best
        if best is not None and math.isfinite(best):
            self.best = best

    def _save_model(self, epoch, batch, logs):
        final = self.filepath
        directory, name = os.path.split(final)
        temporary = os.path.join(directory, f".partial.{name}")
        self.filepath = temporary
        try:
            super()._save_model(epoch, batch, logs)
        finally:
            self.filepath = final
        if os.path.exists(temporary):  # Keras decided to save (a new best)
            os.replace(temporary, final)
            if self._backup is not None:
                write_json_file(
                    self._best_file, {"monitor": self.monitor, "best": float(self.best)}
                )
