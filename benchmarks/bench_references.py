"""The references a user would pick instead of CL-DMDF, from scikit-learn, on the development suite.

Every reference trains on train + validation of a suite setting (`benchmarks/suite.py`; the folders are read with
`processing.load_multimodal_dataset`, as `train_accelerate.py --dataset_name <folder>` reads them) and is evaluated on
its test split at missing rates η in {0, 0.3, 0.5}, with exactly the evaluation pattern of the training script:
`processing.missing.missing_pattern(row_ids, present, η, seed=0)` (`CLDMDFDataCollator(missing_rate=η, seed=0)`,
seed 0 being `train_accelerate.py`'s default `--eval_seed`), applied on top of the data's own missingness. An η that
a setting with M modalities cannot meet (η must be below (M - 1) / M: every row keeps one modality) is skipped and
listed under `skipped_rates`, not an error. The model seeds (`--seeds`) seed the models, the SVD and the modality
dropout; the pattern's seed stays 0.

References (scikit-learn only; `pip install -e ".[dev]"`):

- `logreg`: `LogisticRegression` on the concatenated standardised features of every modality (statistics from the
  present train + validation rows only); a missing entry is mean-imputed (0 after standardisation) and each modality
  adds one 0/1 column that is 1 where it is missing.
- `mlp`: `MLPClassifier` (one hidden layer of 256, Adam, at most 300 epochs, no early stopping) on the same matrix.
- `hgb`: `HistGradientBoostingClassifier` with NaN for every missing entry (no imputation, no indicator: the trees
  learn where NaN goes).
- `logreg_md`, `mlp_md`: `logreg` and `mlp` trained with modality dropout: the training matrix also holds 2 copies of
  every row in which each present modality is dropped with probability 0.3, one always kept
  (`processing.missing.modality_dropout_mask`, seeded by the model seed), so they see the missing case in training.

Text modalities: TF-IDF (word 1-2 grams, min_df 2, at most 20,000 features, fitted on the present train + validation
texts). `logreg` takes the sparse TF-IDF block in the hstack as is; `mlp` and `hgb` take a `TruncatedSVD` of it to 128
dimensions (fitted on the same texts, seeded by the model seed; for `mlp` then standardised like a dense block),
because a 20,000-wide dense input is too slow for them. A missing text is an empty document (a zero row, or NaN for
`hgb`) plus its indicator. Image modalities: the pixels / 255 of each image, row-major (every image of one size), a
dense block like any other.

Run from the repository root:

    python -m benchmarks.suite --out .cache/suite
    python -m benchmarks.bench_references --suite-dir .cache/suite                       # every setting, seeds 0,1,2
    python -m benchmarks.bench_references --suite-dir .cache/suite --datasets breast_cancer --references logreg,hgb
    python -m benchmarks.bench_references --suite-dir .cache/suite --quick               # smoke test, temp folder

Writes `benchmarks/results/references_suite.json` (provenance header of `benchmarks/common.py`, the sha256 of every
suite file read; one entry per (setting, reference, seed) with test accuracy and macro-F1 per η and the wall time of
fit + predict) and prints a table of mean ± std over seeds. Runs go into the file's existing ones (`--fresh` discards
those): a (setting, reference, seed) run again replaces its entry, the others are kept, and `invocations` lists every
command that wrote into the file; the knobs, rates and evaluation seed must be those the file was measured with.
"""

from __future__ import annotations

import argparse
import io
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from benchmarks.common import (
    command_line,
    default_output,
    mean_std,
    offline_environment,
    provenance,
    read_json,
    run_cli,
    write_json,
)
from benchmarks.suite import SETTINGS, SUITE_SEED, sha256_bytes, stratified_subsample
from cldmdf.evaluation.results import parse_missing_rates, result_key
from cldmdf.processing.loading import load_multimodal_dataset
from cldmdf.processing.missing import max_missing_rate, missing_pattern, modality_dropout_mask

