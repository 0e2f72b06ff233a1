"""Schema inference for multimodal datasets: modality types from `datasets` features, label analysis, dense dims,
packing of scalar columns. Used by `processing.loading`; the rules are listed in that module's docstring.
"""

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import ClassLabel, Dataset, DatasetDict, Features, IterableDataset, IterableDatasetDict, Value

from modeling_cldmdf.configuration_cldmdf import MODALITY_TYPES

logger = logging.getLogger(__name__)

PROBLEM_TYPES = ("single_label_classification", "multi_label_classification", "regression")
ID_COLUMN_NAMES = ("row_id", "id", "idx")
LABEL_COLUMN_NAMES = ("label", "labels", "target", "y", "class")
VALIDATION_SPLIT_ALIASES = ("validation", "valid", "val", "dev")
TABULAR_MODALITY = "tabular"
ROW_ID_COLUMN = "row_id"
# Streaming splits whose features are unknown (CSV) or whose vector length is not in the features are resolved from
# this many leading examples.
PEEK_EXAMPLES = 100
FILE_BUILDERS = {".parquet": "parquet", ".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json"}

FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
NUMERIC_DTYPES = FLOAT_DTYPES + INT_DTYPES + ("bool",)
STRING_DTYPES = ("string", "large_string")
SUPPORTED_FEATURES = (
    "dense: List/Sequence/LargeList of Value('float16'|'float32'|'float64') with one length; "
    "text: Value('string'|'large_string'); image: Image() or a {'bytes', 'path'} struct; "
    f"scalar Value int/float/bool columns are packed into one dense modality {TABULAR_MODALITY!r}"
)

AnyDatasetDict = Union[DatasetDict, IterableDatasetDict]
AnyDataset = Union[Dataset, IterableDataset]
# datasets>=4 has `List`; in datasets 3 `Sequence` plays its role.
_LIST_TYPES = tuple(t for t in (getattr(datasets, "List", None), datasets.Sequence) if t is not None)
_LARGE_LIST = getattr(datasets, "LargeList", None)


def _float_vector(length: int) -> Any:
    """Feature of a fixed-length float32 vector (`List` in datasets>=4, `Sequence` before)."""
    return _LIST_TYPES[0](Value("float32"), length=length)


def _list_parts(feature: Any) -> tuple[Any, int] | None:
    """(inner feature, fixed length or -1) of a list feature, else None."""
    if _LARGE_LIST is not None and isinstance(feature, _LARGE_LIST):
        return feature.feature, -1
    if isinstance(feature, _LIST_TYPES) and not isinstance(feature.feature, dict):
        return feature.feature, feature.length
    if isinstance(feature, list) and len(feature) == 1:
        return feature[0], -1
    return None


def _value_dtype(feature: Any) -> str | None:
    return feature.dtype if isinstance(feature, Value) else None


def _is_image(feature: Any) -> bool:
    return isinstance(feature, datasets.Image) or (isinstance(feature, dict) and set(feature) == {"bytes", "path"})


def _is_class_label_like(feature: Any) -> bool:
    parts = _list_parts(feature)
    return isinstance(feature, ClassLabel) or (parts is not None and isinstance(parts[0], ClassLabel))


def _auto_kind(feature: Any) -> str | None:
    """'dense' | 'text' | 'image' | 'scalar' for a column the inference accepts, else None."""
    if _is_image(feature):
        return "image"
    dtype = _value_dtype(feature)
    if dtype in STRING_DTYPES:
        return "text"
    if dtype in NUMERIC_DTYPES:
        return "scalar"
    parts = _list_parts(feature)
    if parts is not None and _value_dtype(parts[0]) in FLOAT_DTYPES:
        return "dense"
    return None


def _matches_type(feature: Any, modality_type: str) -> bool:
    if modality_type == "image":
        return _is_image(feature)
    if modality_type == "text":
        return _value_dtype(feature) in STRING_DTYPES
    parts = _list_parts(feature)
    # An explicitly named dense column may hold integers or booleans too (they are read as floats).
    return parts is not None and _value_dtype(parts[0]) in NUMERIC_DTYPES


