"""Training to a time budget (`minutes`): the plan, the deadline keeper, the run."""

import json
import os

import keras
import pytest

from keras_nlg.training import TrainingConfig, train
from keras_nlg.training.budget import (
    HEADROOM,
    BudgetPlan,
    Costs,
    TimeBudget,
    plan_for_budget,
)
from keras_nlg.training.checkpoints import METADATA_FILE, RunBackup
from keras_nlg.training.optimizer import WarmupCosineDecay


def test_plan_fills_the_time_and_keeps_validation_to_its_share():
    costs = Costs(step=0.05, validation=1.0, epoch_end_other=0.5)
    plan = plan_for_budget(300.0, costs)
    # 5% of 300 s on epoch ends of 1.5 s: 10 of them; the rest is steps.
    assert plan.epochs == 10
    assert plan.steps * costs.step + plan.epochs * 1.5 <= 300.0
    assert plan.steps >= (300.0 - 15.0) / costs.step - 1
    # fit gets room to grow the plan on a faster machine.
    capacity = plan.epochs * plan.steps_per_epoch
    assert capacity >= plan.steps * (1 + HEADROOM)


def test_plan_respects_a_given_cadence_and_pays_for_it_with_steps():
    costs = Costs(step=0.05, validation=1.0, epoch_end_other=0.5)
    free = plan_for_budget(300.0, costs)
    capped = plan_for_budget(300.0, costs, max_steps_per_epoch=200)
    assert capped.steps / capped.epochs <= 200
    assert capped.epochs > free.epochs and capped.steps < free.steps
    assert capped.steps * costs.step + capped.epochs * 1.5 <= 300.0


def test_plan_always_has_one_validation_and_refuses_a_budget_too_short():
    slow_validation = Costs(step=0.01, validation=30.0, epoch_end_other=0.0)
    assert plan_for_budget(60.0, slow_validation).epochs == 1
    with pytest.raises(ValueError, match="less than one step"):
        plan_for_budget(5.0, slow_validation)


def test_schedule_resized_in_place_matches_a_fresh_one():
    schedule = WarmupCosineDecay(1e-3, total_steps=1000, warmup_steps=50)
    schedule.set_steps(200, 10)
    fresh = keras.optimizers.schedules.CosineDecay(
        0.0, 190, alpha=0.1, warmup_target=1e-3, warmup_steps=10
    )
    for step in (0, 5, 10, 100, 200, 250):
        assert float(schedule(step)) == pytest.approx(float(fresh(step)), abs=1e-9)
    assert schedule.get_config()["total_steps"] == 200
    with pytest.raises(ValueError, match="total_steps=10"):
        schedule.set_steps(10, 10)


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _run_keeper(monkeypatch, step_seconds):
    """Runs `TimeBudget` over a plan made for 0.1 s steps: 100 steps and
    2 epoch ends of 1 s in a 12-s budget, `fit` given room for 125."""
    clock = _Clock()
    monkeypatch.setattr("keras_nlg.training.budget.time.monotonic", clock)
    model = keras.Sequential([keras.layers.Dense(1)])
    model.optimizer = keras.optimizers.SGD()
    model.stop_training = False
    schedule = WarmupCosineDecay(1e-3, total_steps=100, warmup_steps=5)
    plan = BudgetPlan(steps=100, epochs=2, steps_per_epoch=63)
    keeper = TimeBudget(
        deadline=12.0, plan=plan, schedule=schedule, epoch_end_seconds=1.0
    )
    keeper.set_model(model)
    for batch in range(plan.epochs * plan.steps_per_epoch):
        keeper.on_train_batch_begin(batch)
        clock.now += step_seconds
        model.optimizer.iterations.assign_add(1)
        keeper.on_train_batch_end(batch)
        if batch == plan.steps_per_epoch - 1:
            clock.now += 1.0  # the first epoch end
            keeper.on_epoch_end(0)
        if model.stop_training:
            break
    return keeper, schedule, int(model.optimizer.iterations.numpy()), clock.now


