"""Helpers shared by the benchmark scripts and the report: provenance (command, git commit, machine), timing, JSON
writing and the summary of runs over seeds. Imports neither torch nor the library at the top (the report uses it).

Every results file written under `benchmarks/results/` carries the same header, so `benchmarks/report.py` can print,
under each table, the exact command that regenerates it, the commit it ran on and the machine:

    {"benchmark": "<name>", "command": "python -m benchmarks.<script> ...", "git_commit": "...", "git_dirty": bool,
     "machine": {"platform", "processor", "cpu_model", "cpu_count", "python", "torch", "torch_threads", "numpy",
                 "gpu", "load_average_1m"}, ...}
"""

import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from cldmdf.evaluation.results import Condition, format_rate, result_key

# The arguments of every benchmark run on a setting with text: its frozen backbone's outputs computed once a run.
TEXT_ARGS = ["--freeze_backbones", "--cache_backbone_outputs"]

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"

# The bundled real datasets' UCI Multiple Features view sizes (sorted names, as everywhere in the library).
UCI_DIMS = {"fac": 216, "fou": 76, "kar": 64, "mor": 6, "pix": 240, "zer": 47}


def quick_output_dir() -> Path:
    """Where `--quick` runs write by default: a temporary folder, so smoke-test numbers never replace results."""
    return Path(tempfile.gettempdir()) / "cldmdf-benchmarks-quick"


def git_state() -> dict:
    """HEAD commit (None outside a repository) and whether the working tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=REPO_ROOT
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True, check=True, cwd=REPO_ROOT
        ).stdout
        return {"git_commit": head, "git_dirty": bool(status.strip())}
    except (OSError, subprocess.CalledProcessError):
        return {"git_commit": None, "git_dirty": None}


def cpu_model() -> Optional[str]:
    """The CPU's marketing name (`platform.processor()` is often empty on Linux), or None when unknown."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            return subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None
    return platform.processor() or None


def gpu_description() -> Optional[str]:
    """`"<name> (<memory> GiB), CUDA <version>"` for each visible GPU, None without one."""
    import torch  # here, not at the top: report.py reads results without importing torch

    if not torch.cuda.is_available():
        return None
    names = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        names.append(f"{props.name} ({props.total_memory / 2**30:.0f} GiB)")
    return f"{', '.join(names)}, CUDA {torch.version.cuda}"


def machine_info() -> dict:
    """The machine a benchmark ran on (keys listed in the module docstring)."""
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "gpu": gpu_description(),
    }


def describe_machine(machine: dict) -> str:
    """One line for a report: platform, CPU model x count, torch version and threads, GPU."""
    cpu = machine.get("cpu_model") or machine.get("processor") or "unknown CPU"
    parts = [
        machine.get("platform", "unknown platform"),
        f"{cpu} x {machine.get('cpu_count', '?')} logical CPUs",
        f"Python {machine.get('python', '?')}",
        f"torch {machine.get('torch', '?')} ({machine.get('torch_threads', '?')} threads)",
        f"GPU: {machine.get('gpu') or 'none'}",
    ]
    if machine.get("load_average_1m") is not None:
        parts.append(f"1-min load average at start {machine['load_average_1m']:.2f}")
    return ", ".join(parts)


def command_line(script: str, argv: Optional[Sequence[str]] = None) -> str:
    """The command that reproduces this run from the repository root: `python -m benchmarks.<script> <args>`.

    Args:
        script (`str`): the script's file (`__file__`) or its module name.
        argv (`Sequence[str]`, *optional*): the arguments given to `parse_args`; `sys.argv[1:]` when None.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    return shlex.join(["python", "-m", f"benchmarks.{Path(script).stem}", *args])


def provenance(benchmark: str, command: str) -> dict:
    """The header every results file starts with: benchmark name, command, git state, machine, UTC time."""
    return {
        "benchmark": benchmark,
        "command": command,
        **git_state(),
        "machine": machine_info(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_json(path: Path, record: Any) -> Path:
    """Writes `record` as indented JSON atomically (a temporary file, then a rename): an interrupted sweep never
    leaves a truncated results file behind.

    Args:
        path (`Path`): destination; parent folders are created.
        record: anything `json.dumps` accepts.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    staging.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(staging, path)
    return path


