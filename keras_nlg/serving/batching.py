"""Server-side dynamic batching, configured by TF Serving's batching file.

Requests to the same servable and signature wait in a bounded queue; a
batch thread takes up to `max_batch_size` rows, waiting at most
`batch_timeout_micros` for more once the first request is there, runs them
as one call and hands each request its rows back. As in TF Serving: a
request with more rows than `max_batch_size` is refused (INVALID_ARGUMENT),
and a full queue (`max_enqueued_batches` batches) refuses new requests
with UNAVAILABLE, which clients retry.
"""

import dataclasses
import queue
import re
import threading
import time

import numpy as np

from keras_nlg.serving.errors import ServingError


@dataclasses.dataclass
class BatchingParameters:
    """The fields of TF Serving's `BatchingParameters` that we honour."""

    max_batch_size: int = 32
    batch_timeout_micros: int = 1000
    num_batch_threads: int = 4
    max_enqueued_batches: int = 16
    pad_variable_length_inputs: bool = True

    @classmethod
    def from_file(cls, path):
        """Parses the text-proto file (`max_batch_size { value: 32 }` …)."""
        with open(path) as f:
            text = re.sub(r"#.*", "", f.read())
        fields = {f.name: f.type for f in dataclasses.fields(cls)}
        values = {}
        for name, raw in re.findall(r"(\w+)\s*\{\s*value\s*:\s*([^\s}]+)\s*\}", text):
            if name not in fields:
                continue  # e.g. allowed_batch_sizes tuning we don't need
            values[name] = (
                raw.lower() == "true" if fields[name] in (bool, "bool") else int(raw)
            )
        return cls(**values)


class _Task:
    def __init__(self, inputs, rows):
        self.inputs = inputs
        self.rows = rows
        self.done = threading.Event()
        self.outputs = None
        self.error = None


def _batch_size(inputs):
    """Rows of a request: every input's first dimension, broadcasting 1s."""
    sizes = {value.shape[0] for value in inputs.values() if value.ndim}
    sizes.discard(1)
    if len(sizes) > 1:
        raise ServingError(
            "INVALID_ARGUMENT",
            "Inputs must share their first (batch) dimension, or have size 1. "
            f"Received sizes: {sorted(sizes)}",
        )
    return sizes.pop() if sizes else 1


def _concatenate(values, pad):
    """Concatenates along rows; pads a 2-D input's columns when they differ."""
    if values[0].ndim == 2 and len({v.shape[1] for v in values}) > 1:
        if not pad:
            return None
        width = max(v.shape[1] for v in values)
        values = [np.pad(v, [(0, 0), (0, width - v.shape[1])]) for v in values]
    return np.concatenate(values, axis=0)


class Batcher:
    """Merges concurrent requests to one servable signature into batches.

    `submit(inputs)` blocks until the request's own rows come back; `run`
    is called with merged inputs from `num_batch_threads` threads.
    """

    def __init__(self, run, parameters: BatchingParameters, on_batch=None):
        self._run = run
        self.parameters = parameters
        self._on_batch = on_batch
        self._queue = queue.Queue(
            maxsize=parameters.max_enqueued_batches * parameters.max_batch_size
        )
        self._threads = [
            threading.Thread(target=self._loop, daemon=True, name=f"batch-{i}")
            for i in range(parameters.num_batch_threads)
        ]
        self._take_lock = threading.Lock()  # one thread forms a batch at a time
        self._pending = None  # a task that didn't fit the last batch
        for thread in self._threads:
            thread.start()

    def submit(self, inputs):
        rows = _batch_size(inputs)
        if rows > self.parameters.max_batch_size:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"Task size {rows} is larger than maximum input batch size "
                f"{self.parameters.max_batch_size}",
            )
        # One-value settings become one per row, so requests concatenate.
        if rows > 1:
            inputs = {
                name: np.repeat(value, rows, axis=0)
                if value.ndim and len(value) == 1
                else value
                for name, value in inputs.items()
            }
        task = _Task(inputs, rows)
        try:
            self._queue.put_nowait(task)
        except queue.Full:
            raise ServingError(
                "UNAVAILABLE",
                "The batch scheduling queue to which this session was assigned is full",
            ) from None
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.outputs

    def _take(self):
        """The next batch: the first task, then more until full or timed out."""
        first = self._queue.get()
        if first is None:
            return None
        tasks, rows = [first], first.rows
        deadline = time.monotonic() + self.parameters.batch_timeout_micros / 1e6
        while rows < self.parameters.max_batch_size:
            remaining = deadline - time.monotonic()
            try:
                task = (
                    self._queue.get(timeout=max(remaining, 0))
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if task is None:
                self._queue.put(None)  # leave the stop marker for the others
                break
            if rows + task.rows > self.parameters.max_batch_size:
                self._pending = task
                break
            tasks.append(task)
            rows += task.rows
        return tasks

    def _loop(self):
        while True:
            with self._take_lock:
                if self._pending is not None:
                    tasks, self._pending = [self._pending], None
                else:
                    tasks = self._take()
            if tasks is None:
                return
            self._execute(tasks)

    def _execute(self, tasks):
        groups = [tasks]
        merged = None
        if len(tasks) > 1:
            merged = {}
            for name in tasks[0].inputs:
                value = _concatenate(
                    [t.inputs[name] for t in tasks],
                    self.parameters.pad_variable_length_inputs,
                )
                if value is None:
                    merged = None
                    break
                merged[name] = value
            if merged is None:  # unequal widths and no padding: one by one
                groups = [[t] for t in tasks]
        for group in groups:
            inputs = merged if len(group) > 1 else group[0].inputs
            try:
                outputs = self._run(inputs)
                if self._on_batch:
                    self._on_batch(sum(t.rows for t in group))
                start = 0
                for task in group:
                    task.outputs = {
                        name: value[start : start + task.rows]
                        for name, value in outputs.items()
                    }
                    start += task.rows
            except ServingError as error:
                if len(group) > 1:
                    # One bad request must not fail the others: rerun alone.
                    for task in group:
                        self._execute([task])
                    continue
                group[0].error = error
            except Exception as error:  # noqa: BLE001 (reported to the caller)
                for task in group:
                    task.error = ServingError("INTERNAL", str(error))
            for task in group:
                task.done.set()

    def close(self):
        for _ in self._threads:
            self._queue.put(None)
