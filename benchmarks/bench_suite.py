"""The driver: CL-DMDF, the scikit-learn references and the one-modality specialists on the settings of the
development suite (`benchmarks/suite.py`: build it first, `python -m benchmarks.suite --out .cache/suite`), and the
README's main job, over seeds. `--run`:

- `cldmdf`: every (candidate, setting, seed) is one `train_accelerate.py` subprocess (one thread, `--jobs` at a time)
  with only `--dataset_name`, `--output_dir`, `--seed` and the candidate's arguments (`--candidates "name=<arguments>,
  ..."`: `--config_overrides ...`, `--baseline late_fusion`, ...). `--split test` trains on train + validation and
  scores the test split at η = 0, 0.3, 0.5; `--split selection` chooses defaults without the test split: the train
  split is the training data (the script carves its early-stopping split out of it), the validation split is scored.
- `references`: those of `bench_references.py`, on the same rows and missing entries (`--quick`: tiny ones).
- `alone`: logistic regression and an MLP on each modality alone (`--cnn`: CL-DMDF on each image modality alone).
- `main_job`: `accelerate launch train_accelerate.py --seed s` with its defaults, end to end, one run at a time.

    python -m benchmarks.bench_suite --suite-dir .cache/suite --split selection \\
        --candidates "defaults=,lr3e-3=--learning_rate 3e-3" --output benchmarks/results/selection_suite.json

Results go into `--output` (default under `benchmarks/results/`): the runs already there are kept and skipped
(`--fresh` discards them, `--replace` runs this invocation's again); `invocations` lists every command.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks import common
from benchmarks.suite import SETTINGS

KEYS = {"cldmdf": ("candidate", "setting", "seed"), "references": ("dataset", "reference", "seed"),
        "alone": ("setting", "modality", "specialist", "seed"), "main_job": ("seed",)}  # what identifies a run
MAIN_JOB_STATS = ("train_runtime", "train_steps", "refit_steps", "test_accuracy")


@dataclass
class SuiteArguments:
    suite_dir: str = field(default=".cache/suite", metadata={"help": "The folder `benchmarks/suite.py --out` wrote."})
    run: str = field(default="cldmdf", metadata={"help": "What to run.", "choices": list(KEYS)})
    datasets: str | None = field(default=None, metadata={"help": f"Comma-separated settings of {list(SETTINGS)}."})
    seeds: str = field(default="0,1,2", metadata={"help": "Comma-separated seeds."})
    split: str = field(default="test", metadata={"help": "--run cldmdf.", "choices": ["test", "selection"]})
    candidates: str = field(default="defaults=", metadata={"help": 'Comma-separated "name=train_accelerate.py args".'})
    references: str | None = field(default=None, metadata={"help": "Comma-separated references (default all)."})
    cnn: bool = field(default=False, metadata={"help": "--run alone: also CL-DMDF on each image modality alone."})
    quick: bool = field(default=False, metadata={"help": "References on tiny subsets and models (a smoke test)."})
    jobs: int = field(default=2, metadata={"help": "CL-DMDF runs at a time, one CPU thread each."})
    output: str | None = field(default=None, metadata={"help": "Results JSON (default under benchmarks/results/)."})
    fresh: bool = field(default=False, metadata={"help": "Discard the runs already in --output."})
    replace: bool = field(default=False, metadata={"help": "Run again this invocation's runs that --output holds."})


def parse_candidates(text: str) -> dict[str, list[str]]:
    candidates = {}
    for item in text.split(","):
        name, sep, arguments = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f'--candidates items must look like "name=arguments", got {item!r}')
        candidates[name.strip()] = shlex.split(arguments)
    return candidates


def view(folder: Path, workdir: Path, splits: dict[str, str], keep: str | None = None) -> Path:
    """`folder` with its splits renamed (source -> target); with `keep`, that modality alone, where present."""
    import datasets

    target = workdir / f"{folder.name}-{keep or 'selection'}"
    if not target.exists():
        for source, split in splits.items():
            data = datasets.load_dataset("parquet", data_files=str(folder / "data" / f"{source}-*.parquet"))["train"]
            if keep is not None:
                others = [c for c in data.column_names if c not in (keep, "label", "row_id")]
                data = data.remove_columns(others).filter(lambda row: row[keep] is not None)
            data.to_parquet(str(target / "data" / f"{split}-00000-of-00001.parquet"))
    return target


def train(dataset: Path, seed: int, arguments: list[str], workdir: Path) -> dict:
    """One `train_accelerate.py` run: its `all_results.json`, wall and CPU seconds (or its error)."""
    output_dir = Path(tempfile.mkdtemp(dir=workdir))
    argv = ["--dataset_name", str(dataset), "--output_dir", str(output_dir), "--seed", str(seed), *arguments]
    process, times = common.run_training_script(argv)
    try:
        if process.returncode != 0:
            return {"error": process.stderr[-2000:], "argv": argv}
        return {"results": json.loads((output_dir / "all_results.json").read_text()), **times, "argv": argv}
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)


def main_job(seed: int, workdir: Path) -> dict:
    """The README's main job end to end (start-up, pre-flight check, training, sweep, card)."""
    output_dir = Path(tempfile.mkdtemp(dir=workdir))
    accelerate = [str(Path(sys.executable).with_name("accelerate")), "launch", "train_accelerate.py"]
    argv = ["--output_dir", str(output_dir), "--seed", str(seed)]
    process, times = common.run_training_script(argv, script=accelerate)
    if process.returncode != 0:
        raise ValueError(f"the main job failed with seed {seed}: {process.stderr[-1000:]}")
    results = json.loads((output_dir / "all_results.json").read_text())
    return {"wall_time": times["wall_time"], **{key: results.get(key) for key in MAIN_JOB_STATS}}