def read_json(path: Path) -> Optional[dict]:
    """The JSON object in `path`, or None when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return None
    return json.loads(path.read_text())


def time_it(fn: Callable[[], Any], repeats: int, warmup: int, synchronize: Optional[Callable] = None) -> list[float]:
    """Wall-clock seconds of `repeats` calls of `fn` after `warmup` untimed calls.

    Args:
        fn (`Callable`): the work to time.
        repeats (`int`): timed calls (>= 1).
        warmup (`int`): untimed calls first (allocator, caches, lazy initialisation).
        synchronize (`Callable`, *optional*): called before each clock read (e.g. `torch.cuda.synchronize`).
    """
    if repeats < 1:
        raise ValueError(f"`repeats` must be >= 1, got {repeats}")
    sync = synchronize or (lambda: None)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def summarize_times(times: Sequence[float]) -> dict:
    """Median, min, max and count of a list of durations (seconds)."""
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "repeats": len(times)}


def mean_std(values: Sequence[float]) -> dict:
    """Mean and sample standard deviation (ddof=1; None with fewer than 2 values) of `values`, with their count."""
    values = [float(v) for v in values]
    if not values:
        return {"mean": None, "std": None, "n": 0}
    std = statistics.stdev(values) if len(values) > 1 else None
    return {"mean": statistics.fmean(values), "std": std, "n": len(values)}


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> Optional[float]:
    """Least-squares slope of log(y) against log(x): the exponent k of y ~ x^k (None with fewer than 2 points)."""
    if len(xs) < 2:
        return None
    slope, _ = np.polyfit(np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float)), 1)
    return float(slope)


def growth_words(slope: Optional[float]) -> str:
    """A measured log-log exponent k (time ~ size^k) in words: < 0.8 sub-linear, < 1.3 about linear, < 1.7 between
    linear and quadratic, < 2.3 about quadratic, else faster."""
    if slope is None:
        return "not enough points"
    if slope < 0.8:
        return "sub-linear (fixed per-step costs dominate)"
    if slope < 1.3:
        return "about linear"
    if slope < 1.7:
        return "between linear and quadratic"
    if slope < 2.3:
        return "about quadratic"
    return "faster than quadratic"


# ----------------------------------------------------------------------------------------------------------------
# Command-line plumbing shared by the scripts


def apply_quick_defaults(args, defaults: dict[str, tuple[Any, Any]]) -> None:
    """Sets each `name: (full, quick)` argument the user left at None: `--quick` fills only what was not given."""
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)


def check_counts(args, positive: Sequence[str]) -> None:
    """Raises ValueError unless each of `positive` is >= 1 and `args.warmup` is >= 0."""
    for name in positive:
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.warmup < 0:
        raise ValueError(f"--warmup must be >= 0, got {args.warmup}")


def resolve_device(args) -> None:
    """`--device auto` -> cuda when visible, else cpu (validated); applies `--threads`."""
    import torch

    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device not in ("cpu", "cuda") or (args.device == "cuda" and not torch.cuda.is_available()):
        raise ValueError(f"--device must be 'auto', 'cpu' or 'cuda' (with a GPU visible), got {args.device!r}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)


def default_output(args, filename: str) -> str:
    """`--output` when given, else `filename` in the results folder (a temporary folder with `--quick`)."""
    if args.output is not None:
        return args.output
    return str((quick_output_dir() if args.quick else RESULTS_DIR) / filename)


def pyplot():
    """`matplotlib.pyplot` on the Agg backend, or None (with a message) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install matplotlib): no plot written")
        return None
    return plt


