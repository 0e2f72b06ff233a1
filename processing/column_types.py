"""Declared modality types: what a column is when its stored type says otherwise.

A CSV stores vectors as strings (`"[0.1, 0.2]"`, `"0.1,0.2"`) and numbers with a `?` as strings; inference then
reads them as text. `apply_modality_types` turns such columns into what the user declared, before inference:

- `dense` on a string column: each value is parsed into a float list (`"[0.1, 0.2]"`, `"0.1, 0.2"`, `"0.1 0.2"`,
  `"3.5"`); empty strings and the usual missing markers (`?`, `NA`, `nan`, `null`, `none`, `-`, `unknown`...,
  `MISSING_MARKERS`) become `None`.
- `dense` on a scalar numeric column: a one-feature dense modality of its own (not packed into `tabular`).
- `dense` on a list column: kept (lists of integers are read as floats).
- `text` on any scalar column: its values as strings.
- `image`: the column must already hold images (nothing to convert).
"""

import logging
import math
import re
from collections.abc import Mapping
from typing import Any

from datasets import Features, Value

from modeling_cldmdf.configuration_cldmdf import MODALITY_TYPES

from .schema import NUMERIC_DTYPES, STRING_DTYPES, AnyDataset, _float_vector, _list_parts, _value_dtype

__all__ = ["MISSING_MARKERS", "apply_modality_types", "is_missing_marker", "parse_number", "parse_number_list"]

# What spreadsheets, CSV exports and hand-filled tables write for a missing value (compared lower-cased, stripped).
MISSING_MARKERS = ("", "?", "na", "n/a", "#n/a", "n.a.", "nan", "null", "none", "nil", "-", "unknown", "missing")
logger = logging.getLogger(__name__)
_SEPARATORS = re.compile(r"[,;\s]+")


def parse_number(text: str) -> float | None:
    """A finite or infinite float from one string, else None."""
    try:
        return float(text.strip())
    except ValueError:
        return None


def parse_number_list(text: Any) -> list[float] | None:
    """`"[0.1, 0.2]"`, `"(0.1 0.2)"`, `"0.1;0.2"`, `"3.5"` -> a float list; None when the text is not numbers only
    (or is a missing marker)."""
    if not isinstance(text, str):
        return None
    body = text.strip()
    if body[:1] in "[(" and body[-1:] in "])":
        body = body[1:-1]
    items = [item for item in _SEPARATORS.split(body) if item]
    if not items:
        return None
    values = [parse_number(item) for item in items]
    return None if any(value is None for value in values) else values


def is_missing_marker(value: Any) -> bool:
    """None, or a string that spreadsheets and CSV exports write for a missing value (`MISSING_MARKERS`)."""
    return value is None or (isinstance(value, str) and value.strip().lower() in MISSING_MARKERS)


def _parse_dense_batch(batch: dict[str, list], column: str, split: str) -> dict[str, list]:
    vectors = []
    for value in batch[column]:
        if is_missing_marker(value):
            vectors.append(None)
            continue
        parsed = parse_number_list(value)
        if parsed is None:
            raise ValueError(
                f"modality_types[{column!r}]='dense' but column {column!r} of split {split!r} holds {value!r}, which "
                f'is not a list of numbers; allowed: strings like "[0.1, 0.2]" or "0.1,0.2", or a missing marker '
                f"{list(MISSING_MARKERS)}."
            )
        vectors.append(parsed)
    return {column: vectors}


def _scalar_to_list_batch(batch: dict[str, list], column: str) -> dict[str, list]:
    values = batch[column]
    return {column: [None if v is None or (isinstance(v, float) and math.isnan(v)) else [float(v)] for v in values]}


def _to_text_batch(batch: dict[str, list], column: str) -> dict[str, list]:
    return {column: [None if v is None else str(v) for v in batch[column]]}


def apply_modality_types(split: AnyDataset, split_name: str, modality_types: Mapping[str, str]) -> AnyDataset:
    """Converts the columns of one split to the declared modality types (see the module docstring).

    Args:
        split (`Dataset` or `IterableDataset`): one split.
        split_name (`str`): its name, for error messages.
        modality_types (`Mapping[str, str]`): column -> one of `MODALITY_TYPES`.

    Returns:
        The split with converted columns.
    """
    for column, kind in modality_types.items():
        if kind not in MODALITY_TYPES:
            raise ValueError(
                f"modality_types[{column!r}]={kind!r} is not allowed; allowed types: {list(MODALITY_TYPES)}."
            )
        if column not in split.features:
            raise ValueError(
                f"modality_types names column {column!r}, absent from split {split_name!r}; columns found: "
                f"{list(split.features)}."
            )
        feature = split.features[column]
        dtype, parts = _value_dtype(feature), _list_parts(feature)
        if kind == "dense" and dtype in STRING_DTYPES:
            # Variable length in the features: the schema inference then checks one length per column.
            function, kwargs, new = _parse_dense_batch, {"split": split_name}, _float_vector(-1)
        elif kind == "dense" and dtype in NUMERIC_DTYPES:
            function, kwargs, new = _scalar_to_list_batch, {}, _float_vector(1)
        elif kind == "text" and dtype in NUMERIC_DTYPES:
            function, kwargs, new = _to_text_batch, {}, Value("string")
        elif (
            (kind == "text" and dtype in STRING_DTYPES)
            or (kind == "dense" and parts is not None and _value_dtype(parts[0]) in NUMERIC_DTYPES)
            or kind == "image"  # checked by the schema inference, which names what an image column must hold
        ):
            continue
        else:
            raise ValueError(
                f"modality_types[{column!r}]={kind!r} cannot convert column {column!r} with feature {feature}; "
                f"'dense' takes strings of numbers, numbers or lists of numbers, 'text' takes strings or numbers."
            )
        logger.info(
            f"column {column!r} of split {split_name!r} ({feature}): read as {kind}, as --modality_types declares"
        )
        features = Features(split.features.copy())
        features[column] = new
        split = split.map(function, batched=True, fn_kwargs={"column": column, **kwargs}, features=features)
    return split
