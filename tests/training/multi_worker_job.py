"""One process of the multi-worker tests: `python multi_worker_job.py SPEC`.

SPEC is JSON: `out` (model directory), `result` (an .npz path for the final
weights and per-step losses), `settings` (`train` keyword arguments) and,
for a worker, `ports` (the cluster's loopback ports) and `index` (this
worker's task). Without `ports` it runs on one process, no strategy: the
reference. `kill_at_epoch` makes worker 1 SIGKILL itself when that epoch
begins (a hook, not a sleep). `expect_budget_refused` first checks that
`train(minutes=...)` is refused under the multi-worker strategy.
"""

import json
import os
import signal
import sys

spec = json.loads(sys.argv[1])
print(f"PID {os.getpid()}", flush=True)
if spec.get("ports"):
    os.environ["TF_CONFIG"] = json.dumps(
        {
            "cluster": {"worker": [f"127.0.0.1:{port}" for port in spec["ports"]]},
            "task": {"type": "worker", "index": spec["index"]},
        }
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# The strategy first: TensorFlow's multi-worker guide asks for it before
# any other TensorFlow call.
strategy = tf.distribute.MultiWorkerMirroredStrategy() if spec.get("ports") else None

from keras_nlg.training import train  # noqa: E402


class StepLosses(keras.callbacks.Callback):
    """Every train step's running epoch-mean loss, as `fit` logs it."""

    def __init__(self):
        super().__init__()
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(np.asarray(logs["loss"]).reshape(-1)[0]))


class KillSelf(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)


if spec.get("expect_budget_refused"):
    try:
        train(spec["out"], strategy=strategy, **{**spec["settings"], "minutes": 1.0})
    except ValueError as error:
        assert "minutes" in str(error), error
        print("BUDGET REFUSED")
    else:
        raise AssertionError("a time budget was accepted under multi-worker training")

losses = StepLosses()
callbacks = [losses]
if spec.get("kill_at_epoch") is not None and spec.get("index") == 1:
    callbacks.append(KillSelf(spec["kill_at_epoch"]))
result = train(spec["out"], strategy=strategy, callbacks=callbacks, **spec["settings"])
np.savez(
    spec["result"],
    losses=np.asarray(losses.losses),
    resumed_from_epoch=result.metrics["resumed_from_epoch"],
    steps_run=result.metrics["steps_run"],
    replicas=result.config["training"]["replicas"],
    pid=os.getpid(),
    **{f"weight:{v.path}": v.numpy() for v in result.model.weights},
)
print("OK")
