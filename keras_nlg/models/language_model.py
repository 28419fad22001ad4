"""The language-model contract that training, generation and every export use.

Generation, the SavedModel, the TFLite file and int8 calibration all wrap one
decode step, `call_with_cache`, over a cache the model makes and describes
itself. Code outside `keras_nlg/models/` reads that description (`cache_spec`)
instead of asking which class it holds, so a new model type plugs into every
runtime by implementing this class.
"""

import dataclasses
import warnings

import keras


@dataclasses.dataclass(frozen=True)
class CacheTensor:
    """One tensor of a flattened cache: `name`, `shape` (ints) and `dtype` name."""

    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclasses.dataclass(frozen=True)
class CacheSpec:
    """What a model's cache is, for code that stores, grows or ships it.

    Attributes:
        tensors: the flat cache tensors, in the order of `flatten_cache` (and
            of a TFLite signature's cache inputs and outputs), with their
            shapes for the `batch_size` and `length` asked for.
        position_axis: for a per-position cache (the Transformer's keys and
            values), the axis of every cache tensor (flat, and in the
            structure of `empty_cache`) that holds the `length` cache
            columns; a step at `cache_index` writes columns `cache_index …`,
            and zero columns appended along it are empty columns. `None` for
            a recurrent state (the LSTM's `h` and `c`), which has no
            positions: `length` doesn't change it and `cache_index` only
            locates `padding_mask` columns.
        layout: one line for people (it goes into the TFLite metadata).
    """

    tensors: tuple[CacheTensor, ...]
    position_axis: int | None
    layout: str

    @classmethod
    def per_layer(cls, prefix, kinds, num_layers, shape, dtype, position_axis, layout):
        """A spec of `f"{prefix}{kind}_{i}"` tensors, each of `kinds` per layer."""
        return cls(
            tensors=tuple(
                CacheTensor(f"{prefix}{kind}_{i}", tuple(shape), dtype)
                for i in range(num_layers)
                for kind in kinds
            ),
            position_axis=position_axis,
            layout=layout,
        )

    @property
    def names(self) -> list[str]:
        return [tensor.name for tensor in self.tensors]

    @property
    def has_positions(self) -> bool:
        return self.position_axis is not None

    @property
    def supports_prefill(self) -> bool:
        """Whether a `prefill` signature (P tokens written at `input_pos`) fits.

        Only a per-position cache has columns to write P tokens into at given
        positions; a recurrent state takes its prompt through `decode`.
        """
        return self.has_positions


class LanguageModel(keras.Model):
    """Base class of keras_nlg's language models; this docstring is the contract.

    A language model maps token ids to next-token logits, on whole windows
    (training, scoring) and one decode step at a time over a static-shape
    cache (generation and every export). Subclasses implement the members
    below; everything else (the generation loops, beam search, the SavedModel
    signatures, the TFLite `prefill` / `decode` signatures, int8
    calibration) is written against them only.

    Attributes:
        vocabulary_size: int, the number of token ids (the logits' last axis).
        context_length: int, the most positions a sequence may have, or
            `None` for no limit (a recurrent model: the LSTM). Generators
            truncate prompts to fit it; exporters bound requests by it (or by
            their own limits when it is `None`).

    Call arguments:
        token_ids: int tensor `(batch, length)`.
        training: whether dropout is active.

    Returns float32 logits `(batch, length, vocabulary_size)` (also under a
    mixed-precision policy), where position `t` sees tokens `0 … t` only.

    Methods to implement:
        empty_cache(batch_size, length=None, dtype=None): the cache of
            `batch_size` sequences before any token: a tensor or a nested
            tuple of tensors. `length` is the number of cache columns of a
            per-position cache (default `context_length`); a recurrent state
            ignores it. `dtype` (default the compute dtype) is that of float
            cache tensors. `batch_size` and `length` may be scalar tensors.
            Every cache tensor holds the batch on axis 0, batch-major: each
            sequence is a contiguous block of `axis-0 size / batch_size` rows
            (the Transformer's keys are `(batch * heads, length, head_dim)`),
            so a beam search can reorder sequences by gathering blocks.
        call_with_cache(token_ids, cache, cache_index, padding_mask=None):
            `(logits, cache)`: float32 logits `(batch, length, vocab)` for
            `token_ids` `(batch, length)` given everything the cache holds,
            and the cache with them added. `token_ids` are cache columns
            `cache_index … cache_index + length - 1` (a whole prompt, then
            one token per step); `cache_index` is an int or a scalar int
            tensor. `padding_mask`, bool `(batch, columns)`, is False on the
            columns that hold a row's left padding; each row must then decode
            exactly as it would alone. Must trace inside `tf.function` (XLA)
            and convert to TFLite builtin ops.
        cache_spec(batch_size, length=None, dtype=None): a `CacheSpec`
            describing `empty_cache(batch_size, length, dtype)`: the flat
            tensors' names, shapes and dtypes, and whether the cache has
            positions (`position_axis`).
        flatten_cache(cache) / unflatten_cache(tensors): the cache as the
            flat list of tensors that `cache_spec` names, and back. The
            default flattens the nested structure in order
            (`keras.tree.flatten`); a model whose exported tensors differ
            from its structure (the LSTM's stacked states) overrides both.

    `max_length` is a deprecated, read-only alias of `context_length`.
    """

    vocabulary_size = None
    context_length = None

    def empty_cache(self, batch_size, length=None, dtype=None):
        raise NotImplementedError(f"{type(self).__name__} must implement empty_cache")

    def call_with_cache(self, token_ids, cache, cache_index, padding_mask=None):
        raise NotImplementedError(
            f"{type(self).__name__} must implement call_with_cache"
        )

    def cache_spec(self, batch_size, length=None, dtype=None) -> CacheSpec:
        raise NotImplementedError(f"{type(self).__name__} must implement cache_spec")

    def flatten_cache(self, cache) -> list:
        return list(keras.tree.flatten(cache))

    def unflatten_cache(self, tensors):
        # Any batch and length give the structure; only its nesting matters.
        return keras.tree.pack_sequence_as(self.empty_cache(1, 1), list(tensors))

    @property
    def max_length(self):
        warnings.warn(
            "`max_length` is deprecated; use `context_length`.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.context_length

    def __dir__(self):
        # TensorFlow's SavedModel tracking reads every attribute `dir` lists;
        # the deprecated alias would warn on each export.
        return [name for name in super().__dir__() if name != "max_length"]