MISSING_RATES = (0.0, 0.3, 0.5)
EVAL_SEED = 0  # train_accelerate.py's default --eval_seed: the pattern every CL-DMDF run is evaluated with
METRICS = ("accuracy", "f1")


@dataclass(frozen=True)
class Reference:
    """One reference model.

    Args:
        estimator (`str`): `"logreg"`, `"mlp"` or `"hgb"`.
        modality_dropout (`bool`): train on the rows plus copies with modalities dropped.
        description (`str`): one line for the results file.
    """

    estimator: str
    modality_dropout: bool
    description: str


REFERENCES: dict[str, Reference] = {
    "logreg": Reference(
        "logreg", False, "LogisticRegression, standardised + mean-imputed, one indicator per modality"
    ),
    "mlp": Reference("mlp", False, "MLPClassifier (256), standardised + mean-imputed, one indicator per modality"),
    "hgb": Reference("hgb", False, "HistGradientBoostingClassifier, NaN for missing entries"),
    "logreg_md": Reference("logreg", True, "logreg trained with modality dropout (2 copies, p = 0.3)"),
    "mlp_md": Reference("mlp", True, "mlp trained with modality dropout (2 copies, p = 0.3)"),
}


@dataclass(frozen=True)
class Knobs:
    """Sizes of the references; `QUICK` is the smoke-test setting."""

    max_fit_rows: int | None = None  # stratified subsample of train + validation (quick runs)
    max_test_rows: int | None = None
    logreg_max_iter: int = 2000
    mlp_hidden: int = 256
    mlp_max_iter: int = 300
    hgb_max_iter: int = 100
    md_copies: int = 2
    md_p: float = 0.3
    tfidf_max_features: int = 20000
    tfidf_min_df: int = 2
    svd_dims: int = 128


FULL = Knobs()
QUICK = Knobs(max_fit_rows=300, max_test_rows=200, mlp_max_iter=30, hgb_max_iter=20, tfidf_max_features=2000,
              svd_dims=16)  # fmt: skip


# ------------------------------------------------------------------------------------------------ data
@dataclass
class SplitArrays:
    """One split as arrays: `values[name]` is (N, d) float64 (NaN rows where missing) for a dense or image modality
    and a list of `str | None` for a text one; `present` (N, M) bool in sorted modality order; labels and row ids
    (N,)."""

    values: dict[str, Any]
    present: np.ndarray
    labels: np.ndarray
    row_ids: np.ndarray

    def take(self, index: np.ndarray) -> SplitArrays:
        values = {
            name: (column[index] if isinstance(column, np.ndarray) else [column[i] for i in index])
            for name, column in self.values.items()
        }
        return SplitArrays(values, self.present[index], self.labels[index], self.row_ids[index])


def split_arrays(dataset, modalities: dict[str, dict], label_column: str, row_id_column: str) -> SplitArrays:
    """A `datasets.Dataset` split -> `SplitArrays` (modalities in sorted name order)."""
    table = dataset.with_format("arrow")[:]
    names = sorted(modalities)
    values, present = {}, np.zeros((table.num_rows, len(names)), dtype=bool)
    for j, name in enumerate(names):
        column = table.column(name).to_pylist()
        present[:, j] = [value is not None for value in column]
        if modalities[name]["type"] == "dense":
            matrix = np.full((table.num_rows, modalities[name]["dim"]), np.nan)
            rows = np.flatnonzero(present[:, j])
            if rows.size:
                matrix[rows] = np.asarray([column[i] for i in rows], dtype=np.float64)
            values[name] = matrix
        elif modalities[name]["type"] == "text":
            values[name] = column
        elif modalities[name]["type"] == "image":
            values[name] = image_pixels(name, column)
        else:
            raise ValueError(
                f"modality {name!r} has type {modalities[name]['type']!r}; the references take dense/text/image"
            )
    labels = np.asarray(table.column(label_column).to_numpy(zero_copy_only=False), dtype=np.int64)
    row_ids = np.asarray(table.column(row_id_column).to_numpy(zero_copy_only=False), dtype=np.int64)
    return SplitArrays(values, present, labels, row_ids)


