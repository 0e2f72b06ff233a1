"""Load a multimodal dataset (Hub repo, Hub-layout folder, local files) and infer its modality schema.

One column per modality, a label column and an optional row id column: `load_multimodal_dataset` returns the splits
plus the schema the model config and the collator need (`modalities` in the model-config spec format, problem type,
number of labels, label names, row id column). Inference rules, in order:

- ids: columns named `row_id`, `id` or `idx` are never modalities. The first of them holding integers is the row id
  column; without one, a `row_id` int64 column is added (position in the split as stored; in streaming mode a hash
  of the row's content, because stream positions change with sharding across workers and nodes; `splitting.py`).
- label: `label_column`, else the only `ClassLabel` (or list-of-`ClassLabel`) column, else the first column named
  label/labels/target/y/class. ClassLabel and integers give single-label classification (integers: `max + 1`
  classes over all splits), strings are class-encoded (sorted names), floats give regression, lists of 0/1 give
  multi-label classification (a list of `ClassLabel` indices is turned into a multi-hot float vector).
- modalities: a list of floats (fixed length, or variable length with one length across the data) is `dense` with
  that `dim`; a string is `text`; an `Image()` (or a `{"bytes", "path"}` struct) is `image`; scalar numeric columns
  (int, float, bool) are packed, in column order, into one dense modality named `tabular` (a CSV's usual shape).
- splits: `valid`/`val`/`dev` become `validation`; without one, `validation_fraction` of train becomes it (seeded,
  stratified by label for single-label classification; hash of the row id in streaming mode; `splitting.py`).

Nothing is dropped: rows whose modalities are all missing are reported (`rows_without_modalities`) and left for the
collator to refuse or drop.
"""

import io
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq
from datasets import Dataset, DatasetDict, IterableDataset, IterableDatasetDict, Value
from datasets.exceptions import DatasetGenerationError

from modeling_cldmdf.configuration_cldmdf import MODALITY_TYPES

from .column_types import apply_modality_types
from .schema import (
    FILE_BUILDERS,
    ID_COLUMN_NAMES,
    LABEL_COLUMN_NAMES,
    PROBLEM_TYPES,
    ROW_ID_COLUMN,
    TABULAR_MODALITY,
    VALIDATION_SPLIT_ALIASES,
    AnyDataset,
    AnyDatasetDict,
    _analyze_labels,
    _arrow_table,
    _cast_image_structs,
    _check_columns_in_every_split,
    _check_not_all_null,
    _find_label_column,
    _find_row_id_column,
    _float_vector,
    _LabelInfo,
    _match_label_types,
    _pack_scalar_columns,
    _resolve_dense_dims,
    _resolve_modalities,
    _resolve_streaming_features,
    _transform_labels,
)
from .splitting import add_row_ids, add_validation_split, check_row_ids

__all__ = [
    "ID_COLUMN_NAMES",
    "LABEL_COLUMN_NAMES",
    "MODALITY_TYPES",
    "PROBLEM_TYPES",
    "TABULAR_MODALITY",
    "VALIDATION_SPLIT_ALIASES",
    "MultimodalDataset",
    "load_multimodal_dataset",
    "load_prediction_file",
    "prepare_multimodal_dataset",
    "rows_without_modalities",
]

