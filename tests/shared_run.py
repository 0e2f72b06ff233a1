"""One real training run shared by every test that reads what a run leaves behind (`trained_run` in conftest.py).

Two tiny runs of `train_accelerate.cli`, a few seconds of CPU together:

- classification on real rows of the bundled UCI Multiple Features dataset (80 train, 40 validation, 67 test rows),
  its classes renamed "zero" ... "nine" (a `ClassLabel`), so that a label name never equals its id; a few test rows
  miss modalities in the data itself (rows 0-3 keep only `fou`, rows 4-5 lack `kar`), so that the row counts of the
  modality removals differ from the split's. Early stopping (patience 1, evaluated every 2 steps) stops the first fit
  after its best evaluation, so that the best step and the steps run differ;
- regression on scikit-learn's bundled diabetes data (a float target, two dense modalities).

While the classification run trains, every call of the training loop (`training.loop.fit`: the first fit and the
refit) is recorded with the weights it starts from and its budget, and every figure the model card saves is kept.

`run_script` runs `train_accelerate.py` in a subprocess as a user runs it, the way every test that needs a real
process does (one torch thread: `script_env`).
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import datasets
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
UCI = ROOT / "bundled_datasets" / "uci_multifeature"
DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
# Test rows (positions in the written test file) with modalities missing in the data itself.
ONLY_FOU_ROWS = [0, 1, 2, 3]
NO_KAR_ROWS = [4, 5]
CLASSIFICATION_FLAGS = [
    "--hidden_size", "16",
    "--num_fusion_layers", "1",
    "--per_device_train_batch_size", "16",
    "--max_train_steps", "30",
    "--min_train_steps", "0",
    "--early_stopping_patience", "1",
    "--eval_steps", "2",
    "--learning_rate", "5e-2",
    "--eval_missing_rates", "0,0.3,0.5",
    "--do_predict",
]  # fmt: skip
REGRESSION_FLAGS = [
    "--hidden_size", "16",
    "--num_fusion_layers", "1",
    "--per_device_train_batch_size", "32",
    "--max_train_steps", "20",
    "--eval_steps", "5",
    "--eval_missing_rates", "0,0.3",
    "--do_predict",
]  # fmt: skip


@dataclass
class FitCall:
    """One call of `training.loop.fit`: the tracker prefix ("" first fit, "refit_" the refit), the model's (and
    the objectives') weights when it started, its step budget and what it returned."""

    prefix: str
    start_weights: dict
    max_train_steps: int
    fitted: Any


@dataclass
class SharedRun:
    data_folder: Path
    folder: Path  # the output folder of the classification run
    argv: list
    fits: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    regression_data_folder: Path = None
    regression_folder: Path = None
    regression_argv: list = None
    regression_fits: list = field(default_factory=list)
    regression_figures: list = field(default_factory=list)


def write_digits(folder: Path) -> Path:
    splits = {
        split: datasets.Dataset.from_parquet(str(UCI / "data" / f"{split}-00000-of-00001.parquet"))
        for split in ("train", "validation", "test")
    }
    folder.mkdir(parents=True)
    labels = datasets.ClassLabel(names=DIGIT_NAMES)
    picked = {
        "train": splits["train"].shuffle(seed=0).select(range(80)),
        "validation": splits["validation"].shuffle(seed=0).select(range(40)),
        "test": splits["test"].select(range(0, 400, 6)),
    }
    for split, rows in picked.items():
        rows = rows.cast_column("label", labels)
        if split == "test":
            columns = rows.to_dict()
            for name in ("fac", "kar", "mor", "pix", "zer"):
                for index in ONLY_FOU_ROWS:
                    columns[name][index] = None
            for index in NO_KAR_ROWS:
                columns["kar"][index] = None
            rows = datasets.Dataset.from_dict(columns, features=rows.features)
        rows.to_parquet(str(folder / f"{split}.parquet"))
    return folder


def write_diabetes(folder: Path) -> Path:
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    x, y = bunch.data.astype(np.float32), bunch.target.astype(np.float32)
    folder.mkdir(parents=True)
    order = np.random.default_rng(0).permutation(len(y))
    bounds = {"train": order[:300], "validation": order[300:360], "test": order[360:]}
    for split, rows in bounds.items():
        columns = {"body": x[rows, :4].tolist(), "serum": x[rows, 4:].tolist(), "target": y[rows].tolist()}
        features = datasets.Features(
            body=datasets.List(datasets.Value("float32"), length=4),
            serum=datasets.List(datasets.Value("float32"), length=6),
            target=datasets.Value("float32"),
        )
        datasets.Dataset.from_dict(columns, features=features).to_parquet(str(folder / f"{split}.parquet"))
    return folder


def train_shared_run(root: Path) -> SharedRun:
    import matplotlib.figure

    import cldmdf.train_accelerate as train_accelerate
    from cldmdf.training import loop

    data_folder = write_digits(root / "digits")
    argv = ["--dataset_name", str(data_folder), "--output_dir", str(root / "cldmdf-digits"), *CLASSIFICATION_FLAGS]
    run = SharedRun(data_folder=data_folder, folder=root / "cldmdf-digits", argv=argv)
    real_fit, real_savefig = loop.fit, matplotlib.figure.Figure.savefig
    fits, figures = run.fits, run.figures

    def recording_fit(accelerator, args, model, methods, optimizer, lr_scheduler, train_dataloader, budget, **kwargs):
        weights = {
            name: copy.deepcopy(accelerator.unwrap_model(module).state_dict())
            for name, module in (("model", model), ("objectives", methods.objectives))
        }
        fitted = real_fit(
            accelerator, args, model, methods, optimizer, lr_scheduler, train_dataloader, budget, **kwargs
        )
        fits.append(FitCall(kwargs.get("prefix", ""), weights, budget.max_train_steps, fitted))
        return fitted

    def keeping_savefig(self, *args, **kwargs):
        figures.append(self)
        return real_savefig(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop, "fit", recording_fit)
        patch.setattr(matplotlib.figure.Figure, "savefig", keeping_savefig)
        assert train_accelerate.cli(argv) == 0
        fits, figures = run.regression_fits, run.regression_figures
        run.regression_data_folder = write_diabetes(root / "diabetes")
        run.regression_folder = root / "cldmdf-diabetes"
        run.regression_argv = ["--dataset_name", str(run.regression_data_folder), *REGRESSION_FLAGS]
        run.regression_argv += ["--output_dir", str(run.regression_folder)]
        assert train_accelerate.cli(run.regression_argv) == 0
    return run


def script_env(**overrides: str) -> dict:
    """This process's environment for a child process that trains, with one torch thread: what `accelerate launch`
    sets on CPU. The suite's processes share two cores; two threads each made a 30 s run take over 10 minutes."""
    return {**os.environ, "OMP_NUM_THREADS": "1", **overrides}


def run_script(
    *argv: str, launcher: tuple = (sys.executable,), env: Optional[dict] = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    """`train_accelerate.py` with `argv` run as a user runs it (`launcher`: `python`, or an `accelerate launch`
    command line), from the repository root, in a subprocess with `script_env()` (or `env`); output captured."""
    command = [*launcher, str(ROOT / "train_accelerate.py"), *map(str, argv)]
    env = script_env() if env is None else env
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
