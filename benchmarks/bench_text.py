"""Text: CL-DMDF with its bag-of-words text encoder on the bundled reviews, beside the scikit-learn references.

The dataset is `bundled_datasets/womens_clothing_reviews` as shipped (review text + title + tabular, 16,910 / 1,879 /
4,697 rows). Every CL-DMDF run is one `train_accelerate.py --dataset_name <folder>` in a single-threaded subprocess
(`OMP_NUM_THREADS=1`, one run at a time), with only `--output_dir`, `--seed` and the candidate's own arguments: the
defaults are what a user who names the dataset alone gets, without the `[text]` extra. Two splits:

    python -m benchmarks.bench_text --split selection --candidates "defaults=,dim64=--text_embedding_dim 64"
    python -m benchmarks.bench_text --split test                         # defaults + references, seeds 0,1,2

`--split selection` chooses defaults without the test split: the train split is the training data (the script
carves its own early-stopping split from it, as for a user's dataset without one) and the validation split plays
the test split (`selection_view` of `bench_suite.py`). `--split test` is the report: train + validation as shipped
(CL-DMDF refits on both once early stopping has chosen the length), evaluated on the test split at η = 0, 0.3, 0.5
with the collator's (seed 0, row id) missing patterns; the references of `bench_references.py` (TF-IDF + logistic
regression / MLP / gradient boosting, with and without modality dropout) train on train + validation and are
evaluated on the same rows and entries.

Each run records its wall time, its process CPU time (user + system of the child, `resource.getrusage`), and
`train_runtime` (the training loops' wall time, refit included, as the script reports it). Wall times on a shared
machine are inflated by the other processes; CPU time is not.

Writes `benchmarks/results/text_{split}.json` (provenance header of `benchmarks/common.py`) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import tempfile
import time
from pathlib import Path
from typing import Optional

from benchmarks.bench_references import FULL, REFERENCES, load_setting, run_reference
from benchmarks.bench_suite import parse_candidates, selection_view
from benchmarks.common import (
    RATES,
    REPO_ROOT,
    command_line,
    offline_environment,
    provenance,
    read_json,
    run_cli,
    run_training_script_timed,
    summarize,
    write_json,
)
from cldmdf.evaluation.results import result_key

DATASET = REPO_ROOT / "bundled_datasets" / "womens_clothing_reviews"
RUN_STATS = ("train_runtime", "train_steps", "best_step", "refit_steps", "wall_s", "cpu_s")


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(DATASET), help="A Hub-layout folder with train/validation/test.")
    parser.add_argument("--split", choices=["test", "selection"], default="test")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--candidates", default="defaults=", help='Comma-separated "name=train_accelerate.py args".')
    parser.add_argument(
        "--references", default="logreg,mlp,hgb,logreg_md,mlp_md", help="With --split test; empty for none."
    )
    parser.add_argument("--output", default=None, help="Default: benchmarks/results/text_{split}.json")
    parser.add_argument("--fresh", action="store_true", help="Discard the runs already in --output.")
    args = parser.parse_args(argv)
    args.command = command_line(__file__, argv)
    return args


def run_candidate(dataset: Path, seed: int, arguments: list[str], workdir: Path) -> dict:
    output_dir = Path(tempfile.mkdtemp(dir=workdir))
    argv = ["--dataset_name", str(dataset), "--output_dir", str(output_dir), "--seed", str(seed), *arguments]
    process, wall, cpu = run_training_script_timed(argv)
    try:
        if process.returncode != 0:
            return {"error": process.stderr[-3000:], "argv": argv}
        results = json.loads((output_dir / "all_results.json").read_text())
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)
    return {"results": results, "wall_s": wall, "cpu_s": cpu, "argv": argv}


def run_references(dataset: Path, names: list[str], seeds: list[int]) -> list[dict]:
    """The references on train + validation -> test, each timed (wall and this process's CPU time)."""
    modalities, fit, test = load_setting(dataset)
    runs = []
    for name in names:
        for seed in seeds:
            cpu = time.process_time()
            run = run_reference(name, modalities, fit, test, seed, RATES, FULL)
            run["cpu_s"] = round(time.process_time() - cpu, 2)
            runs.append({"candidate": f"reference:{name}", "seed": seed, **run})
            print(f"reference {name} seed {seed}: {run['results']['test_accuracy']:.4f} ({run['wall_s']:.1f} s)")
    return runs


def format_table(summary: dict) -> str:
    def cell(stats: Optional[dict], scale: float = 100.0, digits: int = 2) -> str:
        if not stats or stats["mean"] is None:
            return "–"
        std = f" ± {stats['std'] * scale:.{digits}f}" if stats["std"] is not None else ""
        return f"{stats['mean'] * scale:.{digits}f}{std}"

    header = "| model | acc η=0 | macro-F1 η=0 | acc η=0.3 | macro-F1 η=0.3 | acc η=0.5 | train s | wall s | CPU s |"
    lines = [header, "|---|---|---|---|---|---|---|---|---|"]
    for name, entry in summary.items():
        cells = [cell(entry.get(result_key(m, r))) for r, m in ((0, "accuracy"), (0, "f1"), (0.3, "accuracy"),
                                                              (0.3, "f1"), (0.5, "accuracy"))]  # fmt: skip
        times = [cell(entry.get(stat), 1.0, 1) for stat in ("train_runtime", "wall_s", "cpu_s")]
        lines.append(f"| {name} | {' | '.join(cells)} | {' | '.join(times)} |")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> dict:
    offline_environment()
    dataset = Path(args.dataset)
    if not (dataset / "README.md").is_file():
        raise ValueError(f"--dataset {dataset} is not a Hub-layout folder (no README.md)")
    candidates = parse_candidates(args.candidates) if args.candidates.strip() else {}  # "": references only
    seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    references = [name for name in args.references.split(",") if name.strip()] if args.split == "test" else []
    unknown = sorted(set(references) - set(REFERENCES))
    if unknown:
        raise ValueError(f"--references names {unknown}; allowed: {list(REFERENCES)}")
    output = Path(args.output or REPO_ROOT / "benchmarks" / "results" / f"text_{args.split}.json")
    record = None if args.fresh else read_json(output)
    if record is None or record.get("split") != args.split:
        record = {**provenance("bench_text", args.command), "split": args.split, "dataset": str(dataset), "runs": []}
    record.setdefault("invocations", []).append(provenance("bench_text", args.command))
    record["candidates"] = {**record.get("candidates", {}), **{k: shlex.join(v) for k, v in candidates.items()}}
    done = {(run["candidate"], run["seed"]) for run in record["runs"] if "results" in run}
    record["runs"] = [run for run in record["runs"] if "results" in run]
    workdir = Path(tempfile.mkdtemp(prefix="cldmdf-text-"))
    try:
        data = dataset if args.split == "test" else selection_view(dataset, workdir)
        for name, arguments in candidates.items():
            for seed in seeds:
                if (name, seed) in done:
                    continue
                run = {"candidate": name, "seed": seed, **run_candidate(data, seed, arguments, workdir)}
                status = "failed" if "error" in run else f"{run['results']['test_accuracy']:.4f}, {run['cpu_s']} CPU s"
                print(f"{name} seed {seed}: {status}", flush=True)
                record["runs"].append(run)
                record["summary"] = summarize(record["runs"], "candidate", stats=RUN_STATS)
                write_json(output, record)
        missing = [name for name in references if not any((f"reference:{name}", s) in done for s in seeds)]
        if missing:
            record["runs"] += run_references(dataset, missing, seeds)
            record["summary"] = summarize(record["runs"], "candidate", stats=RUN_STATS)
            write_json(output, record)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(format_table(record.get("summary", {})))
    print(f"wrote {output}")
    return record


if __name__ == "__main__":
    run_cli(__file__, parse_args, main)