# ----------------------------------------------------------------------------------------------------------------
# Label, id and modality columns


def _find_label_column(features: Features, label_column: str | None, require_labels: bool) -> str | None:
    if label_column is not None:
        if label_column not in features:
            raise ValueError(f"label_column={label_column!r} is not a column; columns found: {list(features)}.")
        return label_column
    class_label_columns = [c for c, f in features.items() if _is_class_label_like(f) and c not in ID_COLUMN_NAMES]
    if len(class_label_columns) == 1:
        return class_label_columns[0]
    named = [c for c in LABEL_COLUMN_NAMES if c in features]
    preferred = [c for c in named if c in class_label_columns] or named
    if preferred:
        return preferred[0]
    if class_label_columns:
        raise ValueError(
            f"label_column=None is ambiguous: several ClassLabel columns {class_label_columns}; pass label_column."
        )
    if require_labels:
        raise ValueError(
            f"label_column=None and no label column found: no ClassLabel column and none named one of "
            f"{list(LABEL_COLUMN_NAMES)}; columns found: {list(features)}. Pass label_column, or "
            "require_labels=False for unlabeled data."
        )
    return None


def _find_row_id_column(features: Features) -> str | None:
    for name in ID_COLUMN_NAMES:
        if name in features and _value_dtype(features[name]) in INT_DTYPES:
            return name
    if ROW_ID_COLUMN in features:
        raise ValueError(
            f"column {ROW_ID_COLUMN!r} must hold integers (stable row ids); found feature {features[ROW_ID_COLUMN]}."
        )
    return None


