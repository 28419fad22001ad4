"""The request path shared by gRPC and REST: model spec → servable → outputs.

Both protocols end in `ModelServer.predict`, so batching, the empty-batch
check and the request metrics behave the same whichever door a request came
in by. With batching enabled each (servable, signature) pair gets its own
`Batcher`; the batcher of a version is closed when that version is unloaded.
"""

import collections
import threading
import time

from keras_nlg.serving.batching import Batcher
from keras_nlg.serving.errors import ServingError
from keras_nlg.serving.model_manager import ModelManager


class ModelServer:
    """Requests → servables, through a batcher per signature when enabled."""

    def __init__(self, manager: ModelManager, batching=None):
        self.manager = manager
        self.batching = batching
        self._batchers = {}
        self._lock = threading.Lock()
        # Request threads and batch threads update these; the REST thread
        # reads them (`metrics_snapshot`).
        self._metrics_lock = threading.Lock()
        self.metrics = collections.Counter()
        self.batch_sizes = collections.Counter()
        manager.on_change.append(self._on_change)

    def _on_change(self, servable, event):
        if event == "unloaded":
            with self._lock:
                for key in [k for k in self._batchers if k[0] is servable]:
                    self._batchers.pop(key).close()

    def _batcher(self, servable, signature):
        key = (servable, signature)
        with self._lock:
            if key not in self._batchers:
                self._batchers[key] = Batcher(
                    lambda inputs: servable.run(signature, inputs),
                    self.batching,
                    on_batch=lambda rows: self._count(self.batch_sizes, rows),
                )
            return self._batchers[key]

    def predict(self, name, version, label, signature_name, inputs):
        """Returns `(servable, signature, outputs)`; raises `ServingError`."""
        servable = self.manager.resolve(name, version, label)
        signature = servable.signature(signature_name)
        inputs = servable.complete_inputs(signature, inputs)
        # Checked here too: a 0-row request merged into a batch would pass.
        if any(value.ndim and value.shape[0] == 0 for value in inputs.values()):
            raise ServingError(
                "INVALID_ARGUMENT", "Empty batch: the request holds no rows."
            )
        started = time.monotonic()
        try:
            if self.batching is not None:
                outputs = self._batcher(servable, signature).submit(inputs)
            else:
                outputs = servable.run(signature, inputs)
                self._count(self.batch_sizes, len(next(iter(outputs.values()))))
        except ServingError as error:
            self._count(self.metrics, f"errors_{error.code}")
            raise
        latency = time.monotonic() - started
        with self._metrics_lock:
            self.metrics["requests"] += 1
            self.metrics["latency_seconds_sum"] += latency
        return servable, signature, outputs

    def _count(self, counter, key, amount=1):
        with self._metrics_lock:
            counter[key] += amount

    def metrics_snapshot(self):
        """`(metrics, batch sizes)`: copies, consistent with each other."""
        with self._metrics_lock:
            return dict(self.metrics), dict(self.batch_sizes)

    def load_latencies(self):
        """`[(model, version, load seconds, warm-up seconds)]` of every
        loaded version."""
        return [
            (name, version, servable.load_seconds, servable.warmup_seconds)
            for name in sorted(self.manager.configs)
            for version, servable in sorted(self.manager.versions(name).items())
        ]

    def status(self, name, version=None):
        """The loaded version numbers of `name` (only `version` if given)."""
        self.manager.resolve(name, version)  # NOT_FOUND if unknown
        versions = self.manager.versions(name)
        return sorted(v for v in versions if version is None or v == version)

    def close(self):
        with self._lock:
            for batcher in self._batchers.values():
                batcher.close()


__all__ = ["ModelServer"]
