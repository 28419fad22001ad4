"""Training to a time budget: `TrainingConfig(minutes=...)` sizes the run to the clock.

A CPU user thinks in minutes, not steps. Stopping a run at a time limit
(`max_minutes`) ends it in the middle of its learning-rate schedule, at a
high rate; a schedule that decays fully by the end of the budget gives a
better model for the same time (Li, Yumer & Ramanan, "Budgeted Training:
Rethinking Deep Neural Network Training Under Resource Constraints", ICLR
2020). So a budgeted run measures before it plans:

1. `measure_costs` times a few real train steps (the first one traces and
   compiles, and is paid once either way) and a few validation batches, then
   puts every weight and optimizer variable back, so the run starts from the
   state it would have had.
2. `plan_for_budget` turns what is left of the budget into a step count and
   a validation cadence: epoch ends (validation, backup, TensorBoard sample)
   get at most `EPOCH_END_SHARE` of the time, and the final one always runs.
3. `fit_and_save` sizes the `WarmupCosineDecay` schedule to the planned steps
   (no retrace: its step counts are variables) and adds `TimeBudget`, which
   moves the end (and the schedule with it) as the run's real speed shows.

The plan and the end reached are kept in the resumable backup, so a run
resumed after a kill keeps the schedule it had (and trains nothing more if
it had finished).
"""

import collections
import dataclasses
import math
import statistics
import time

import keras

from keras_nlg.training.snapshot import TrainingState

# Epoch ends (validation, backup, sample) get at most this share of the time.
EPOCH_END_SHARE = 0.05
# `fit` gets room for this many more steps than planned, so `TimeBudget`
# can grow the plan if the machine is faster than the calibration said.
HEADROOM = 0.25
# Timed train steps after the first (traced) one, and validation batches.
CALIBRATION_STEPS = 6
CALIBRATION_VALIDATION_BATCHES = 2


@dataclasses.dataclass(frozen=True)
class Costs:
    """What `measure_costs` found, in seconds."""

    step: float  # one train step
    validation: float  # one pass over the validation batches (0 without)
    epoch_end_other: float  # backup + sample + best checkpoint, estimated


@dataclasses.dataclass(frozen=True)
class BudgetPlan:
    """Steps and epochs that fit a time budget (see `plan_for_budget`).

    `steps` is the planned length (what the schedule is sized to);
    `epochs × steps_per_epoch` is what `fit` is given, `HEADROOM` more, so
    the plan can grow as well as shrink while it runs (`TimeBudget`).
    """

    steps: int
    epochs: int
    steps_per_epoch: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values) -> "BudgetPlan | None":
        """The plan a backup recorded, or None if `values` isn't one."""
        try:
            plan = cls(
                **{k: int(values[k]) for k in ("steps", "epochs", "steps_per_epoch")}
            )
        except (KeyError, TypeError, ValueError):
            return None
        return plan if min(plan.steps, plan.epochs, plan.steps_per_epoch) > 0 else None


def plan_for_budget(
    seconds: float,
    costs: Costs,
    max_steps_per_epoch: int | None = None,
    epoch_end_share: float = EPOCH_END_SHARE,
) -> BudgetPlan:
    """The most steps that fit `seconds`, with the fewest epoch ends that
    keep validation at most `epoch_end_share` of the time.

    Args:
        seconds: time left for train steps and epoch ends (the final one
            included; the caller keeps time for the save).
        costs: measured costs.
        max_steps_per_epoch: the most steps between two validations (the
            user's `steps_per_epoch`), or None to let the budget decide.
        epoch_end_share: see `EPOCH_END_SHARE`.

    Raises:
        ValueError: if not even one step and the final validation fit.
    """
    epoch_end = costs.validation + costs.epoch_end_other
    if seconds < costs.step + epoch_end:
        raise ValueError(
            f"The time budget leaves {seconds:.1f} s for training, less than one "
            f"step ({costs.step:.2f} s) and one validation ({epoch_end:.1f} s). "
            "Give more `minutes`."
        )
    if max_steps_per_epoch is None:
        epochs = max(1, int(epoch_end_share * seconds / max(epoch_end, 1e-9)))
        steps = max(1, int((seconds - epochs * epoch_end) / costs.step))
        epochs = min(epochs, steps)
        return BudgetPlan(steps, epochs, math.ceil(steps * (1 + HEADROOM) / epochs))
    # The user's cadence: an epoch end at least every `max_steps_per_epoch`
    # steps, paid for with steps; `fit` gets whole epochs of that length.
    cap = max_steps_per_epoch
    steps = int(seconds / (costs.step + epoch_end / cap)) + 1

    def cost(steps):
        return steps * costs.step + math.ceil(steps / cap) * epoch_end

    while steps > 1 and cost(steps) > seconds:
        steps -= 1
    return BudgetPlan(steps, math.ceil(steps * (1 + HEADROOM) / cap), cap)


