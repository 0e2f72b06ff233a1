"""Load a multimodal dataset (Hub repo, Hub-layout folder, local files) and infer its modality schema.

One column per modality, a label column and an optional row id column: `load_multimodal_dataset` returns the splits
plus the schema the model config and the collator need (`modalities` in the model-config spec format, problem type,
number of labels, label names, row id column). Inference rules, in order:

- ids: columns named `row_id`, `id` or `idx` are never modalities. The first of them holding integers is the row id
  column; without one, a `row_id` int64 column is added (position in the split as stored; in streaming mode a hash
  of the row's content, because stream positions change with sharding across workers and nodes).
- label: `label_column`, else the only `ClassLabel` (or list-of-`ClassLabel`) column, else the first column named
  label/labels/target/y/class. ClassLabel and integers give single-label classification (integers: `max + 1`
  classes over all splits), strings are class-encoded (sorted names), floats give regression, lists of 0/1 give
  multi-label classification (a list of `ClassLabel` indices is turned into a multi-hot float vector).
- modalities: a list of floats (fixed length, or variable length with one length across the data) is `dense` with
  that `dim`; a string is `text`; an `Image()` (or a `{"bytes", "path"}` struct) is `image`; scalar numeric columns
  (int, float, bool) are packed, in column order, into one dense modality named `tabular` (a CSV's usual shape).
- splits: `valid`/`val`/`dev` become `validation`; without one, `validation_fraction` of train becomes it (seeded,
  stratified by label for single-label classification; hash of the row id in streaming mode).

Nothing is dropped: rows whose modalities are all missing are reported (`rows_without_modalities`) and left for the
collator to refuse or drop.
"""

import hashlib
import itertools
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import ClassLabel, Dataset, DatasetDict, Features, IterableDataset, IterableDatasetDict, Value
from datasets.exceptions import DatasetGenerationError

__all__ = [
    "ID_COLUMN_NAMES",
    "LABEL_COLUMN_NAMES",
    "MODALITY_TYPES",
    "PROBLEM_TYPES",
    "TABULAR_MODALITY",
    "VALIDATION_SPLIT_ALIASES",
    "MultimodalDataset",
    "load_multimodal_dataset",
    "prepare_multimodal_dataset",
    "rows_without_modalities",
]

logger = logging.getLogger(__name__)

MODALITY_TYPES = ("dense", "image", "text")
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


@dataclass
class MultimodalDataset:
    """Splits of a multimodal dataset together with the schema inferred from them.

    Args:
        dataset (`DatasetDict` or `IterableDatasetDict`):
            The splits; `validation` exists whenever `train` did (created when absent).
        modalities (`dict[str, dict]`):
            Modality specs in the model-config format, sorted by name: `{"type": "dense", "dim": int}`,
            `{"type": "text"}`, `{"type": "image"}` (plus any key the caller gave, e.g. `backbone`).
        label_column (`str`, *optional*):
            Column holding the labels; `None` for an unlabeled dataset (`require_labels=False`).
        problem_type (`str`, *optional*):
            One of `PROBLEM_TYPES`, as transformers' sequence classification heads use it.
        num_labels (`int`, *optional*):
            Number of classes (classification) or regression targets.
        id2label (`dict[int, str]`, *optional*):
            Class names when the data names them (ClassLabel or string labels).
        label2id (`dict[str, int]`, *optional*):
            Inverse of `id2label`.
        row_id_column (`str`, defaults to `"row_id"`):
            Integer column with a stable id per row (seeds evaluation-time missing patterns).
        streaming (`bool`, defaults to `False`):
            Whether the splits are `IterableDataset`s.
        packed_columns (`dict[str, list[str]]`, defaults to `{}`):
            For dense modalities packed from scalar columns: the source columns, in vector order.
    """

    dataset: AnyDatasetDict
    modalities: dict[str, dict[str, Any]]
    label_column: str | None
    problem_type: str | None
    num_labels: int | None
    id2label: dict[int, str] | None = None
    label2id: dict[str, int] | None = None
    row_id_column: str = ROW_ID_COLUMN
    streaming: bool = False
    packed_columns: dict[str, list[str]] = field(default_factory=dict)

    @property
    def modality_names(self) -> list[str]:
        """Modality names in the sorted order used by `modality_mask`."""
        return sorted(self.modalities)

    @property
    def splits(self) -> list[str]:
        return list(self.dataset)

    def __getitem__(self, split: str) -> AnyDataset:
        return self.dataset[split]

    def rows_without_modalities(self, split: str) -> list[int]:
        """Positions of the rows of `split` whose modalities are all missing (see `rows_without_modalities`)."""
        return rows_without_modalities(self.dataset[split], self.modalities)


