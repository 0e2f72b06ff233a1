"""CL-DMDF with its defaults on the development suite, beside the scikit-learn references of `bench_references.py`.

Every (candidate, setting, seed) is one real `train_accelerate.py` run in a subprocess (single-threaded, `--jobs` at a
time), with only `--dataset_name`, `--output_dir`, `--seed` and the candidate's own arguments: what a user who runs
the script on their data with no flags gets. Two splits:

    python -m benchmarks.bench_suite --suite-dir .cache/suite                      # test split, seeds 0,1,2
    python -m benchmarks.bench_suite --suite-dir .cache/suite --split selection \\
        --candidates "epochs30=--num_train_epochs 30,defaults=" --output benchmarks/results/selection_suite.json

`--split selection` chooses defaults without the test split: each setting's train split is the training data (the
script carves its own early-stopping split out of it, as it does for a user's dataset without one) and the suite's
validation split plays the test split. `--split test` is the report: train + validation as shipped, evaluated on the
test split at η = 0, 0.3, 0.5 (those the setting's M modalities allow), with the collator's (seed 0, row id) missing
patterns: the same rows and entries as the references.

Build the suite first (`python -m benchmarks.suite --out .cache/suite`). A text or image setting gets no extra flag
either: the script reads text with its bag-of-words encoder and images with its small CNN, both trained with the
rest (a candidate that wants a pretrained backbone names it, e.g. `--text_backbone minilm --cache_backbone_outputs`).
"""

import argparse
import json
import shlex
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

from benchmarks.common import (
    RATES,
    REPO_ROOT,
    command_line,
    percent,
    provenance,
    read_json,
    run_cli,
    run_training_script,
    summarize,
    write_json,
)
from benchmarks.suite import SETTINGS
from cldmdf.evaluation.results import result_key

RUN_STATS = ("train_runtime", "train_steps", "best_step", "epochs_trained")


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite-dir", required=True, help="The folder `benchmarks/suite.py --out` wrote.")
    parser.add_argument("--datasets", default=None, help=f"Comma-separated settings (default: all): {list(SETTINGS)}")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--split", choices=["test", "selection"], default="test")
    parser.add_argument(
        "--candidates",
        default="defaults=",
        help='Comma-separated "name=train_accelerate.py arguments" (empty: the defaults).',
    )
    parser.add_argument("--jobs", type=int, default=2, help="Runs at a time, one CPU thread each.")
    parser.add_argument("--output", default=None, help="Default: benchmarks/results/{split}_suite.json")
    parser.add_argument("--fresh", action="store_true", help="Discard the runs already in --output.")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="Run again the (candidate, setting, seed) of this invocation that --output already holds, replacing "
        "them (after a default changed); the file's other runs are kept.",
    )
    args = parser.parse_args(argv)
    args.command = command_line("benchmarks/bench_suite.py", argv)
    return args


def parse_candidates(text: str) -> dict[str, list[str]]:
    candidates = {}
    for item in text.split(","):
        name, sep, arguments = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f'--candidates items must look like "name=arguments", got {item!r}')
        candidates[name.strip()] = shlex.split(arguments)
    return candidates


def selection_view(folder: Path, workdir: Path) -> Path:
    """The setting with its train split only, and its validation split renamed test: defaults are chosen on it."""
    view = workdir / f"selection-{folder.name}"
    if not view.exists():
        (view / "data").mkdir(parents=True)
        for source, target in (("train", "train"), ("validation", "test")):
            (files,) = [sorted((folder / "data").glob(f"{source}-*.parquet"))]
            for index, path in enumerate(files):
                shutil.copyfile(path, view / "data" / f"{target}-{index:05d}-of-{len(files):05d}.parquet")
    return view


def run_one(dataset: Path, seed: int, arguments: list[str], workdir: Path) -> dict:
    output_dir = Path(tempfile.mkdtemp(dir=workdir))
    argv = ["--dataset_name", str(dataset), "--output_dir", str(output_dir), "--seed", str(seed), *arguments]
    process, wall = run_training_script(argv)
    if process.returncode != 0:
        shutil.rmtree(output_dir, ignore_errors=True)
        return {"error": process.stderr[-2000:], "argv": argv}
    results = json.loads((output_dir / "all_results.json").read_text())
    shutil.rmtree(output_dir, ignore_errors=True)
    return {"results": results, "wall_time": round(wall, 2), "argv": argv}


