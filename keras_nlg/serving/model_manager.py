"""Loaded SavedModel versions: signatures, defaults, and the version watcher.

What a TF Serving servable is, in Python: a version directory loaded with
`tf.saved_model.load`, its SignatureDefs read from `saved_model.pb` (inputs,
outputs and the `defaults` of optional inputs), the warm-up requests of
`assets.extra` replayed before the version is marked AVAILABLE, and a
watcher that polls each model's base path and loads versions as they
appear (newest, all, or specific ones, as the version policy says).
"""

import logging
import os
import threading
import time

import tensorflow as tf

from keras_nlg.argument_checks import check_number
from keras_nlg.export import wire_contract
from keras_nlg.serving import tensors
from keras_nlg.serving.errors import ServingError
from keras_nlg.serving.model_config import ModelConfig, versions_on_disk

logger = logging.getLogger(__name__)

__all__ = ["ModelConfig", "ModelManager", "Servable"]


def _signature_defs(version_dir):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(version_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    return dict(proto.meta_graphs[0].signature_def)


class Servable:
    """One loaded version of one model.

    `run(signature, inputs)` takes `{name: np.ndarray}` (a subset of the
    signature's inputs; missing optional ones take their SignatureDef
    defaults) and returns `{name: np.ndarray}`. Bad requests raise
    `ServingError` with TF Serving's status code.
    """

    def __init__(self, name, version, path):
        self.name = name
        self.version = version
        self.path = path
        # Seconds to load (set by the manager) and to replay the warm-up
        # requests (None until done): TF Serving's load_latency and
        # model_warmup_latency. `warmup_requests`: those replayed so far.
        self.load_seconds = self.warmup_seconds = None
        self.warmup_requests = 0
        self.signature_defs = _signature_defs(path)
        # Loading tensorflow-text registers its ops (SentencePiece, BPE);
        # the byte tokenizer's graph needs none.
        import tensorflow_text  # noqa: F401

        self._loaded = tf.saved_model.load(path)
        self._functions = dict(self._loaded.signatures)
        self.defaults = {
            key: {k: tf.make_ndarray(v) for k, v in sig.defaults.items()}
            for key, sig in self.signature_defs.items()
        }
        # Per signature: {input: (tf dtype, rank)}, read once, not per request.
        self._inputs = {
            key: {
                name: (tf.dtypes.as_dtype(info.dtype), len(info.tensor_shape.dim))
                for name, info in sig.inputs.items()
            }
            for key, sig in self.signature_defs.items()
        }

    def signature(self, name):
        """The signature a request names; an empty name is `serving_default`."""
        name = name or wire_contract.SERVING_DEFAULT
        if name not in self._functions:
            raise ServingError(
                "NOT_FOUND",
                f"Serving signature name: {name!r} not found in signature def. "
                f"Available: {sorted(self._functions)}",
            )
        return name

    def check_input_names(self, signature, names):
        """INVALID_ARGUMENT for any of `names` the signature doesn't take
        (checked before a value is converted: an unknown input may be
        anything, e.g. a ragged list)."""
        expected = self._inputs[signature]
        unknown = sorted(name for name in names if name not in expected)
        if unknown:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"Unknown input(s) {unknown} for signature {signature!r}; it takes "
                f"{sorted(expected)}.",
            )

    def complete_inputs(self, signature, inputs):
        """Checks names and dtypes; fills defaults broadcast to the batch."""
        self.check_input_names(signature, inputs)
        defaults = self.defaults[signature]
        complete = {}
        for name, (dtype, rank) in self._inputs[signature].items():
            value = inputs.get(name)
            if value is None:
                if name not in defaults:
                    missing = sorted(
                        n
                        for n in self._inputs[signature]
                        if n not in inputs and n not in defaults
                    )
                    raise ServingError(
                        "INVALID_ARGUMENT",
                        f"Missing required input(s) {missing} for signature "
                        f"{signature!r}.",
                    )
                complete[name] = defaults[name]
                continue
            if not _dtype_matches(value, dtype):
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f"Input {name!r} of signature {signature!r} must be "
                    f"{dtype.name}. Received dtype: {value.dtype}",
                )
            if value.ndim != rank:
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f"Input {name!r} of signature {signature!r} must have rank "
                    f"{rank}. Received shape: {list(value.shape)}",
                )
            complete[name] = value
        return complete

    def run(self, signature, inputs):
        function = self._functions[signature]
        types = self._inputs[signature]
        tensors = {
            name: tf.constant(value, types[name][0]) for name, value in inputs.items()
        }
        try:
            outputs = function(**tensors)
        except tf.errors.InvalidArgumentError as e:
            raise ServingError("INVALID_ARGUMENT", _assertion_message(e)) from None
        return {name: value.numpy() for name, value in outputs.items()}

    def warm_up(self):
        """Replays `assets.extra/tf_serving_warmup_requests`, as TF Serving
        does; sets `warmup_seconds` when done and returns the count."""
        started = time.monotonic()
        path = os.path.join(self.path, wire_contract.WARMUP_FILE)
        records = tf.data.TFRecordDataset(path) if os.path.isfile(path) else []
        from tensorflow_serving.apis import prediction_log_pb2

        for record in records:
            log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            request = log.predict_log.request
            signature = self.signature(request.model_spec.signature_name)
            inputs = {
                k: tensors.tensor_to_array(k, v) for k, v in request.inputs.items()
            }
            self.run(signature, self.complete_inputs(signature, inputs))
            self.warmup_requests += 1
        self.warmup_seconds = time.monotonic() - started
        return self.warmup_requests

    def signature_def_map(self):
        """The SignatureDefs as the proto `GetModelMetadata` returns (and the
        REST `/metadata` route renders as JSON)."""
        from tensorflow_serving.apis import get_model_metadata_pb2

        return get_model_metadata_pb2.SignatureDefMap(signature_def=self.signature_defs)