def _resolve_modalities(
    features: Features, modalities: Any, reserved: set[str | None], split: str
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Modality specs by name (dense dims still unknown) and the scalar columns packed into each dense name."""
    if modalities is None:
        specs, packed = _infer_modalities(features, reserved, split)
    else:
        specs, packed = _explicit_modalities(features, modalities, reserved, split)
    if not specs:
        raise ValueError(
            f"modalities={modalities!r} leaves no modality column in split {split!r}: columns found "
            f"{list(features)}, of which label/id columns {sorted(c for c in reserved if c)}; supported: "
            f"{SUPPORTED_FEATURES}."
        )
    return specs, packed


# Why a column's feature gives its modality type (the log line of each inferred column).
_WHY = {
    "image": "an Image feature or a {bytes, path} struct",
    "text": "strings; --modality_types COLUMN=dense reads numbers or vectors stored as strings",
    "dense": "a list of floats",
    "scalar": "one number per row",
}


def _infer_modalities(
    features: Features, reserved: set[str | None], split: str
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    specs: dict[str, dict[str, Any]] = {}
    scalars: list[str] = []
    for column, feature in features.items():
        if column in reserved:
            continue
        kind = _auto_kind(feature)
        if kind is None:
            _raise_unsupported(column, feature, split)
        if kind == "scalar":
            scalars.append(column)
        else:
            specs[column] = {"type": kind}
            logger.info(f"column {column!r}: {kind} modality, inferred from its feature {feature} ({_WHY[kind]})")
    if scalars:
        logger.info(
            f"columns {scalars}: packed into one dense modality {TABULAR_MODALITY!r}, inferred from their features "
            f"({_WHY['scalar']})"
        )
    if not scalars:
        return specs, {}
    if TABULAR_MODALITY in features:
        raise ValueError(
            f"scalar columns {scalars} would be packed into a dense modality {TABULAR_MODALITY!r}, but a column of "
            f"that name exists; pass modalities=... with a dense spec giving 'columns'."
        )
    specs[TABULAR_MODALITY] = {"type": "dense"}
    return specs, {TABULAR_MODALITY: scalars}


def _raise_unsupported(column: str, feature: Any, split: str) -> None:
    # A column built in memory from nothing but None has the null type: say so rather than "unsupported".
    why = " (it is None in every row, so its type is unknown)" if _value_dtype(feature) == "null" else ""
    raise ValueError(
        f"column {column!r} of split {split!r} has unsupported feature {feature}{why}; supported: "
        f"{SUPPORTED_FEATURES}. Store one type in every row of it (a JSON column mixing lists and numbers is read "
        f"as raw JSON), or leave it out: drop it from the files for train_accelerate.py, or pass modalities=... "
        f"naming the modality columns in Python."
    )


def _explicit_modalities(
    features: Features, modalities: Any, reserved: set[str | None], split: str
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    if isinstance(modalities, str) or not isinstance(modalities, (Mapping, Sequence)):
        raise TypeError(
            f"modalities={modalities!r} is not allowed; pass a mapping {{name: spec}} or a list of column names."
        )
    if not isinstance(modalities, Mapping):
        modalities = {name: _spec_from_feature(features, name, split) for name in modalities}
    specs: dict[str, dict[str, Any]] = {}
    packed: dict[str, list[str]] = {}
    for name, spec in modalities.items():
        if not isinstance(spec, Mapping) or spec.get("type") not in MODALITY_TYPES:
            got = spec.get("type") if isinstance(spec, Mapping) else spec
            raise ValueError(
                f"modalities[{name!r}] has type {got!r}; allowed types: {list(MODALITY_TYPES)} "
                f"(column feature: {features.get(name, 'absent')})."
            )
        spec = dict(spec)
        if "columns" in spec:
            packed[name] = _check_packed_spec(features, name, spec, reserved)
            spec.pop("columns")
        elif name not in features:
            raise ValueError(
                f"modalities names column {name!r}, absent from split {split!r}; columns found: {list(features)}."
            )
        elif name in reserved:
            raise ValueError(f"modalities names {name!r}, which is the label or an id column; pick other columns.")
        elif not _matches_type(features[name], spec["type"]):
            raise ValueError(
                f"modalities[{name!r}] has type {spec['type']!r} but column {name!r} has feature {features[name]}; "
                f"supported: {SUPPORTED_FEATURES}."
            )
        specs[name] = spec
        logger.info(f"column {name!r}: {spec['type']} modality, as given in modalities")
    return specs, packed


def _spec_from_feature(features: Features, name: str, split: str) -> dict[str, Any]:
    if name not in features:
        raise ValueError(
            f"modalities names column {name!r}, absent from split {split!r}; columns found: {list(features)}."
        )
    kind = _auto_kind(features[name])
    if kind in (None, "scalar"):
        _raise_unsupported(name, features[name], split)
    return {"type": kind}


def _check_packed_spec(features: Features, name: str, spec: dict[str, Any], reserved: set[str | None]) -> list[str]:
    columns = spec["columns"]
    if spec["type"] != "dense" or isinstance(columns, str) or not isinstance(columns, Sequence) or not columns:
        raise ValueError(
            f"modalities[{name!r}]['columns']={columns!r} is not allowed; 'columns' takes a non-empty list of scalar "
            "numeric columns and only for type 'dense'."
        )
    if name in features:
        raise ValueError(f"modalities[{name!r}] packs columns but {name!r} is already a column; use another name.")
    for column in columns:
        if column not in features or column in reserved or _value_dtype(features[column]) not in NUMERIC_DTYPES:
            found = features[column] if column in features else "absent"
            raise ValueError(
                f"modalities[{name!r}]['columns'] names {column!r} ({found}); each must be a scalar Value int/float/"
                f"bool column that is not the label or an id; columns found: {list(features)}."
            )
    return list(columns)


def _check_columns_in_every_split(splits: Mapping[str, AnyDataset], specs: Mapping[str, Any]) -> None:
    for split_name, split in splits.items():
        for name in specs:
            if name not in split.features:
                raise ValueError(
                    f"modality column {name!r} is absent from split {split_name!r}; columns found: "
                    f"{list(split.features)}."
                )
            if not _matches_type(split.features[name], specs[name]["type"]):
                raise ValueError(
                    f"modality column {name!r} is a {specs[name]['type']} modality but has feature "
                    f"{split.features[name]} in split {split_name!r}; store it as in the other splits (supported: "
                    f"{SUPPORTED_FEATURES})."
                )


# ----------------------------------------------------------------------------------------------------------------
# Column transforms: packing, image structs, dims, nulls


def _pack_batch(batch: dict[str, list], columns: list[str], name: str) -> dict[str, list]:
    vectors = []
    for cells in zip(*(batch[c] for c in columns)):
        absent = [v is None or (isinstance(v, float) and math.isnan(v)) for v in cells]
        if all(absent):
            vectors.append(None)
        elif any(absent):
            gaps = [c for c, a in zip(columns, absent) if a]
            raise ValueError(
                f"dense modality {name!r} packs columns {columns}; a row has {gaps} missing but not the others. "
                "A dense vector is present or missing as a whole: impute those cells or make them separate modalities."
            )
        else:
            vectors.append([float(v) for v in cells])
    return {name: vectors}


def _pack_scalar_columns(
    splits: dict[str, AnyDataset], packed: Mapping[str, list[str]], streaming: bool
) -> dict[str, AnyDataset]:
    for name, columns in packed.items():
        for split_name, split in splits.items():
            absent = [c for c in columns if c not in split.features]
            if absent:
                raise ValueError(
                    f"columns {absent} packed into {name!r} are absent from split {split_name!r}; columns found: "
                    f"{list(split.features)}."
                )
            features = Features({c: f for c, f in split.features.items() if c not in columns})
            features[name] = _float_vector(len(columns))
            kwargs = {} if streaming else {"desc": f"Packing {name}"}
            splits[split_name] = split.map(
                _pack_batch,
                batched=True,
                fn_kwargs={"columns": list(columns), "name": name},
                remove_columns=list(columns),
                features=features,
                **kwargs,
            )
    return splits


def _cast_image_structs(split: AnyDataset, specs: Mapping[str, Any]) -> AnyDataset:
    for name, spec in specs.items():
        if spec["type"] == "image" and not isinstance(split.features[name], datasets.Image):
            split = split.cast_column(name, datasets.Image())
    return split


def _arrow_table(split: Dataset, columns: list[str]) -> pa.Table:
    # Slicing through the arrow format applies an indices mapping (after select/shuffle); without one it is zero-copy.
    return split.select_columns(columns).with_format("arrow")[0 : len(split)]


def _dense_lengths(split: AnyDataset, split_name: str, column: str, streaming: bool) -> set[int]:
    parts = _list_parts(split.features[column])
    if parts is not None and parts[1] > 0:
        return {parts[1]}
    if streaming:
        for example in itertools.islice(split.select_columns([column]), PEEK_EXAMPLES):
            if example[column] is not None:
                return {len(example[column])}
        raise ValueError(
            f"dense column {column!r} of streaming split {split_name!r} has no fixed length in its features and is "
            f"None in its first {PEEK_EXAMPLES} examples; give modalities={{{column!r}: "
            "{'type': 'dense', 'dim': ...}}."
        )
    values = _arrow_table(split, [column]).column(column)
    return set(pc.unique(pc.drop_null(pc.list_value_length(values))).to_pylist())


def _odd_length_rows(split: Dataset, column: str) -> str:
    """Which rows break the commonest vector length, by 0-based position in the split as stored (the row ids of data
    without an id column; ids are added later)."""
    lengths = pc.list_value_length(_arrow_table(split, [column]).column(column)).to_numpy(zero_copy_only=False)
    lengths = lengths.astype(float)  # NaN for a missing vector
    present = ~np.isnan(lengths)
    common = int(np.bincount(lengths[present].astype(int)).argmax())
    odd = np.flatnonzero(present & (lengths != common))
    listed = odd[:10].tolist()
    more = f" and {len(odd) - 10} more" if len(odd) > 10 else ""
    return (
        f"most vectors have {common} numbers, the rows at 0-based positions {listed}{more} (header not counted) do not"
    )


def _resolve_dense_dims(
    splits: Mapping[str, AnyDataset], specs: dict[str, dict[str, Any]], streaming: bool
) -> dict[str, dict[str, Any]]:
    for name, spec in specs.items():
        if spec["type"] != "dense":
            continue
        dims: dict[str, set[int]] = {}
        for split_name, split in splits.items():
            if streaming and "dim" in spec and _list_parts(split.features[name])[1] <= 0:
                continue  # trust the given dim rather than reading the stream
            dims[split_name] = _dense_lengths(split, split_name, name, streaming)
            if len(dims[split_name]) > 1:
                raise ValueError(
                    f"dense column {name!r} has vectors of lengths {sorted(dims[split_name])} in split "
                    f"{split_name!r}; a dense modality needs one length: {_odd_length_rows(split, name)}."
                )
        found = {s: d.pop() for s, d in dims.items() if d}
        if len(set(found.values())) > 1:
            raise ValueError(
                f"dense column {name!r} has different dims across splits: {found}; all splits need one dim."
            )
        if "dim" in spec and found and spec["dim"] != next(iter(found.values())):
            raise ValueError(f"modalities[{name!r}]['dim']={spec['dim']!r} but the data has dims {found}.")
        if found:
            spec["dim"] = next(iter(found.values()))
        elif "dim" not in spec:
            raise ValueError(f"dense column {name!r} is None in every row of every split; its dim is unknown.")
    return specs


def _check_not_all_null(splits: Mapping[str, Dataset], specs: Mapping[str, Any]) -> None:
    for split_name, split in splits.items():
        if len(split) == 0:
            continue
        table = _arrow_table(split, list(specs))
        for name in specs:
            if table.column(name).null_count == len(split):
                raise ValueError(
                    f"modality column {name!r} is None in every row of split {split_name!r} ({len(split)} rows); "
                    "drop it from the modalities or fill it."
                )


def _resolve_streaming_features(split: IterableDataset, split_name: str, modalities: Any) -> IterableDataset:
    """Give a streaming split features, from its first examples when the source does not declare them (CSV)."""
    if split.features is not None:
        return split
    head = list(itertools.islice(split, PEEK_EXAMPLES))
    if not head:
        raise ValueError(f"streaming split {split_name!r} is empty and declares no features; cannot infer a schema.")
    features = Features.from_arrow_schema(pa.Table.from_pylist(head).schema)
    declared = {"text": Value("string"), "image": datasets.Image()}
    for column, feature in list(features.items()):
        if _value_dtype(feature) != "null":
            continue
        if modalities is not None and column not in modalities:
            continue  # not a modality column: its type does not matter here
        spec = modalities.get(column) if isinstance(modalities, Mapping) else None
        if isinstance(spec, Mapping) and spec.get("type") == "dense" and "dim" in spec:
            features[column] = _float_vector(spec["dim"])
        elif isinstance(spec, Mapping) and spec.get("type") in declared:
            features[column] = declared[spec["type"]]
        else:
            raise ValueError(
                f"streaming split {split_name!r} declares no features and column {column!r} is None in its first "
                f"{len(head)} examples, so its type is unknown; name it in modalities with its type (and 'dim' for "
                "dense), or load without streaming."
            )
    return split.cast(features)


# ----------------------------------------------------------------------------------------------------------------
# Labels


@dataclass
class _LabelInfo:
    problem_type: str | None = None
    num_labels: int | None = None
    names: list[str] = field(default_factory=list)
    transform: str | None = None  # "class_encode" | "multi_hot"


def _label_values(splits: Mapping[str, Dataset], column: str) -> pa.ChunkedArray:
    """The label column of every split as one array (splits read from different files may differ in int width)."""
    arrays = [_arrow_table(split, [column]).column(column) for split in splits.values()]
    return pa.chunked_array([c for a in arrays for c in a.cast(arrays[0].type).chunks], type=arrays[0].type)


def _match_label_types(splits: dict[str, AnyDataset], column: str, reference: str) -> dict[str, AnyDataset]:
    """Splits whose labels are stored as integers where the reference split's are strings, or the other way round
    (a test file written by another tool: `1` and `"1"`), matched by value to the reference split's type, with a
    warning that says what was matched; labels that cannot be matched (`"one"` for integers) raise.

    Without it the strings would be encoded as class names and the integers taken as class ids: a silent shift."""
    ref = splits[reference].features[column]
    ref_dtype = _value_dtype(ref)
    for name, split in splits.items():
        feature = split.features[column]
        dtype = _value_dtype(feature)
        if name == reference or feature == ref or isinstance(split, IterableDataset):
            continue
        values = sorted(pc.unique(pc.drop_null(_arrow_table(split, [column]).column(column))).to_pylist())
        if ref_dtype in INT_DTYPES and dtype in STRING_DTYPES:
            bad = [value for value in values if not value.strip().lstrip("+-").isdigit()]
            if bad:
                raise ValueError(
                    f"label_column={column!r} holds integers in split {reference!r} ({ref}) but strings in split "
                    f"{name!r}, of which {bad[:5]} are not integers; store the labels with one type in every split."
                )
            target, matched = ref, {value: int(value) for value in values}
        elif ref_dtype in STRING_DTYPES and (dtype in INT_DTYPES or dtype == "bool"):
            target, matched = Value("string"), {value: str(value) for value in values}
        elif isinstance(ref, ClassLabel) and dtype in STRING_DTYPES:
            unknown = [value for value in values if value not in ref.names]
            if unknown:
                raise ValueError(
                    f"label_column={column!r} is a ClassLabel with names {ref.names} in split {reference!r} but holds "
                    f"the strings {unknown[:5]} in split {name!r}; use the class names of split {reference!r}."
                )
            target, matched = ref, {value: f"{ref.str2int(value)} ({value!r})" for value in values}
        else:
            continue
        shown = ", ".join(f"{key!r} -> {value!r}" for key, value in list(matched.items())[:10])
        logger.warning(
            f"label_column={column!r} is stored as {feature} in split {name!r} but as {ref} in split {reference!r}: "
            f"matched by value to split {reference!r}'s type ({shown}); check that these are the same classes."
        )
        splits[name] = split.cast_column(column, target)
    return splits


def _analyze_labels(
    splits: Mapping[str, AnyDataset], column: str, problem_type: str | None, num_labels: int | None, streaming: bool
) -> _LabelInfo:
    feature = next(iter(splits.values())).features[column]
    parts = _list_parts(feature)
    dtype = _value_dtype(feature)
    found = f"label_column={column!r} has feature {feature}"
    if isinstance(feature, ClassLabel):
        info = _LabelInfo("single_label_classification", feature.num_classes, list(feature.names))
    elif dtype in STRING_DTYPES:
        if streaming:
            raise ValueError(
                f"{found}: string labels need a scan of every split; load without streaming or store "
                "the column as ClassLabel."
            )
        names = sorted(pc.unique(pc.drop_null(_label_values(splits, column))).to_pylist())
        info = _LabelInfo("single_label_classification", len(names), names, "class_encode")
    elif (dtype in INT_DTYPES or dtype == "bool") and problem_type == "regression":
        info = _LabelInfo("regression", 1)
    elif dtype in INT_DTYPES or dtype == "bool":
        info = _LabelInfo("single_label_classification", _count_int_classes(splits, column, num_labels, streaming))
    elif dtype in FLOAT_DTYPES:
        info = _LabelInfo("regression", 1)
    elif parts is not None and isinstance(parts[0], ClassLabel):
        info = _LabelInfo("multi_label_classification", parts[0].num_classes, list(parts[0].names), "multi_hot")
    elif parts is not None and _value_dtype(parts[0]) in NUMERIC_DTYPES:
        info = _analyze_list_labels(splits, column, parts, streaming)
    else:
        raise ValueError(
            f"{found}; supported labels: ClassLabel, Value int/bool/string (single-label), Value float (regression), "
            "lists of 0/1 or of ClassLabel (multi-label), lists of floats (multi-target regression)."
        )
    if problem_type is not None and problem_type != info.problem_type:
        if problem_type == "regression" and info.transform is None and info.problem_type.startswith("multi"):
            info = _LabelInfo("regression", info.num_labels)
        else:
            raise ValueError(
                f"problem_type={problem_type!r} does not fit the labels: {found}, read as {info.problem_type!r}."
            )
    return info


def _count_int_classes(splits: Mapping[str, AnyDataset], column: str, num_labels: int | None, streaming: bool) -> int:
    if streaming:
        if num_labels is None:
            raise ValueError(
                f"label_column={column!r} holds plain integers in streaming mode, so the number of classes is unknown "
                "without reading every split; pass num_labels=... or store the column as ClassLabel."
            )
        return num_labels
    values = pc.drop_null(_label_values(splits, column))
    if len(values) == 0:
        raise ValueError(f"label_column={column!r} is None in every row; no classes to learn.")
    low, high = (int(v) for v in pc.min_max(values).values())
    if low < 0:
        raise ValueError(f"label_column={column!r} holds {low}; class labels must be integers in [0, num_labels).")
    if num_labels is not None and num_labels <= high:
        raise ValueError(f"num_labels={num_labels} is too small: label_column={column!r} holds class {high}.")
    return num_labels or high + 1


def _analyze_list_labels(
    splits: Mapping[str, AnyDataset], column: str, parts: tuple[Any, int], streaming: bool
) -> _LabelInfo:
    if streaming:
        head = [
            ex[column]
            for ex in itertools.islice(next(iter(splits.values())).select_columns([column]), PEEK_EXAMPLES)
            if ex[column] is not None
        ]
        lengths = {len(v) for v in head} | ({parts[1]} if parts[1] > 0 else set())
        values = {float(x) for v in head for x in v}
    else:
        labels = _label_values(splits, column)
        lengths = set(pc.unique(pc.drop_null(pc.list_value_length(labels))).to_pylist())
        values = set(pc.unique(pc.list_flatten(labels)).to_pylist())
    if len(lengths) != 1:
        raise ValueError(
            f"label_column={column!r} holds label vectors of lengths {sorted(lengths)}; multi-label and multi-target "
            "labels need one length (a multi-hot vector per row)."
        )
    size = lengths.pop()
    if all(v in (0, 1) for v in values):  # 0/1, 0.0/1.0 and False/True all compare equal
        return _LabelInfo("multi_label_classification", size)
    return _LabelInfo("regression", size)


def _multi_hot_batch(batch: dict[str, list], column: str, num_labels: int) -> dict[str, list]:
    vectors = []
    for indices in batch[column]:
        if indices is None:
            vectors.append(None)
            continue
        vector = [0.0] * num_labels
        for index in indices:
            vector[index] = 1.0
        vectors.append(vector)
    return {column: vectors}


def _transform_labels(splits: dict[str, AnyDataset], column: str, info: _LabelInfo) -> dict[str, AnyDataset]:
    for name, split in splits.items():
        if info.transform == "class_encode":
            splits[name] = split.cast_column(column, ClassLabel(names=info.names))
        elif info.transform == "multi_hot":
            features = split.features.copy()
            features[column] = _float_vector(info.num_labels)
            splits[name] = split.map(
                _multi_hot_batch,
                batched=True,
                fn_kwargs={"column": column, "num_labels": info.num_labels},
                features=features,
            )
    return splits


# ----------------------------------------------------------------------------------------------------------------
# Row ids
