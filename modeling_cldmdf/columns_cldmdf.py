# Copyright 2026 The CL-DMDF contributors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""The array work of `CLDMDFProcessor` on one modality column (a list with one entry per row, `None` = missing):
which entries are present, the present entries as checked arrays, the statistics `fit` accumulates; and the checks
of a batch of columns and of a caller's presence mask.

Pure functions of their arguments, no processor state. This file travels to the Hub as remote code with
`processing_cldmdf.py` (which imports it): it imports only numpy, transformers' utilities and the standard
library; torch where it is installed (the processor works without it, `return_tensors="np"`).
"""

import array
import io
from collections.abc import Mapping, Sequence
from typing import Any, Optional

import numpy as np
from transformers.utils import is_torch_available, is_torch_tensor

if is_torch_available():
    import torch

__all__ = [
    "as_row_list",
    "check_columns",
    "check_mask",
    "dense_values",
    "is_present",
    "is_vector",
    "load_image",
    "merge_moments",
    "pooled_values",
    "present_values",
    "rows_repr",
    "stack_any",
    "stack_lists",
    "to_torch",
]

# How many offending row indices an error message lists before summarising.
MAX_LISTED = 10


def rows_repr(rows: Sequence[int]) -> str:
    """Row indices for an error message: all of them, or the first `MAX_LISTED` and a count."""
    rows = [int(r) for r in rows]
    if len(rows) <= MAX_LISTED:
        return str(rows)
    return f"{rows[:MAX_LISTED]} (and {len(rows) - MAX_LISTED} more, {len(rows)} in all)"


def is_present(column: list) -> np.ndarray:
    """Which entries (B,) of a column are present: not None. The one definition of presence."""
    return np.fromiter((value is not None for value in column), dtype=bool, count=len(column))


def as_row_list(name: str, values: Any) -> list:
    """One entry per row as a list (a 2-D array gives its rows), rejecting strings and scalars."""
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__len__"):
        raise TypeError(
            f"Modality {name!r} must be given as a list with one entry per row (None = missing), got "
            f"{type(values).__name__}"
        )
    if is_torch_tensor(values):
        values = values.detach().cpu().numpy()
    if isinstance(values, np.ndarray):
        if values.ndim == 0:
            raise TypeError(f"Modality {name!r} must be a list with one entry per row, got a 0-d array")
        return list(values)
    return list(values)


def check_columns(modalities: Any, names: Sequence[str]) -> tuple[dict[str, list], int]:
    """A batch given column-wise (modality name -> one entry per row), checked against the processor's modality
    `names`: the columns as lists and the batch size."""
    if not isinstance(modalities, Mapping):
        raise TypeError(
            f"`modalities` must be a dict modality name -> list of entries (None = missing), got "
            f"{type(modalities).__name__}"
        )
    unknown = [name for name in modalities if name not in names]
    if unknown:
        raise ValueError(f"Unknown modalities {unknown}; this processor knows {list(names)}")
    if not modalities:
        raise ValueError(f"`modalities` is empty; give at least one of {list(names)}")
    columns = {name: as_row_list(name, values) for name, values in modalities.items()}
    lengths = {name: len(column) for name, column in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"All modalities must have one entry per row, got lengths {lengths}")
    batch_size = next(iter(lengths.values()))
    if batch_size == 0:
        raise ValueError("The batch is empty: every modality list has length 0")
    return columns, batch_size


def check_mask(modality_mask: Any, batch_size: int, names: Sequence[str]) -> np.ndarray:
    """A caller's `modality_mask` as a new C-contiguous bool array (B, M), columns in the order of the modality
    `names`: the batch never shares its memory."""
    if is_torch_tensor(modality_mask):
        modality_mask = modality_mask.detach().cpu().numpy()
    mask = np.asarray(modality_mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"`modality_mask` must be boolean (True = present), got dtype {mask.dtype}")
    expected = (batch_size, len(names))
    if mask.shape != expected:
        raise ValueError(
            f"`modality_mask` must have shape (batch, modalities) = {expected}, columns in `modality_names` order "
            f"{list(names)}, got shape {mask.shape}"
        )
    return mask.copy(order="C")


def present_values(name: str, column: Optional[list], rows: np.ndarray) -> list:
    """The entries (P,) of modality `name` at its present rows (P,), none of them None."""
    values = [None] * rows.size if column is None else [column[i] for i in rows.tolist()]
    if any(value is None for value in values):
        nones = [row for row, value in zip(rows.tolist(), values) if value is None]
        raise ValueError(
            f"`modality_mask` marks modality {name!r} present in rows {rows_repr(nones)}, whose entries are None"
            f"{' (the modality is not given)' if column is None else ''}; mark them False or give their values"
        )
    return values


def dense_values(name: str, values: list, rows: np.ndarray, dim: int) -> np.ndarray:
    """The present entries of dense modality `name` (at rows `rows`, for messages) as a float32 array (P, dim),
    checked: `dim` finite real numbers each."""
    if not values:
        return np.zeros((0, dim), dtype=np.float32)
    dense = stack_lists(values, dim) if all(type(v) is list for v in values) else stack_any(values)
    if dense is None or dense.ndim != 2 or dense.shape[1] != dim or dense.dtype.kind not in "biuf":
        raise _dense_error(name, values, rows, dim)
    with np.errstate(over="ignore", invalid="ignore"):
        dense = dense.astype(np.float32, copy=False)  # beyond float32 range becomes inf, rejected below
    bad = ~np.isfinite(dense).all(axis=1)
    if bad.any():
        raise ValueError(
            f"Dense modality {name!r} has NaN or infinite values (or values beyond the float32 range) in rows "
            f"{rows_repr(rows[bad])}; only finite numbers are allowed, use None for a missing row"
        )
    return dense


def _dense_error(name: str, values: list, rows: np.ndarray, dim: int) -> Exception:
    """The error for the first present entry that is not a sequence of `dim` numbers."""
    for i, value in zip(rows.tolist(), values):
        if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__len__"):
            return TypeError(
                f"Dense modality {name!r}, row {i}: expected a sequence of {dim} numbers (or None), got "
                f"{type(value).__name__}"
            )
        if len(value) != dim:
            return ValueError(f"Dense modality {name!r}, row {i}: expected {dim} values, got {len(value)}")
        try:
            entry = np.asarray(value)
        except (ValueError, TypeError):
            entry = None
        if entry is None or entry.ndim != 1 or entry.dtype.kind not in "biuf":
            return TypeError(
                f"Dense modality {name!r}, row {i}: expected {dim} real numbers within the float64 range, got "
                f"{str(value)[:200]}"
            )
    return TypeError(f"Dense modality {name!r}: entries must be sequences of {dim} numbers (or None)")


def pooled_values(name: str, values: list, rows: np.ndarray) -> np.ndarray:
    """The present entries of a text/image modality given as its frozen backbone's pooled outputs, as an array
    (P, H), checked: finite float vectors of one length."""
    if not all(is_vector(value) for value in values):
        raise TypeError(
            f"Modality {name!r} mixes precomputed pooled outputs (float vectors) with raw entries in rows "
            f"{rows_repr(rows)}; give one kind per batch"
        )
    dim = len(values[0])
    pooled = stack_lists(values, dim) if all(type(v) is list for v in values) else stack_any(values)
    if pooled is None or pooled.ndim != 2 or pooled.shape[1] != dim or not np.isfinite(pooled).all():
        raise ValueError(
            f"Precomputed pooled outputs of modality {name!r} must be finite float vectors of one length "
            f"({dim}, from the first present row) in rows {rows_repr(rows)}"
        )
    return pooled


def load_image(name: str, row: int, value: Any) -> Any:
    """One present entry of image modality `name` as something an image processor takes (a PIL image or array)."""
    if isinstance(value, Mapping) and (value.get("bytes") is not None or value.get("path") is not None):
        from PIL import Image  # Pillow comes with any image processor; only needed for undecoded images

        source = io.BytesIO(value["bytes"]) if value.get("bytes") is not None else value["path"]
        value = Image.open(source)
    if hasattr(value, "convert") and hasattr(value, "mode"):  # a PIL image
        return value if value.mode == "RGB" else value.convert("RGB")
    if isinstance(value, np.ndarray) or is_torch_tensor(value):
        return value
    raise TypeError(
        f"Image modality {name!r}, row {row}: expected a PIL image, an array (H, W, C), a {{'bytes': ...}} dict "
        f"or None, got {type(value).__name__}"
    )


def stack_lists(rows: list, dim: int) -> Optional[np.ndarray]:
    """Stacks python lists of numbers into a float64 array (P, dim); None when they are not all `dim` real numbers.

    The fast path for rows from `datasets` (lists of python floats): `array.fromlist` converts each list in C and
    rejects anything but real numbers, about 1.5x faster than `np.asarray`, which first discovers the nested shape.
    """
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    if (lengths != dim).any():
        return None
    buffer = array.array("d")
    try:
        for row in rows:
            buffer.fromlist(row)
    except (TypeError, OverflowError):
        return None
    return np.frombuffer(buffer, dtype=np.float64).reshape(len(rows), dim)


def stack_any(rows: list) -> Optional[np.ndarray]:
    """Stacks arrays / sequences with one `np.asarray`; None when they are ragged or not convertible."""
    try:
        return np.asarray(rows)
    except (ValueError, TypeError):
        return None


def merge_moments(state: tuple, values: np.ndarray) -> tuple:
    """Chan et al.'s parallel update of (count, mean, M2) with a batch of rows (P, dim), all float64."""
    count, mean, m2 = state
    n = values.shape[0]
    if n == 0:
        return state
    batch_mean = values.mean(axis=0)
    batch_m2 = ((values - batch_mean) ** 2).sum(axis=0)
    if count == 0:
        return n, batch_mean, batch_m2
    total = count + n
    delta = batch_mean - mean
    return total, mean + delta * (n / total), m2 + batch_m2 + delta**2 * (count * n / total)


def is_vector(value: Any) -> bool:
    """A 1-D sequence of numbers: a precomputed pooled output rather than a string or an image."""
    if isinstance(value, np.ndarray):
        return value.ndim == 1 and value.dtype.kind in "iuf"
    return isinstance(value, (list, tuple)) and len(value) > 0 and isinstance(value[0], (int, float))


def to_torch(inputs: dict) -> dict:
    return {name: to_torch(v) if isinstance(v, dict) else torch.from_numpy(v) for name, v in inputs.items()}