def run_cli(script: str, parse_args: Callable, main: Callable, exit_code: Callable[[Any], int] = lambda _: 0) -> None:
    """The `__main__` of a benchmark script: a ValueError (bad arguments) is one `<script>: error: ...` line and exit
    status 2; otherwise `exit_code(result)`."""
    arguments = parse_args()
    try:
        result = main(arguments)
    except ValueError as error:
        print(f"{Path(script).name}: error: {error}", file=sys.stderr)
        sys.exit(2)
    sys.exit(exit_code(result))


def offline_environment() -> None:
    """Benchmarks never need the network (the Hub is unreachable from CI): fail fast instead of retrying."""
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def run_training_script(argv: Sequence[str]) -> tuple[subprocess.CompletedProcess, float]:
    """`train_accelerate.py argv` in a single-threaded subprocess from the repository root (what the suite and the
    pre-training benchmarks time), and its wall time in seconds."""
    process, wall, _ = run_training_script_timed(argv)
    return process, wall


def run_training_script_timed(argv: Sequence[str]) -> tuple[subprocess.CompletedProcess, float, float]:
    """`run_training_script`, with the CPU seconds of the child too (user + system, `getrusage(RUSAGE_CHILDREN)`
    around it): on a busy machine the CPU time is the steadier measure."""
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    process = subprocess.run(
        [sys.executable, str(REPO_ROOT / "train_accelerate.py"), *argv],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO_ROOT,
    )
    wall = time.time() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return process, round(wall, 2), round(cpu, 2)


def percent(value: Optional[dict], missing: str = "–") -> str:
    """A `mean_std` of fractions as `mean ± std` in %; the std left out for one value, `missing` for none."""
    if not value or value.get("mean") is None:
        return missing
    return f"{100 * value['mean']:.2f}" + (f" ± {100 * value['std']:.2f}" if value.get("std") is not None else "")


# ----------------------------------------------------------------------------------------------------------------
# Results: the condition names of a results file's summary, and the summary of runs over seeds

# The missing rates every test-split table of the report shows.
RATES = (0.0, 0.3, 0.5)


def condition_name(rate: float) -> str:
    """A missing rate's name among a results file's `conditions`: `missing_0`, `missing_0.5` (`without_<modality>`
    names a removed modality)."""
    return f"missing_{format_rate(rate)}"


def condition_key(metric: str, name: str, split: str = "test") -> str:
    """The `all_results.json` key (`evaluation.results.result_key`) of `metric` under the condition called `name`."""
    kind, _, value = name.partition("_")
    if kind not in ("missing", "without") or not value:
        raise ValueError(f"a condition name is `missing_<η>` or `without_<modality>`, got {name!r}")
    condition = Condition(without=value) if kind == "without" else Condition(missing_rate=float(value))
    return result_key(metric, condition, split=split)


def summarize(
    runs: Sequence[dict],
    field: str,
    rates: Sequence[float] = RATES,
    metrics: Sequence[str] = ("accuracy", "f1"),
    stats: Sequence[str] = ("wall_s", "cpu_s"),
) -> dict:
    """`run[field]` -> key -> `mean_std` over the runs that have results (failed runs count in no mean): each of
    `metrics` on the test split at each of `rates`, and each of `stats` (read from the run, else from its results).

    The summary of the runs of `bench_text.py`, `bench_image.py` and the report's raw-modality section.
    """
    keys = [result_key(metric, rate) for rate in rates for metric in metrics]
    values: dict = {}
    for run in runs:
        if "results" not in run:
            continue
        entry = values.setdefault(run[field], {})
        for key in keys:
            if run["results"].get(key) is not None:
                entry.setdefault(key, []).append(run["results"][key])
        for stat in stats:
            value = run.get(stat, run["results"].get(stat))
            if value is not None:
                entry.setdefault(stat, []).append(value)
    return {name: {key: mean_std(v) for key, v in entry.items()} for name, entry in values.items()}
