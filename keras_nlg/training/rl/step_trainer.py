"""`StepTrainer`: what the sequence-level trainers share as Keras models.

RLOO, DPO and adversarial training are `keras.Model`s whose `train_step`
picks its own batch from the step count (so a run resumed by
`BackupAndRestore` continues the same sequence) and logs epoch means of a
few named figures. The RL and adversarial steps also sample on the host
(the compiled generator, Python rewards), so they run eagerly.
"""

from __future__ import annotations

import keras


class StepTrainer(keras.Model):
    """Base of the trainers: named `keras.metrics.Mean` trackers, no shuffle.

    Subclasses call `track(names)` in `__init__`, `update(name=value, ...)`
    in `train_step` and return `self.logs()`; `samples_on_host = True` makes
    `compile` insist on `run_eagerly=True` (and set it).
    """

    samples_on_host = False

    def track(self, names) -> None:
        self._trackers = {name: keras.metrics.Mean(name=name) for name in names}

    def update(self, **values) -> None:
        for name, value in values.items():
            self._trackers[name].update_state(value)

    def logs(self) -> dict:
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    @property
    def metrics(self):
        # Keras resets these at each epoch: the logs are epoch means (of the
        # steps that updated each one).
        return list(self._trackers.values())

    def compile(self, *args, **kwargs):
        if self.samples_on_host:
            if kwargs.get("run_eagerly") is False:
                raise ValueError(
                    f"`{type(self).__name__}` samples on the host in each step and "
                    "needs run_eagerly=True. Received: run_eagerly=False"
                )
            kwargs["run_eagerly"] = True
        super().compile(*args, **kwargs)

    def fit(self, *args, shuffle=False, **kwargs):
        # Each step draws its own batch; nothing for `fit` to shuffle.
        return super().fit(*args, shuffle=shuffle, **kwargs)