def image_pixels(name: str, column: list[dict | None]) -> np.ndarray:
    """(N, pixels) float64: each image's pixels / 255, row-major (NaN rows where missing), from `datasets.Image()`
    values as arrow stores them (`{"bytes", "path"}`); every image must have the same size and channels."""
    from PIL import Image

    decoded = {
        i: np.asarray(Image.open(io.BytesIO(value["bytes"]) if value["bytes"] is not None else value["path"]))
        for i, value in enumerate(column)
        if value is not None
    }
    shapes = sorted({image.shape for image in decoded.values()})
    if len(shapes) > 1:
        raise ValueError(f"image modality {name!r} has images of shapes {shapes}; the references need one shape")
    matrix = np.full((len(column), int(np.prod(shapes[0])) if shapes else 0), np.nan)
    for i, image in decoded.items():
        matrix[i] = image.reshape(-1) / 255.0
    return matrix


def concat(a: SplitArrays, b: SplitArrays) -> SplitArrays:
    values = {
        name: np.concatenate([a.values[name], b.values[name]]) if isinstance(a.values[name], np.ndarray)
        else list(a.values[name]) + list(b.values[name])
        for name in a.values
    }  # fmt: skip
    return SplitArrays(
        values,
        np.concatenate([a.present, b.present]),
        np.concatenate([a.labels, b.labels]),
        np.concatenate([a.row_ids, b.row_ids]),
    )


def load_setting(folder: str | Path) -> tuple[dict[str, dict], SplitArrays, SplitArrays]:
    """Modalities (sorted), train + validation rows, and test rows of a suite folder, read as the training script
    reads it (`load_multimodal_dataset`)."""
    data = load_multimodal_dataset(str(folder))
    missing = [split for split in ("train", "validation", "test") if split not in data.dataset]
    if missing:
        raise ValueError(f"{folder} has no {missing} split(s); suite folders have train, validation and test")
    args = (data.modalities, data.label_column, data.row_id_column)
    fit = concat(split_arrays(data["train"], *args), split_arrays(data["validation"], *args))
    return dict(data.modalities), fit, split_arrays(data["test"], *args)


def evaluation_mask(
    row_ids: np.ndarray, present: np.ndarray, missing_rate: float, seed: int = EVAL_SEED
) -> np.ndarray:
    """The presence mask the collator evaluates with at rate η: the data's own `present` entries, minus the seeded
    (seed, row id) pattern (`CLDMDFDataCollator(missing_rate=η, seed=seed)`)."""
    return missing_pattern(row_ids, present, missing_rate, seed)


def meetable_rates(rates: Sequence[float], num_modalities: int) -> tuple[list[float], list[float]]:
    """(kept, skipped): η = 0 and every η below (M - 1) / M are kept, the others skipped."""
    limit = max_missing_rate(num_modalities)
    kept = [rate for rate in rates if rate == 0 or rate < limit]
    return kept, [rate for rate in rates if rate not in kept]


