"""Helpers of the benchmark scripts and the report: provenance, JSON files, the summary of runs over seeds and the
command line (`transformers.HfArgumentParser` over a dataclass). Every results file starts with the header of
`provenance` (benchmark, command, git commit and state, machine, time): the report prints it under each table."""

import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
RATES = (0.0, 0.3, 0.5)  # the missing rates of every test-split table


def git_state() -> dict:
    """HEAD commit (None outside a repository) and whether the working tree differs from it."""
    try:
        run = [subprocess.run(["git", *args], capture_output=True, text=True, check=True, cwd=REPO_ROOT).stdout
               for args in (["rev-parse", "HEAD"], ["status", "--porcelain"])]  # fmt: skip
        return {"git_commit": run[0].strip(), "git_dirty": bool(run[1].strip())}
    except (OSError, subprocess.CalledProcessError):
        return {"git_commit": None, "git_dirty": None}


def machine_info() -> dict:
    """The machine a benchmark ran on: platform, CPU model and count, Python, torch and its threads, numpy, GPU."""
    import numpy as np
    import torch

    info = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), platform.processor())
    gpu = None
    if torch.cuda.is_available():
        props = [torch.cuda.get_device_properties(i) for i in range(torch.cuda.device_count())]
        gpu = ", ".join(f"{p.name} ({p.total_memory / 2**30:.0f} GiB)" for p in props) + f", CUDA {torch.version.cuda}"
    return {"platform": platform.platform(), "processor": platform.processor(), "cpu_model": cpu,
            "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "numpy": np.__version__, "gpu": gpu}  # fmt: skip


def provenance(benchmark: str, command: str) -> dict:
    """The header every results file starts with: benchmark name, command, git state, machine, UTC time."""
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"benchmark": benchmark, "command": command, **git_state(), "machine": machine_info(), "created": created}


def write_json(path: Path, record: Any) -> Path:
    """Writes `record` as indented JSON atomically (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    staging.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(staging, path)
    return path


def read_json(path: Path) -> Optional[dict]:
    """The JSON object in `path`, or None when the file does not exist."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def mean_std(values: Sequence[float]) -> dict:
    """Mean and sample standard deviation (ddof=1; None with fewer than 2 values) of `values`, with their count."""
    values = [float(v) for v in values]
    if not values:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else None,
            "n": len(values)}  # fmt: skip


def summarize(runs: Sequence[dict], fields: Sequence[str], stats: Sequence[str] = ()) -> dict:
    """`run[fields[0]]` -> ... -> key -> `mean_std` over the runs with results, of each numeric result and stat."""
    tree: dict = {}
    for run in runs:
        if "results" not in run:
            continue
        node = tree
        for name in fields:
            node = node.setdefault(run[name], {})
        values = {k: v for k, v in run["results"].items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        for key, value in {**values, **{s: run[s] for s in stats if run.get(s) is not None}}.items():
            node.setdefault(key, []).append(value)

    def finish(node: dict) -> dict:
        return {key: mean_std(value) if isinstance(value, list) else finish(value) for key, value in node.items()}

    return finish(tree)


def run_training_script(argv: Sequence[str], script: Sequence[str] = ()) -> tuple[subprocess.CompletedProcess, dict]:
    """`train_accelerate.py argv` (or `script argv`) in a single-threaded subprocess from the repository root, with
    its wall seconds and CPU seconds (user + system of the child: on a busy machine the steadier measure)."""
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
    command = [*(script or [sys.executable, str(REPO_ROOT / "train_accelerate.py")]), *argv]
    process = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=REPO_ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return process, {"wall_time": round(time.time() - start, 2), "cpu_s": round(cpu, 2)}


def parse(arguments_class: type, argv: Optional[Sequence[str]] = None):
    """The dataclass `arguments_class` filled from `argv` (`sys.argv[1:]` when None) by `transformers.HfArgumentParser`
    (`--some_field` or `--some-field`), its `command` set to the line that reproduces the run."""
    from transformers import HfArgumentParser

    argv = list(sys.argv[1:] if argv is None else argv)
    (arguments,) = HfArgumentParser(arguments_class).parse_args_into_dataclasses(args=argv)
    module = arguments_class.__module__.rpartition(".")[2]
    module = Path(sys.argv[0]).stem if module == "__main__" else module
    arguments.command = shlex.join(["python", "-m", f"benchmarks.{module}", *argv])
    return arguments


def run_cli(arguments_class: type, main: Callable) -> None:
    """The `__main__` of a script: a ValueError (bad arguments) is one `error: ...` line and exit status 2."""
    try:
        main(parse(arguments_class))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


def names(value: Optional[str], allowed: Sequence[str], flag: str) -> list[str]:
    """A comma-separated list of names from `allowed` (all of them when `value` is None); raises ValueError."""
    chosen = list(allowed) if value is None else [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in allowed]
    if unknown or not chosen:
        raise ValueError(f"{flag} got {unknown or value!r}; allowed: names in {list(allowed)}")
    return chosen