def plan(args: SuiteArguments, workdir: Path) -> list[tuple[dict, callable]]:
    """Every run of this invocation: (its key fields, a function that runs it and returns its entry)."""
    from benchmarks import bench_references as refs

    seeds = [int(seed) for seed in args.seeds.split(",")]
    if args.run == "main_job":
        return [({"seed": seed}, lambda seed=seed: main_job(seed, workdir)) for seed in seeds]
    settings = common.names(args.datasets, list(SETTINGS), "--datasets")
    suite = Path(args.suite_dir)
    missing = [name for name in settings if not (suite / name / "README.md").is_file()]
    if missing:
        raise ValueError(f"--suite_dir {suite} lacks {missing}: run `python -m benchmarks.suite --out {suite}`")
    jobs = []
    for setting in settings:
        folder = suite / setting
        if args.run == "cldmdf":
            selection = {"train": "train", "validation": "test"}  # the validation split plays the test split
            dataset = folder if args.split == "test" else view(folder, workdir, selection)
            for candidate, arguments in parse_candidates(args.candidates).items():
                for seed in seeds:
                    key = {"candidate": candidate, "setting": setting, "seed": seed}
                    jobs.append((key, lambda d=dataset, s=seed, a=arguments: train(d, s, a, workdir)))
            continue
        knobs = refs.QUICK if args.quick else refs.FULL
        modalities, fit, test = refs.load_setting(folder)
        fit, test = refs.subsample(fit, knobs.max_fit_rows), refs.subsample(test, knobs.max_test_rows)
        if args.run == "references":
            for reference in common.names(args.references, list(refs.REFERENCES), "--references"):
                for seed in seeds:
                    key = {"dataset": setting, "reference": reference, "seed": seed}
                    run = (reference, modalities, fit, test, seed, refs.MISSING_RATES, knobs)
                    jobs.append((key, lambda run=run: refs.run_reference(*run)))
            continue
        order = sorted(modalities)
        for name in order:
            image = modalities[name]["type"] == "image"
            for specialist in ("logreg", "mlp", *(("cnn",) if args.cnn and image else ())):
                for seed in seeds:
                    key = {"setting": setting, "modality": name, "specialist": specialist, "seed": seed}
                    if specialist == "cnn":
                        splits = {split: split for split in ("train", "validation", "test")}
                        dataset = view(folder, workdir, splits, keep=name)
                        jobs.append((key, lambda d=dataset, s=seed: _accuracy(train(d, s, [], workdir))))
                    else:
                        run = (specialist, {name: modalities[name]}, refs.alone(fit, order, name),
                               refs.alone(test, order, name), seed, [0.0], knobs)  # fmt: skip
                        jobs.append((key, lambda run=run: _accuracy(refs.run_reference(*run))))
    return jobs


def _accuracy(run: dict) -> dict:
    return {"test_accuracy": run["results"]["test_accuracy"] if "results" in run else None}


def summary(kind: str, runs: list[dict]) -> dict:
    """Mean ± std over seeds, nested by the fields of `KEYS[kind]` but the seed (the main job: by key)."""
    if kind == "main_job":
        return {key: common.mean_std([run[key] for run in runs]) for key in ("wall_time", *MAIN_JOB_STATS)
                if all(run.get(key) is not None for run in runs)}  # fmt: skip
    if kind == "alone":
        runs = [{**run, "results": {"test_accuracy": run["test_accuracy"]}} for run in runs
                if run["test_accuracy"] is not None]  # fmt: skip
    return common.summarize(runs, KEYS[kind][:-1], ("wall_time", "wall_s", "cpu_s"))


def main(args: SuiteArguments) -> dict:
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):  # benchmarks never need the Hub
        os.environ.setdefault(name, "1")
    default = {"cldmdf": f"{args.split}_suite.json", "references": "references_suite.json",
               "alone": "alone_references.json", "main_job": "main_job.json"}[args.run]  # fmt: skip
    output = Path(args.output or common.RESULTS_DIR / default)
    header = common.provenance(args.run, args.command)
    record = None if args.fresh else common.read_json(output)
    if record is None or record.get("split", args.split) != args.split:
        record = {**header, "split": args.split, "settings": asdict(args), "runs": [], "invocations": []}
    record.setdefault("invocations", []).append(header)
    workdir = Path(tempfile.mkdtemp(prefix="cldmdf-suite-"))
    try:
        jobs = plan(args, workdir)
        identify = lambda entry: tuple(entry[key] for key in KEYS[args.run])  # noqa: E731
        planned = {identify(key) for key, _ in jobs}
        if args.replace:
            record["runs"] = [run for run in record["runs"] if identify(run) not in planned]
        record["runs"] = [run for run in record["runs"] if "error" not in run]
        done = {identify(run) for run in record["runs"]}
        jobs = [(key, job) for key, job in jobs if identify(key) not in done]

        def execute(item):
            key, job = item
            entry = {**key, **job()}
            outcome = entry.get("error") or entry.get("results", entry).get("test_accuracy")
            print(*key.values(), outcome, flush=True)
            return entry

        parallel = args.jobs if args.run == "cldmdf" else 1
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            for entry in pool.map(execute, jobs):
                record["runs"].append(entry)
                record["summary"] = summary(args.run, [run for run in record["runs"] if "error" not in run])
                common.write_json(output, record)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"wrote {output}")
    return record


if __name__ == "__main__":
    common.run_cli(SuiteArguments, main)