# ------------------------------------------------------------------------------------------------ features
class Featurizer:
    """Per-modality blocks fitted on the train + validation rows, then assembled into a model's input for any mask.

    Args:
        modalities (`dict`): modality specs by name.
        fit (`SplitArrays`): the rows the statistics, TF-IDF vocabulary and SVD are fitted on (present entries only).
        estimator (`str`): `"logreg"` (sparse TF-IDF), `"mlp"` or `"hgb"` (TF-IDF reduced by TruncatedSVD).
        knobs (`Knobs`): sizes.
        seed (`int`): seed of the SVD.
    """

    def __init__(self, modalities: dict[str, dict], fit: SplitArrays, estimator: str, knobs: Knobs, seed: int):
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.names = sorted(modalities)
        self.estimator = estimator
        self.text, self.svd, self.mean, self.std = {}, {}, {}, {}
        for j, name in enumerate(self.names):
            rows = fit.present[:, j]
            if modalities[name]["type"] == "text":
                docs = [fit.values[name][i] for i in np.flatnonzero(rows)]
                vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=knobs.tfidf_min_df,
                                             max_features=knobs.tfidf_max_features)  # fmt: skip
                self.text[name] = vectorizer.fit(docs)
                if estimator == "logreg":
                    continue
                tfidf = vectorizer.transform(docs)
                dims = min(knobs.svd_dims, tfidf.shape[1] - 1)
                self.svd[name] = TruncatedSVD(n_components=dims, random_state=seed).fit(tfidf)
                reduced = self.svd[name].transform(tfidf)
                self.mean[name], self.std[name] = _moments(reduced)
            else:
                self.mean[name], self.std[name] = _moments(fit.values[name][rows])

    def blocks(self, split: SplitArrays) -> dict[str, Any]:
        """Each modality's representation of every row (rows missing in the data: zeros; masked later)."""
        out = {}
        for j, name in enumerate(self.names):
            rows = np.flatnonzero(split.present[:, j])
            if name in self.text:
                docs = [split.values[name][i] if split.present[i, j] else "" for i in range(len(split.labels))]
                tfidf = self.text[name].transform(docs).tocsr()
                if self.estimator == "logreg":
                    out[name] = tfidf
                    continue
                dense = np.zeros((len(split.labels), self.svd[name].n_components))
                if rows.size:
                    dense[rows] = self.svd[name].transform(tfidf[rows])
            else:
                dense = np.nan_to_num(split.values[name], nan=0.0)
            if self.estimator != "hgb":  # trees need no scaling
                dense = np.where(split.present[:, [j]], (dense - self.mean[name]) / self.std[name], 0.0)
            out[name] = dense
        return out

    def matrix(self, blocks: dict[str, Any], mask: np.ndarray):
        """The model input for presence `mask` (N, M): missing entries 0 + indicator columns (logreg, mlp), or NaN
        (hgb). Sparse when a text block is sparse (logreg with text), else a dense float64 array."""
        if self.estimator == "hgb":
            parts = [np.where(mask[:, [j]], blocks[name], np.nan) for j, name in enumerate(self.names)]
            return np.hstack(parts)
        parts = []
        for j, name in enumerate(self.names):
            block = blocks[name]
            keep = mask[:, j].astype(np.float64)
            parts.append(sp.diags(keep) @ block if sp.issparse(block) else block * keep[:, None])
        indicators = (~mask).astype(np.float64)  # (N, M): 1 where the modality is missing
        if any(sp.issparse(part) for part in parts):
            return sp.hstack([*parts, sp.csr_matrix(indicators)], format="csr")
        return np.hstack([*parts, indicators])


