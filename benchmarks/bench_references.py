"""The references a user would pick instead of CL-DMDF, from scikit-learn (the `dev` extra), which
`bench_suite.py --run references` (and `--run alone`) trains on train + validation of a suite setting and scores on
its test split at each η the setting can meet, with the training script's evaluation pattern (`missing_pattern`).

`logreg` (standardised features, a missing entry mean-imputed plus one indicator per modality), `mlp` (256, Adam,
300 epochs, the same matrix), `hgb` (gradient boosting, NaN where missing), `logreg_md` and `mlp_md` (trained on 2
extra copies of every row with modalities dropped at p = 0.3). Text: TF-IDF (1-2 grams, min_df 2, 20,000 terms; an
SVD to 128 for `mlp` and `hgb`), a missing text an empty document. Images: the pixels / 255.
"""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from benchmarks.suite import SUITE_SEED, stratified_subsample
from cldmdf.evaluation.results import result_key
from cldmdf.processing.loading import load_multimodal_dataset
from cldmdf.processing.missing import max_missing_rate, missing_pattern, modality_dropout_mask

MISSING_RATES = (0.0, 0.3, 0.5)
EVAL_SEED = 0  # train_accelerate.py's default --eval_seed: the pattern every CL-DMDF run is evaluated with


# name -> (estimator, trained with modality dropout)
REFERENCES = {"logreg": ("logreg", False), "mlp": ("mlp", False), "hgb": ("hgb", False), "logreg_md": ("logreg", True),
              "mlp_md": ("mlp", True)}  # fmt: skip


@dataclass(frozen=True)
class Knobs:
    """Sizes of the references (`max_*_rows`: a stratified subsample, for `QUICK`, the smoke-test setting)."""

    max_fit_rows: int | None = None
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


@dataclass
class SplitArrays:
    """One split: `values[name]` (N, d) float64, NaN where missing (a text: `str | None`s); `present` (N, M) bool."""

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
            raise ValueError(f"modality {name!r}: {modalities[name]['type']!r}, not dense, text or image")
    labels = np.asarray(table.column(label_column).to_numpy(zero_copy_only=False), dtype=np.int64)
    row_ids = np.asarray(table.column(row_id_column).to_numpy(zero_copy_only=False), dtype=np.int64)
    return SplitArrays(values, present, labels, row_ids)


def image_pixels(name: str, column: list[dict | None]) -> np.ndarray:
    """(N, pixels) float64: each image's pixels / 255, row-major (NaN rows where missing), from `datasets.Image()`
    values as arrow stores them (`{"bytes", "path"}`); every image must have the same size and channels."""
    from PIL import Image

    decoded = {i: np.asarray(Image.open(io.BytesIO(value["bytes"]) if value["bytes"] is not None else value["path"]))
               for i, value in enumerate(column) if value is not None}  # fmt: skip
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
    pairs = ((a.present, b.present), (a.labels, b.labels), (a.row_ids, b.row_ids))
    return SplitArrays(values, *(np.concatenate(pair) for pair in pairs))


def load_setting(folder: str | Path) -> tuple[dict[str, dict], SplitArrays, SplitArrays]:
    """Modalities, train + validation rows and test rows of a suite folder, read as the training script reads it."""
    data = load_multimodal_dataset(str(folder))
    missing = [split for split in ("train", "validation", "test") if split not in data.dataset]
    if missing:
        raise ValueError(f"{folder} has no {missing} split(s); suite folders have train, validation and test")
    args = (data.modalities, data.label_column, data.row_id_column)
    fit = concat(split_arrays(data["train"], *args), split_arrays(data["validation"], *args))
    return dict(data.modalities), fit, split_arrays(data["test"], *args)


def meetable_rates(rates: Sequence[float], num_modalities: int) -> tuple[list[float], list[float]]:
    """(kept, skipped): η = 0 and every η below (M - 1) / M are kept, the others skipped."""
    limit = max_missing_rate(num_modalities)
    kept = [rate for rate in rates if rate == 0 or rate < limit]
    return kept, [rate for rate in rates if rate not in kept]


class Featurizer:
    """Per-modality blocks fitted on the train + validation rows, then assembled into a model's input for any mask."""

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


def run_reference(name: str, modalities: dict[str, dict], fit: SplitArrays, test: SplitArrays, seed: int,
                  rates: Sequence[float] = MISSING_RATES, knobs: Knobs = FULL) -> dict:  # fmt: skip
    """Fits reference `name` on `fit` and evaluates it on `test` at each meetable η."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, f1_score

    estimator, dropout = REFERENCES[name]
    kept, skipped = meetable_rates(rates, len(modalities))
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        featurizer = Featurizer(modalities, fit, estimator, knobs, seed)
        blocks = featurizer.blocks(fit)
        masks, labels = [fit.present], [fit.labels]
        if dropout:
            masks.append(dropout_copies(fit.present, knobs.md_copies, knobs.md_p, seed))
            labels.append(np.tile(fit.labels, knobs.md_copies))
        mask = np.concatenate(masks)
        repeats = len(mask) // len(fit.labels)
        blocks = {key: _repeat_rows(block, repeats) for key, block in blocks.items()}
        model = make_estimator(estimator, knobs, seed)
        model.fit(featurizer.matrix(blocks, mask), np.concatenate(labels))
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    fit_s = time.perf_counter() - start

    start = time.perf_counter()
    test_blocks = featurizer.blocks(test)
    results = {}
    for rate in kept:
        hidden = missing_pattern(test.row_ids, test.present, rate, EVAL_SEED)
        predicted = model.predict(featurizer.matrix(test_blocks, hidden))
        results[result_key("accuracy", rate)] = float(accuracy_score(test.labels, predicted))
        results[result_key("f1", rate)] = float(f1_score(test.labels, predicted, average="macro"))
    predict_s = time.perf_counter() - start
    return {"results": results, "skipped_rates": skipped, "fit_s": round(fit_s, 4), "predict_s": round(predict_s, 4),
            "wall_s": round(fit_s + predict_s, 4), "fit_rows": int(len(mask)), "test_rows": int(len(test.labels)),
            "converged": converged}  # fmt: skip


def subsample(split: SplitArrays, limit: int | None) -> SplitArrays:
    """A stratified, seeded subset of `limit` rows (every row when None or the split is smaller): a quick run's."""
    if limit is None or len(split.labels) <= limit:
        return split
    return split.take(stratified_subsample(split.labels, limit, SUITE_SEED))


def alone(split: SplitArrays, names: Sequence[str], name: str) -> SplitArrays:
    """`split` restricted to modality `name` and to the rows that have it."""
    j = list(names).index(name)
    kept = split.take(np.flatnonzero(split.present[:, j]))
    return SplitArrays({name: kept.values[name]}, kept.present[:, [j]], kept.labels, kept.row_ids)
