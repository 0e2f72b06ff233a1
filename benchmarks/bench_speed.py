"""Training and inference throughput of CL-DMDF against early fusion of the same width, on the same batches.

Setting: the six UCI Multiple Features views as dense modalities (dims 216, 76, 64, 6, 240, 47), 10 classes, batches
of 256 complete rows of seeded standard-normal features (the values do not change the work done), every model built
directly from its config with the same `hidden_size`. Configurations, as in `bench_accuracy.py`'s variants, each
described (the `config` entry of its results) in the terms of `train_accelerate.py`'s arguments: `baseline` (a
reference method, a model of its own: `modeling_cldmdf.BASELINE_MODELS`), the training objectives `tuple_weight` and
`cal` (`training.objectives.TrainingObjectives.build`), and `CLDMDFConfig` fields:

- `cldmdf`: `CLDMDFForSequenceClassification`, the default `contrastive_weight` (0.1): what the accuracy benchmark
  trains;
- `cldmdf_no_contrastive`: `contrastive_weight=0`;
- `early_fusion`: `EarlyFusionForSequenceClassification` (`baseline="early_fusion"`);
- `late_fusion`: `LateFusionForSequenceClassification` (`baseline="late_fusion"`);
- `tmc`: `TMCForSequenceClassification` (`baseline="tmc"`: late fusion's encoders; Dempster's rule and the evidential
  loss, its KL term weighed by the annealing of `TrainingObjectives`);
- `cldmdf_tuple`: CL-DMDF + TupleInfoNCE (`tuple_weight=0.1`): two augmented views of each batch go through the
  model again in training, so its cost is a training cost only (inference runs the same network as `cldmdf`);
- `cldmdf_cal`: CL-DMDF + CAL (`cal=True`): the model with the unimodal heads and the token bottleneck CAL needs
  (`use_auxiliary_heads=True, token_bottleneck=True`), gradient scaling of each modality encoder and the asymmetric
  information bottleneck loss. The per-epoch contribution estimate of the training loop (`TrainingObjectives.update`,
  a pass over validation rows once per interval) is not part of a step and is not timed here; without it the
  contributions stay at 1.

A training step is what the training loop does for a batch: forward, the loss of `TrainingObjectives.loss` (the
model's own loss plus the objectives', on the unwrapped model, epoch 0), backward, AdamW step over the model's and the
objectives' parameters (torch's fused kernel, as in the training script), zero_grad (train mode: dropout and modality
dropout on). `parameters` counts both (TupleInfoNCE owns its projection).
Inference is a forward pass of the model under `torch.inference_mode()` in eval mode. After a
warm-up, the configurations are timed in interleaved rounds (one step of each per round, the order rotated every
round), so a change in the machine's load hits all of them alike; each figure is the median over rounds, in wall time
and in CPU time (this thread's with one torch thread, the process's with more: on a shared machine the other
processes stretch wall time, not this). `--profile-steps` steps of CL-DMDF's training run under torch.profiler: the
operator calls and copies a step and the top operators by self CPU time. The headline
is the ratio CL-DMDF / early fusion of training samples/s (goal: >= 0.5).

Peak memory: on CPU, each configuration runs again in a fresh subprocess, which reports the growth of its peak
resident set size (Linux: `VmHWM` of /proc/self/status; elsewhere `ru_maxrss`) from just before the model is built
to after a few training steps and inference passes (model, optimizer state, activations and allocator caches);
on CUDA, `torch.cuda.max_memory_allocated` during the same steps, less what was allocated before the model.

Run from the repository root:

    python -m benchmarks.bench_speed [--hidden-size 128] [--batch-size 256] [--repeats 30]
    python -m benchmarks.bench_speed --quick   # smoke test (B=64, width 32, 3 rounds), written to a temp folder
    python -m benchmarks.bench_speed --device cuda --compile --configs cldmdf,early_fusion \
        --output benchmarks/results/speed_cuda_compiled.json   # every model through torch.compile
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import torch
from transformers import PreTrainedModel

from benchmarks.common import (
    REPO_ROOT,
    UCI_DIMS,
    apply_quick_defaults,
    check_counts,
    command_line,
    default_output,
    provenance,
    resolve_device,
    run_cli,
    summarize_times,
    write_json,
)
from cldmdf.training.budget import fused_adamw_supported
from cldmdf.training.objectives import TrainingObjectives
from modeling_cldmdf import BASELINE_MODELS, CLDMDFConfig, CLDMDFForSequenceClassification

# name -> the run, as train_accelerate.py's arguments: `baseline` (a reference model of its own), the training
# objectives of `OBJECTIVES`, and model config fields (besides modalities, labels and width)
CONFIGS: dict[str, dict] = {
    "cldmdf": {},
    "cldmdf_no_contrastive": {"contrastive_weight": 0.0},
    "early_fusion": {"baseline": "early_fusion"},
    "late_fusion": {"baseline": "late_fusion"},
    "tmc": {"baseline": "tmc"},
    "cldmdf_tuple": {"tuple_weight": 0.1},
    "cldmdf_cal": {"cal": True},
    # What the dual-attention layers cost: one fusion layer instead of two, and none (encoders + adaptive fusion).
    "cldmdf_one_fusion_layer": {"num_fusion_layers": 1},
    "cldmdf_no_fusion_layers": {"num_fusion_layers": 0},
}
# Arguments of `TrainingObjectives.build`, and the CL-DMDF architecture each needs: CAL reads the confidence of the
# unimodal heads and weighs the KL of the token bottleneck (what a CAL-trained checkpoint of 0.1 loads as).
OBJECTIVES: dict[str, dict] = {"tuple_weight": {}, "cal": {"use_auxiliary_heads": True, "token_bottleneck": True}}
HEADLINE = ("cldmdf", "early_fusion")
PROFILED = ("cldmdf",)  # the configurations whose training step torch.profiler breaks down into operators
PROFILE_TOP = 12
GOAL_RATIO = 0.5
NUM_LABELS = 10
MEMORY_MARKER = "MEMORY_JSON "


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden-size", type=int, default=None, help="Width of every model (default 128; quick 32).")
    parser.add_argument("--batch-size", type=int, default=None, help="Rows per batch (default 256; quick 64).")
    parser.add_argument("--num-batches", type=int, default=None, help="Distinct batches, cycled (default 4; quick 2).")
    parser.add_argument(
        "--warmup", type=int, default=None, help="Untimed steps per configuration (default 5; quick 1)."
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="Timed rounds, one step per config (default 30; quick 3)."
    )
    parser.add_argument(
        "--memory-steps", type=int, default=None, help="Steps of the memory measurement (default 5; quick 2)."
    )
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"Comma-separated subset of {list(CONFIGS)}.")
    parser.add_argument("--device", default="auto", help="'auto' (cuda when available), 'cpu' or 'cuda'.")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-memory", action="store_true", help="Skip the peak-memory measurement.")
    parser.add_argument(
        "--profile-steps", type=int, default=None, help="Training steps of the operator profile (default 10; 0: none)."
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile every model (inductor, as `accelerate launch --dynamo_backend inductor` does); the "
        "warm-up steps include the compilation, which is not timed.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="Smoke test: B=64, width 32, 3 rounds, 1 warm-up step, 2 memory steps."
    )
    parser.add_argument("--output", default=None, help="Results JSON (default: benchmarks/results/speed.json).")
    parser.add_argument("--memory-worker", default=None, help=argparse.SUPPRESS)  # internal: one config's memory
    args = parser.parse_args(argv)
    args.command = command_line(__file__, argv)
    return args


def resolve_args(args: argparse.Namespace) -> None:
    defaults = {
        "hidden_size": (128, 32),
        "batch_size": (256, 64),
        "num_batches": (4, 2),
        "warmup": (5, 1),
        "repeats": (30, 3),
        "memory_steps": (5, 2),
        "profile_steps": (10, 2),
    }
    apply_quick_defaults(args, defaults)
    args.config_list = [name.strip() for name in args.configs.split(",") if name.strip()]
    unknown = [name for name in args.config_list if name not in CONFIGS]
    if unknown or not args.config_list:
        raise ValueError(f"--configs got {args.configs!r}; allowed: a comma-separated subset of {list(CONFIGS)}")
    check_counts(args, ("hidden_size", "batch_size", "num_batches", "repeats", "memory_steps"))
    resolve_device(args)
    args.output = default_output(args, "speed.json")


def build_model(name: str, hidden_size: int, device: str, seed: int) -> tuple[PreTrainedModel, TrainingObjectives]:
    """One configuration of `CONFIGS` on the UCI dims: the model (CL-DMDF or the reference model of `baseline`) and
    its training objectives; the same seed gives every model its initial weights."""
    torch.manual_seed(seed)
    fields = dict(CONFIGS[name])
    baseline = fields.pop("baseline", None)
    objectives = {key: fields.pop(key) for key in OBJECTIVES if key in fields}
    fields.update(
        modalities={view: {"type": "dense", "dim": dim} for view, dim in UCI_DIMS.items()},
        num_labels=NUM_LABELS,
        hidden_size=hidden_size,
    )
    if baseline is not None:
        model_class = BASELINE_MODELS[baseline]
        model = model_class(model_class.config_class(**fields))
    else:
        for key, value in objectives.items():
            if value:
                fields = {**OBJECTIVES[key], **fields}
        model = CLDMDFForSequenceClassification(CLDMDFConfig(**fields))
    model.to(device)
    return model, TrainingObjectives.build(model, **objectives).to(device)


def make_batches(batch_size: int, count: int, device: str, seed: int) -> list[dict]:
    """`count` model-ready batches of complete rows: seeded standard-normal features, random labels."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(count):
        inputs = {view: torch.randn(batch_size, dim, generator=generator) for view, dim in sorted(UCI_DIMS.items())}
        batches.append(
            {
                "modality_inputs": {view: values.to(device) for view, values in inputs.items()},
                "modality_mask": torch.ones(batch_size, len(UCI_DIMS), dtype=torch.bool, device=device),
                "labels": torch.randint(NUM_LABELS, (batch_size,), generator=generator).to(device),
            }
        )
    return batches


