"""Tests of `processing.loading`: schema inference, validation errors and split creation on small local datasets.

Every dataset is written here, in a temporary folder, in the Hub layout (parquet under data/ plus a README.md whose
YAML `configs:` maps splits to files) or as a single parquet/CSV/JSON Lines file. Nothing touches the network:
`conftest.py` switches the Hugging Face libraries offline, and one test re-checks it in a fresh interpreter whose
Hub endpoint is a closed local port.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import PIL.Image
import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Image, List, Value
from datasets.distributed import split_dataset_by_node

from cldmdf.processing.loading import (
    PROBLEM_TYPES,
    MultimodalDataset,
    load_multimodal_dataset,
    prepare_multimodal_dataset,
    rows_without_modalities,
)

REPO = Path(__file__).resolve().parents[2]
CLASS_NAMES = ["neg", "neu", "pos"]
FEATURES = Features(
    {
        "fou": List(Value("float32"), length=3),
        "review_text": Value("string"),
        "photo": Image(),
        "label": ClassLabel(names=CLASS_NAMES),
        "row_id": Value("int64"),
    }
)

datasets.disable_progress_bars()


def _image(value: int) -> PIL.Image.Image:
    return PIL.Image.fromarray(np.full((4, 4, 3), value % 256, dtype=np.uint8))


def _rows(num_rows: int, start: int = 0, with_row_id: bool = True) -> dict[str, list]:
    """Rows with a deterministic missing pattern: fou missing every 3rd row, text every 4th, photo every 5th."""
    ids = range(start, start + num_rows)
    rows = {
        "fou": [None if i % 3 == 0 else [float(i), i + 0.5, -float(i)] for i in ids],
        "review_text": [None if i % 4 == 0 else f"review {i}" for i in ids],
        "photo": [None if i % 5 == 0 else _image(i) for i in ids],
        "label": [i % len(CLASS_NAMES) for i in ids],
    }
    if with_row_id:
        rows["row_id"] = list(ids)
    return rows


def _dataset(num_rows: int, start: int = 0, with_row_id: bool = True) -> Dataset:
    features = FEATURES if with_row_id else Features({k: v for k, v in FEATURES.items() if k != "row_id"})
    return Dataset.from_dict(_rows(num_rows, start, with_row_id), features=features)


def _write_hub_folder(root: Path, splits: dict[str, Dataset], num_shards: int = 1) -> Path:
    """Write `splits` as the Hub stores a dataset: data/<split>-0000k-of-0000n.parquet and README.md `configs:`."""
    (root / "data").mkdir(parents=True)
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for name, split in splits.items():
        for shard in range(num_shards):
            part = split.shard(num_shards=num_shards, index=shard, contiguous=True)
            part.to_parquet(str(root / "data" / f"{name}-{shard:05d}-of-{num_shards:05d}.parquet"))
        lines += [f"  - split: {name}", f"    path: data/{name}-*"]
    (root / "README.md").write_text("\n".join(lines + ["---", "", "# Test dataset", ""]))
    return root


def _load(path: Path, tmp_path: Path, **kwargs) -> MultimodalDataset:
    return load_multimodal_dataset(path, cache_dir=tmp_path / "cache", **kwargs)


def _comparable(row: dict) -> dict:
    """A row with images as pixel lists, so rows compare with ==."""
    return {k: (np.asarray(v).tolist() if isinstance(v, PIL.Image.Image) else v) for k, v in row.items()}


@pytest.fixture
def hub_folder(tmp_path: Path) -> Path:
    return _write_hub_folder(tmp_path / "hub", {"train": _dataset(60), "test": _dataset(15, start=1000)})


# ---------------------------------------------------------------------------------------------------------------
# Schema inference


def test_hub_folder_infers_specs_and_keeps_none(hub_folder: Path, tmp_path: Path):
    data = _load(hub_folder, tmp_path)

    assert data.modalities == {
        "fou": {"type": "dense", "dim": 3},
        "photo": {"type": "image"},
        "review_text": {"type": "text"},
    }
    assert list(data.modalities) == sorted(data.modalities) == data.modality_names
    assert (data.label_column, data.problem_type, data.num_labels) == ("label", "single_label_classification", 3)
    assert data.id2label == dict(enumerate(CLASS_NAMES))
    assert data.label2id == {name: i for i, name in enumerate(CLASS_NAMES)}
    assert data.row_id_column == "row_id" and not data.streaming
    assert data.splits == ["train", "validation", "test"]

    expected = {i: _comparable(row) for i, row in zip(range(1000, 1015), _dataset(15, start=1000))}
    test = data["test"]
    assert len(test) == 15
    for row in test:
        assert _comparable(row) == expected[row["row_id"]]  # values and None both survive parquet + load_dataset
    assert sum(row["fou"] is None for row in test) == sum(i % 3 == 0 for i in range(1000, 1015)) > 0


def test_streaming_gives_same_rows_and_schema(hub_folder: Path, tmp_path: Path):
    eager = _load(hub_folder, tmp_path)
    streamed = _load(hub_folder, tmp_path, streaming=True)

    assert isinstance(streamed.dataset, datasets.IterableDatasetDict) and streamed.streaming
    for attribute in ("modalities", "label_column", "problem_type", "num_labels", "id2label", "row_id_column"):
        assert getattr(streamed, attribute) == getattr(eager, attribute)
    assert [_comparable(r) for r in streamed["test"]] == [_comparable(r) for r in eager["test"]]
    # The streamed validation split is carved by hash, not stratified: only partition properties are shared.
    train_ids = [r["row_id"] for r in streamed["train"]]
    val_ids = [r["row_id"] for r in streamed["validation"]]
    assert sorted(train_ids + val_ids) == list(range(60)) and not set(train_ids) & set(val_ids)
    assert 0 < len(val_ids) < 30


def test_row_id_added_as_position_when_absent(tmp_path: Path):
    folder = _write_hub_folder(tmp_path / "hub", {"train": _dataset(30, with_row_id=False)})
    data = _load(folder, tmp_path, validation_fraction=0.2)

    assert data.row_id_column == "row_id"
    assert data["train"].features["row_id"] == Value("int64")
    ids = [*data["train"]["row_id"], *data["validation"]["row_id"]]
    assert sorted(ids) == list(range(30))
    source = _dataset(30, with_row_id=False)
    for row in data["validation"]:  # the id is the row's position in the split as stored
        assert row["review_text"] == source[row["row_id"]]["review_text"]
        assert row["fou"] == source[row["row_id"]]["fou"]


def test_streaming_row_ids_do_not_depend_on_sharding(tmp_path: Path):
    folder = _write_hub_folder(tmp_path / "hub", {"train": _dataset(24, with_row_id=False)}, num_shards=2)
    stream = _load(folder, tmp_path, streaming=True, validation_fraction=0.25)
    assert stream["train"].n_shards == 2

    def pairs(split):
        return sorted((r["row_id"], r["review_text"] or "", r["label"]) for r in split)

    single = pairs(stream["train"]) + pairs(stream["validation"])
    assert len({row_id for row_id, *_ in single}) == 24  # one id per distinct row
    # Two nodes each read one shard; a position counter would restart at 0 on each, a content id does not.
    for split in ("train", "validation"):
        by_node = [pairs(split_dataset_by_node(stream[split], rank=r, world_size=2)) for r in range(2)]
        assert sorted(by_node[0] + by_node[1]) == pairs(stream[split])


def test_parquet_file_with_variable_length_vectors(tmp_path: Path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "emb": [None if i == 2 else rng.normal(size=5).tolist() for i in range(20)],
            "caption": [f"caption {i}" for i in range(20)],
            "target": [int(i % 4) for i in range(20)],
        }
    )
    path = tmp_path / "table.parquet"
    frame.to_parquet(path)
    data = _load(path, tmp_path)

    assert data.modalities == {"caption": {"type": "text"}, "emb": {"type": "dense", "dim": 5}}
    assert (data.label_column, data.problem_type, data.num_labels) == ("target", "single_label_classification", 4)
    assert data.id2label is None  # plain integers carry no names
    assert sorted([*data["train"]["row_id"], *data["validation"]["row_id"]]) == list(range(20))


def _write_csv(path: Path, num_rows: int = 12) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "age": [20 + i for i in range(num_rows)],
            "income": [1000.5 * i for i in range(num_rows)],
            "notes": [None if i % 2 else f"note {i}" for i in range(num_rows)],
            "label": [i % 2 for i in range(num_rows)],
        }
    )
    frame.to_csv(path, index=False)
    return frame


@pytest.mark.parametrize("streaming", [False, True])
def test_csv_numeric_columns_become_one_tabular_modality(tmp_path: Path, streaming: bool):
    frame = _write_csv(tmp_path / "table.csv")
    # Plain integer labels: counted in memory, but a stream is not scanned for its classes.
    kwargs = {"num_labels": 2} if streaming else {}
    data = _load(tmp_path / "table.csv", tmp_path, streaming=streaming, validation_fraction=0.0, **kwargs)

    assert data.modalities == {"notes": {"type": "text"}, "tabular": {"type": "dense", "dim": 2}}
    assert data.packed_columns == {"tabular": ["age", "income"]}
    assert (data.problem_type, data.num_labels) == ("single_label_classification", 2)
    rows = list(data["train"])
    assert [r["tabular"] for r in rows] == [[float(a), float(b)] for a, b in zip(frame["age"], frame["income"])]
    assert [r["notes"] for r in rows] == [None if pd.isna(n) else n for n in frame["notes"]]
    assert "age" not in rows[0] and "income" not in rows[0]


def test_csv_partially_missing_tabular_row_is_an_error(tmp_path: Path):
    path = tmp_path / "table.csv"
    pd.DataFrame({"a": [1.0, None, 3.0], "b": [1.0, 2.0, 3.0], "label": [0, 1, 0]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"'tabular' packs columns \['a', 'b'\]; a row has \['a'\] missing"):
        _load(path, tmp_path)


def test_csv_row_with_every_tabular_cell_empty_gives_none(tmp_path: Path):
    path = tmp_path / "table.csv"
    pd.DataFrame({"a": [1.0, None, 3.0], "b": [1.0, None, 3.0], "label": [0, 1, 0]}).to_csv(path, index=False)
    data = _load(path, tmp_path, validation_fraction=0.0)
    assert data["train"]["tabular"] == [[1.0, 1.0], None, [3.0, 3.0]]
    assert data.rows_without_modalities("train") == [1]  # reported, not dropped
    assert len(data["train"]) == 3


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_split_without_rows_is_named_instead_of_the_error_datasets_gives(tmp_path: Path, suffix: str):
    folder = tmp_path / "data"
    folder.mkdir()
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0, 3.0], "label": [0, 1, 0]})
    for split, rows in (("train", frame), ("test", frame.iloc[:0])):  # the test file: the header (schema) alone
        getattr(rows, f"to_{suffix}")(folder / f"{split}.{suffix}", index=False)
    with pytest.raises(ValueError, match=rf"the files \['test: test.{suffix}'\] hold no rows; every split needs rows"):
        _load(folder, tmp_path)


def test_a_json_column_mixing_lists_and_numbers_is_refused_with_what_to_do(tmp_path: Path):
    path = tmp_path / "rows.jsonl"
    rows = [{"vec": [1.0, 2.0], "mixed": [1.0, 2.0] if i % 2 else 3.0, "label": i % 2} for i in range(6)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(ValueError, match=r"column 'mixed' .* unsupported feature Json") as raised:
        _load(path, tmp_path)
    assert "Store one type in every row of it" in str(raised.value)
    assert "drop it from the files for train_accelerate.py" in str(raised.value)


def test_jsonl_data_files_mapping_keeps_existing_validation(tmp_path: Path):
    for split, n in (("train", 6), ("dev", 4)):
        with open(tmp_path / f"{split}.jsonl", "w") as f:
            for i in range(n):
                f.write(
                    json.dumps({"vec": [float(i), 1.0], "text": f"{split} {i}", "y": i * 0.5, "id": 100 + i}) + "\n"
                )
    data = load_multimodal_dataset(
        {"train": str(tmp_path / "train.jsonl"), "dev": str(tmp_path / "dev.jsonl")}, cache_dir=tmp_path / "cache"
    )
    assert data.splits == ["train", "validation"]
    assert data.modalities == {"text": {"type": "text"}, "vec": {"type": "dense", "dim": 2}}
    assert (data.label_column, data.problem_type, data.num_labels) == ("y", "regression", 1)
    assert data.row_id_column == "id"  # an integer id column is used, not duplicated
    assert "row_id" not in data["train"].column_names
    assert len(data["train"]) == 6 and data["validation"]["text"] == [f"dev {i}" for i in range(4)]


def test_image_struct_without_hub_metadata_is_an_image(tmp_path: Path):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    _image(7).save(buffer, format="PNG")
    photos = pa.array([{"bytes": buffer.getvalue(), "path": None}, None, {"bytes": buffer.getvalue(), "path": None}])
    pq.write_table(pa.table({"photo": photos, "label": [0, 1, 1]}), tmp_path / "images.parquet")
    data = _load(tmp_path / "images.parquet", tmp_path, validation_fraction=0.0)
    assert data.modalities == {"photo": {"type": "image"}}
    photos = data["train"]["photo"]
    assert photos[1] is None and np.asarray(photos[0]).tolist() == np.asarray(_image(7)).tolist()


# ---------------------------------------------------------------------------------------------------------------
# Labels


def test_label_kinds(tmp_path: Path):
    vec = [[1.0, 2.0]] * 6
    cases = {
        "multi_hot": ({"labels": [[1, 0, 1], [0, 1, 0]] * 3}, ("multi_label_classification", 3, None)),
        "strings": ({"label": ["cat", "dog", "ant"] * 2}, ("single_label_classification", 3, ["ant", "cat", "dog"])),
        "floats": ({"target": [0.1, 2.0, 3.5] * 2}, ("regression", 1, None)),
        "float_vectors": ({"target": [[0.5, 2.0], [1.5, -1.0]] * 3}, ("regression", 2, None)),
    }
    for name, (labels, (problem_type, num_labels, names)) in cases.items():
        data = prepare_multimodal_dataset(Dataset.from_dict({"vec": vec, **labels}), validation_fraction=0.0)
        assert (data.problem_type, data.num_labels) == (problem_type, num_labels), name
        assert data.id2label == (dict(enumerate(names)) if names else None), name
    encoded = prepare_multimodal_dataset(Dataset.from_dict({"vec": vec, **cases["strings"][0]}), validation_fraction=0)
    assert encoded["train"]["label"] == [1, 2, 0, 1, 2, 0]  # cat, dog, ant in sorted-name indices


def test_list_of_class_labels_becomes_multi_hot():
    features = Features({"vec": List(Value("float32"), length=2), "labels": List(ClassLabel(names=["a", "b", "c"]))})
    ds = Dataset.from_dict({"vec": [[1.0, 2.0]] * 3, "labels": [[0, 2], [], [1]]}, features=features)
    data = prepare_multimodal_dataset(ds, validation_fraction=0.0)
    assert (data.problem_type, data.num_labels, data.id2label) == (
        "multi_label_classification",
        3,
        {0: "a", 1: "b", 2: "c"},
    )
    assert data["train"]["labels"] == [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]


def test_integer_labels_count_classes_over_all_splits_and_streaming_needs_num_labels(tmp_path: Path):
    train = Dataset.from_dict({"vec": [[1.0]] * 4, "label": [0, 1, 0, 1]})
    test = Dataset.from_dict({"vec": [[1.0]] * 2, "label": [3, 0]})
    data = prepare_multimodal_dataset(DatasetDict({"train": train, "test": test}), validation_fraction=0.0)
    assert data.num_labels == 4
    with pytest.raises(ValueError, match=r"num_labels=2 is too small: label_column='label' holds class 3"):
        prepare_multimodal_dataset(DatasetDict({"train": train, "test": test}), num_labels=2)
    stream = datasets.IterableDatasetDict({"train": train.to_iterable_dataset()})
    with pytest.raises(ValueError, match=r"plain integers in streaming mode.*pass num_labels"):
        prepare_multimodal_dataset(stream)
    assert prepare_multimodal_dataset(stream, num_labels=5, validation_fraction=0.0).num_labels == 5


def test_problem_type_override():
    ds = Dataset.from_dict({"vec": [[1.0]] * 4, "label": [0, 3, 1, 2]})
    assert (
        prepare_multimodal_dataset(ds, problem_type="regression", validation_fraction=0).problem_type == "regression"
    )
    with pytest.raises(ValueError, match=r"problem_type='multi_label_classification' does not fit the labels"):
        prepare_multimodal_dataset(ds, problem_type="multi_label_classification")
    with pytest.raises(ValueError, match=r"problem_type='ranking' is not allowed; use one of"):
        prepare_multimodal_dataset(ds, problem_type="ranking")
    assert "regression" in PROBLEM_TYPES


# ---------------------------------------------------------------------------------------------------------------
# Explicit modalities


def test_explicit_modalities_keep_extra_keys_and_check_dims(hub_folder: Path, tmp_path: Path):
    spec = {"review_text": {"type": "text", "backbone": "tiny-bert"}, "fou": {"type": "dense", "dim": 3}}
    data = _load(hub_folder, tmp_path, modalities=spec)
    assert data.modalities == {
        "fou": {"type": "dense", "dim": 3},
        "review_text": {"type": "text", "backbone": "tiny-bert"},
    }
    assert _load(hub_folder, tmp_path, modalities=["photo"]).modalities == {"photo": {"type": "image"}}
    with pytest.raises(ValueError, match=r"modalities\['fou'\]\['dim'\]=4 but the data has dims"):
        _load(hub_folder, tmp_path, modalities={"fou": {"type": "dense", "dim": 4}})
    with pytest.raises(
        ValueError, match=r"modalities\['photo'\] has type 'text' but column 'photo' has feature Image"
    ):
        _load(hub_folder, tmp_path, modalities={"photo": {"type": "text"}})


def test_explicit_packed_columns():
    ds = Dataset.from_dict({"a": [1, 2], "b": [0.5, 1.5], "c": [9, 9], "label": [0, 1]})
    data = prepare_multimodal_dataset(
        ds, modalities={"stats": {"type": "dense", "columns": ["b", "a"]}}, validation_fraction=0
    )
    assert data.modalities == {"stats": {"type": "dense", "dim": 2}}
    assert data["train"]["stats"] == [[0.5, 1.0], [1.5, 2.0]]
    assert data["train"]["c"] == [9, 9]  # columns outside the modalities are left alone


# ---------------------------------------------------------------------------------------------------------------
# Schema errors


def test_missing_label_column_lists_columns(hub_folder: Path, tmp_path: Path):
    with pytest.raises(
        ValueError, match=r"label_column='target' is not a column; columns found: \['fou', 'review_text'"
    ):
        _load(hub_folder, tmp_path, label_column="target")
    unlabeled = Dataset.from_dict({"vec": [[1.0], [2.0]], "score_name": ["a", "b"]})
    with pytest.raises(ValueError, match=r"no label column found.*columns found: \['vec', 'score_name'\]"):
        prepare_multimodal_dataset(unlabeled)
    data = prepare_multimodal_dataset(unlabeled, require_labels=False, validation_fraction=0.5)
    assert data.label_column is None and data.problem_type is None
    assert sorted([*data["train"]["row_id"], *data["validation"]["row_id"]]) == [0, 1]


def test_mismatched_dims_across_splits(tmp_path: Path):
    def split(dim: int, fixed: bool) -> Dataset:
        feature = List(Value("float32"), length=dim if fixed else -1)
        features = Features({"fou": feature, "label": Value("int64")})
        return Dataset.from_dict({"fou": [[0.5] * dim, None], "label": [0, 1]}, features=features)

    # Variable-length lists in a Hub folder: datasets loads them; the loader compares the lengths.
    folder = _write_hub_folder(tmp_path / "var", {"train": split(3, False), "test": split(4, False)})
    with pytest.raises(
        ValueError, match=r"dense column 'fou' has different dims across splits: \{'train': 3, 'test': 4\}"
    ):
        _load(folder, tmp_path)
    # Fixed-length lists already disagree inside datasets' parquet builder (one schema per config).
    folder = _write_hub_folder(tmp_path / "fixed", {"train": split(3, True), "test": split(4, True)})
    with pytest.raises(ValueError, match=r"(?s)could not build .*fixed_size_list.*every split must share one schema"):
        _load(folder, tmp_path)
    # In-memory splits reach the loader's own check.
    with pytest.raises(ValueError, match=r"'fou' has different dims across splits: \{'train': 3, 'test': 4\}"):
        prepare_multimodal_dataset(DatasetDict({"train": split(3, True), "test": split(4, True)}))


def test_variable_lengths_inside_a_split():
    ds = Dataset.from_dict({"fou": [[1.0, 2.0], [1.0, 2.0, 3.0]], "label": [0, 1]})
    with pytest.raises(ValueError, match=r"'fou' has vectors of lengths \[2, 3\] in split 'train'"):
        prepare_multimodal_dataset(ds)


def test_all_null_modality_column_in_a_split(tmp_path: Path):
    train = _dataset(9)
    test = _dataset(6, start=100).map(lambda row: {"review_text": None})
    folder = _write_hub_folder(tmp_path / "hub", {"train": train, "test": test})
    with pytest.raises(
        ValueError, match=r"modality column 'review_text' is None in every row of split 'test' \(6 rows\)"
    ):
        _load(folder, tmp_path)
    in_memory = Dataset.from_dict({"vec": [[1.0], [2.0]], "text": [None, None], "label": [0, 1]})
    with pytest.raises(
        ValueError,
        match=r"column 'text' of split 'train' has unsupported feature Value\('null'\) \(it is None in every row",
    ):
        prepare_multimodal_dataset(in_memory)


def test_unknown_column_type_names_column_and_supported_types():
    ds = Dataset.from_dict({"vec": [[1.0], [2.0]], "tokens": [[1, 2], [3, 4]], "label": [0, 1]})
    with pytest.raises(
        ValueError,
        match=r"column 'tokens' of split 'train' has unsupported feature List\(Value\('int64'\)\); supported: dense",
    ):
        prepare_multimodal_dataset(ds)
    # Naming the modality columns leaves the others alone; an int list may be named as dense explicitly.
    assert prepare_multimodal_dataset(ds, modalities=["vec"], validation_fraction=0).modalities == {
        "vec": {"type": "dense", "dim": 1}
    }
    data = prepare_multimodal_dataset(ds, modalities={"tokens": {"type": "dense"}}, validation_fraction=0)
    assert data.modalities == {"tokens": {"type": "dense", "dim": 2}}


def test_modalities_naming_absent_column_or_bad_type(hub_folder: Path, tmp_path: Path):
    with pytest.raises(
        ValueError, match=r"modalities names column 'audio', absent from split 'train'; columns found: \["
    ):
        _load(hub_folder, tmp_path, modalities={"audio": {"type": "dense"}})
    with pytest.raises(ValueError, match=r"modalities names column 'audio', absent"):
        _load(hub_folder, tmp_path, modalities=["fou", "audio"])
    with pytest.raises(
        ValueError, match=r"modalities\['fou'\] has type 'vector'; allowed types: \['dense', 'text', 'image'\]"
    ):
        _load(hub_folder, tmp_path, modalities={"fou": {"type": "vector"}})
    with pytest.raises(ValueError, match=r"modalities names 'label', which is the label or an id column"):
        _load(hub_folder, tmp_path, modalities={"label": {"type": "dense"}})


def test_dataset_without_modality_columns():
    ds = Dataset.from_dict({"id": [1, 2], "label": [0, 1]})
    with pytest.raises(ValueError, match=r"leaves no modality column in split 'train'"):
        prepare_multimodal_dataset(ds)


def test_argument_errors(tmp_path: Path):
    ds = Dataset.from_dict({"vec": [[1.0], [2.0]], "label": [0, 1]})
    with pytest.raises(ValueError, match=r"validation_fraction=1.5 is not allowed"):
        prepare_multimodal_dataset(ds, validation_fraction=1.5)
    with pytest.raises(FileNotFoundError, match=r"name_or_path='.*missing.parquet' looks like a local path"):
        load_multimodal_dataset(str(tmp_path / "missing.parquet"))
    with pytest.raises(ValueError, match=r"revision='main' only applies to a Hub repo id"):
        load_multimodal_dataset(tmp_path, revision="main")
    with pytest.raises(ValueError, match=r"several validation splits \['val', 'dev'\]"):
        prepare_multimodal_dataset(DatasetDict({"train": ds, "val": ds, "dev": ds}))
    with pytest.raises(ValueError, match=r"file types \['.csv', '.parquet'\]"):
        load_multimodal_dataset({"train": "a.csv", "test": "b.parquet"})


# ---------------------------------------------------------------------------------------------------------------
# Validation split


def _imbalanced(num_rows: int = 200) -> Dataset:
    labels = [0] * (num_rows * 6 // 10) + [1] * (num_rows * 3 // 10) + [2] * (num_rows // 10)
    features = Features({"vec": List(Value("float32"), length=1), "label": ClassLabel(names=CLASS_NAMES)})
    return Dataset.from_dict({"vec": [[float(i)] for i in range(num_rows)], "label": labels}, features=features)


def test_created_validation_split_is_stratified_disjoint_and_seeded():
    source = _imbalanced()
    data = prepare_multimodal_dataset(source, validation_fraction=0.1, seed=3)
    train_ids, val_ids = list(data["train"]["row_id"]), list(data["validation"]["row_id"])

    assert len(val_ids) == 20 and not set(train_ids) & set(val_ids)
    assert sorted(train_ids + val_ids) == list(range(200))
    counts = np.bincount(data["validation"]["label"], minlength=3)
    totals = np.bincount(source["label"], minlength=3)
    assert totals.tolist() == [120, 60, 20]
    assert counts.tolist() == [12, 6, 2]  # exactly 10 % of each class, as train's proportions are exact
    assert data["validation"]["vec"] == [source[i]["vec"] for i in val_ids]  # rows moved whole

    again = prepare_multimodal_dataset(source, validation_fraction=0.1, seed=3)
    other = prepare_multimodal_dataset(source, validation_fraction=0.1, seed=4)
    assert again["validation"]["row_id"] == val_ids
    assert other["validation"]["row_id"] != val_ids
    for seed in range(5):  # a plain random split would miss the exact per-class counts for some seed
        split = prepare_multimodal_dataset(source, validation_fraction=0.1, seed=seed)["validation"]
        assert np.bincount(split["label"], minlength=3).tolist() == [12, 6, 2]


def test_stratified_split_with_uneven_classes():
    # 7 / 5 / 1 rows at 30 %: quotas 2.1 / 1.5 / 0.3 of a 4-row split (round(3.9)); each class gets floor or ceil.
    labels = [0] * 7 + [1] * 5 + [2]
    ds = Dataset.from_dict({"vec": [[float(i)] for i in range(13)], "label": labels})
    for seed in range(5):
        data = prepare_multimodal_dataset(ds, validation_fraction=0.3, seed=seed)
        counts = np.bincount(data["validation"]["label"], minlength=3)
        assert counts.sum() == 4 and not set(data["train"]["row_id"]) & set(data["validation"]["row_id"])
        assert all(np.floor(q) <= c <= np.ceil(q) for c, q in zip(counts, [2.1, 1.5, 0.3]))


def test_streaming_validation_split_is_seeded_and_disjoint():
    stream = datasets.IterableDatasetDict({"train": _imbalanced(100).to_iterable_dataset()})
    ids = {}
    for seed in (0, 0, 1):
        data = prepare_multimodal_dataset(stream, validation_fraction=0.3, seed=seed)
        train = [r["row_id"] for r in data["train"]]
        val = [r["row_id"] for r in data["validation"]]
        assert not set(train) & set(val) and len(set(train) | set(val)) == 100
        assert 15 <= len(val) <= 45  # a hash draw per row: about 30 of 100
        ids.setdefault(seed, []).append(sorted(val))
    assert ids[0][0] == ids[0][1] and ids[0][0] != ids[1][0]


def test_existing_validation_split_is_kept(tmp_path: Path):
    train, valid = _dataset(30), _dataset(7, start=500)
    folder = _write_hub_folder(tmp_path / "hub", {"train": train, "valid": valid})
    data = _load(folder, tmp_path, validation_fraction=0.5)
    assert data.splits == ["train", "validation"]
    assert data["train"]["row_id"] == list(range(30))
    assert data["validation"]["row_id"] == list(range(500, 507))


def test_rows_without_modalities_are_reported_not_dropped(caplog: pytest.LogCaptureFixture):
    rows = _rows(20)
    empty = [
        i for i in range(20) if rows["fou"][i] is None and rows["review_text"][i] is None and rows["photo"][i] is None
    ]
    assert empty == [0]  # the only multiple of 3, 4 and 5 below 20
    with caplog.at_level("WARNING", logger="cldmdf.processing.loading"):
        data = prepare_multimodal_dataset(Dataset.from_dict(rows, features=FEATURES), validation_fraction=0.0)
    assert len(data["train"]) == 20
    assert data.rows_without_modalities("train") == empty
    assert rows_without_modalities(data["train"], ["fou"]) == [i for i in range(20) if rows["fou"][i] is None]
    assert f"{len(empty)} rows with no modality present" in caplog.text
    with pytest.raises(TypeError, match="needs a Dataset; got an IterableDataset"):
        rows_without_modalities(data["train"].to_iterable_dataset(), data.modalities)


# ---------------------------------------------------------------------------------------------------------------
# No network


def test_local_folder_loads_offline_in_a_fresh_interpreter(hub_folder: Path, tmp_path: Path):
    script = (
        "import sys\n"
        "from cldmdf.processing.loading import load_multimodal_dataset\n"
        f"data = load_multimodal_dataset({str(hub_folder)!r}, cache_dir={str(tmp_path / 'fresh_cache')!r})\n"
        f"stream = load_multimodal_dataset({str(hub_folder)!r}, streaming=True)\n"
        "assert data.modalities == stream.modalities and len(list(stream['test'])) == 15\n"
        "print(sorted(data.modalities), len(data['test']))\n"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_ENDPOINT": "http://127.0.0.1:9",  # a closed port: any Hub request would fail loudly
        "HF_HOME": str(tmp_path / "hf_home"),
        "PYTHONPATH": str(REPO),
    }
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "['fou', 'photo', 'review_text'] 15"