def measure_costs(model, data, validation_steps=None, epoch_end_work=None) -> Costs:
    """Times train steps and validation batches of a compiled model, then
    restores its weights and optimizer state (the run starts from the same
    weights; the data's shuffle has moved on by the few batches used).

    It runs Keras' own `fit` and `evaluate` on a few batches, so the traced
    and compiled functions are the ones the run's `fit` goes on to use: the
    first step's tracing is paid here once, not twice.

    Args:
        model: compiled, optimizer built.
        data: `LanguageModelData` (`train`, `validation` datasets).
        validation_steps: cap on validation batches (None: all).
        epoch_end_work: a callable doing the rest of an epoch end's work
            (the TensorBoard text sample), timed once; its first run traces
            what the first epoch end would trace anyway.
    """
    start_state = TrainingState(model)

    timer = _BatchTimer()
    model.fit(
        data.train.repeat(),
        epochs=1,
        steps_per_epoch=CALIBRATION_STEPS + 1,
        shuffle=False,  # the dataset shuffles itself
        callbacks=[timer],
        verbose=0,
    )
    step = timer.seconds_per_batch("train")
    validation = 0.0
    if data.validation is not None:
        count = _count_batches(data.validation, validation_steps)
        model.evaluate(
            data.validation.take(CALIBRATION_VALIDATION_BATCHES + 1),
            callbacks=[timer],
            verbose=0,
        )
        validation = count * timer.seconds_per_batch("test")
    start_state.restore()
    other = 0.0
    if epoch_end_work is not None:
        epoch_end_work()  # the first call traces: paid once, not per epoch
        start = time.perf_counter()
        epoch_end_work()
        other = time.perf_counter() - start
    # Plus the backup and best-checkpoint writes (a few MB: well under a
    # second here); `TimeBudget` measures whole epoch ends as they happen.
    return Costs(step=step, validation=validation, epoch_end_other=other + 0.5)


class _BatchTimer(keras.callbacks.Callback):
    """Seconds per train/test batch, the first (traced) one and any first
    call of a new shape left out."""

    def __init__(self):
        super().__init__()
        self.seconds = {"train": [], "test": []}

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds["train"].append(time.perf_counter() - self._start)

    def on_test_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_test_batch_end(self, batch, logs=None):
        self.seconds["test"].append(time.perf_counter() - self._start)

    def seconds_per_batch(self, kind):
        seconds = self.seconds[kind][1:] or self.seconds[kind]
        # A batch of a shape not seen before (E2E's length buckets) is traced
        # and, under XLA, compiled: seconds, not milliseconds. Left out, or a
        # few of them would be the median.
        fastest = min(seconds)
        return statistics.median_high([s for s in seconds if s <= 4 * fastest])


def _count_batches(dataset, cap):
    count = int(dataset.cardinality())
    if count < 0:  # unknown: count them (validation sets are small)
        count = sum(1 for _ in dataset)
    return min(count, cap) if cap else count