def _dtype_matches(value, dtype):
    if dtype == tf.string:
        return value.dtype.kind in "OSU"
    return value.dtype == dtype.as_numpy_dtype


def _assertion_message(error):
    """The message of an in-graph assertion, without TF's node dump."""
    text = error.message
    marker = "assertion failed: "
    if marker not in text:
        return text.strip()
    # "[message:] [values]…" or "[message.]" (tf.debugging.Assert's format)
    text = text[text.index(marker) + len(marker) :].split("\n")[0].strip()
    end = text.find(":] [")
    if text.startswith("[") and end > 0:
        return f"{text[1 : end + 1]} {text[end + 3 :]}"
    return text.strip("[]")


class ModelManager:
    """Keeps the wanted versions of each model loaded; resolves requests.

    `poll()` loads new versions (warm-up first, then AVAILABLE) and unloads
    those the policy no longer wants; `start(interval)` runs it on a thread,
    so a new version directory is picked up without a restart.

    Each warm-up request may compile an XLA program (seconds each, longer
    while the loaded versions serve traffic on the same cores). With
    `max_warmup_seconds`, a version whose warm-up passes that bound is made
    AVAILABLE anyway and its warm-up goes on beside the traffic (requests
    whose shapes aren't compiled yet compile on first use); None (TF
    Serving's behaviour) waits for the whole warm-up.
    """

    def __init__(self, configs, max_warmup_seconds=None):
        check_number(
            "max_warmup_seconds", max_warmup_seconds, 0, strict=False, allow_none=True
        )
        self.max_warmup_seconds = max_warmup_seconds
        self.configs = {config.name: config for config in configs}
        self._servables = {name: {} for name in self.configs}  # name → version → S
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self.on_change = []  # callbacks(servable, "loaded" | "unloaded")

    def poll(self):
        for name, config in self.configs.items():
            wanted = config.wanted(versions_on_disk(config.base_path))
            loaded = self._servables[name]
            for version in wanted:
                if version in loaded:
                    continue
                path = os.path.join(config.base_path, str(version))
                started = time.monotonic()
                try:
                    servable = Servable(name, version, path)
                    servable.load_seconds = time.monotonic() - started
                    warmed = self._warm_up(servable)
                except Exception:  # a broken version must not stop the others
                    logger.exception("Failed to load %s version %d", name, version)
                    continue
                with self._lock:
                    loaded[version] = servable
                if warmed:
                    logger.info(
                        "Loaded %s version %d in %.1f s, then %d warm-up requests "
                        "in %.1f s",
                        *(name, version, servable.load_seconds),
                        *(servable.warmup_requests, servable.warmup_seconds),
                    )
                else:
                    logger.warning(
                        "Loaded %s version %d in %.1f s; serving it after %d "
                        "warm-up requests in max_warmup_seconds=%g, the rest of "
                        "its warm-up goes on beside the traffic",
                        *(name, version, servable.load_seconds),
                        *(servable.warmup_requests, self.max_warmup_seconds),
                    )
                for callback in self.on_change:
                    callback(servable, "loaded")
            for version in [v for v in loaded if v not in wanted]:
                with self._lock:
                    servable = loaded.pop(version)
                logger.info("Unloaded %s version %d", name, version)
                for callback in self.on_change:
                    callback(servable, "unloaded")

    def _warm_up(self, servable):
        """Replays the warm-up; False when `max_warmup_seconds` passed first
        (the replay then finishes on its own thread, and logs when done)."""
        if self.max_warmup_seconds is None:
            servable.warm_up()
            return True
        failures, serving_early = [], threading.Event()

        def replay():
            try:
                servable.warm_up()
            except Exception as error:
                failures.append(error)
            if not serving_early.is_set():
                return  # in time: `_warm_up` reports it (a failure raises)
            logger.log(
                logging.ERROR if failures else logging.INFO,
                "Warm-up of %s version %d %s after %d requests in %.1f s",
                servable.name,
                servable.version,
                f"failed ({failures[0]!r})" if failures else "finished",
                servable.warmup_requests,
                servable.warmup_seconds or 0.0,
            )

        thread = threading.Thread(
            target=replay, name=f"warm-up-{servable.name}-{servable.version}"
        )
        thread.daemon = True
        thread.start()
        thread.join(self.max_warmup_seconds)
        serving_early.set()  # before the check: a replay ending now logs
        if thread.is_alive():
            return False
        if failures:
            raise failures[0]
        return True

    def start(self, interval):
        def loop():
            while not self._stop.wait(interval):
                self.poll()

        self._thread = threading.Thread(
            target=loop, name="version-watcher", daemon=True
        )
        self._thread.start()

    def stop(self):
        self._stop.set()

    def resolve(self, name, version=None, label=None):
        """The servable for a model spec; NOT_FOUND names what is missing."""
        if name not in self.configs:
            raise ServingError(
                "NOT_FOUND",
                f"Servable not found for request: model {name!r} "
                f"(served: {sorted(self.configs)})",
            )
        with self._lock:
            loaded = dict(self._servables[name])
        if label:
            if label not in self.configs[name].labels:
                raise ServingError(
                    "NOT_FOUND",
                    f"Unrecognized servable version label: {label!r} of model {name!r}",
                )
            version = self.configs[name].labels[label]
        if version is None:
            if not loaded:
                raise ServingError(
                    "NOT_FOUND",
                    f"Servable not found for request: no version of {name!r}",
                )
            return loaded[max(loaded)]
        if version not in loaded:
            raise ServingError(
                "NOT_FOUND",
                f"Servable not found for request: {name!r} version {version} "
                f"(loaded: {sorted(loaded)})",
            )
        return loaded[version]

    def versions(self, name):
        with self._lock:
            return dict(self._servables.get(name, {}))
