"""Pre-flight scan of a loaded dataset: the data problems that would otherwise surface late, as tracebacks.

`find_data_problems` reads every split once, before anything is fitted or trained, and returns every problem found
with the ids of the rows concerned (the `row_id` column: the row's 0-based position in its file or split as
stored when the data has no id column of its own, so the numbers are those of the user's file, before any shuffle
or split; rows of a validation split carved from train are reported as rows of `train`). It raises nothing: the
caller words the remedy (the training script names its flags).

Problems (`DataProblem.kind`):
- `"nan"`: a present dense vector holds NaN or an infinite value (the processor would refuse it while fitting).
- `"no_modality"`: a row with every modality missing (the model needs one).
- `"unseen_label"`: a class of an evaluation split that no training row has (it could never be predicted).
- `"vector_strings"`: a text column whose values all parse as lists of numbers (vectors stored as strings, CSV).
- `"numeric_strings"`: a text column whose values all parse as single numbers (a number column with a `?`).
"""

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .column_types import is_missing_marker, parse_number_list
from .loading import MultimodalDataset, rows_without_modalities
from .schema import _arrow_table

__all__ = ["DataProblem", "find_data_problems", "format_rows"]

# Text columns are scanned up to this many present values (the first value that is not numbers ends the scan).
MAX_TEXT_VALUES = 10_000
_MAX_LISTED = 10


@dataclass
class DataProblem:
    """One problem of one split (or column).

    Args:
        kind (`str`): one of the kinds of the module docstring.
        split (`str`): the split as the user knows it (`train` for rows of a carved validation split).
        column (`str`, *optional*): the modality (or label) column concerned.
        rows (`list[int]`): ids of the rows concerned (empty for a column-wide problem).
        detail (`str`, defaults to `""`): e.g. the unseen label names, or an example value.
    """

    kind: str
    split: str
    column: str | None = None
    rows: list[int] = field(default_factory=list)
    detail: str = ""


def format_rows(rows: list[int]) -> str:
    """`[3, 34]`, or the first ten and how many more."""
    if len(rows) <= _MAX_LISTED:
        return str(rows)
    return f"{rows[:_MAX_LISTED]} (and {len(rows) - _MAX_LISTED} more, {len(rows)} in all)"


def find_data_problems(
    data: MultimodalDataset, splits: Collection[str] | None = None, declared: Collection[str] = ()
) -> list[DataProblem]:
    """Every problem of the given splits (default: all), in split order.

    Args:
        data (`MultimodalDataset`): loaded splits (not streaming).
        splits (`Collection[str]`, *optional*): the splits to scan.
        declared (`Collection[str]`, defaults to `()`): columns whose modality type the user declared; their type is
            not questioned.
    """
    if data.streaming:
        raise TypeError("find_data_problems scans whole splits; a streaming dataset cannot be scanned ahead")
    names = [name for name in data.splits if splits is None or name in splits]
    problems: list[DataProblem] = []
    reference = "train" if "train" in data.splits else data.splits[0]
    problems += _text_problems(data, reference, declared)
    for name in names:
        split = data[name]
        if len(split) == 0:
            continue
        shown = "train" if name == "validation" and data.validation_from_train else name
        ids = _arrow_table(split, [data.row_id_column]).column(data.row_id_column).to_numpy(zero_copy_only=False)
        empty = rows_without_modalities(split, data.modalities)
        if empty:
            problems.append(DataProblem("no_modality", shown, None, _sorted_ids(ids, empty)))
        for column, spec in data.modalities.items():
            if spec["type"] == "dense":
                bad = _non_finite_rows(split, column)
                if bad:
                    problems.append(DataProblem("nan", shown, column, _sorted_ids(ids, bad)))
        if name != reference and shown == name:
            problems += _unseen_label_problems(data, reference, name, ids)
    return problems


def _sorted_ids(ids: np.ndarray, positions: list[int]) -> list[int]:
    return sorted(int(i) for i in ids[positions])


def _non_finite_rows(split, column: str) -> list[int]:
    """Positions of the rows whose present vector holds NaN or an infinite value."""
    values = _arrow_table(split, [column]).column(column).combine_chunks()
    if isinstance(values, pa.ChunkedArray):  # an empty table combines to a chunked array
        return []
    flat = pc.list_flatten(values)
    if not pa.types.is_floating(flat.type):
        return []
    bad = pc.invert(pc.is_finite(flat)).fill_null(False)
    parents = pc.list_parent_indices(values).to_numpy(zero_copy_only=False)
    return np.unique(parents[bad.to_numpy(zero_copy_only=False)]).tolist()


def _labels(split, column: str) -> np.ndarray:
    """The label column as floats, NaN where None."""
    labels = _arrow_table(split, [column]).column(column)
    return pc.cast(labels, pa.float64()).to_numpy(zero_copy_only=False)


def _unseen_label_problems(data: MultimodalDataset, reference: str, name: str, ids: np.ndarray) -> list[DataProblem]:
    column = data.label_column
    split = data[name]
    if data.problem_type != "single_label_classification" or column is None or column not in split.column_names:
        return []
    if split.features[column] != data[reference].features[column]:
        return []  # labels stored otherwise (e.g. the names of a prediction file): echoed, not learned from
    seen = set(_labels(data[reference], column).tolist())
    labels = _labels(split, column)
    problems = []
    for label in sorted({int(v) for v in labels[~np.isnan(labels)]} - seen):
        rows = np.flatnonzero(labels == label).tolist()
        shown = data.id2label.get(label, label) if data.id2label else label
        problems.append(DataProblem("unseen_label", name, column, _sorted_ids(ids, rows), repr(shown)))
    return problems


def _text_problems(data: MultimodalDataset, reference: str, declared: Collection[str]) -> list[DataProblem]:
    """Text columns whose values are numbers: vectors or numbers stored as strings."""
    problems = []
    for column, spec in data.modalities.items():
        if spec["type"] != "text" or column in declared:
            continue
        values = _arrow_table(data[reference], [column]).column(column)
        lengths, example = set(), None
        for value in pc.drop_null(values).to_pylist()[:MAX_TEXT_VALUES]:
            if is_missing_marker(value):
                continue
            parsed = parse_number_list(value)
            if parsed is None:
                break
            lengths.add(len(parsed))
            example = example or value
        else:
            if lengths:
                kind = "vector_strings" if max(lengths) > 1 else "numeric_strings"
                shown = example if len(example) <= 40 else example[:40] + "..."  # a vector's start is enough
                problems.append(DataProblem(kind, reference, column, [], repr(shown)))
    return problems