@pytest.mark.parametrize("step_seconds", [0.2, 0.15])
def test_time_budget_shrinks_the_plan_when_steps_are_slower(monkeypatch, step_seconds):
    keeper, schedule, steps, now = _run_keeper(monkeypatch, step_seconds)
    assert steps == keeper.stop_step < 100
    assert schedule.total_steps == steps  # decays fully by the new end
    # The final epoch end fits before the deadline (to a replan's slack).
    assert now + keeper.epoch_end_seconds <= 12.0 + step_seconds * keeper.REPLAN_EVERY


def test_time_budget_grows_the_plan_when_steps_are_faster(monkeypatch):
    keeper, schedule, steps, now = _run_keeper(monkeypatch, 0.075)
    assert 100 < steps == keeper.stop_step <= 126
    assert schedule.total_steps == steps
    assert now + keeper.epoch_end_seconds <= 12.0 + 0.075 * keeper.REPLAN_EVERY


def test_backup_keeps_the_plan_for_a_resumed_run(tmp_path):
    backup = RunBackup(str(tmp_path / "backup"))
    assert backup.recorded_plan() is None
    os.makedirs(backup.backup_dir)
    plan = BudgetPlan(steps=60, epochs=3, steps_per_epoch=20)
    with open(os.path.join(backup.backup_dir, METADATA_FILE), "w") as f:
        json.dump(
            {"epoch": 1, "weights": "epoch-1.weights.h5", "plan": plan.to_dict()}, f
        )
    assert backup.recorded_plan() == plan
    with open(os.path.join(backup.backup_dir, METADATA_FILE), "w") as f:
        json.dump({"epoch": 1, "plan": {"steps": "many"}}, f)
    assert backup.recorded_plan() is None


def test_minutes_runs_a_planned_schedule_to_its_end(tmp_path, corpus_file):
    out = str(tmp_path / "model")
    result = train(
        out,
        data_paths=[corpus_file],
        preset="tiny",
        batch_size=4,
        sequence_length=32,
        minutes=0.2,
        warmup_steps=3,
        verbose=0,
    )
    training = result.config["training"]
    assert training["minutes"] == 0.2 and training["steps"] is None
    capacity = training["planned_epochs"] * training["planned_steps_per_epoch"]
    assert training["total_steps"] < capacity
    steps_run = result.metrics["steps_run"]
    assert 0 < steps_run <= capacity
    # The learning rate reached the end of its decay at the last step run.
    schedule = result.model.optimizer.schedule
    assert schedule.total_steps == steps_run
    assert float(schedule(steps_run)) == pytest.approx(1e-4, rel=1e-3)
    assert schedule.warmup_steps == training["warmup_steps"] == 3
    # The record repeats the run: a budget, not a step count.
    assert TrainingConfig.from_record(training).minutes == 0.2


@pytest.mark.parametrize(
    "settings, match",
    [
        (dict(minutes=1, steps=10), "Give `minutes` or `steps`"),
        (dict(minutes=1, epochs=2), "Give `minutes` or `epochs`"),
        (dict(minutes=1, max_minutes=2), "Give `minutes` or `max_minutes`"),
        (dict(minutes=0), "minutes=0"),
        (dict(minutes=float("inf")), "minutes=inf"),
    ],
)
def test_bad_budgets(settings, match):
    with pytest.raises(ValueError, match=match):
        TrainingConfig(**settings)


def test_a_budget_picks_its_own_cadence_unless_given():
    assert TrainingConfig(minutes=2).steps_per_epoch is None
    assert TrainingConfig(minutes=2, steps_per_epoch=50).steps_per_epoch == 50
    assert TrainingConfig().resolved_steps_per_epoch() == 200
    assert TrainingConfig(minutes=2).resolved_steps_per_epoch() is None
    assert (
        TrainingConfig(steps=10).replace(steps=None, minutes=2).steps_per_epoch is None
    )
