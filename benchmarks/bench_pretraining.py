"""Fine-tuning a pre-trained CL-DMDF against training it from scratch, when only a few rows carry labels.

The setting is the bundled reviews data (review text + title + tabular, frozen MiniLM outputs cached as in the
suite). A seeded, label-stratified `--label-fraction` (default 5 %) of the train and validation rows keeps its labels;
the test split is whole. Per seed, three real `train_accelerate.py` runs in subprocesses (single-threaded):

1. `--task pretraining` on every train row, labels unused (masked-modality reconstruction + entity-centroid loss),
   with `--pretraining-args` (default: 3000 steps);
2. fine-tuning from that checkpoint (`--model_name_or_path`) on the labelled rows;
3. the same classifier trained from scratch on the labelled rows.

Both classifiers get the defaults and nothing else, and are evaluated on the test split at η = 0, 0.3, 0.5:

    python -m benchmarks.bench_pretraining --seeds 0,1,2
"""

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.common import (
    RATES,
    REPO_ROOT,
    TEXT_ARGS,
    command_line,
    mean_std,
    percent,
    provenance,
    read_json,
    run_cli,
    run_training_script,
    write_json,
)
from cldmdf.evaluation.results import result_key

DATASET = REPO_ROOT / "bundled_datasets" / "womens_clothing_reviews"
LABEL = "recommended"
ARMS = ("from_scratch", "fine_tuned")


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--label-fraction", type=float, default=0.05, help="Share of train/validation rows labelled.")
    parser.add_argument("--dataset", default=str(DATASET), help="A Hub-layout folder with train/validation/test.")
    parser.add_argument("--train-args", default="", help="Extra train_accelerate.py arguments for every run.")
    parser.add_argument(
        "--pretraining-args",
        default="--max_train_steps 3000",
        help="Extra arguments of the pre-training run (default: a budget of 3000 steps, about 6 epochs of reviews).",
    )
    parser.add_argument("--output", default=str(REPO_ROOT / "benchmarks" / "results" / "pretraining_reviews.json"))
    parser.add_argument("--fresh", action="store_true", help="Discard the runs already in --output.")
    args = parser.parse_args(argv)
    if not 0 < args.label_fraction <= 1:
        raise ValueError(f"--label-fraction must be in (0, 1], got {args.label_fraction}")
    args.command = command_line("benchmarks/bench_pretraining.py", argv)
    return args


def split_file(dataset: Path, split: str) -> Path:
    (path,) = sorted((dataset / "data").glob(f"{split}-*.parquet"))
    return path


def labelled_subset(table: pa.Table, fraction: float, seed: int) -> pa.Table:
    """A stratified `fraction` of the rows (at least one per label), chosen with `seed`."""
    labels = np.asarray(table.column(LABEL).to_pylist())
    rng = np.random.default_rng(seed)
    keep = []
    for value in np.unique(labels):
        rows = np.flatnonzero(labels == value)
        keep.extend(rng.choice(rows, size=max(1, round(fraction * len(rows))), replace=False).tolist())
    return table.take(sorted(keep))


def make_views(dataset: Path, fraction: float, seed: int, workdir: Path) -> tuple[Path, Path]:
    """(`unlabelled`: every train row without its label, the validation rows too; `labelled`: the labelled share
    of train and validation, the whole test split)."""
    unlabelled, labelled = workdir / f"unlabelled-{seed}", workdir / f"labelled-{seed}"
    for folder in (unlabelled, labelled):
        (folder / "data").mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation"):
        table = pq.read_table(split_file(dataset, split))
        pq.write_table(table.drop([LABEL]), unlabelled / "data" / f"{split}-00000-of-00001.parquet")
        pq.write_table(labelled_subset(table, fraction, seed), labelled / "data" / f"{split}-00000-of-00001.parquet")
    shutil.copyfile(split_file(dataset, "test"), labelled / "data" / "test-00000-of-00001.parquet")
    return unlabelled, labelled


def run_script(argv: list[str]) -> tuple[dict, float]:
    process, wall = run_training_script(argv)
    if process.returncode != 0:
        raise RuntimeError(f"train_accelerate.py {' '.join(argv)} failed:\n{process.stderr[-3000:]}")
    output_dir = Path(argv[argv.index("--output_dir") + 1])
    return json.loads((output_dir / "all_results.json").read_text()), wall


def run_seed(args: argparse.Namespace, seed: int, workdir: Path) -> dict:
    unlabelled, labelled = make_views(Path(args.dataset), args.label_fraction, seed, workdir)
    extra = [*TEXT_ARGS, *args.train_args.split()]
    pretrained = workdir / f"pretrained-{seed}"
    common = ["--seed", str(seed), *extra]
    pre_results, pre_wall = run_script(
        [
            *("--task", "pretraining", "--dataset_name", str(unlabelled), "--output_dir", str(pretrained)),
            *common,
            *args.pretraining_args.split(),
        ]
    )
    runs = {"pretraining": {"results": pre_results, "wall_time": pre_wall}}
    for arm in ARMS:
        argv = ["--dataset_name", str(labelled), "--output_dir", str(workdir / f"{arm}-{seed}"), *common]
        if arm == "fine_tuned":
            argv += ["--model_name_or_path", str(pretrained)]
        results, wall = run_script(argv)
        runs[arm] = {"results": results, "wall_time": wall}
        print(f"seed {seed} {arm}: test accuracy {results.get('test_accuracy', float('nan')):.4f}", flush=True)
    return {"seed": seed, "runs": runs}


def summarize(record: dict) -> dict:
    summary = {}
    for arm in ARMS:
        entry = {}
        for rate in RATES:
            key = result_key("accuracy", rate)
            values = [
                seed["runs"][arm]["results"][key] for seed in record["seeds"] if key in seed["runs"][arm]["results"]
            ]
            if values:
                entry[key] = mean_std(values)
        entry["wall_time"] = mean_std([seed["runs"][arm]["wall_time"] for seed in record["seeds"]])
        summary[arm] = entry
    summary["pretraining"] = {
        "wall_time": mean_std([seed["runs"]["pretraining"]["wall_time"] for seed in record["seeds"]])
    }
    return summary


def format_table(summary: dict) -> str:
    lines = ["| classifier | η = 0 | η = 0.3 | η = 0.5 | wall s |", "|---|---|---|---|---|"]
    for arm in ARMS:
        entry = summary.get(arm, {})
        cells = []
        for rate in RATES:
            value = entry.get(result_key("accuracy", rate))
            cells.append(percent(value))
        wall = entry.get("wall_time")
        lines.append(f"| {arm.replace('_', ' ')} | {' | '.join(cells)} | {wall['mean']:.1f} |" if wall else "")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> dict:
    output = Path(args.output)
    record = None if args.fresh else read_json(output)
    setting = {
        "dataset": Path(args.dataset).name,
        "label_fraction": args.label_fraction,
        "train_args": args.train_args,
        "pretraining_args": args.pretraining_args,
    }
    if record is None or record.get("setting") != setting:
        record = {**provenance("bench_pretraining", args.command), "setting": setting, "seeds": []}
    done = {entry["seed"] for entry in record["seeds"]}
    workdir = Path(tempfile.mkdtemp(prefix="cldmdf-pretraining-"))
    try:
        for seed in (int(seed) for seed in args.seeds.split(",")):
            if seed in done:
                continue
            record["seeds"].append(run_seed(args, seed, workdir))
            record["summary"] = summarize(record)
            write_json(output, record)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(format_table(record.get("summary", {})))
    return record


if __name__ == "__main__":
    run_cli(__file__, parse_args, main)
