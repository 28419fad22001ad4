"""One process of the multi-worker tests: `python multi_worker_job.py SPEC`.

SPEC is JSON: `out` (model directory), `result` (an .npz path for the final
weights and per-step losses), `settings` (`train` keyword arguments) and,
for a worker, `ports` (the cluster's loopback ports) and `index` (this
worker's task). Without `ports` it runs on one process, no strategy: the
reference. With `"backend": "jax"` it runs on Keras' JAX backend, and a
worker joins a `keras.distribution` run (coordinator on the first port,
CPU collectives over gloo) training with `DataParallel`. `kill_at_epoch`
makes worker 1 SIGKILL itself when that epoch begins (a hook, not a
sleep). `expect_budget_refused` first checks that `train(minutes=...)` is
refused with several workers.
"""

import json
import os
import signal
import sys

spec = json.loads(sys.argv[1])
print(f"PID {os.getpid()}", flush=True)
on_jax = spec.get("backend") == "jax"
os.environ["KERAS_BACKEND"] = "jax" if on_jax else "tensorflow"
if spec.get("ports") and not on_jax:
    os.environ["TF_CONFIG"] = json.dumps(
        {
            "cluster": {"worker": [f"127.0.0.1:{port}" for port in spec["ports"]]},
            "task": {"type": "worker", "index": spec["index"]},
        }
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

strategy = distribution = None
if spec.get("ports") and on_jax:
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    keras.distribution.initialize(
        job_addresses=f"127.0.0.1:{spec['ports'][0]}",
        num_processes=len(spec["ports"]),
        process_id=spec["index"],
    )
    distribution = keras.distribution.DataParallel(devices=jax.devices())
elif spec.get("ports"):
    # The strategy first: TensorFlow's multi-worker guide asks for it before
    # any other TensorFlow call.
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
run = dict(strategy=strategy, distribution=distribution)

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
        train(spec["out"], **run, **{**spec["settings"], "minutes": 1.0})
    except ValueError as error:
        assert "minutes" in str(error), error
        print("BUDGET REFUSED")
    else:
        raise AssertionError("a time budget was accepted under multi-worker training")

losses = StepLosses()
callbacks = [losses]
if spec.get("kill_at_epoch") is not None and spec.get("index") == 1:
    callbacks.append(KillSelf(spec["kill_at_epoch"]))
result = train(spec["out"], **run, callbacks=callbacks, **spec["settings"])
np.savez(
    spec["result"],
    losses=np.asarray(losses.losses),
    resumed_from_epoch=result.metrics["resumed_from_epoch"],
    steps_run=result.metrics["steps_run"],
    replicas=result.config["training"]["replicas"],
    processes=result.config["training"]["processes"],
    pid=os.getpid(),
    **{f"weight:{v.path}": v.numpy() for v in result.model.weights},
)
print("OK")