class Runner:
    """A model, its training objectives, their optimizer and the two timed operations."""

    def __init__(self, name: str, args: argparse.Namespace):
        self.name = name
        self.module, self.objectives = build_model(name, args.hidden_size, args.device, args.seed)
        # The compiled wrapper shares the module's parameters; FLOPs are counted on the eager module. The objectives
        # read the unwrapped model, as in the training loop (TupleInfoNCE's extra passes run eager).
        self.model = torch.compile(self.module) if args.compile else self.module
        self.parameters = [*self.module.parameters(), *self.objectives.parameters()]
        # The training script's optimizer: torch's fused AdamW where it runs (`training.budget`).
        fused = True if fused_adamw_supported(self.parameters) else None
        self.optimizer = torch.optim.AdamW(self.parameters, lr=1e-3, fused=fused)
        self.sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
        # CPU seconds of the step: this thread's alone with one torch thread (the other agents of a shared machine
        # stretch wall time, not this), the whole process's with more.
        self.cpu_clock = time.thread_time if torch.get_num_threads() == 1 else time.process_time

    def loss(self, model, batch: dict) -> torch.Tensor:
        """The training loss of `batch` through `model` (this runner's module, compiled or not), in train mode."""
        model.train()
        loss, _ = self.objectives.loss(self.module, batch, model(**batch), epoch=0)
        return loss

    def train_step(self, batch: dict) -> None:
        self.loss(self.model, batch).backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def train_flops(self, batch: dict) -> int:
        """Forward + backward FLOPs of one training step on `batch` (torch's FlopCounterMode: matmuls and convs),
        counted on an untimed step whose gradients are then dropped."""
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            self.loss(self.module, batch).backward()
        self.optimizer.zero_grad(set_to_none=True)
        return counter.get_total_flops()

    def infer(self, batch: dict) -> None:
        self.model.eval()
        with torch.inference_mode():
            self.model(modality_inputs=batch["modality_inputs"], modality_mask=batch["modality_mask"])

    def timed(self, operation: str, batch: dict) -> tuple[float, float]:
        """Wall seconds and CPU seconds of one `operation` on `batch`."""
        self.sync()
        start, cpu_start = time.perf_counter(), self.cpu_clock()
        getattr(self, operation)(batch)
        self.sync()
        return time.perf_counter() - start, self.cpu_clock() - cpu_start

    def profile(self, batches: list[dict], steps: int) -> dict:
        """torch.profiler over `steps` training steps: operator calls a step, copies a step and the top operators
        by self CPU time (the profiler's own overhead included in its times)."""
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
        with profile(activities=activities) as profiler:
            for step in range(steps):
                self.train_step(batches[step % len(batches)])
            self.sync()
        events = profiler.key_averages()
        copies = ("aten::copy_", "aten::clone", "aten::_to_copy", "aten::contiguous")
        top = sorted(events, key=lambda event: -event.self_cpu_time_total)[:PROFILE_TOP]
        return {
            "steps": steps,
            "ops_per_step": sum(event.count for event in events) / steps,
            "copies_per_step": sum(event.count for event in events if event.key in copies) / steps,
            "top_ops": [
                {"op": e.key, "self_cpu_ms_per_step": e.self_cpu_time_total / 1e3 / steps, "calls": e.count / steps}
                for e in top
            ],
        }