def load_multimodal_dataset(
    name_or_path: str | os.PathLike | Mapping[str, str | Sequence[str]],
    *,
    config_name: str | None = None,
    revision: str | None = None,
    streaming: bool = False,
    label_column: str | None = None,
    modalities: Mapping[str, Mapping[str, Any]] | Sequence[str] | None = None,
    problem_type: str | None = None,
    num_labels: int | None = None,
    require_labels: bool = True,
    validation_fraction: float = 0.1,
    seed: int = 0,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> MultimodalDataset:
    """Load a dataset with one column per modality and infer its modality schema.

    Args:
        name_or_path (`str`, `os.PathLike` or `Mapping[str, str | list[str]]`):
            A Hub dataset repo id (`"user/name"`), a local folder in Hub layout (data files plus a README.md whose YAML
            `configs:` maps splits to files, or plain data files), a local `.parquet`/`.csv`/`.tsv`/`.json`/`.jsonl`
            file (loaded as the `train` split), or a `data_files` mapping `{split: path or paths or glob}`.
        config_name (`str`, *optional*):
            Dataset config (the `config_name` of the README `configs:` list).
        revision (`str`, *optional*):
            Branch, tag or commit of a Hub repo id.
        streaming (`bool`, defaults to `False`):
            Return `IterableDataset`s; the schema comes from the features (or the first examples when unknown).
        label_column (`str`, *optional*):
            Label column; inferred when not given (see the module docstring).
        modalities (`Mapping[str, Mapping]` or `Sequence[str]`, *optional*):
            Modality specs by name (`{"type": "dense"|"text"|"image", ...}`; `dim` is filled in and checked; a dense
            spec may give `"columns": [...]` to pack scalar columns into one vector), or just the column names to use.
            Default: every column that is neither label nor id.
        problem_type (`str`, *optional*):
            Overrides the inferred problem type; one of `PROBLEM_TYPES`.
        num_labels (`int`, *optional*):
            Number of classes for plain integer labels; required in streaming mode (the stream is not scanned).
        require_labels (`bool`, defaults to `True`):
            Raise when no label column is found; `False` allows unlabeled data (pre-training).
        validation_fraction (`float`, defaults to 0.1):
            Fraction of train that becomes the validation split when the dataset has none; 0 creates none.
        seed (`int`, defaults to 0):
            Seed of the validation split.
        token (`str` or `bool`, *optional*):
            Hub token, passed through to `datasets.load_dataset`.
        cache_dir (`str` or `os.PathLike`, *optional*):
            Cache folder for `datasets`.

    Returns:
        `MultimodalDataset`: the splits plus `modalities`, `label_column`, `problem_type`, `num_labels`,
        `id2label`/`label2id` and `row_id_column`.

    Example:

    >>> data = load_multimodal_dataset("path/to/hub_layout_folder")  # doctest: +SKIP
    >>> data.modalities  # doctest: +SKIP
    {'fou': {'type': 'dense', 'dim': 76}, 'photo': {'type': 'image'}, 'review_text': {'type': 'text'}}
    """
    raw = _load_raw(name_or_path, config_name, revision, streaming, token, cache_dir)
    return prepare_multimodal_dataset(
        raw,
        label_column=label_column,
        modalities=modalities,
        problem_type=problem_type,
        num_labels=num_labels,
        require_labels=require_labels,
        validation_fraction=validation_fraction,
        seed=seed,
    )


def prepare_multimodal_dataset(
    dataset: AnyDatasetDict | AnyDataset,
    *,
    label_column: str | None = None,
    modalities: Mapping[str, Mapping[str, Any]] | Sequence[str] | None = None,
    problem_type: str | None = None,
    num_labels: int | None = None,
    require_labels: bool = True,
    validation_fraction: float = 0.1,
    seed: int = 0,
) -> MultimodalDataset:
    """Infer and validate the modality schema of already loaded splits (what `load_multimodal_dataset` does after
    loading). A single `Dataset`/`IterableDataset` is taken as the `train` split.

    Args:
        dataset (`DatasetDict`, `IterableDatasetDict`, `Dataset` or `IterableDataset`):
            The splits.
        label_column, modalities, problem_type, num_labels, require_labels, validation_fraction, seed:
            As in `load_multimodal_dataset`.

    Returns:
        `MultimodalDataset`.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction={validation_fraction!r} is not allowed; use a number in [0, 1).")
    if problem_type is not None and problem_type not in PROBLEM_TYPES:
        raise ValueError(f"problem_type={problem_type!r} is not allowed; use one of {list(PROBLEM_TYPES)}.")
    if num_labels is not None and (not isinstance(num_labels, int) or num_labels < 1):
        raise ValueError(f"num_labels={num_labels!r} is not allowed; use a positive integer.")
    splits, streaming = _normalize_splits(dataset)
    if streaming:
        splits = {name: _resolve_streaming_features(split, name, modalities) for name, split in splits.items()}
    ref_name = "train" if "train" in splits else next(iter(splits))
    ref_features = splits[ref_name].features

    label_column = _find_label_column(ref_features, label_column, require_labels)
    for name, split in splits.items():
        if label_column is not None and label_column not in split.features:
            raise ValueError(
                f"label_column={label_column!r} is not a column of split {name!r}; "
                f"columns found: {list(split.features)}."
            )
    row_id_column = _find_row_id_column(ref_features)
    reserved = {c for c in ref_features if c in ID_COLUMN_NAMES} | {label_column}

    specs, packed = _resolve_modalities(ref_features, modalities, reserved, ref_name)
    splits = _pack_scalar_columns(splits, packed, streaming)
    _check_columns_in_every_split(splits, specs)
    splits = {name: _cast_image_structs(split, specs) for name, split in splits.items()}
    if not streaming:
        _check_not_all_null(splits, specs)
    specs = _resolve_dense_dims(splits, specs, streaming)

    label_info = _LabelInfo()
    if label_column is not None:
        label_info = _analyze_labels(splits, label_column, problem_type, num_labels, streaming)
        splits = _transform_labels(splits, label_column, label_info)

    if row_id_column is None:
        row_id_column = ROW_ID_COLUMN
        splits = {name: _add_row_ids(split, streaming) for name, split in splits.items()}
    else:
        _check_row_ids(splits, row_id_column, streaming)

    if "train" in splits and "validation" not in splits and validation_fraction > 0:
        splits = _add_validation_split(
            splits, validation_fraction, seed, label_column, label_info.problem_type, row_id_column, streaming
        )
    result = MultimodalDataset(
        dataset=(IterableDatasetDict if streaming else DatasetDict)(splits),
        modalities={name: specs[name] for name in sorted(specs)},
        label_column=label_column,
        problem_type=label_info.problem_type,
        num_labels=label_info.num_labels,
        id2label=dict(enumerate(label_info.names)) if label_info.names else None,
        label2id={n: i for i, n in enumerate(label_info.names)} if label_info.names else None,
        row_id_column=row_id_column,
        streaming=streaming,
        packed_columns={name: list(cols) for name, cols in packed.items()},
    )
    if not streaming:
        _warn_rows_without_modalities(result)
    return result


def rows_without_modalities(dataset: Dataset, modalities: Mapping[str, Any] | Sequence[str]) -> list[int]:
    """Positions (0-based, in the split as it is now) of the rows whose modality columns are all None.

    The model needs at least one present modality per row, so the collator refuses or drops these rows; the loader
    only reports them.

    Args:
        dataset (`Dataset`):
            One split. An `IterableDataset` cannot be scanned here (the collator checks streamed rows).
        modalities (`Mapping[str, Any]` or `Sequence[str]`):
            Modality specs by name, or just the modality column names.

    Returns:
        `list[int]`: sorted positions.
    """
    if isinstance(dataset, IterableDataset):
        raise TypeError(
            "rows_without_modalities needs a Dataset; got an IterableDataset, which is not scanned ahead of "
            "training (the collator checks streamed rows as they come)."
        )
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset={type(dataset).__name__} is not allowed; pass a datasets.Dataset (one split).")
    names = list(modalities)
    absent = [n for n in names if n not in dataset.column_names]
    if absent:
        raise ValueError(
            f"modalities={names!r} names columns {absent} absent from the dataset {dataset.column_names}."
        )
    if not names:
        return list(range(len(dataset)))  # no modality column: no row has a present modality
    if len(dataset) == 0:
        return []
    table = _arrow_table(dataset, names)
    missing = np.ones(len(dataset), dtype=bool)
    for name in names:
        missing &= table.column(name).is_null().to_numpy(zero_copy_only=False)
    return np.flatnonzero(missing).tolist()


# ----------------------------------------------------------------------------------------------------------------
# Loading


def _load_raw(
    name_or_path: Any,
    config_name: str | None,
    revision: str | None,
    streaming: bool,
    token: str | bool | None,
    cache_dir: str | os.PathLike | None,
) -> AnyDatasetDict:
    common = {"streaming": streaming, "cache_dir": os.fspath(cache_dir) if cache_dir is not None else None}
    if isinstance(name_or_path, Mapping):
        files = [p for paths in name_or_path.values() for p in ([paths] if isinstance(paths, str) else paths)]
        builder, kwargs = _builder_for_files(files, "name_or_path")
        source, call = dict(name_or_path), {"path": builder, "data_files": dict(name_or_path), **kwargs}
    elif isinstance(name_or_path, (str, os.PathLike)):
        path = os.path.expanduser(os.fspath(name_or_path))
        if os.path.isfile(path):
            builder, kwargs = _builder_for_files([path], "name_or_path")
            source, call = path, {"path": builder, "data_files": {"train": path}, **kwargs}
        elif os.path.isdir(path):
            source, call = path, {"path": path, "name": config_name}
        elif os.path.splitext(path)[1].lower() in FILE_BUILDERS or path.startswith((".", os.sep)):
            raise FileNotFoundError(f"name_or_path={path!r} looks like a local path but does not exist.")
        else:
            # A Hub repo id: the plain datasets call, so revision and token behave exactly as in datasets.
            source, call = path, {"path": path, "name": config_name, "revision": revision, "token": token}
    else:
        raise TypeError(
            f"name_or_path={name_or_path!r} is not allowed; pass a Hub repo id, a local folder or file path, or a "
            "data_files mapping {split: path(s)}."
        )
    if revision is not None and call.get("revision") is None:
        raise ValueError(f"revision={revision!r} only applies to a Hub repo id, not to the local {source!r}.")
    try:
        loaded = datasets.load_dataset(**call, **common)
    except DatasetGenerationError as error:
        cause = error.__cause__ or error
        raise ValueError(
            f"datasets could not build {source!r}: {cause}. This usually means a column's type or fixed vector "
            "length differs between splits or files; every split must share one schema."
        ) from error
    if isinstance(loaded, (Dataset, IterableDataset)):
        loaded = (IterableDatasetDict if streaming else DatasetDict)({"train": loaded})
    return loaded


def _builder_for_files(files: list[str], argument: str) -> tuple[str, dict[str, Any]]:
    suffixes = {os.path.splitext(f)[1].lower() for f in files}
    builders = {FILE_BUILDERS.get(s) for s in suffixes}
    if len(builders) != 1 or None in builders:
        raise ValueError(
            f"{argument}={files!r} has file types {sorted(suffixes)}; use files of one type among "
            f"{sorted(FILE_BUILDERS)}."
        )
    return builders.pop(), ({"delimiter": "\t"} if suffixes == {".tsv"} else {})


def _normalize_splits(dataset: Any) -> tuple[dict[str, AnyDataset], bool]:
    """Return `{split: dataset}` with validation aliases renamed to `validation`, and whether it streams."""
    if isinstance(dataset, (Dataset, IterableDataset)):
        dataset = {"train": dataset}
    if not isinstance(dataset, Mapping) or not dataset:
        raise TypeError(
            f"dataset={type(dataset).__name__} is not allowed; pass a non-empty DatasetDict, IterableDatasetDict, "
            "Dataset or IterableDataset."
        )
    kinds = {isinstance(split, IterableDataset) for split in dataset.values()}
    if kinds != {True} and not all(isinstance(split, Dataset) for split in dataset.values()):
        raise TypeError(
            f"dataset has splits of types {sorted({type(s).__name__ for s in dataset.values()})}; all splits must be "
            "Dataset or all IterableDataset."
        )
    aliases = [name for name in dataset if name in VALIDATION_SPLIT_ALIASES]
    if len(aliases) > 1:
        raise ValueError(
            f"dataset has several validation splits {aliases}; keep one of {list(VALIDATION_SPLIT_ALIASES)}."
        )
    splits = {("validation" if name in VALIDATION_SPLIT_ALIASES else name): split for name, split in dataset.items()}
    return splits, kinds == {True}


# ----------------------------------------------------------------------------------------------------------------
# Feature classification


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
        f"{SUPPORTED_FEATURES}. Pass modalities=... to choose the modality columns."
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
                    f"{split_name!r}; a dense modality needs one length."
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


def _add_row_ids(split: AnyDataset, streaming: bool) -> AnyDataset:
    if not streaming:
        # The position in the split as stored: stable across runs and machines, unique within the split.
        return split.add_column(ROW_ID_COLUMN, np.arange(len(split), dtype=np.int64), feature=Value("int64"))
    # map(with_indices=True) counts examples per worker/node when the stream is sharded (DataLoader workers,
    # split_dataset_by_node), so the same row would get different ids; a content hash does not depend on sharding.
    features = split.features.copy()
    features[ROW_ID_COLUMN] = Value("int64")
    return split.map(_content_row_id_batch, batched=True, batch_size=64, features=features)


def _check_row_ids(splits: Mapping[str, AnyDataset], column: str, streaming: bool) -> None:
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


def _add_validation_split(
    splits: dict[str, AnyDataset],
    fraction: float,
    seed: int,
    label_column: str | None,
    problem_type: str | None,
    row_id_column: str,
    streaming: bool,
) -> dict[str, AnyDataset]:
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


def _warn_rows_without_modalities(data: MultimodalDataset) -> None:
    for split in data.splits:
        rows = data.rows_without_modalities(split)
        if rows:
            logger.warning(
                f"split {split!r} has {len(rows)} rows with no modality present (first positions: {rows[:10]}); "
                "the collator refuses or drops them."
            )