class TimeBudget(keras.callbacks.Callback):
    """Keeps a planned run inside its deadline.

    Every `REPLAN_EVERY` steps it finds the last step that fits before
    `deadline` (steps at the median time of the recent ones, plus the epoch
    ends still to cross, measured at each epoch end; put it last in the
    callback list) and moves the run's end there, re-sizing the schedule so
    the learning rate still decays fully. A slower machine shrinks the plan;
    a faster one grows it (by more than `GROW_MARGIN`, so timing noise
    doesn't make the learning rate saw), up to the steps `fit` was given.
    Between re-plans, a step that would leave no time for the final epoch
    end stops the run at once.

    Args:
        deadline: `time.monotonic()` value by which the steps and the final
            epoch end are done (the caller keeps time for the save).
        plan: the `BudgetPlan` being run.
        schedule: the optimizer's `WarmupCosineDecay`.
        epoch_end_seconds: estimated cost of one epoch end (until measured).
        warmup_steps: the warm-up asked for (it shrinks with the plan, to
            at most the run's length − 1).
        stop_step: the end a resumed run had reached (default `plan.steps`).
        replan: False for a resumed run: it keeps the end it had (its new
            process has no record of the first one's time); a run killed
            after its last step trains one more, at the final rate.

    Attributes:
        stop_step: the step the run ends at.
    """

    REPLAN_EVERY = 10
    GROW_MARGIN = 0.02

    def __init__(
        self,
        deadline,
        plan,
        schedule,
        epoch_end_seconds,
        warmup_steps=0,
        stop_step=None,
        replan=True,
    ):
        super().__init__()
        self.deadline = deadline
        self.plan = plan
        self.schedule = schedule
        self.epoch_end_seconds = epoch_end_seconds
        self.warmup_steps = warmup_steps
        self.replan = replan
        self.stop_step = stop_step or plan.steps
        self.capacity = None  # known when `fit` starts its first epoch
        self._recent = collections.deque(maxlen=50)
        self._last_step_end = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.capacity is None:
            # The last step `fit` can reach: its epochs left (a resumed run
            # starts at a later one) from the step the optimizer is at.
            done = int(self.model.optimizer.iterations.numpy())
            left = self.plan.epochs - epoch
            self.capacity = done + left * self.plan.steps_per_epoch
            self.stop_step = min(self.stop_step, self.capacity)
            self._resize(self.stop_step)

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        now = self._last_step_end = time.monotonic()
        seconds = now - self._batch_start
        self._recent.append(seconds)
        step = int(self.model.optimizer.iterations.numpy())
        if self.replan and step % self.REPLAN_EVERY == 0:
            self._replan(now, step)
        late = now + seconds + self.epoch_end_seconds > self.deadline
        if step >= self.stop_step or (self.replan and late):
            if step < self.stop_step:
                self._resize(step)  # out of time: end the decay here
            self.stop_step = step
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self._last_step_end is not None:
            self.epoch_end_seconds = time.monotonic() - self._last_step_end

    def _replan(self, now, done):
        step_seconds = statistics.median_high(self._recent)
        per_epoch = self.plan.steps_per_epoch
        spare = self.deadline - now - self.epoch_end_seconds  # the final end
        stop = done
        # The furthest stop whose steps and intermediate epoch ends fit.
        low, high = done + 1, self.capacity
        while low <= high:
            middle = (low + high) // 2
            ends = (middle - 1) // per_epoch - done // per_epoch
            if (middle - done) * step_seconds + ends * self.epoch_end_seconds <= spare:
                stop, low = middle, middle + 1
            else:
                high = middle - 1
        stop = max(stop, done + 1)
        if self.stop_step < stop <= self.stop_step * (1 + self.GROW_MARGIN):
            return  # a small gain: keep the schedule steady
        if stop != self.stop_step:
            self.stop_step = stop
            self._resize(stop)

    def _resize(self, total):
        if total >= 2:
            self.schedule.set_steps(total, min(self.warmup_steps, total - 1))


def plan_time_budget(
    model, data, config, given_warmup, backup, started_at, epoch_end_work
):
    """A `TimeBudget` for `config.minutes`, its schedule sized: the backup's
    plan when resuming (the schedule it started with), else one measured on
    this machine (`keras_nlg.training.budget`). `given_warmup`: the
    config's `warmup_steps` before resolving (None: 5% of the plan);
    `epoch_end_work()` does what an epoch's end does besides validation
    (measured as part of the plan)."""
    schedule = model.optimizer.schedule
    costs = measure_costs(
        model,
        data,
        config.validation_steps,
        epoch_end_work=epoch_end_work,
    )
    # The final save writes about what a backup writes.
    deadline = started_at + 60 * config.minutes - 0.5
    warmup = config.replace(warmup_steps=given_warmup)
    epoch_end = costs.validation + costs.epoch_end_other
    recorded = backup.recorded_plan()
    if recorded is not None:
        plan, stop = recorded  # a resumed run keeps the end it had
    else:
        stop = None
        try:
            plan = plan_for_budget(
                deadline - time.monotonic(), costs, config.steps_per_epoch
            )
        except ValueError as error:
            raise ValueError(f"{error} Received: minutes={config.minutes}") from None
    return TimeBudget(
        deadline,
        plan,
        schedule,
        epoch_end,
        warmup.resolved_warmup_steps(plan.steps),
        stop_step=stop,
        replan=recorded is None,
    )
