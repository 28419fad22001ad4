"""Runs exported SavedModels the way TF Serving does, in another TensorFlow.

Run with the side environment's Python (TensorFlow of TF Serving's release,
its tensorflow-text and tensorflow-serving-api; no keras_nlg):

    python tf_serving_runtime.py REQUESTS.json > RESULTS.json

REQUESTS.json: `{"exports": [dir, ...], "prompts": [...], "max_new_tokens":
N, "token_ids": [[...], ...], "prompt_length": [...]}`. Each export is
loaded as TF Serving's SavedModelBundle does (a TF1 session over the "serve"
MetaGraph, tensorflow-text's ops registered), and each signature is called
with a `PredictRequest` built by tensorflow-serving-api: its inputs converted
with `tf.make_ndarray` and fed by the SignatureDef's tensor names, its
outputs returned as a `PredictResponse`. Prints, per export, the outputs as
JSON, and the TensorFlow version that ran them.
"""

import json
import sys

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers SentencePiece/BPE ops)
from tensorflow_serving.apis import predict_pb2


def _request(signature, inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = signature
    for name, (value, dtype) in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value, dtype=dtype))
    return request


def _predict(session, meta_graph, request):
    signature = meta_graph.signature_def[request.model_spec.signature_name]
    graph = session.graph
    feeds = {
        graph.get_tensor_by_name(signature.inputs[name].name): tf.make_ndarray(proto)
        for name, proto in request.inputs.items()
    }
    names = sorted(signature.outputs)
    fetches = [graph.get_tensor_by_name(signature.outputs[n].name) for n in names]
    response = predict_pb2.PredictResponse()
    for name, value in zip(names, session.run(fetches, feeds), strict=True):
        response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
    return {name: tf.make_ndarray(response.outputs[name]) for name in names}


def run_export(export_dir, spec):
    graph = tf.Graph()
    with tf.compat.v1.Session(graph=graph) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(
            session, ["serve"], export_dir
        )
        greedy = {
            "max_new_tokens": ([spec["max_new_tokens"]], tf.int32),
            "temperature": ([0.0], tf.float32),
        }
        text = _predict(
            session,
            meta_graph,
            _request(
                "serving_default",
                {"prompt": (spec["prompts"], tf.string), **greedy},
            ),
        )
        ids = _predict(
            session,
            meta_graph,
            _request(
                "generate_ids",
                {
                    "token_ids": (spec["token_ids"], tf.int32),
                    "prompt_length": (spec["prompt_length"], tf.int32),
                    **greedy,
                },
            ),
        )
        score = _predict(
            session,
            meta_graph,
            _request("score", {"text": (spec["prompts"], tf.string)}),
        )
    return {
        "text": [t.decode("utf-8") for t in text["text"]],
        "num_generated_tokens": text["num_generated_tokens"].tolist(),
        "token_ids": ids["token_ids"].tolist(),
        "num_generated_token_ids": ids["num_generated_tokens"].tolist(),
        "log_likelihood": score["log_likelihood"].tolist(),
        "num_tokens": score["num_tokens"].tolist(),
    }


def main():
    tf.compat.v1.disable_eager_execution()
    with open(sys.argv[1]) as f:
        requests = json.load(f)
    results = {"tensorflow": tf.__version__, "exports": {}}
    for export_dir in requests["exports"]:
        results["exports"][export_dir] = run_export(export_dir, requests[export_dir])
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
