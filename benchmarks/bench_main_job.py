"""Wall time of the README's main job: `accelerate launch train_accelerate.py`, with its defaults, end to end.

    python -m benchmarks.bench_main_job                    # seeds 0 and 1, results/main_job.json
    python -m benchmarks.bench_main_job --repo /tmp/old --label b4ea2b6 --output results/main_job_b4ea2b6.json

Each run is the whole process (start-up, loading, the pre-flight check, training, the robustness sweep, the model
card), in a fresh temporary output folder, one at a time; `--repo` times another checkout's script with this
environment, to compare defaults across commits on the same machine.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from benchmarks.common import REPO_ROOT, command_line, mean_std, provenance, run_cli, write_json


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--repo", default=str(REPO_ROOT), help="Checkout whose train_accelerate.py is timed.")
    parser.add_argument("--label", default="this checkout", help="What --repo is, e.g. its commit.")
    parser.add_argument("--output", default=str(REPO_ROOT / "benchmarks" / "results" / "main_job.json"))
    args = parser.parse_args(argv)
    args.command = command_line("benchmarks/bench_main_job.py", argv)
    return args


def main(args: argparse.Namespace) -> dict:
    accelerate = Path(sys.executable).with_name("accelerate")
    runs = []
    for seed in (int(seed) for seed in args.seeds.split(",")):
        output_dir = Path(tempfile.mkdtemp(prefix="cldmdf-main-job-"))
        start = time.time()
        done = subprocess.run(
            [str(accelerate), "launch", "train_accelerate.py", "--output_dir", str(output_dir), "--seed", str(seed)],
            cwd=args.repo,
            capture_output=True,
            text=True,
        )
        wall = time.time() - start
        if done.returncode != 0:
            shutil.rmtree(output_dir, ignore_errors=True)
            raise ValueError(f"the main job failed with seed {seed}: {done.stderr[-1000:]}")
        results = json.loads((output_dir / "all_results.json").read_text())
        shutil.rmtree(output_dir, ignore_errors=True)
        runs.append({"seed": seed, "wall_time": round(wall, 2), **{k: results.get(k) for k in STATS}})
        print(f"seed {seed}: {wall:.1f} s end to end, {results['train_runtime']:.1f} s of training", flush=True)
    record = {
        **provenance("bench_main_job", args.command),
        "repo": str(Path(args.repo).resolve()),
        "label": args.label,
        "runs": runs,
        "summary": {
            key: mean_std([run[key] for run in runs])
            for key in ("wall_time", *STATS)
            if all(run[key] is not None for run in runs)  # refit_steps: None under --no_refit
        },
    }
    write_json(Path(args.output), record)
    return record


STATS = ("train_runtime", "train_steps", "refit_steps", "test_accuracy")

if __name__ == "__main__":
    run_cli(__file__, parse_args, main)
