"""`BestModelCheckpoint`: the best model so far survives a resume."""

import json
import types

import keras
import numpy as np
import pytest

from keras_nlg.training.checkpoints import BestModelCheckpoint


def tiny_model(value):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.set_weights([np.full((2, 1), value, "float32"), np.zeros(1, "float32")])
    return model


def saved_kernel(path):
    return float(keras.saving.load_model(path).get_weights()[0][0, 0])


def run_epochs(callback, model, losses):
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, loss in enumerate(losses):
        callback.on_epoch_end(epoch, {"loss": loss})


@pytest.mark.parametrize("resumed_from_epoch", [0, 2])
def test_a_resumed_run_keeps_the_best_model_saved_before_it(
    tmp_path, resumed_from_epoch
):
    path = str(tmp_path / "best.keras")
    # The first run: its best epoch (loss 0.5) is saved with its value.
    fresh = types.SimpleNamespace(resumed_from_epoch=0)
    first = BestModelCheckpoint(path, monitor="loss", save_best_only=True, backup=fresh)
    run_epochs(first, tiny_model(1.0), [0.8, 0.5])
    with open(path + ".best.json") as f:
        assert json.load(f) == {"monitor": "loss", "best": 0.5}

    # The next run's first epoch is worse (0.9) and its second better (0.4).
    backup = types.SimpleNamespace(resumed_from_epoch=resumed_from_epoch)
    second = BestModelCheckpoint(
        path, monitor="loss", save_best_only=True, backup=backup
    )
    second.set_model(tiny_model(2.0))
    second.on_train_begin()
    second.on_epoch_end(0, {"loss": 0.9})
    if resumed_from_epoch:
        # Resumed: 0.9 is no improvement on the 0.5 saved before.
        assert saved_kernel(path) == 1.0
    else:
        # A fresh run starts its own best, as Keras' callback does.
        assert saved_kernel(path) == 2.0
    second.model.set_weights([np.full((2, 1), 3.0, "float32"), np.zeros(1, "float32")])
    second.on_epoch_end(1, {"loss": 0.4})
    assert saved_kernel(path) == 3.0
    with open(path + ".best.json") as f:
        assert json.load(f)["best"] == pytest.approx(0.4)


def test_an_unreadable_best_record_starts_a_new_best(tmp_path):
    path = str(tmp_path / "best.keras")
    tiny_model(1.0).save(path)
    (tmp_path / "best.keras.best.json").write_text("[not json")
    callback = BestModelCheckpoint(
        path,
        monitor="loss",
        save_best_only=True,
        backup=types.SimpleNamespace(resumed_from_epoch=1),
    )
    run_epochs(callback, tiny_model(2.0), [0.9])
    assert saved_kernel(path) == 2.0
