"""Pre-flight scan of a loaded dataset: the data problems that would otherwise surface late, as tracebacks.

`find_data_problems` reads every split once, before anything is fitted or trained, and returns every problem found
with the ids of the rows concerned (the `row_id` column: the row's 0-based position in its file or split as
stored when the data has no id column of its own, so the numbers are those of the user's file, before any shuffle
or split; rows of a validation split carved from train are reported as rows of `train`). `ROW_CONVENTION` says so
in words, for messages. It raises nothing: the caller words the remedy (the training script names its flags).

Problems (`DataProblem.kind`), each something the processor or the collator would otherwise refuse mid-run:
- `"nan"`: a present dense vector holds NaN, an infinite value or a null element (pandas writes a NaN inside a list
  to parquet as a null element).
- `"wrong_type"`: a modality column of a split whose feature is not the modality's type (e.g. strings in a dense
  column of the test split only).
- `"no_modality"`: a row with every modality missing (the model needs one).
- `"missing_label"`: a row of a labelled split without a label (None, or NaN for regression).
- `"unseen_label"`: a class of an evaluation split that no training row has (it could never be predicted).
- `"vector_strings"`: a text column whose values all parse as lists of numbers (vectors stored as strings, CSV).
- `"numeric_strings"`: a text column whose values all parse as single numbers (a number column with a `?`).
- `"mostly_numeric_strings"`: a text column of which more than half the values are numbers and the others
  placeholders (`"unknown"` in a number column): read as text, a transformer would be fine-tuned on numbers.
"""

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .column_types import is_missing_marker, parse_number_list
from .loading import MultimodalDataset, rows_without_modalities
from .schema import _arrow_table, _matches_type

__all__ = ["ROW_CONVENTION", "DataProblem", "find_data_problems", "format_rows"]

