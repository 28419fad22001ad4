"""`keras.distribution` on the JAX backend: `train(..., distribution=
DataParallel(...))` over two processes on loopback, and `ModelParallel`
with our Transformer's `LayoutMap` on two local CPU devices."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import keras_nlg
from tests.training.test_multi_worker import (
    ROOT,
    SETTINGS,
    TIMEOUT,
    relative_distance,
    run_single,
    run_workers,
    weights,
)

pytestmark = pytest.mark.slow


# The Transformer only: the LSTM runs the same DataParallel code, and CI
# time is short (tests/training/test_multi_worker.py runs both on TF).
@pytest.mark.parametrize("arch", ["transformer"])
def test_two_jax_processes_train_like_one(tmp_path, corpus_file, arch):
    settings = dict(SETTINGS, arch=arch, data_paths=[corpus_file])
    chief_dir, other_dir = str(tmp_path / "chief"), str(tmp_path / "other")
    runs = run_workers(
        None,  # new processes: JAX can't be forked from the zygote
        tmp_path,
        arch,
        [chief_dir, other_dir],
        settings,
        backend="jax",
        expect_budget_refused=True,
    )
    for returncode, stdout, stderr, _ in runs:
        assert returncode == 0, stderr[-3000:]
        assert "BUDGET REFUSED" in stdout
    chief, other = (np.load(tmp_path / f"{arch}-{i}.npz") for i in range(2))
    single = run_single(None, tmp_path, arch, settings, backend="jax")
    assert int(chief["processes"]) == 2 and int(single["processes"]) == 1
    # Identical on both processes (one replicated array, read by each).
    for name, value in weights(chief).items():
        np.testing.assert_array_equal(value, other[name], err_msg=name)
    # One process with the same global batch: the same run, to float32
    # rounding (XLA:CPU on JAX sums the two half-batches' gradients in
    # another order; measured ~5e-7 of the weights' norm).
    assert len(chief["losses"]) == SETTINGS["steps"]
    np.testing.assert_allclose(chief["losses"], single["losses"], rtol=1e-5)
    assert relative_distance(weights(chief), weights(single)) < 1e-5
    # Process 0 wrote the model directory, process 1 nothing.
    assert keras_nlg.load(chief_dir).config["training"]["processes"] == 2
    assert not os.path.exists(other_dir)


MODEL_PARALLEL = """
import os
os.environ["KERAS_BACKEND"] = "jax"
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import jax, keras, numpy as np
from keras_nlg.models import build_model, transformer_layout_map

assert len(jax.devices()) == 2
keras.utils.set_random_seed(1)
ids = np.random.default_rng(0).integers(0, 64, (4, 16)).astype("int32")
targets = np.roll(ids, -1, axis=1)

def one_step(model):
    model.compile(optimizer=keras.optimizers.SGD(0.5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    loss = model.train_on_batch(ids, targets)
    return float(loss), [np.asarray(v.value) for v in model.trainable_weights]

config = dict(num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64,
              context_length=16)
plain = build_model("transformer", "tiny", 64, **config)
start = plain.get_weights()
logits = np.asarray(plain(ids))
plain_loss, plain_after = one_step(plain)

mesh = keras.distribution.DeviceMesh((1, 2), ("batch", "model"), jax.devices())
layout_map = transformer_layout_map(mesh)
distribution = keras.distribution.ModelParallel(
    layout_map=layout_map, batch_dim_name="batch"
)
with distribution.scope():
    sharded = build_model("transformer", "tiny", 64, **config)
    sharded.set_weights(start)
    specs = {v.path: str(v.value.sharding.spec) for v in sharded.weights}
    sharded_logits = np.asarray(sharded(ids))
    sharded_loss, sharded_after = one_step(sharded)

kernel = [p for p in specs if p.endswith("mlp_in/kernel")][0]
assert "model" in specs[kernel], specs
query = [p for p in specs if p.endswith("attention/query/kernel")][0]
assert "model" in specs[query], specs
np.testing.assert_allclose(sharded_logits, logits, atol=1e-5)
np.testing.assert_allclose(sharded_loss, plain_loss, rtol=1e-6)
for a, b in zip(sharded_after, plain_after, strict=True):
    np.testing.assert_allclose(a, b, atol=1e-5)
print("OK", sum("model" in s for s in specs.values()), "of", len(specs), "sharded")
"""


def test_model_parallel_transformer_matches_unsharded():
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MODEL_PARALLEL)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=ROOT,
        env=dict(os.environ, KERAS_BACKEND="jax"),
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "OK" in completed.stdout
