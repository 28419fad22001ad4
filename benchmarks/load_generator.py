"""A closed-loop gRPC load generator for `benchmarks/serving.py`.

Each client is a thread with its own channel that sends one single-prompt
`Predict` request, waits for the reply, and sends the next. Clients are
spread over several processes: in one Python process sixteen client threads
take turns on one interpreter lock, and the time they queue for it would be
counted as the server's (real clients are separate processes, or
machines). Requests are built once per prompt and replies are read with
`keras_nlg.serving.tensors`, so the generator spends as little of the
machine's two cores as it can.
"""

import multiprocessing
import queue
import threading
import time

PROMPTS = ["ROMEO:\n", "JULIET:\nO ", "KING HENRY:\n", "First Citizen:\n"]


def _client_process(target, model, threads, requests, max_new_tokens, go, stop, out):
    import grpc
    import numpy as np

    from keras_nlg.export import wire_contract
    from keras_nlg.serving import protocol, tensors

    def request_for(prompt):
        request = protocol.predict_pb2.PredictRequest()
        request.model_spec.name = model
        tensors.array_to_tensor_proto(
            np.array([prompt.encode()], object), request.inputs[wire_contract.PROMPT]
        )
        tensors.array_to_tensor_proto(
            np.array([max_new_tokens], np.int32), request.inputs["max_new_tokens"]
        )
        return request

    built = [request_for(prompt) for prompt in PROMPTS]
    records, errors = [], []
    lock = threading.Lock()

    def client(index):
        channel = grpc.insecure_channel(target)
        stub = protocol.prediction_service_pb2_grpc.PredictionServiceStub(channel)
        go.wait()
        sent = 0
        while not stop.is_set() and (requests is None or sent < requests):
            request = built[(index + sent) % len(built)]
            sent += 1
            start = time.monotonic()
            try:
                reply = stub.Predict(request, timeout=300)
                end = time.monotonic()
                tokens = tensors.tensor_to_array(
                    "n", reply.outputs[wire_contract.NUM_GENERATED_TOKENS]
                )
                with lock:
                    records.append(
                        (
                            end,
                            end - start,
                            reply.model_spec.version.value,
                            int(tokens[0]),
                        )
                    )
            except Exception as error:  # noqa: BLE001 (counted, not fatal)
                with lock:
                    errors.append(repr(error)[:200])
        channel.close()

    workers = [
        threading.Thread(target=client, args=(index,)) for index in range(threads)
    ]
    for worker in workers:
        worker.start()
    out.put("ready")
    for worker in workers:
        worker.join()
    out.put((records, errors))


class Load:
    """`clients` closed-loop clients over `processes` processes.

    `start()` returns once every client is connected and sending; `wait()`
    (after `requests` each, or `stop()`) returns `(records, errors, wall)`,
    records being `(end time, latency s, served version, new tokens)` with
    `time.monotonic()` times (one clock for all processes on Linux).
    """

    def __init__(self, target, model, clients, requests, max_new_tokens, processes=4):
        context = multiprocessing.get_context("spawn")  # no fork after gRPC
        self._go, self._stop = context.Event(), context.Event()
        self._out = context.Queue()
        processes = max(1, min(processes, clients))
        shares = [
            clients // processes + (i < clients % processes) for i in range(processes)
        ]
        self._processes = [
            context.Process(
                target=_client_process,
                args=(
                    target,
                    model,
                    share,
                    requests,
                    max_new_tokens,
                    self._go,
                    self._stop,
                    self._out,
                ),
                daemon=True,
            )
            for share in shares
        ]
        self.started = None

    def start(self):
        for process in self._processes:
            process.start()
        for _ in self._processes:
            if self._out.get(timeout=300) != "ready":
                raise RuntimeError("a client process failed to start")
        self.started = time.monotonic()
        self._go.set()
        return self

    def stop(self):
        self._stop.set()

    def wait(self):
        records, errors = [], []
        for _ in self._processes:
            try:
                part_records, part_errors = self._out.get(timeout=1800)
            except queue.Empty:
                raise RuntimeError("a client process did not report") from None
            records += part_records
            errors += part_errors
        for process in self._processes:
            process.join()
        wall = max((r[0] for r in records), default=self.started) - self.started
        return records, errors, wall


def run_load(target, model, clients, requests, max_new_tokens, processes=4):
    """`Load(...)` started and waited for: `(records, errors, wall seconds)`."""
    return (
        Load(target, model, clients, requests, max_new_tokens, processes).start().wait()
    )
