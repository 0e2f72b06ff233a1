"""Each modality alone: the specialists a user would train on one modality, beside CL-DMDF's score with only that
modality present.

For every setting of the development suite and every modality m, on the rows where m is present:

- `logreg`, `mlp`: the scikit-learn references of `bench_references.py`, trained on m alone (train + validation) and
  scored on the test rows that have m. An image is its pixels / 255; a text its TF-IDF.
- `cnn` (image modalities, `--cnn`): CL-DMDF trained with no flag on a copy of the setting that holds m alone (its
  CNN is then the whole model): the image specialist a user of this library would train.

CL-DMDF's own "alone" score is `test_accuracy_only_<m>` of a fused run (`train_accelerate.py` writes it for every
modality); `bench_suite.py` records it. The table of BENCHMARKS.md puts the two side by side.

    python -m benchmarks.bench_alone --suite-dir .cache/suite
    python -m benchmarks.bench_alone --suite-dir .cache/suite --datasets digits_image_profile --cnn

Writes `benchmarks/results/alone_references.json` (provenance header: command, commit, machine) and prints a table.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.bench_references import FULL, SplitArrays, load_setting, run_reference
from benchmarks.bench_suite import run_one
from benchmarks.common import REPO_ROOT, command_line, mean_std, offline_environment, provenance, run_cli, write_json
from benchmarks.suite import SETTINGS

REFERENCES = ("logreg", "mlp")


def alone(split: SplitArrays, names: Sequence[str], name: str) -> SplitArrays:
    """`split` restricted to modality `name` and to the rows that have it."""
    j = list(names).index(name)
    rows = np.flatnonzero(split.present[:, j])
    kept = split.take(rows)
    return SplitArrays({name: kept.values[name]}, kept.present[:, [j]], kept.labels, kept.row_ids)


def alone_folder(folder: Path, name: str, workdir: Path) -> Path:
    """A copy of suite setting `folder` with modality `name` alone (rows without it dropped), in Hub layout."""
    import datasets

    view = workdir / f"{folder.name}-{name}"
    if view.exists():
        return view
    for split in ("train", "validation", "test"):
        dataset = datasets.load_dataset("parquet", data_files=str(folder / "data" / f"{split}-*.parquet"))["train"]
        others = [column for column in dataset.column_names if column not in (name, "label", "row_id")]
        dataset = dataset.remove_columns(others).filter(lambda row: row[name] is not None)
        dataset.to_parquet(str(view / "data" / f"{split}-00000-of-00001.parquet"))
    return view


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite-dir", required=True, help="Folder built by benchmarks/suite.py.")
    parser.add_argument("--datasets", default=None, help=f"Comma-separated settings (default all): {list(SETTINGS)}")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--cnn", action="store_true", help="Also train CL-DMDF on each image modality alone.")
    parser.add_argument("--output", default=str(REPO_ROOT / "benchmarks" / "results" / "alone_references.json"))
    args = parser.parse_args(argv)
    args.command = command_line(__file__, argv)
    return args


def main(args: argparse.Namespace) -> dict:
    offline_environment()
    names = args.datasets.split(",") if args.datasets else list(SETTINGS)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    record = {**provenance("alone_references", args.command), "runs": []}
    workdir = Path(tempfile.mkdtemp(prefix="cldmdf-alone-"))
    try:
        for setting in names:
            folder = Path(args.suite_dir) / setting
            modalities, fit, test = load_setting(folder)
            order = sorted(modalities)
            for name in order:
                specialists = list(REFERENCES)
                if args.cnn and modalities[name]["type"] == "image":
                    specialists.append("cnn")
                for specialist in specialists:
                    for seed in seeds:
                        if specialist == "cnn":
                            run = run_one(alone_folder(folder, name, workdir), seed, [], workdir)
                            accuracy = run["results"]["test_accuracy"] if "results" in run else None
                        else:
                            single = {name: modalities[name]}
                            run = run_reference(specialist, single, alone(fit, order, name), alone(test, order, name),
                                                seed, rates=[0.0], knobs=FULL)  # fmt: skip
                            accuracy = run["results"]["test_accuracy"]
                        entry = {"setting": setting, "modality": name, "specialist": specialist, "seed": seed}
                        record["runs"].append({**entry, "test_accuracy": accuracy})
                        print(f"{setting:22s} {name:12s} {specialist:7s} seed {seed}: {accuracy}", flush=True)
                        write_json(Path(args.output), {**record, "summary": summarize(record["runs"])})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    record["summary"] = summarize(record["runs"])
    write_json(Path(args.output), record)
    return record


def summarize(runs: list[dict]) -> dict:
    """setting -> modality -> specialist -> mean ± std of the test accuracy over seeds."""
    values: dict = {}
    for run in runs:
        if run["test_accuracy"] is not None:
            key = (run["setting"], run["modality"], run["specialist"])
            values.setdefault(key, []).append(run["test_accuracy"])
    summary: dict = {}
    for (setting, modality, specialist), accuracies in values.items():
        summary.setdefault(setting, {}).setdefault(modality, {})[specialist] = mean_std(accuracies)
    return summary


if __name__ == "__main__":
    run_cli(__file__, parse_args, main)