def run_key(run: dict) -> tuple[str, str, int]:
    """What identifies a run in a results file: (candidate, setting, seed)."""
    return run["candidate"], run["setting"], run["seed"]


def summarize_suite(runs: list[dict]) -> dict:
    """candidate -> setting -> metric key -> mean ± std over seeds (`common.summarize` of each candidate's runs)."""
    by_candidate: dict[str, list[dict]] = {}
    for run in runs:
        if "results" in run:
            by_candidate.setdefault(run["candidate"], []).append(run)
    return {
        candidate: summarize(mine, "setting", stats=(*RUN_STATS, "wall_time"))
        for candidate, mine in by_candidate.items()
    }


def format_table(summary: dict) -> str:
    lines = [
        "| candidate | setting | η = 0 | η = 0.3 | η = 0.5 | steps (best) | wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for candidate, settings in summary.items():
        for setting, entry in settings.items():
            cells = []
            for rate in RATES:
                value = entry.get(result_key("accuracy", rate))
                cells.append(percent(value))
            steps = (
                f"{entry['train_steps']['mean']:.0f} ({entry['best_step']['mean']:.0f})"
                if "best_step" in entry
                else ""
            )
            lines.append(
                f"| {candidate} | {setting} | {' | '.join(cells)} | {steps} | {entry['wall_time']['mean']:.1f} |"
            )
    return "\n".join(lines)


def main(args: argparse.Namespace) -> dict:
    suite_dir = Path(args.suite_dir)
    names = args.datasets.split(",") if args.datasets else list(SETTINGS)
    unknown = sorted(set(names) - set(SETTINGS))
    if unknown:
        raise ValueError(f"--datasets names unknown settings {unknown}; allowed: {list(SETTINGS)}")
    missing = [name for name in names if not (suite_dir / name).is_dir()]
    if missing:
        raise ValueError(
            f"--suite-dir {suite_dir} lacks {missing}: run `python -m benchmarks.suite --out {suite_dir}`"
        )
    candidates = parse_candidates(args.candidates)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    output = Path(args.output or REPO_ROOT / "benchmarks" / "results" / f"{args.split}_suite.json")
    record = None if args.fresh else read_json(output)
    if record is None or record.get("split") != args.split:
        record = {**provenance("bench_suite", args.command), "split": args.split, "runs": []}
    # Every invocation that added runs to the file, with its commit (the header names the first one).
    record.setdefault("invocations", []).append(provenance("bench_suite", args.command))
    if args.replace:
        planned = {(candidate, name, seed) for candidate in candidates for name in names for seed in seeds}
        record["runs"] = [run for run in record["runs"] if run_key(run) not in planned]
    done = {run_key(run) for run in record["runs"] if "results" in run}
    workdir = Path(tempfile.mkdtemp(prefix="cldmdf-suite-"))
    jobs = []
    for name in names:
        dataset = suite_dir / name if args.split == "test" else selection_view(suite_dir / name, workdir)
        for candidate, arguments in candidates.items():
            for seed in seeds:
                if (candidate, name, seed) not in done:
                    jobs.append((candidate, name, seed, dataset, arguments))
    record["runs"] = [run for run in record["runs"] if "results" in run]

    def execute(job):
        candidate, name, seed, dataset, arguments = job
        run = {
            "candidate": candidate,
            "setting": name,
            "seed": seed,
            **run_one(dataset, seed, arguments, workdir),
        }
        status = "failed" if "error" in run else f"{run['results'].get('test_accuracy', float('nan')):.4f}"
        print(f"{candidate} {name} seed {seed}: {status}", flush=True)
        return run

    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for run in pool.map(execute, jobs):
                record["runs"].append(run)
                record["summary"] = summarize_suite(record["runs"])
                write_json(output, record)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(format_table(record.get("summary", {})))
    return record


if __name__ == "__main__":
    run_cli(__file__, parse_args, main)
