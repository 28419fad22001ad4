"""`TFLiteGenerator`: runs an exported `.tflite` the way a mobile app does.

A host-side loop over the file's `prefill` / `decode` signatures with the
`ai_edge_litert` interpreter, the cache held as NumPy arrays, and greedy /
top-k / top-p sampling in NumPy: the reference an Android or iOS app can
follow line by line (`export/README.md`).
"""

import json
import os

import numpy as np

from keras_nlg.export.tflite import METADATA_FILE, TFLITE_FILE
from keras_nlg.generation.generate import check_generation_arguments
from keras_nlg.tokenizers import load_tokenizer
from keras_nlg.validation import check_prompts


def _softmax(logits):
    shifted = logits - logits.max()
    probabilities = np.exp(shifted)
    return probabilities / probabilities.sum()


def sample_next_token(logits, rng, do_sample, temperature, top_k, top_p) -> int:
    """Greedy, or a sample after temperature, top-k and top-p (as `generate`)."""
    if not do_sample:
        return int(np.argmax(logits))
    logits = np.asarray(logits, np.float64) / temperature
    if top_k:
        kth_largest = np.partition(logits, -top_k)[-top_k]
        logits = np.where(logits < kth_largest, -np.inf, logits)
    if top_p < 1.0:
        order = np.argsort(-logits)
        probabilities = _softmax(logits[order])
        # Keep the smallest prefix whose mass reaches top_p (always the top one).
        keep = np.cumsum(probabilities) - probabilities < top_p
        logits[order[~keep]] = -np.inf
    return int(rng.choice(len(logits), p=_softmax(logits)))


