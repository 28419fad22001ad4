"""E2E NLG data: MR/reference CSVs → conditional-LM batches with loss masks.

The decoder-only model reads `MR + SEPARATOR` and learns to continue with the
reference and end-of-text. Only the continuation is scored: the sample weight
is 1 on the positions that predict reference tokens and end-of-text, 0 on the
MR and on padding.
"""

import csv
import dataclasses
import os
import re

import numpy as np
import tensorflow as tf

from keras_nlg.argument_checks import check_positive_int

# The MR never contains a newline, so one separates it from the text for every
# tokenizer (the SentencePiece tokenizer even has a piece of its own for it).
SEPARATOR = "\n"
LENGTH_MULTIPLE = 16  # batches are padded to multiples of this many tokens

_ATTRIBUTE = r"\s*([^\[\],]*[^\[\],\s])\s*\[([^\[\]]*)\]\s*"
_MEANING_REPRESENTATION = re.compile(f"{_ATTRIBUTE}(?:,{_ATTRIBUTE})*")


@dataclasses.dataclass(frozen=True)
class E2EData:
    """Distinct MRs in first-appearance order, each with its references."""

    meaning_representations: list[str]
    references: list[list[str]]

    def pairs(self) -> list[tuple[str, str]]:
        """`(mr, ref)` for every reference."""
        return [
            (mr, ref)
            for mr, refs in zip(
                self.meaning_representations, self.references, strict=True
            )
            for ref in refs
        ]


def parse_meaning_representation(mr: str, row: int | None = None) -> dict:
    """`"name[The Eagle], food[Thai]"` → `{"name": "The Eagle", "food": "Thai"}`.

    Raises:
        ValueError: naming the CSV row (when given) and the MR if it isn't a
            comma-separated list of `attribute[value]`.
    """
    where = f"row {row}: " if row is not None else ""
    if _MEANING_REPRESENTATION.fullmatch(mr) is None:
        raise ValueError(
            f"{where}the MR must be a comma-separated list of attribute[value]. "
            f"Received: mr={mr!r}"
        )
    attributes = {}
    for attribute, value in re.findall(_ATTRIBUTE, mr):
        if attribute in attributes:
            raise ValueError(
                f"{where}the MR repeats the attribute {attribute!r}. "
                f"Received: mr={mr!r}"
            )
        attributes[attribute] = value.strip()
    return attributes


