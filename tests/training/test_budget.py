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
    _BatchTimer,
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
    assert capped.steps_per_epoch == 200  # fit validates every 200 steps
    ends = -(-capped.steps // 200)
    assert capped.steps < free.steps
    assert capped.steps * costs.step + ends * 1.5 <= 300.0
    assert (capped.steps + 1) * costs.step + -(-(capped.steps + 1) // 200) * 1.5 > 300
    assert capped.epochs * 200 >= capped.steps * (1 + HEADROOM)
    # A cadence shorter than the costs allow still fills the time.
    tight = plan_for_budget(100.0, Costs(0.1, 1.0, 0.0), max_steps_per_epoch=10)
    assert tight.steps_per_epoch == 10 and tight.steps >= 450


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


def _keeper(monkeypatch, *args, start_step=0, **kwargs):
    """`(TimeBudget(*args, **kwargs), its model, the fake clock)`; the
    optimizer starts at `start_step` (a resumed run's)."""
    clock = _Clock()
    monkeypatch.setattr("keras_nlg.training.budget.time.monotonic", clock)
    model = keras.Sequential([keras.layers.Dense(1)])
    model.optimizer = keras.optimizers.SGD()
    model.optimizer.iterations.assign(start_step)
    model.stop_training = False
    keeper = TimeBudget(*args, **kwargs)
    keeper.set_model(model)
    return keeper, model, clock


def _step(keeper, model, clock, seconds):
    """One train step of `seconds`, as `fit` reports it to the callback."""
    keeper.on_train_batch_begin(0)
    clock.now += seconds
    model.optimizer.iterations.assign_add(1)
    keeper.on_train_batch_end(0)


def _run_keeper(monkeypatch, step_seconds):
    """Runs `TimeBudget` over a plan made for 0.1 s steps: 100 steps and
    2 epoch ends of 1 s in a 12-s budget, `fit` given room for 125."""
    schedule = WarmupCosineDecay(1e-3, total_steps=100, warmup_steps=5)
    plan = BudgetPlan(steps=100, epochs=2, steps_per_epoch=63)
    keeper, model, clock = _keeper(
        monkeypatch,
        deadline=12.0,
        plan=plan,
        schedule=schedule,
        epoch_end_seconds=1.0,
        warmup_steps=5,
    )
    keeper.on_epoch_begin(0)
    for batch in range(plan.epochs * plan.steps_per_epoch):
        _step(keeper, model, clock, step_seconds)
        if batch == plan.steps_per_epoch - 1:
            clock.now += 1.0  # the first epoch end
            keeper.on_epoch_end(0)
            keeper.on_epoch_begin(1)
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


def test_time_budget_holds_steady_at_the_calibrated_speed(monkeypatch):
    # 100 steps of 0.1 s and 2 epoch ends of 1 s fill 12 s exactly: the
    # schedule must not be re-sized back and forth.
    resizes = []
    original = WarmupCosineDecay.set_steps
    monkeypatch.setattr(
        WarmupCosineDecay,
        "set_steps",
        lambda self, total, warmup: (
            resizes.append(total) or original(self, total, warmup)
        ),
    )
    keeper, schedule, steps, _ = _run_keeper(monkeypatch, 0.1)
    assert 99 <= steps <= 100 and schedule.total_steps == steps
    assert len(resizes) <= 2  # the start, and at most one rounding


def test_time_budget_shrinking_into_the_warmup_still_ends_the_decay(monkeypatch):
    schedule = WarmupCosineDecay(1e-3, total_steps=200, warmup_steps=100)
    plan = BudgetPlan(steps=200, epochs=1, steps_per_epoch=250)
    keeper, model, clock = _keeper(
        monkeypatch, 11.0, plan, schedule, 1.0, warmup_steps=100
    )
    keeper.on_epoch_begin(0)
    while not model.stop_training:  # 0.2 s steps: 50 fit, not 200
        _step(keeper, model, clock, 0.2)
    steps = int(model.optimizer.iterations.numpy())
    assert steps < 100 and schedule.total_steps == steps
    assert schedule.warmup_steps == steps - 1
    assert float(schedule(steps)) == pytest.approx(1e-4, rel=1e-3)


def test_backup_keeps_the_plan_for_a_resumed_run(tmp_path):
    backup = RunBackup(str(tmp_path / "backup"))
    assert backup.recorded_plan() is None
    os.makedirs(backup.backup_dir)
    plan = BudgetPlan(steps=60, epochs=3, steps_per_epoch=25)
    record = {**plan.to_dict(), "stop_step": 57}
    with open(os.path.join(backup.backup_dir, METADATA_FILE), "w") as f:
        json.dump({"epoch": 1, "weights": "epoch-1.weights.h5", "plan": record}, f)
    assert backup.recorded_plan() == (plan, 57)
    with open(os.path.join(backup.backup_dir, METADATA_FILE), "w") as f:
        json.dump({"epoch": 1, "plan": {"steps": "many"}}, f)
    assert backup.recorded_plan() is None


def test_minutes_runs_a_planned_schedule_to_its_end(tmp_path, corpus_file, monkeypatch):
    # Calibration "finds" 1-s steps: the plan is short, and the real
    # (faster) steps grow it to all that `fit` was given, deterministically.
    monkeypatch.setattr(
        "keras_nlg.training.budget.measure_costs",
        lambda *args, **kwargs: Costs(step=1.0, validation=0.5, epoch_end_other=0.5),
    )
    out = str(tmp_path / "model")
    result = train(
        out,
        data_paths=[corpus_file],
        preset="tiny",
        batch_size=4,
        sequence_length=32,
        minutes=1.0,
        warmup_steps=3,
        verbose=0,
    )
    training = result.config["training"]
    assert training["minutes"] == 1.0 and training["steps"] is None
    assert training["steps_per_epoch"] is None  # the budget chose it
    capacity = training["planned_epochs"] * training["planned_steps_per_epoch"]
    steps_run = result.metrics["steps_run"]
    assert steps_run == capacity == training["total_steps"]
    # The learning rate reached the end of its decay at the last step run.
    schedule = result.model.optimizer.schedule
    assert schedule.total_steps == steps_run
    assert float(schedule(steps_run)) == pytest.approx(1e-4, rel=1e-3)
    assert schedule.warmup_steps == training["warmup_steps"] == 3
    # The record repeats the run: a budget, not a step count.
    assert TrainingConfig.from_record(training).minutes == 1.0


def test_a_resumed_budget_keeps_the_end_it_had(monkeypatch):
    schedule = WarmupCosineDecay(1e-3, total_steps=60, warmup_steps=5)
    plan = BudgetPlan(steps=60, epochs=3, steps_per_epoch=25)
    keeper, model, clock = _keeper(
        monkeypatch,
        1.0,
        plan,
        schedule,
        1.0,
        5,
        stop_step=57,
        replan=False,
        start_step=25,  # restored from the backup
    )
    keeper.on_epoch_begin(1)
    assert keeper.capacity == 75 and schedule.total_steps == 57
    while not model.stop_training:  # long past the (new) deadline
        _step(keeper, model, clock, 1.0)
    assert int(model.optimizer.iterations.numpy()) == 57
    assert schedule.total_steps == 57


@pytest.mark.parametrize(
    "settings, match",
    [
        (dict(minutes=1, steps=10), "Give `minutes` or `steps`"),
        (dict(minutes=1, epochs=2), "Give `minutes` or `epochs`"),
        (dict(minutes=1, max_minutes=2), "Give `minutes` or `max_minutes`"),
        (dict(minutes=0), "minutes=0"),
        (dict(minutes=float("inf")), "minutes=inf"),
        (dict(minutes=1e307), "minutes=1e\\+307"),
        (dict(steps=10, warmup_steps=10), "warmup_steps=10, steps=10"),
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


def test_calibration_leaves_out_first_calls_of_new_shapes():
    # The first (traced) batch, then steps with two first calls of new
    # length buckets (traced and compiled: seconds) among them.
    timer = _BatchTimer()
    timer.seconds["train"] = [5.0, 0.05, 2.5, 0.06, 3.1, 0.05, 0.07]
    assert timer.seconds_per_batch("train") == 0.06
    timer.seconds["test"] = [0.02]  # one batch: itself
    assert timer.seconds_per_batch("test") == 0.02