class TFLiteGenerator:
    """Generates text with an exported `.tflite` and its metadata.

    Args:
        path: the export folder (`keras-nlg export --format tflite --out`)
            or its `model.tflite`; `metadata.json` and the tokenizer files
            must be beside it.
        num_threads: interpreter threads (default: the runtime's choice).
        metadata: the metadata dict, when the caller has it already.

    Example:

    >>> generator = TFLiteGenerator("export/shakespeare_tflite")  # doctest: +SKIP
    >>> generator.generate(["ROMEO:"], max_new_tokens=20)  # doctest: +SKIP
    """

    def __init__(self, path, num_threads=None, metadata=None):
        from ai_edge_litert.interpreter import Interpreter

        path = os.fspath(path)
        model_path = os.path.join(path, TFLITE_FILE) if os.path.isdir(path) else path
        directory = os.path.dirname(model_path)
        if not os.path.isfile(model_path):
            raise ValueError(f"No {TFLITE_FILE} found. Received: path={path!r}")
        if metadata is None:
            metadata_path = os.path.join(directory, METADATA_FILE)
            if not os.path.isfile(metadata_path):
                raise ValueError(
                    f"Not a keras_nlg TFLite export (no {METADATA_FILE} beside "
                    f"{TFLITE_FILE}). Received: path={path!r}"
                )
            with open(metadata_path) as f:
                metadata = json.load(f)
        self.metadata = metadata
        self.tokenizer = load_tokenizer(directory)
        self.interpreter = Interpreter(model_path=model_path, num_threads=num_threads)
        signatures = self.interpreter.get_signature_list()
        self._decode = self.interpreter.get_signature_runner("decode")
        self._prefill = (
            self.interpreter.get_signature_runner("prefill")
            if "prefill" in signatures
            else None
        )
        self._uses_positions = "input_pos" in signatures["decode"]["inputs"]
        self.cache_names = metadata["cache"]["names"]
        self.cache_shape = metadata["cache"]["shape"]
        self.context_length = metadata["context_length"]  # None: no limit (LSTM)
        self.prefill_length = metadata["prefill_length"]

    def empty_cache(self) -> dict:
        return {
            name: np.zeros(self.cache_shape, np.float32) for name in self.cache_names
        }

    def _check_position(self, input_pos, length):
        if self.context_length is not None and not (
            0 <= input_pos and input_pos + length <= self.context_length
        ):
            raise ValueError(
                f"`input_pos` must leave room for {length} token(s) in the cache "
                f"of {self.context_length} positions. Received: input_pos={input_pos}"
            )

    def decode(self, token_id: int, input_pos: int, cache: dict):
        """One token at `input_pos` → `(logits (V,), new cache)`."""
        self._check_position(input_pos, 1)
        inputs = {"tokens": np.array([[token_id]], np.int32), **cache}
        if self._uses_positions:
            inputs["input_pos"] = np.array([input_pos], np.int32)
        outputs = self._decode(**inputs)
        return outputs["logits"][0], {name: outputs[name] for name in self.cache_names}

    def prefill(self, token_ids, input_pos: int, cache: dict):
        """`prefill_length` tokens from `input_pos` → `(last logits, new cache)`."""
        token_ids = np.asarray(token_ids, np.int32)
        if self._prefill is None:
            raise ValueError("This export has no `prefill` signature (an LSTM).")
        if len(token_ids) != self.prefill_length:
            raise ValueError(
                f"`prefill` takes exactly prefill_length={self.prefill_length} "
                f"tokens. Received: {len(token_ids)} tokens"
            )
        self._check_position(input_pos, len(token_ids))
        outputs = self._prefill(
            tokens=token_ids[None],
            input_pos=np.arange(input_pos, input_pos + len(token_ids), dtype=np.int32),
            **cache,
        )
        return outputs["logits"][0], {name: outputs[name] for name in self.cache_names}

    def feed(self, token_ids):
        """Runs a prompt from position 0 (empty cache) → `(next-token logits, cache)`.

        Whole `prefill` chunks, the last one ending exactly at the prompt's
        end (it may overlap the one before: rewriting cache columns with the
        same tokens at the same positions changes nothing); a prompt shorter
        than one chunk goes through `decode` token by token.
        """
        token_ids = np.asarray(token_ids, np.int32)
        if not len(token_ids):
            raise ValueError("`token_ids` must hold at least one token. Received: []")
        cache = self.empty_cache()
        self._check_position(0, len(token_ids))
        size = self.prefill_length
        if self._prefill is not None and len(token_ids) >= size:
            starts = list(range(0, len(token_ids) - size + 1, size))
            if starts[-1] + size < len(token_ids):
                starts.append(len(token_ids) - size)
            for start in starts:
                logits, cache = self.prefill(
                    token_ids[start : start + size], start, cache
                )
            return logits, cache
        for position, token in enumerate(token_ids.tolist()):
            logits, cache = self.decode(token, position, cache)
        return logits, cache

    def next_token_logits(self, token_ids) -> np.ndarray:
        """Logits after each of `token_ids` (from position 0), one `decode` each."""
        cache, rows = self.empty_cache(), []
        for position, token in enumerate(np.asarray(token_ids).tolist()):
            logits, cache = self.decode(token, position, cache)
            rows.append(logits)
        return np.stack(rows)  # (n, V)

    def generate(
        self,
        prompts,
        max_new_tokens: int = 64,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> list[str]:
        """One continuation per prompt (without the prompt), like `generate`.

        Ends at end-of-text or after `max_new_tokens`. An empty prompt starts
        from end-of-text. Prompts are not truncated: one that leaves no room
        for `max_new_tokens` in the cache is an error.
        """
        prompts = check_prompts(prompts)
        check_generation_arguments(
            self.tokenizer.vocabulary_size,
            max_new_tokens,
            do_sample,
            temperature,
            top_k,
            top_p,
            1.0,
            1,
            1,
            None,
        )
        rng = np.random.default_rng(seed)
        end_of_text = self.tokenizer.end_of_text_id
        results = []
        for prompt in prompts:
            ids = np.asarray(self.tokenizer.tokenize(prompt), np.int32).tolist()
            ids = ids or [end_of_text]
            if self.context_length is not None and (
                len(ids) + max_new_tokens > self.context_length
            ):
                raise ValueError(
                    f"The prompt has {len(ids)} tokens; with max_new_tokens="
                    f"{max_new_tokens} that is more than the cache of "
                    f"{self.context_length} positions. Received: prompt={prompt[:40]!r}"
                )
            logits, cache = self.feed(ids)
            generated = []
            for position in range(len(ids), len(ids) + max_new_tokens):
                token = sample_next_token(
                    logits, rng, do_sample, temperature, top_k, top_p
                )
                if token == end_of_text:
                    break
                generated.append(token)
                if position + 1 < len(ids) + max_new_tokens:
                    logits, cache = self.decode(token, position, cache)
            text = self.tokenizer.detokenize(np.asarray(generated, np.int32))
            results.append(text.numpy().decode("utf-8"))
        return results