# How every message of the pre-flight check (and the loader's warnings) numbers rows.
ROW_CONVENTION = (
    "rows are numbered as in your file or split as stored: 0-based, the header line not counted (row 0 is the first "
    "data row), or by the data's own id column when it has one"
)
# Text columns are scanned up to this many present values; a column that is clearly text ends the scan early.
MAX_TEXT_VALUES = 10_000
_EARLY_TEXT_VALUES = 200  # after this many values, a column with fewer than half numbers is text
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
        facts (`dict`, defaults to `{}`): what else a message needs, by kind: `expected` and `found` (the modality
            type and the feature of a `"wrong_type"` column), `numbers` and `values` (how many of the values scanned
            are numbers, of how many) and `placeholders` (`{value: rows}`: the values that are not numbers, or the
            missing markers, of a text column that holds numbers).
    """

    kind: str
    split: str
    column: str | None = None
    rows: list[int] = field(default_factory=list)
    detail: str = ""
    facts: dict = field(default_factory=dict)


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
            feature = split.features[column]
            if not _matches_type(feature, spec["type"]):
                facts = {"expected": spec["type"], "found": str(feature)}
                problems.append(DataProblem("wrong_type", shown, column, facts=facts))
            elif spec["type"] == "dense":
                bad = _non_finite_rows(split, column)
                if bad:
                    problems.append(
                        DataProblem("nan", shown, column, _sorted_ids(ids, bad), facts={"dim": spec["dim"]})
                    )
        unlabelled = _rows_without_label(data, split)
        if unlabelled:
            problems.append(DataProblem("missing_label", shown, data.label_column, _sorted_ids(ids, unlabelled)))
        if name != reference and shown == name:
            problems += _unseen_label_problems(data, reference, name, ids)
    return problems


def _sorted_ids(ids: np.ndarray, positions: list[int]) -> list[int]:
    return sorted(int(i) for i in ids[positions])


def _non_finite_rows(split, column: str) -> list[int]:
    """Positions of the rows whose present vector holds NaN, an infinite value or a null element (a missing vector,
    None as a whole, is fine)."""
    values = _arrow_table(split, [column]).column(column).combine_chunks()
    if isinstance(values, pa.ChunkedArray):  # an empty table combines to a chunked array
        return []
    return _rows_with_bad_elements(values).tolist()


def _rows_with_bad_elements(values: pa.Array) -> np.ndarray:
    """Positions of the rows of a list array that hold a NaN, an infinite value or a null element."""
    flat = pc.list_flatten(values)
    if pa.types.is_floating(flat.type):
        bad = pc.invert(pc.is_finite(flat)).fill_null(True)  # is_finite(null) is null: a null element is bad
    else:
        bad = pc.is_null(flat)
    parents = pc.list_parent_indices(values).to_numpy(zero_copy_only=False)
    return np.unique(parents[bad.to_numpy(zero_copy_only=False)])


def _rows_without_label(data: MultimodalDataset, split) -> list[int]:
    """Positions of the rows without a label in a split whose other rows have one (the collator refuses a batch
    that mixes them): None, or a non-finite regression target."""
    column = data.label_column
    if column is None or data.problem_type is None or column not in split.column_names:
        return []
    labels = _arrow_table(split, [column]).column(column).combine_chunks()
    if isinstance(labels, pa.ChunkedArray) or labels.null_count == len(labels):
        return []  # empty, or unlabelled as a whole (e.g. a prediction file without labels)
    missing = labels.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_floating(labels.type):
        missing |= ~pc.is_finite(labels).fill_null(True).to_numpy(zero_copy_only=False)
    elif pa.types.is_list(labels.type) or pa.types.is_large_list(labels.type):
        missing[_rows_with_bad_elements(labels)] = True
    return np.flatnonzero(missing).tolist()


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
    """Text columns of which more than half the values are numbers: vectors or numbers stored as strings (all of
    them, apart from missing markers such as `?` or `unknown`), or numbers mixed with other placeholders."""
    problems = []
    for column, spec in data.modalities.items():
        if spec["type"] != "text" or column in declared:
            continue
        # The rows of the user's training file: a validation split carved from it included.
        carved = ["validation"] if data.validation_from_train and reference == "train" else []
        values, ids = [], []
        for name in [reference, *carved]:
            table = _arrow_table(data[name], [column, data.row_id_column])
            values += table.column(column).to_pylist()
            ids += table.column(data.row_id_column).to_pylist()
        scan = _scan_text(values, ids)
        if scan is None:
            continue
        lengths, example, markers, others, numbers, seen = scan
        shown = example if len(example) <= 40 else example[:40] + "..."  # a vector's start is enough
        facts = {"numbers": numbers, "values": seen}
        others, markers = ({value: sorted(rows) for value, rows in found.items()} for found in (others, markers))
        if others:
            rows = sorted(row for rows in others.values() for row in rows)
            facts["placeholders"] = others
            problems.append(DataProblem("mostly_numeric_strings", reference, column, rows, repr(shown), facts))
        else:
            facts["placeholders"] = markers
            kind = "vector_strings" if max(lengths) > 1 else "numeric_strings"
            problems.append(DataProblem(kind, reference, column, [], repr(shown), facts))
    return problems


def _scan_text(values: list, ids: list):
    """(vector lengths, an example, missing markers and other non-numbers as `{value: rows}`, numbers, values
    scanned) of a text column of which more than half the values scanned are numbers; None for a text column."""
    lengths, example, markers, others, seen, numbers = set(), None, {}, {}, 0, 0
    for value, row in zip(values, ids):
        if value is None or not value.strip():
            continue
        if is_missing_marker(value):
            markers.setdefault(value, []).append(row)
            continue
        seen += 1
        parsed = parse_number_list(value)
        if parsed is None:
            others.setdefault(value, []).append(row)
        else:
            numbers += 1
            lengths.add(len(parsed))
            example = example or value
        if seen >= MAX_TEXT_VALUES or (seen >= _EARLY_TEXT_VALUES and 2 * numbers < seen):
            break
    if not lengths or 2 * numbers <= seen:
        return None  # text (or empty): not more than half of it is numbers
    return lengths, example, markers, others, numbers, seen
