"""`TFLiteGenerator`: runs an exported `.tflite` the way a mobile app does.

A host-side loop over the file's `prefill` / `decode` signatures with the
`ai_edge_litert` interpreter, the cache held as NumPy arrays, and each token
chosen in NumPy by `keras_nlg.generation.HostSampler` (every
`GenerationConfig` rule but beam search): the reference an Android or iOS app
can follow line by line (`export/README.md`). Its defaults are the
`generation_config` of the file's metadata (the model directory's
`generation_config.json` at export).
"""

import os

import numpy as np

from keras_nlg.argument_checks import check_prompts
from keras_nlg.export.tflite_metadata import METADATA_FILE, TFLITE_FILE
from keras_nlg.files import read_json_file
from keras_nlg.generation.config import GenerationConfig
from keras_nlg.generation.generate import Generation
from keras_nlg.generation.host_sampling import HostSampler
from keras_nlg.generation.stopping import ids_to_text
from keras_nlg.tokenizers import load_tokenizer


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
            metadata = read_json_file(metadata_path)
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
        cache = metadata["cache"]
        self.cache_names = cache["names"]
        self.cache_shape = cache["shape"]  # shared by every cache tensor, or None
        # (shape, dtype) of each cache tensor; exports before "tensors" was
        # written have float32 tensors of one shape.
        self._cache_tensors = {
            t["name"]: (t["shape"], t["dtype"])
            for t in cache.get("tensors")
            or [
                {"name": n, "shape": cache["shape"], "dtype": "float32"}
                for n in cache["names"]
            ]
        }
        self.context_length = metadata["context_length"]  # None: no limit (LSTM)
        self.prefill_length = metadata["prefill_length"]

    def empty_cache(self) -> dict:
        return {
            name: np.zeros(shape, dtype)
            for name, (shape, dtype) in self._cache_tensors.items()
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
            raise ValueError(
                "This export has no `prefill` signature (its cache has no positions)."
            )
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
        generation_config: GenerationConfig | None = None,
        *,
        return_details: bool = False,
        **overrides,
    ) -> list[str] | list[Generation]:
        """Continuations of `prompts` (without them), like `keras_nlg.generate`.

        Settings: `generation_config` (default: the metadata's, else
        `GenerationConfig()`) with the keyword `overrides` applied; greedy or
        sampled with every logits processor, `num_return_sequences` per
        prompt, `stop_strings`; not beam search. A row ends at end-of-text,
        after `max_new_tokens`, or as soon as its text holds a stop string
        (no token is decoded after that); text, ids and log-probs are cut by
        `keras_nlg.generation.stopping`'s rule, as `generate` cuts them. An
        empty prompt starts from end-of-text. Prompts are not truncated: one
        that leaves no room for `max_new_tokens` in the cache is an error.

        Args:
            prompts: a string or a list of strings.
            generation_config: a `GenerationConfig`, or None.
            return_details: return `keras_nlg.generation.Generation` objects
                (text, the token ids behind it, each id's log-probability
                under the file's logits, float64 NumPy) instead of strings.
            **overrides: `GenerationConfig` fields.

        Raises:
            ValueError: a bad setting (`GenerationConfig`'s message),
                `num_beams` > 1, or a prompt that doesn't fit.
            TypeError: prompts that are not strings, an unknown setting.
        """
        prompts = check_prompts(prompts)
        if generation_config is None:
            generation_config = GenerationConfig.from_dict(
                self.metadata.get("generation_config") or {}, "the metadata"
            )
        config = generation_config.replace(**overrides)
        config.check_vocabulary(self.tokenizer.vocabulary_size)
        sampler = HostSampler(config, self.tokenizer.end_of_text_id)
        results = []
        for prompt in prompts:
            ids = np.asarray(self.tokenizer.tokenize(prompt), np.int32).tolist()
            ids = ids or [self.tokenizer.end_of_text_id]
            budget = config.max_new_tokens
            if self.context_length is not None and (
                len(ids) + budget > self.context_length
            ):
                raise ValueError(
                    f"The prompt has {len(ids)} tokens; with max_new_tokens="
                    f"{budget} that is more than the cache of "
                    f"{self.context_length} positions. Received: prompt={prompt[:40]!r}"
                )
            prompt_logits, prompt_cache = self.feed(ids)
            for _ in range(config.num_return_sequences):
                generated, log_probs = self._sample(
                    ids, prompt_logits, prompt_cache, sampler
                )
                kept, text, _ = ids_to_text(
                    self.tokenizer, generated, config.stop_strings
                )
                results.append(
                    Generation(text, kept, log_probs[: len(kept)])
                    if return_details
                    else text
                )
        return results

    def _sample(self, ids, logits, cache, sampler):
        """`(tokens, log_probs)` after prompt `ids` (whose logits and cache
        are given), until end-of-text, a stop string or the budget."""
        generated, log_probs = [], []
        stop_strings = sampler.config.stop_strings
        budget = sampler.config.max_new_tokens
        for position in range(len(ids), len(ids) + budget):
            token = sampler.next_token(logits, ids + generated, len(generated))
            logits = np.asarray(logits, np.float64)
            shifted = logits - logits.max()
            log_probs.append(float(shifted[token] - np.log(np.exp(shifted).sum())))
            generated.append(token)
            if token == self.tokenizer.end_of_text_id:
                break
            if stop_strings and ids_to_text(self.tokenizer, generated, stop_strings)[2]:
                break  # the text holds a stop string: nothing after it is kept
            if position + 1 < len(ids) + budget:
                logits, cache = self.decode(token, position, cache)
        return generated, log_probs