def _moments(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (a constant column gets std 1)."""
    if matrix.shape[0] == 0:
        return np.zeros(matrix.shape[1]), np.ones(matrix.shape[1])
    mean, std = matrix.mean(axis=0), matrix.std(axis=0)
    return mean, np.where(std > 1e-12, std, 1.0)


def make_estimator(estimator: str, knobs: Knobs, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if estimator == "logreg":
        return LogisticRegression(max_iter=knobs.logreg_max_iter, random_state=seed)
    if estimator == "mlp":
        return MLPClassifier(hidden_layer_sizes=(knobs.mlp_hidden,), max_iter=knobs.mlp_max_iter,
                             early_stopping=False, random_state=seed)  # fmt: skip
    if estimator == "hgb":
        return HistGradientBoostingClassifier(max_iter=knobs.hgb_max_iter, early_stopping=False, random_state=seed)
    raise ValueError(f"estimator must be 'logreg', 'mlp' or 'hgb', got {estimator!r}")


def _repeat_rows(block, repeats: int):
    """`block` stacked `repeats` times along the rows (sparse stays sparse)."""
    if sp.issparse(block):
        return sp.vstack([block] * repeats, format="csr")
    return np.tile(block, (repeats, 1))


def dropout_copies(present: np.ndarray, copies: int, p: float, seed: int) -> np.ndarray:
    """(copies * N, M) masks: each copy drops each present entry with probability p, one kept per row (seeded)."""
    generator = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    return np.concatenate([modality_dropout_mask(present, p, generator) for _ in range(copies)])


# ------------------------------------------------------------------------------------------------ one run
def run_reference(
    name: str,
    modalities: dict[str, dict],
    fit: SplitArrays,
    test: SplitArrays,
    seed: int,
    rates: Sequence[float] = MISSING_RATES,
    knobs: Knobs = FULL,
) -> dict:
    """Fits reference `name` on `fit` and evaluates it on `test` at each meetable η.

    Returns:
        `dict`: `results` (`test_accuracy`, `test_f1`, `test_accuracy_missing_<η>`, ... as fractions, the training
        script's key names), `skipped_rates`, `fit_s`, `predict_s`, `wall_s` (fit + every prediction, featurising
        included), `fit_rows`, `test_rows`, `converged` (False when the estimator warned it did not converge).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, f1_score

    reference = REFERENCES[name]
    kept, skipped = meetable_rates(rates, len(modalities))
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        featurizer = Featurizer(modalities, fit, reference.estimator, knobs, seed)
        blocks = featurizer.blocks(fit)
        masks, labels = [fit.present], [fit.labels]
        if reference.modality_dropout:
            masks.append(dropout_copies(fit.present, knobs.md_copies, knobs.md_p, seed))
            labels.append(np.tile(fit.labels, knobs.md_copies))
        mask = np.concatenate(masks)
        repeats = len(mask) // len(fit.labels)
        blocks = {key: _repeat_rows(block, repeats) for key, block in blocks.items()}
        model = make_estimator(reference.estimator, knobs, seed)
        model.fit(featurizer.matrix(blocks, mask), np.concatenate(labels))
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    fit_s = time.perf_counter() - start

    start = time.perf_counter()
    test_blocks = featurizer.blocks(test)
    results = {}
    for rate in kept:
        predicted = model.predict(featurizer.matrix(test_blocks, evaluation_mask(test.row_ids, test.present, rate)))
        results[result_key("accuracy", rate)] = float(accuracy_score(test.labels, predicted))
        results[result_key("f1", rate)] = float(f1_score(test.labels, predicted, average="macro"))
    predict_s = time.perf_counter() - start
    return {
        "results": results,
        "skipped_rates": skipped,
        "fit_s": round(fit_s, 4),
        "predict_s": round(predict_s, 4),
        "wall_s": round(fit_s + predict_s, 4),
        "fit_rows": int(len(mask)),
        "test_rows": int(len(test.labels)),
        "converged": converged,
    }


def subsample(split: SplitArrays, limit: int | None) -> SplitArrays:
    """A stratified, seeded subset of `limit` rows (`stratified_subsample` of the suite; every row when None or when
    the split is smaller): a quick run's tiny, deterministic subset."""
    if limit is None or len(split.labels) <= limit:
        return split
    return split.take(stratified_subsample(split.labels, limit, SUITE_SEED))


# ------------------------------------------------------------------------------------------------ sweep
def suite_checksums(folder: Path) -> dict[str, str]:
    """sha256 of each file of a suite folder (the data the results were measured on), by relative path."""
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    return {path.relative_to(folder).as_posix(): sha256_bytes(path.read_bytes()) for path in files}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--suite-dir", required=True, help="Folder built by benchmarks/suite.py (one sub-folder each)."
    )
    parser.add_argument(
        "--datasets", default=None, help=f"Comma-separated settings (default all): {', '.join(SETTINGS)}."
    )
    parser.add_argument("--seeds", default=None, help="Comma-separated model seeds (default 0,1,2; quick 0).")
    parser.add_argument("--references", default=None, help=f"Comma-separated (default all): {', '.join(REFERENCES)}.")
    parser.add_argument("--eval-missing-rates", default="0,0.3,0.5", help="Comma-separated η values.")
    parser.add_argument("--quick", action="store_true", help="Smoke test: tiny subsets and models, seed 0.")
    parser.add_argument(
        "--output", default=None, help="Results JSON (default benchmarks/results/references_suite.json)."
    )
    parser.add_argument("--fresh", action="store_true", help="Discard the runs already in --output.")
    args = parser.parse_args(argv)
    args.command = command_line(__file__, argv)
    return args


