"""Row ids and the validation split carved out of train, for `load_multimodal_dataset` (`loading.py`).

- row ids: without an id column of its own, every split gets a `row_id` int64 column: the position in the split as
  stored; in streaming mode a hash of the row's content, because stream positions change with sharding across
  workers and nodes.
- validation split: without one, `validation_fraction` of train becomes it: seeded, stratified by label for
  single-label classification; in streaming mode each row's side is a fixed pseudo-random draw from its row id and the
  seed (a stream cannot be counted ahead).
"""

import hashlib
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow.compute as pc
from datasets import Value

from .schema import INT_DTYPES, ROW_ID_COLUMN, AnyDataset, _arrow_table, _value_dtype

__all__ = ["add_row_ids", "add_validation_split", "check_row_ids"]


# ----------------------------------------------------------------------------------------------------------------
# Row ids


def _hash_value(hasher: Any, value: Any) -> None:
    if value is None:
        hasher.update(b"N")
    elif isinstance(value, str):
        data = value.encode("utf-8")
        hasher.update(b"S%d:" % len(data) + data)
    elif isinstance(value, (bytes, bytearray)):
        hasher.update(b"B%d:" % len(value) + bytes(value))
    elif hasattr(value, "tobytes") and hasattr(value, "mode"):  # PIL image (decoded by datasets before map)
        data = value.tobytes()
        hasher.update(f"I{value.mode}{value.size}{len(data)}:".encode() + data)
    elif isinstance(value, Mapping):
        hasher.update(b"D%d:" % len(value))
        for key in sorted(value):
            _hash_value(hasher, str(key))
            _hash_value(hasher, value[key])
    elif isinstance(value, (list, tuple)):
        hasher.update(b"L%d:" % len(value))
        for item in value:
            _hash_value(hasher, item)
    else:
        hasher.update(f"V{value!r};".encode())


def _content_row_id_batch(batch: dict[str, list]) -> dict[str, list]:
    columns = sorted(batch)
    ids = []
    for row in zip(*(batch[c] for c in columns)):
        hasher = hashlib.blake2b(digest_size=8)
        for column, value in zip(columns, row):
            _hash_value(hasher, column)
            _hash_value(hasher, value)
        ids.append(int.from_bytes(hasher.digest(), "little") & (2**63 - 1))
    return {ROW_ID_COLUMN: ids}


def add_row_ids(split: AnyDataset, streaming: bool) -> AnyDataset:
    """`split` with a `row_id` int64 column: the position in the split as stored, or in streaming mode a hash of the
    row's content."""
    if not streaming:
        # The position in the split as stored: stable across runs and machines, unique within the split.
        return split.add_column(ROW_ID_COLUMN, np.arange(len(split), dtype=np.int64), feature=Value("int64"))
    # map(with_indices=True) counts examples per worker/node when the stream is sharded (DataLoader workers,
    # split_dataset_by_node), so the same row would get different ids; a content hash does not depend on sharding.
    features = split.features.copy()
    features[ROW_ID_COLUMN] = Value("int64")
    return split.map(_content_row_id_batch, batched=True, batch_size=64, features=features)


def check_row_ids(splits: Mapping[str, AnyDataset], column: str, streaming: bool) -> None:
    """Raises unless the data's own row id `column` holds integers, none of them None, in every split."""
    for name, split in splits.items():
        if _value_dtype(split.features.get(column)) not in INT_DTYPES:
            raise ValueError(
                f"row id column {column!r} of split {name!r} has feature {split.features.get(column)}; "
                "it must hold integers in every split."
            )
        if not streaming and _arrow_table(split, [column]).column(column).null_count:
            raise ValueError(f"row id column {column!r} of split {name!r} has None values; every row needs an id.")


# ----------------------------------------------------------------------------------------------------------------
# Validation split


def _split_indices(
    keys: np.ndarray | None, num_rows: int, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train positions, validation positions), both sorted; stratified by `keys` when given."""
    rng = np.random.default_rng(seed)
    num_val = min(num_rows - 1, max(1, int(math.floor(fraction * num_rows + 0.5))))
    if keys is None:
        val = rng.permutation(num_rows)[:num_val]
    else:
        _, inverse = np.unique(keys, return_inverse=True)
        counts = np.bincount(inverse)
        quota = counts * (num_val / num_rows)
        take = np.floor(quota).astype(np.int64)
        # Largest remainders get the leftover rows so the total is exactly num_val; a stable sort keeps it seeded.
        order = np.argsort(-(quota - take), kind="stable")
        take[order[: num_val - int(take.sum())]] += 1
        val = np.concatenate([rng.permutation(np.flatnonzero(inverse == c))[: take[c]] for c in range(len(counts))])
    is_val = np.zeros(num_rows, dtype=bool)
    is_val[val] = True
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


_MASK64 = 2**64 - 1


def _hash_fraction(row_id: int, seed: int) -> float:
    """splitmix64 of (row id, seed) mapped to [0, 1): a fixed pseudo-random draw per row."""
    z = (int(row_id) + (seed + 1) * 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) / 2.0**64


def _in_validation(row_id: int, fraction: float, seed: int, keep: bool) -> bool:
    return (_hash_fraction(row_id, seed) < fraction) == keep


def add_validation_split(
    splits: dict[str, AnyDataset],
    fraction: float,
    seed: int,
    label_column: str | None,
    problem_type: str | None,
    row_id_column: str,
    streaming: bool,
) -> dict[str, AnyDataset]:
    """The splits with `fraction` of `train` carved out as `validation` (placed right after `train`): seeded and
    stratified by label for single-label classification, or in streaming mode by a hash of each row's id."""
    train = splits["train"]
    if streaming:
        # Not stratified: a stream cannot be counted ahead. Each row's side depends only on its id and the seed.
        side = {"fraction": fraction, "seed": seed}
        new_train = train.filter(_in_validation, input_columns=[row_id_column], fn_kwargs={**side, "keep": False})
        validation = train.filter(_in_validation, input_columns=[row_id_column], fn_kwargs={**side, "keep": True})
    else:
        if len(train) < 2:
            raise ValueError(
                f"validation_fraction={fraction} cannot carve a validation split out of a train split of {len(train)} "
                "rows; add rows or a validation split."
            )
        keys = None
        if problem_type == "single_label_classification":
            labels = _arrow_table(train, [label_column]).column(label_column)
            keys = pc.fill_null(labels, -1).to_numpy(zero_copy_only=False)
        train_idx, val_idx = _split_indices(keys, len(train), fraction, seed)
        new_train, validation = train.select(train_idx), train.select(val_idx)
    result: dict[str, AnyDataset] = {}
    for name, split in splits.items():
        result[name] = new_train if name == "train" else split
        if name == "train":
            result["validation"] = validation
    return result
