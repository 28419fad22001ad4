"""Clients of a TF Serving endpoint (TF Serving itself or `keras-nlg serve`).

`GrpcClient` uses the official `tensorflow-serving-api` stubs; `RestClient`
plain HTTP. Both read the signature's outputs from the model's metadata
(the string output of `serving_default` is the text), never from a
hard-coded name. Input and signature names, and which generation settings a
request may carry, come from the wire contract
(`keras_nlg.export.wire_contract`), so a setting the exporter adds is
accepted here without a change.
"""

import json
import time
import urllib.error
import urllib.request

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format, wrappers_pb2

from keras_nlg.export import wire_contract
from keras_nlg.serving import protocol, tensors

# The optional generation inputs a request may set, with their NumPy dtypes.
SETTING_DTYPES = {
    name: np.dtype(dtype) for name, dtype in wire_contract.GENERATION_INPUTS.items()
}
MAX_MESSAGE_BYTES = 64 << 20


def _settings(settings):
    """`{name: np.ndarray [1]}` of the given settings, `None`s left out (the
    model's defaults apply); an unknown name raises `TypeError`."""
    unknown = sorted(set(settings) - set(SETTING_DTYPES))
    if unknown:
        raise TypeError(
            f"Unknown generation setting(s) {unknown}; expected some of "
            f"{sorted(SETTING_DTYPES)}."
        )
    return {
        name: np.asarray([value], SETTING_DTYPES[name])
        for name, value in settings.items()
        if value is not None
    }


def _output_of_dtype(signature_def, dtype):
    """The name of the signature's one output of `dtype` (e.g. "DT_STRING":
    the generated text), so no output name is hard-coded."""
    names = [
        name
        for name, info in signature_def["outputs"].items()
        if info["dtype"] == dtype
    ]
    if len(names) != 1:
        raise ValueError(
            f"Expected one {dtype} output. Received outputs: "
            f"{sorted(signature_def['outputs'])}"
        )
    return names[0]


def _scores(signature_def, outputs):
    """`[(log-likelihood, tokens)]` from the score signature's float and int
    outputs."""
    total = outputs[_output_of_dtype(signature_def, "DT_FLOAT")]
    count = outputs[_output_of_dtype(signature_def, "DT_INT32")]
    return [(float(t), int(c)) for t, c in zip(total, count, strict=True)]


def _check_prompts(prompts):
    if isinstance(prompts, str):
        prompts = [prompts]
    if not isinstance(prompts, (list, tuple)) or not all(
        isinstance(p, str) for p in prompts
    ):
        raise TypeError(
            f"`prompts` must be a string or a list of strings. Received: {prompts!r}"
        )
    return list(prompts)


class _SignatureDefs:
    """What both clients share: signature metadata, read once, on first use."""

    _signature_defs = None

    def _signature_def(self, name):
        if self._signature_defs is None:
            self.metadata()
        return self._signature_defs[name]

    def _text_output(self):
        """The name of serving_default's string output (the generated text)."""
        return _output_of_dtype(
            self._signature_def(wire_contract.SERVING_DEFAULT), "DT_STRING"
        )