logger = logging.getLogger(__name__)


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
        validation_from_train (`bool`, defaults to `False`):
            Whether `validation` was carved out of `train` (its rows keep their train row ids).
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
    validation_from_train: bool = False

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
    modality_types: Mapping[str, str] | None = None,
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
        modality_types (`Mapping[str, str]`, *optional*):
            Column -> declared modality type, applied before inference (see `processing.column_types`): a string
            column declared `"dense"` is parsed from `"[0.1, 0.2]"` / `"0.1,0.2"` strings into float lists, a scalar
            column declared `"dense"` becomes a one-feature modality, a number column declared `"text"` strings.
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
        modality_types=modality_types,
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
    modality_types: Mapping[str, str] | None = None,
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
        label_column, modalities, modality_types, problem_type, num_labels, require_labels, validation_fraction, seed:
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
    if modality_types:
        splits = {name: apply_modality_types(split, name, modality_types) for name, split in splits.items()}
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
        splits = _match_label_types(splits, label_column, ref_name)
        label_info = _analyze_labels(splits, label_column, problem_type, num_labels, streaming)
        splits = _transform_labels(splits, label_column, label_info)

    if row_id_column is None:
        row_id_column = ROW_ID_COLUMN
        splits = {name: add_row_ids(split, streaming) for name, split in splits.items()}
    else:
        check_row_ids(splits, row_id_column, streaming)

    validation_from_train = "train" in splits and "validation" not in splits and validation_fraction > 0
    if validation_from_train:
        splits = add_validation_split(
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
        validation_from_train=validation_from_train,
    )
    if not streaming:
        _warn_rows_without_modalities(result)
    return result


def load_prediction_file(
    path: str | os.PathLike, data: MultimodalDataset, modality_types: Mapping[str, str] | None = None
) -> Dataset:
    """Rows to predict, read like the training data of `data`: the same modality columns (an absent column is missing
    in every row), scalar columns packed as in training, the declared `modality_types` applied, a `row_id` column
    (the file's own id column, else the 0-based row position). The label column, when present, is kept as stored
    (names or ids): it is echoed next to the predictions, never learned from.

    Args:
        path (`str` or `os.PathLike`): a `.parquet`, `.csv`, `.tsv`, `.json` or `.jsonl` file.
        data (`MultimodalDataset`): the training data, whose schema the file must follow.
        modality_types (`Mapping[str, str]`, *optional*): as in `load_multimodal_dataset`.

    Returns:
        `Dataset`.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"path={os.fspath(path)!r} is not a file; pass a parquet, csv or jsonl file.")
    split = _load_raw(path, None, None, False, None, None)["train"]
    if modality_types:
        declared = {column: kind for column, kind in modality_types.items() if column in split.features}
        split = apply_modality_types(split, "predict", declared)
    split = _pack_scalar_columns({"predict": split}, data.packed_columns, False)["predict"]
    features = {
        "dense": lambda spec: _float_vector(spec["dim"]),
        "text": lambda spec: Value("string"),
        "image": lambda spec: datasets.Image(),
    }
    for name, spec in data.modalities.items():
        if name not in split.column_names:
            split = split.add_column(name, [None] * len(split), feature=features[spec["type"]](spec))
        elif spec["type"] == "dense":
            try:
                split = split.cast_column(name, _float_vector(spec["dim"]))
            except (ValueError, TypeError) as error:  # arrow's cast errors derive from these
                raise ValueError(
                    f"column {name!r} of {os.fspath(path)!r} does not hold vectors of {spec['dim']} numbers like the "
                    f"training data (feature {split.features[name]}): {error}"
                ) from error
    split = _cast_image_structs(split, data.modalities)
    own_ids = _find_row_id_column(split.features)
    if own_ids is None:
        split = add_row_ids(split, False)
        own_ids = ROW_ID_COLUMN
    if own_ids != data.row_id_column:
        split = split.rename_column(own_ids, data.row_id_column)
    return split


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
    except (DatasetGenerationError, ValueError) as error:
        empty = _empty_files(call)
        if empty:  # what datasets reports then ("BatchSize must be greater than 0", "corresponds to no data") misleads
            raise ValueError(
                f"{source!r}: the files {empty} hold no rows; every split needs rows (remove the file of a split you "
                f"do not have: without a test split the run evaluates on its validation split)"
            ) from error
        if not isinstance(error, DatasetGenerationError):
            raise
        cause = error.__cause__ or error
        raise ValueError(
            f"datasets could not build {source!r}: {cause}. This usually means a column's type or fixed vector "
            "length differs between splits or files; every split must share one schema."
        ) from error
    if isinstance(loaded, (Dataset, IterableDataset)):
        loaded = (IterableDatasetDict if streaming else DatasetDict)({"train": loaded})
    if call["path"] in FILE_BUILDERS.values() or os.path.isdir(call["path"]):
        _warn_cast_columns(call)
    return loaded


def _local_data_files(call: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`(split, path)` of every local file a `datasets.load_dataset` call reads (its `data_files`, or those the
    builder finds in a folder)."""
    data_files = call.get("data_files")
    if data_files is None:
        data_files = datasets.load_dataset_builder(call["path"], name=call.get("name")).config.data_files
    return [(str(split), path) for split, paths in data_files.items()
            for path in ([paths] if isinstance(paths, str) else paths) if os.path.isfile(path)]  # fmt: skip