def read_e2e_csv(path: str | os.PathLike, require_references: bool = True) -> E2EData:
    """Reads a CSV in the E2E format and groups the references by MR.

    Row numbers in errors count the header as row 1, as a spreadsheet does.

    Args:
        path: a CSV with columns `mr` and `ref` (other columns are ignored).
        require_references: with False, a file with only an `mr` column (the
            official test inputs) is accepted and MRs get no references.

    Raises:
        ValueError: a missing file or column, a malformed MR or an empty
            reference, naming the row.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"E2E CSV not found. Received: path={path!r}")
    groups: dict[str, list[str]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        needed = ["mr", "ref"] if require_references else ["mr"]
        missing = [name for name in needed if name not in columns]
        if missing:
            raise ValueError(
                f"{path}: the E2E CSV needs columns {needed}; missing {missing}. "
                f"Found columns: {columns}"
            )
        for row, record in enumerate(reader, start=2):
            mr = record["mr"] or ""
            parse_meaning_representation(mr, row)
            references = groups.setdefault(mr.strip(), [])
            if "ref" not in columns:
                continue
            ref = (record["ref"] or "").strip()
            if not ref:
                raise ValueError(
                    f"{path}: row {row}: empty ref. Received: mr={mr!r}, "
                    f"ref={record['ref']!r}"
                )
            references.append(ref)
    if not groups:
        raise ValueError(f"{path}: the E2E CSV has no rows.")
    return E2EData(list(groups), list(groups.values()))


def prompt_text(mr: str) -> str:
    """The text the model continues for one MR."""
    return mr + SEPARATOR


def encode_pairs(pairs, tokenizer) -> list[tuple[list[int], int]]:
    """Tokenizes `(mr, ref)` pairs: a list of `(ids, first_target_position)`.

    The prompt and the reference are tokenized apart, so the prompt ids are
    exactly those `generate` feeds the model for the same MR.
    """
    mrs, refs = zip(*pairs, strict=True)
    prompts = tokenizer.tokenize([prompt_text(mr) for mr in mrs]).to_list()
    targets = tokenizer.tokenize(list(refs)).to_list()
    return [
        (prompt + target + [tokenizer.end_of_text_id], len(prompt))
        for prompt, target in zip(prompts, targets, strict=True)
    ]


@dataclasses.dataclass
class ConditionalData:
    """Batches of `(x, y, sample_weight)` and their sizes."""

    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    steps_per_epoch: int
    longest_example_tokens: int  # tokens, without the last target
    mean_length: float
    longest_prompt: int  # tokens of the longest training MR + separator
    longest_text: int  # tokens of the longest training text + end-of-text
    # Distinct training batch shapes (length buckets that fill a batch): each
    # is traced, and under XLA compiled, on its first batch.
    batch_shapes: int = 1


def _ragged(rows, dtype):
    lengths = [len(row) for row in rows]
    values = np.concatenate([np.asarray(row, dtype) for row in rows])
    return tf.RaggedTensor.from_row_lengths(values, lengths)


def _to_dataset(
    examples, pad_id, batch_size, multiple, context_length, shuffle_seed=None
):
    """Length-bucketed `(x, y, w)` batches padded to multiples of `multiple`,
    their count and the number of distinct batch shapes.

    Bucket uppers are multiples of `multiple`, capped at `context_length` (the
    padding never runs past the model's positions). Training
    (`shuffle_seed` given) drops each bucket's partial batch, so every step
    has a full batch; validation keeps them.
    """
    lengths = np.asarray([len(ids) - 1 for ids, _ in examples])
    x = _ragged([ids[:-1] for ids, _ in examples], np.int32)
    y = _ragged([ids[1:] for ids, _ in examples], np.int32)
    # Position t predicts ids[t + 1]: a target when t + 1 ≥ first target.
    w = _ragged(
        [[0.0] * (start - 1) + [1.0] * (len(ids) - start) for ids, start in examples],
        np.float32,
    )
    data = tf.data.Dataset.range(len(examples))
    if shuffle_seed is not None:
        data = data.shuffle(len(examples), seed=shuffle_seed)
    # Indexing a ragged row gives a dense 1-D tensor, as padded batching needs.
    data = data.map(lambda i: (x[i], y[i], w[i]))
    # Bucket i holds lengths in (upper[i - 1], upper[i]] and is padded to
    # upper[i] (a boundary is one past a bucket's longest length).
    top = int(lengths.max())
    uppers = list(range(multiple, top + multiple, multiple))
    if context_length is not None:
        uppers = sorted({min(upper, context_length) for upper in uppers})
    data = data.bucket_by_sequence_length(
        lambda x, y, w: tf.shape(x)[0],
        bucket_boundaries=[upper + 1 for upper in uppers],
        bucket_batch_sizes=[batch_size] * (len(uppers) + 1),
        padding_values=(pad_id, 0, 0.0),
        pad_to_bucket_boundary=True,
        drop_remainder=shuffle_seed is not None,
    )
    counts = np.bincount(np.searchsorted(uppers, lengths), minlength=len(uppers))
    if shuffle_seed is not None:
        steps = int(sum(count // batch_size for count in counts))
    else:
        steps = int(sum(-(-count // batch_size) for count in counts))
    # Keras then knows the epoch length (and doesn't warn at its end).
    data = data.apply(tf.data.experimental.assert_cardinality(steps))
    full = batch_size if shuffle_seed is not None else 1  # training drops partials
    shapes = int(np.count_nonzero(counts >= full))
    return data.prefetch(tf.data.AUTOTUNE), steps, shapes


def conditional_datasets(
    train_pairs,
    tokenizer,
    batch_size: int,
    validation_pairs=None,
    context_length: int | None = None,
    seed: int = 0,
    length_multiple: int = LENGTH_MULTIPLE,
) -> ConditionalData:
    """`(mr, ref)` pairs → shuffled, length-bucketed `(x, y, w)` batches.

    Examples of similar length are batched together and padded to a multiple
    of `length_multiple`, so a whole epoch runs on a few static shapes with
    little padding. Training batches are full (a partial one is dropped);
    the order is reshuffled each epoch, reproducibly from `seed`.

    Args:
        train_pairs: `(mr, ref)` pairs to train on.
        tokenizer: the model's tokenizer.
        batch_size: examples per batch.
        validation_pairs: optional pairs for `validation_data`.
        context_length: the model's context; longer examples raise.
        seed: shuffle seed.
        length_multiple: padding granularity in tokens.
    """
    check_positive_int("batch_size", batch_size)
    check_positive_int("length_multiple", length_multiple)
    train = encode_pairs(train_pairs, tokenizer)
    if len(train) < batch_size:
        raise ValueError(
            f"There are {len(train)} training pairs, fewer than one batch. "
            f"Received: batch_size={batch_size}"
        )
    validation = encode_pairs(validation_pairs, tokenizer) if validation_pairs else []
    longest = max(len(ids) - 1 for ids, _ in train + validation)
    if context_length is not None and longest > context_length:
        raise ValueError(
            f"The longest MR + reference has {longest} tokens, more than the "
            f"model's context_length={context_length}. Use a model with a longer "
            "context."
        )
    train_data, steps, shapes = _to_dataset(
        train,
        tokenizer.padding_id,
        batch_size,
        length_multiple,
        context_length,
        shuffle_seed=seed,
    )
    if steps == 0:
        raise ValueError(
            f"No length bucket of the {len(train)} training pairs fills one batch "
            f"(buckets of {length_multiple} tokens; partial batches are dropped). "
            f"Use a smaller batch_size. Received: batch_size={batch_size}"
        )
    validation_data = None
    if validation:
        validation_data, _, _ = _to_dataset(
            validation,
            tokenizer.padding_id,
            batch_size,
            length_multiple,
            context_length,
        )
    return ConditionalData(
        train=train_data,
        validation=validation_data,
        steps_per_epoch=steps,
        longest_example_tokens=longest,
        mean_length=float(np.mean([len(ids) - 1 for ids, _ in train])),
        longest_prompt=max(start for _, start in train),
        longest_text=max(len(ids) - start for ids, start in train),
        batch_shapes=shapes,
    )