def interleaved_times(runners: list[Runner], operation: str, batches: list[dict], args) -> dict[str, list]:
    """Per runner, the (wall, CPU) seconds of each timed round; warm-up first, then rounds in a rotating order."""
    for runner in runners:
        for step in range(args.warmup):
            getattr(runner, operation)(batches[step % len(batches)])
    times: dict[str, list] = {runner.name: [] for runner in runners}
    for round_index in range(args.repeats):
        batch = batches[round_index % len(batches)]
        shift = round_index % len(runners)
        for runner in runners[shift:] + runners[:shift]:
            times[runner.name].append(runner.timed(operation, batch))
    return times


def peak_rss_bytes() -> tuple[int, str]:
    """Peak resident set size of this process so far, and how it was read.

    Linux: `VmHWM` of /proc/self/status, the high-water mark of this process image (reset by exec). Not
    `ru_maxrss`: a child keeps the parent's peak across fork + exec as a floor, which hides its own growth.
    Elsewhere: `ru_maxrss` (bytes on macOS, KiB on other systems).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024, "VmHWM (peak RSS) of /proc/self/status"
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak if sys.platform == "darwin" else peak * 1024), "ru_maxrss (peak RSS) of getrusage"


def memory_worker(args: argparse.Namespace) -> dict:
    """Peak memory of one configuration: run in a fresh process on CPU (the peak RSS is per process)."""
    batches = make_batches(args.batch_size, args.num_batches, args.device, args.seed)
    if args.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        before, source = peak_rss_bytes()
    runner = Runner(args.memory_worker, args)
    for step in range(args.memory_steps):
        runner.train_step(batches[step % len(batches)])
        runner.infer(batches[step % len(batches)])
    if args.device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
        method = "torch.cuda.max_memory_allocated minus the memory allocated before the model was built"
    else:
        peak, source = peak_rss_bytes()
        method = f"growth of the {source} of a fresh process, from before the model was built to after"
    return {"peak_mib": (peak - before) / 2**20, "method": method, "steps": args.memory_steps}


def measure_memory(name: str, args: argparse.Namespace) -> dict:
    """`memory_worker` for one configuration: in-process on CUDA, in a fresh subprocess on CPU."""
    worker_args = argparse.Namespace(**{**vars(args), "memory_worker": name})
    if args.device == "cuda":
        return memory_worker(worker_args)
    command = [
        sys.executable, "-m", "benchmarks.bench_speed", "--memory-worker", name,
        "--hidden-size", str(args.hidden_size), "--batch-size", str(args.batch_size),
        "--num-batches", str(args.num_batches), "--memory-steps", str(args.memory_steps),
        "--device", args.device, "--seed", str(args.seed),
    ]  # fmt: skip
    if args.threads is not None:
        command += ["--threads", str(args.threads)]
    if args.compile:
        command.append("--compile")
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO_ROOT)
    for line in done.stdout.splitlines():
        if line.startswith(MEMORY_MARKER):
            return json.loads(line[len(MEMORY_MARKER) :])
    raise RuntimeError(f"memory worker for {name!r} failed (exit {done.returncode}): {done.stderr[-2000:]}")


def main(args: argparse.Namespace) -> dict:
    resolve_args(args)
    if args.memory_worker is not None:
        result = memory_worker(args)
        print(MEMORY_MARKER + json.dumps(result))
        return result

    batches = make_batches(args.batch_size, args.num_batches, args.device, args.seed)
    runners = [Runner(name, args) for name in args.config_list]
    results: dict[str, dict] = {}
    for runner in runners:
        results[runner.name] = {
            "config": CONFIGS[runner.name],
            "model": type(runner.module).__name__,
            "parameters": sum(p.numel() for p in runner.parameters),
        }
    for operation, unit in (("train_step", "samples_per_s"), ("infer", "rows_per_s")):
        times = interleaved_times(runners, operation, batches, args)
        for name, values in times.items():
            timing = summarize_times([wall for wall, _ in values])
            timing["cpu_median_s"] = statistics.median(cpu for _, cpu in values)
            timing[unit] = args.batch_size / timing["median_s"]
            timing[f"{unit}_cpu"] = args.batch_size / timing["cpu_median_s"]
            results[name]["train" if operation == "train_step" else "inference"] = timing
    for runner in runners:
        flops = runner.train_flops(batches[0])
        train = results[runner.name]["train"]
        train["mflop_per_row"] = flops / args.batch_size / 1e6
        train["gflop_per_s"] = flops / train["median_s"] / 1e9
        train["gflop_per_s_cpu"] = flops / train["cpu_median_s"] / 1e9
        if args.profile_steps and runner.name in PROFILED:
            results[runner.name]["profile"] = runner.profile(batches, args.profile_steps)
    del runners
    if not args.no_memory:
        for name in args.config_list:
            results[name]["memory"] = measure_memory(name, args)

    if "early_fusion" in results:
        early = results["early_fusion"]
        for entry in results.values():
            entry["ratio_to_early_fusion"] = {
                "train": entry["train"]["samples_per_s"] / early["train"]["samples_per_s"],
                "inference": entry["inference"]["rows_per_s"] / early["inference"]["rows_per_s"],
            }
    ratios = {}
    if all(name in results for name in HEADLINE):
        ours, early = (results[name] for name in HEADLINE)
        ratios = {
            "train": ours["train"]["samples_per_s"] / early["train"]["samples_per_s"],
            "inference": ours["inference"]["rows_per_s"] / early["inference"]["rows_per_s"],
            # How much more arithmetic a CL-DMDF training row is: the bound on the training ratio at equal FLOP/s.
            "train_flops": ours["train"]["mflop_per_row"] / early["train"]["mflop_per_row"],
        }
    record = {
        **provenance("speed", args.command),
        "quick": args.quick,
        "setting": {
            "dims": UCI_DIMS,
            "num_labels": NUM_LABELS,
            "hidden_size": args.hidden_size,
            "batch_size": args.batch_size,
            "num_batches": args.num_batches,
            "warmup": args.warmup,
            "repeats": args.repeats,
            "device": args.device,
            "optimizer": "AdamW(lr=1e-3), fused where torch supports it (as train_accelerate.py)",
            "compile": args.compile,
            "missing_rate": 0.0,
        },
        "results": results,
        "headline": {"numerator": HEADLINE[0], "denominator": HEADLINE[1], "ratios": ratios, "goal": GOAL_RATIO},
    }
    if ratios:
        record["headline"]["train_goal_met"] = ratios["train"] >= GOAL_RATIO
    print_table(record)
    write_json(Path(args.output), record)
    print(f"wrote {args.output}")
    return record


def print_table(record: dict) -> None:
    setting = record["setting"]
    compiled = ", torch.compile" if setting.get("compile") else ""
    print(f"B={setting['batch_size']}, hidden {setting['hidden_size']}, {setting['device']}{compiled}, median of "
          f"{setting['repeats']} interleaved rounds, torch threads {record['machine']['torch_threads']}")  # fmt: skip
    print(
        f"{'config':<24}{'params':>10}{'train ms':>10}{'cpu ms':>8}{'samples/s':>12}{'infer ms':>10}{'rows/s':>12}"
        f"{'peak MiB':>10}{'MFLOP/row':>11}{'GFLOP/s':>9}{'cpu':>7}"
    )
    for name, r in record["results"].items():
        memory = f"{r['memory']['peak_mib']:.0f}" if "memory" in r else "-"
        train = r["train"]
        print(
            f"{name:<24}{r['parameters']:>10,}{1e3 * train['median_s']:>10.2f}{1e3 * train['cpu_median_s']:>8.2f}"
            f"{train['samples_per_s']:>12,.0f}{1e3 * r['inference']['median_s']:>10.2f}"
            f"{r['inference']['rows_per_s']:>12,.0f}{memory:>10}"
            f"{train['mflop_per_row']:>11.2f}{train['gflop_per_s']:>9.1f}{train['gflop_per_s_cpu']:>7.1f}"
        )
    for name, r in record["results"].items():
        if "profile" in r:
            profile = r["profile"]
            print(
                f"{name} training step, torch.profiler over {profile['steps']} steps: {profile['ops_per_step']:.0f} "
                f"operator calls a step, {profile['copies_per_step']:.0f} copies; top operators by self CPU ms a step:"
            )
            for op in profile["top_ops"]:
                print(f"  {op['op'][:48]:<48}{op['self_cpu_ms_per_step']:>8.3f}{op['calls']:>8.1f} calls")
    ratios = record["headline"]["ratios"]
    if ratios:
        met = "met" if record["headline"]["train_goal_met"] else "NOT met"
        print(
            f"CL-DMDF / early fusion: training {ratios['train']:.2f}x, inference {ratios['inference']:.2f}x "
            f"(goal >= {GOAL_RATIO} for training: {met}); a CL-DMDF training row is {ratios['train_flops']:.1f}x the "
            "FLOPs of an early-fusion row"
        )


if __name__ == "__main__":
    run_cli(__file__, parse_args, main)