def _empty_files(call: Mapping[str, Any]) -> list[str]:
    """The local data files of a load (`{split}: {file name}`) that hold no row: a parquet file of 0 rows, a CSV with
    a header alone, an empty JSON-lines file."""
    try:
        files = _local_data_files(call)
    except Exception:  # a diagnosis of a failed load: the load's own error stands when it fails too
        return []
    empty = []
    for split, path in files:
        suffix = os.path.splitext(path)[1].lower()
        if suffix == ".parquet":
            rows = pq.read_metadata(path).num_rows
        else:
            with open(path, "rb") as file:
                lines = [line for line in file if line.strip()]
            rows = len(lines) - (suffix in (".csv", ".tsv"))  # the header
        if rows <= 0:
            empty.append(f"{split}: {os.path.basename(path)}")
    return empty


def _file_schema(path: str) -> pa.Schema | None:
    """The types a parquet or JSON-lines file stores (CSV stores none), read from its metadata or first row."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".parquet":
        return pq.read_schema(path)
    if suffix in (".json", ".jsonl"):
        with open(path, "rb") as file:
            first = file.readline()
        return pa_json.read_json(io.BytesIO(first)).schema if first.strip() else None
    return None


def _warn_cast_columns(call: Mapping[str, Any]) -> None:
    """datasets reads every file of a dataset with the types of the first one and casts the others to them without
    a word (`"1"` -> `1` for labels stored as strings in the test file only): says which columns it cast."""
    try:
        schemas = [(split, path, _file_schema(path)) for split, path in _local_data_files(call)]
    except Exception as error:  # a best-effort diagnosis never stops a load that datasets accepted
        logger.debug(f"could not compare the files' column types: {error}")
        return
    schemas = [entry for entry in schemas if entry[2] is not None]
    if len(schemas) < 2:
        return
    _, first, reference = schemas[0]
    for split, path, schema in schemas[1:]:
        for column in schema:
            if column.name in reference.names and reference.field(column.name).type != column.type:
                expected = reference.field(column.name).type
                logger.warning(
                    f"column {column.name!r} is stored as {column.type} in {os.path.basename(path)} (split {split!r}) "
                    f"but as {expected} in {os.path.basename(first)}: datasets reads it as {expected} in every split, "
                    f"matching the values by value (e.g. '1' -> 1); check that they mean the same."
                )


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


def _warn_rows_without_modalities(data: MultimodalDataset) -> None:
    """Rows with every modality missing, named as the pre-flight check names them: by row id (the file's 0-based
    row, header not counted, unless the data has an id column), a carved validation split's rows as train rows."""
    for split in data.splits:
        rows = data.rows_without_modalities(split)
        if rows:
            ids = sorted(data[split].select(rows)[data.row_id_column])
            shown = "train" if split == "validation" and data.validation_from_train else split
            listed = ids if len(ids) <= 10 else f"{ids[:10]} (and {len(ids) - 10} more)"
            logger.warning(
                f"split {shown!r} has {len(rows)} rows with no modality present: rows {listed} (0-based rows of the "
                f"file as stored, header not counted, or the data's own ids); the collator refuses or drops them."
            )