class GrpcClient(_SignatureDefs):
    """TF Serving gRPC client: `generate`, `score`, `predict`, `metadata`, `status`.

    Args:
        target: `host:port` of the gRPC API.
        model_name: the served model.
        version / label: pin a version number or a label (`stable`,
            `canary`); default the newest.
        timeout: deadline of each call, seconds.
        retries: extra attempts on UNAVAILABLE (server starting or its
            queue full), with exponential backoff; no other error is retried.
    """

    def __init__(
        self, target, model_name, version=None, label=None, timeout=60.0, retries=3
    ):
        if version is not None and label is not None:
            raise ValueError(
                f"Pass `version` or `label`, not both. Received: version={version}, "
                f"label={label!r}"
            )
        self.model_name = model_name
        self.version = version
        self.label = label
        self.timeout = timeout
        self.retries = retries
        self.channel = grpc.insecure_channel(
            target,
            options=[
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        self._predict = protocol.prediction_service_pb2_grpc.PredictionServiceStub(
            self.channel
        )
        self._models = protocol.model_service_pb2_grpc.ModelServiceStub(self.channel)
        self._signature_defs = None

    def _spec(self, signature_name=""):
        spec = protocol.model_pb2.ModelSpec(
            name=self.model_name, signature_name=signature_name
        )
        if self.version is not None:
            spec.version.CopyFrom(wrappers_pb2.Int64Value(value=self.version))
        if self.label is not None:
            spec.version_label = self.label
        return spec

    def _call(self, method, request):
        for attempt in range(self.retries + 1):
            try:
                return method(request, timeout=self.timeout)
            except grpc.RpcError as error:
                if (
                    error.code() != grpc.StatusCode.UNAVAILABLE
                    or attempt == self.retries
                ):
                    raise
                time.sleep(0.1 * 2**attempt)

    def metadata(self):
        """`{signature name: SignatureDef as a dict}`."""
        request = protocol.get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=self._spec(), metadata_field=["signature_def"]
        )
        response = self._call(self._predict.GetModelMetadata, request)
        signature_map = protocol.get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        self._signature_defs = json_format.MessageToDict(
            signature_map, preserving_proto_field_name=True
        )["signature_def"]
        return self._signature_defs

    def status(self):
        """`[(version, state name)]` of the model's versions."""
        request = protocol.get_model_status_pb2.GetModelStatusRequest(
            model_spec=self._spec()
        )
        response = self._call(self._models.GetModelStatus, request)
        return [
            (
                s.version,
                protocol.get_model_status_pb2.ModelVersionStatus.State.Name(s.state),
            )
            for s in response.model_version_status
        ]

    def predict(self, inputs, signature_name=wire_contract.SERVING_DEFAULT):
        """Raw Predict: `{name: array}` in, `{name: np.ndarray}` out."""
        request = protocol.predict_pb2.PredictRequest(
            model_spec=self._spec(signature_name)
        )
        for name, value in inputs.items():
            if isinstance(value, np.ndarray) and tensors.is_served(value.dtype):
                tensors.array_to_tensor_proto(value, request.inputs[name])
            else:  # lists, scalars: TensorFlow's dtype rules (floats → float32)
                request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        response = self._call(self._predict.Predict, request)
        return {
            k: tensors.tensor_to_array(k, v, role="Output")
            for k, v in response.outputs.items()
        }

    def generate(self, prompts, **settings):
        """Texts for `prompts`; settings: any of `SETTING_DTYPES`
        (max_new_tokens, min_new_tokens, temperature (0 = greedy), top_k,
        top_p, min_p, no_repeat_ngram_size, seed), each one value for the
        request; `None` or absent means the model's default."""
        prompts = _check_prompts(prompts)
        settings = _settings(settings)
        text = self._text_output()
        outputs = self.predict(
            {
                wire_contract.PROMPT: np.array([p.encode() for p in prompts], object),
                **settings,
            }
        )
        return [t.decode("utf-8") for t in outputs[text]]

    def score(self, texts):
        """`[(log-likelihood, tokens)]` per text."""
        texts = _check_prompts(texts)
        signature_def = self._signature_def(wire_contract.SCORE)
        outputs = self.predict(
            {wire_contract.TEXT: np.array([t.encode() for t in texts], object)},
            wire_contract.SCORE,
        )
        return _scores(signature_def, outputs)


class RestError(Exception):
    """An HTTP error from the REST API, with its status and message."""

    def __init__(self, status, message):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class RestClient(_SignatureDefs):
    """TF Serving REST client (`/v1/models/NAME[/versions/N|/labels/L]`).

    `form` picks the request body: `"instances"` (row format) or `"inputs"`
    (columnar).
    """

    def __init__(
        self,
        base_url,
        model_name,
        version=None,
        label=None,
        timeout=60.0,
        form="instances",
    ):
        if form not in ("instances", "inputs"):
            raise ValueError(
                f"`form` must be 'instances' or 'inputs'. Received: form={form!r}"
            )
        path = f"/v1/models/{model_name}"
        if version is not None:
            path += f"/versions/{version}"
        elif label is not None:
            path += f"/labels/{label}"
        self.url = base_url.rstrip("/") + path
        self.timeout = timeout
        self.form = form
        self._signature_defs = None

    def _request(self, url, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            url, data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            body = error.read().decode(errors="replace")
            try:
                message = json.loads(body)["error"]
            except (ValueError, KeyError, TypeError):
                message = body
            raise RestError(error.code, message) from None

    def status(self):
        return self._request(self.url)["model_version_status"]

    def metadata(self):
        response = self._request(self.url + "/metadata")
        self._signature_defs = response["metadata"]["signature_def"]["signature_def"]
        return self._signature_defs

    def predict(self, columns, signature_name=wire_contract.SERVING_DEFAULT):
        """`{input: list}` in (one entry per row, or a 1-element setting)."""
        payload = {"signature_name": signature_name}
        if self.form == "inputs":
            payload["inputs"] = columns
            return self._request(self.url + ":predict", payload)["outputs"]
        rows = max(len(v) for v in columns.values())
        payload["instances"] = [
            {k: v[i] if len(v) == rows else v[0] for k, v in columns.items()}
            for i in range(rows)
        ]
        predictions = self._request(self.url + ":predict", payload)["predictions"]
        return {k: [p[k] for p in predictions] for k in predictions[0]}

    def generate(self, prompts, **settings):
        """Texts for `prompts`; settings as `GrpcClient.generate`."""
        prompts = _check_prompts(prompts)
        settings = _settings(settings)
        text = self._text_output()
        columns = {wire_contract.PROMPT: prompts}
        columns.update({k: v.tolist() for k, v in settings.items()})
        return self.predict(columns)[text]

    def score(self, texts):
        """`[(log-likelihood, tokens)]` per text."""
        texts = _check_prompts(texts)
        signature_def = self._signature_def(wire_contract.SCORE)
        outputs = self.predict({wire_contract.TEXT: texts}, wire_contract.SCORE)
        return _scores(signature_def, outputs)