def _names(value: str | None, allowed: Sequence[str], flag: str) -> list[str]:
    names = list(allowed) if value is None else [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise ValueError(f"{flag} got {unknown or value!r}; allowed: names in {list(allowed)}")
    return names


def resolve_args(args: argparse.Namespace) -> None:
    """Validates the lists and fills the defaults that depend on --quick; raises ValueError."""
    args.dataset_list = _names(args.datasets, list(SETTINGS), "--datasets")
    args.reference_list = _names(args.references, list(REFERENCES), "--references")
    seeds = args.seeds if args.seeds is not None else ("0" if args.quick else "0,1,2")
    try:
        args.seed_list = [int(seed) for seed in seeds.split(",") if seed.strip()]
    except ValueError:
        raise ValueError(f"--seeds must be comma-separated integers, got {seeds!r}") from None
    args.rates = parse_missing_rates(args.eval_missing_rates, flag="--eval-missing-rates")
    if not args.seed_list:
        raise ValueError(f"--seeds must name at least one seed, got {seeds!r}")
    missing = [name for name in args.dataset_list if not (Path(args.suite_dir) / name / "README.md").is_file()]
    if missing:
        raise ValueError(f"--suite-dir {args.suite_dir} lacks {missing}; build them: python -m benchmarks.suite "
                         f"--out {args.suite_dir} --only {','.join(missing)}")  # fmt: skip
    args.knobs = QUICK if args.quick else FULL
    args.output = default_output(args, "references_suite.json")


def summarize(runs: list[dict]) -> dict:
    """`{setting: {reference: {key: mean_std over seeds}}}` for every metric key and `wall_s`."""
    summary: dict = {}
    for run in runs:
        entry = summary.setdefault(run["dataset"], {}).setdefault(run["reference"], {})
        for key, value in [*run["results"].items(), ("wall_s", run["wall_s"])]:
            entry.setdefault(key, []).append(value)
    return {d: {r: {k: mean_std(v) for k, v in e.items()} for r, e in refs.items()} for d, refs in summary.items()}


def format_table(summary: dict, rates: Sequence[float]) -> str:
    """Markdown table: accuracy and macro-F1 (%) per (setting, reference), one column pair per η, and wall time."""
    header = ["setting", "reference"] + [f"{m} η={r:g}" for r in rates for m in ("acc", "F1")] + ["fit+predict s"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]

    def cell(stats: dict | None, scale: float = 100.0, digits: int = 2) -> str:
        if stats is None or stats["mean"] is None:
            return "-"
        std = f" ± {stats['std'] * scale:.{digits}f}" if stats["std"] is not None else ""
        return f"{stats['mean'] * scale:.{digits}f}{std}"

    for dataset, refs in summary.items():
        for reference, entry in refs.items():
            cells = [cell(entry.get(result_key(m, r))) for r in rates for m in METRICS]
            lines.append("| " + " | ".join([dataset, reference, *cells, cell(entry["wall_s"], 1.0, 1)]) + " |")
    return "\n".join(lines)


# A file's runs compare only when measured with the same of these: a merge into it requires them equal.
COMPARABLE_SETTING = ("eval_missing_rates", "eval_seed", "quick", "knobs")
INVOCATION_KEYS = ("benchmark", "command", "git_commit", "git_dirty", "machine", "created")


def merge_record(previous: dict | None, record: dict, output: str) -> dict:
    """`record` (this invocation: header and setting, no runs yet) merged into `previous`, what `output` holds.

    The runs of `previous` that this invocation runs again (same setting, reference and seed) are dropped, the others
    kept; the setting's lists and checksums are extended; `invocations` gains this one. Raises ValueError when
    `previous` was measured with another `COMPARABLE_SETTING` value (its runs and these would not compare)."""
    invocation = {key: record[key] for key in INVOCATION_KEYS}
    if previous is None:
        return {**record, "invocations": [invocation]}
    old, new = previous["setting"], record["setting"]
    differ = {key: (old.get(key), new[key]) for key in COMPARABLE_SETTING if old.get(key) != new[key]}
    if differ:
        raise ValueError(f"{output} was measured with other settings (file, this run): {differ}; pass --fresh to "
                         f"replace it or --output another file")  # fmt: skip
    rerun = {(d, r, s) for d in new["datasets"] for r in new["references"] for s in new["seeds"]}
    setting = {
        **old,
        "suite_dir": new["suite_dir"],
        "datasets": [*old["datasets"], *(name for name in new["datasets"] if name not in old["datasets"])],
        "references": {**old["references"], **new["references"]},
        "seeds": sorted({*old["seeds"], *new["seeds"]}),
        "regimes": {**old["regimes"], **new["regimes"]},
        "suite_sha256": {**old["suite_sha256"], **new["suite_sha256"]},
    }
    runs = [run for run in previous["runs"] if (run["dataset"], run["reference"], run["seed"]) not in rerun]
    invocations = previous.get("invocations") or [{key: previous.get(key) for key in INVOCATION_KEYS}]
    return {**previous, "setting": setting, "runs": runs, "invocations": [*invocations, invocation]}


def main(args: argparse.Namespace) -> dict:
    resolve_args(args)
    offline_environment()
    record = {
        **provenance("references_suite", args.command),
        "setting": {
            "suite_dir": str(args.suite_dir),
            "datasets": args.dataset_list,
            "references": {name: REFERENCES[name].description for name in args.reference_list},
            "seeds": args.seed_list,
            "eval_missing_rates": args.rates,
            "eval_seed": EVAL_SEED,
            "quick": args.quick,
            "knobs": asdict(args.knobs),
            "regimes": {name: list(SETTINGS[name].regimes) for name in args.dataset_list},
            "suite_sha256": {name: suite_checksums(Path(args.suite_dir) / name) for name in args.dataset_list},
        },
        "runs": [],
    }
    record = merge_record(None if args.fresh else read_json(args.output), record, args.output)
    for dataset in args.dataset_list:
        modalities, fit, test = load_setting(Path(args.suite_dir) / dataset)
        fit, test = subsample(fit, args.knobs.max_fit_rows), subsample(test, args.knobs.max_test_rows)
        for reference in args.reference_list:
            for seed in args.seed_list:
                run = run_reference(reference, modalities, fit, test, seed, args.rates, args.knobs)
                record["runs"].append({"dataset": dataset, "reference": reference, "seed": seed, **run})
                accuracy = run["results"]["test_accuracy"]
                print(f"{dataset:22s} {reference:10s} seed {seed}: accuracy {accuracy:.4f}, {run['wall_s']:.1f} s",
                      flush=True)  # fmt: skip
                record["summary"] = summarize(record["runs"])
                write_json(Path(args.output), record)
    print(format_table(record["summary"], args.rates))
    print(f"wrote {args.output}")
    return record


if __name__ == "__main__":
    run_cli(__file__, parse_args, main)
