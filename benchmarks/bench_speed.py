"""Training and inference throughput of CL-DMDF and its options against early fusion of the same width: the six UCI
Multiple Features views as dense modalities, seeded standard-normal batches of complete rows, each configuration in
`train_accelerate.py`'s terms (`baseline`, the objectives `tuple_weight` and `cal`, `CLDMDFConfig` fields). A
training step is the training loop's: forward, `TrainingObjectives.loss`, backward, fused AdamW step; inference an
eval-mode forward under `torch.inference_mode()`. The configurations are timed in interleaved rounds after a warm-up
(medians, wall and CPU time); FLOPs by torch's FlopCounterMode; peak memory by `torch.cuda.max_memory_allocated` or,
on CPU, the growth of a fresh process's peak RSS.

    python -m benchmarks.bench_speed --device cuda --compile --configs cldmdf,early_fusion --output out.json
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.common import REPO_ROOT, RESULTS_DIR, names, provenance, run_cli, write_json

UCI_DIMS = {"fac": 216, "fou": 76, "kar": 64, "mor": 6, "pix": 240, "zer": 47}
NUM_LABELS = 10
CONFIGS: dict[str, dict] = {  # name -> train_accelerate.py's arguments (besides modalities, labels and width)
    "cldmdf": {},
    "cldmdf_no_contrastive": {"contrastive_weight": 0.0},
    "early_fusion": {"baseline": "early_fusion"},
    "late_fusion": {"baseline": "late_fusion"},
    "tmc": {"baseline": "tmc"},
    "cldmdf_tuple": {"tuple_weight": 0.1},
    "cldmdf_cal": {"cal": True},
    "cldmdf_one_fusion_layer": {"num_fusion_layers": 1},  # what the dual-attention layers cost
    "cldmdf_no_fusion_layers": {"num_fusion_layers": 0},
}
# The objectives of `TrainingObjectives.build`, and the architecture each needs (CAL reads the unimodal heads).
OBJECTIVES: dict[str, dict] = {"tuple_weight": {}, "cal": {"use_auxiliary_heads": True, "token_bottleneck": True}}
MEMORY_MARKER = "MEMORY_JSON "


@dataclass
class SpeedArguments:
    configs: str = field(default=",".join(CONFIGS), metadata={"help": f"Comma-separated subset of {list(CONFIGS)}."})
    hidden_size: int = 128
    batch_size: int = 256
    num_batches: int = 4  # distinct batches, cycled
    warmup: int = 5  # untimed steps of each configuration
    repeats: int = 30  # timed rounds, one step of each configuration a round
    memory_steps: int = field(default=5, metadata={"help": "Steps of the peak-memory measurement (0: none)."})
    device: str = field(default="auto", metadata={"help": "auto (cuda when available), cpu or cuda."})
    threads: int | None = field(default=None, metadata={"help": "torch.set_num_threads (default: torch's)."})
    seed: int = 0  # of the weights and the batches
    compile: bool = field(default=False, metadata={"help": "torch.compile every model (untimed in the warm-up)."})
    output: str = field(default=str(RESULTS_DIR / "speed.json"), metadata={"help": "Results JSON."})
    memory_worker: str | None = field(default=None, metadata={"help": "Internal: one configuration's CPU memory."})


class Runner:
    """One configuration: its model, training objectives and fused AdamW, and the two timed operations."""

    def __init__(self, name: str, args: SpeedArguments):
        import torch

        from cldmdf.training.budget import fused_adamw_supported
        from cldmdf.training.objectives import TrainingObjectives
        from modeling_cldmdf import BASELINE_MODELS, CLDMDFConfig, CLDMDFForSequenceClassification

        torch.manual_seed(args.seed)  # every model gets its initial weights from the same seed
        fields = dict(CONFIGS[name])
        baseline = fields.pop("baseline", None)
        objectives = {key: fields.pop(key) for key in OBJECTIVES if key in fields}
        fields.update(modalities={view: {"type": "dense", "dim": dim} for view, dim in UCI_DIMS.items()},
                      num_labels=NUM_LABELS, hidden_size=args.hidden_size)  # fmt: skip
        if baseline is not None:
            self.module = BASELINE_MODELS[baseline](BASELINE_MODELS[baseline].config_class(**fields))
        else:
            for key in (key for key, value in objectives.items() if value):
                fields = {**OBJECTIVES[key], **fields}
            self.module = CLDMDFForSequenceClassification(CLDMDFConfig(**fields))
        self.module.to(args.device)
        self.objectives = TrainingObjectives.build(self.module, **objectives).to(args.device)
        self.model = torch.compile(self.module) if args.compile else self.module
        self.parameters = [*self.module.parameters(), *self.objectives.parameters()]
        fused = True if fused_adamw_supported(self.parameters) else None
        self.optimizer = torch.optim.AdamW(self.parameters, lr=1e-3, fused=fused)
        self.sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
        # CPU seconds: this thread's with one torch thread (other processes stretch wall time, not this).
        self.cpu_clock = time.thread_time if torch.get_num_threads() == 1 else time.process_time

    def loss(self, model, batch: dict):
        model.train()
        return self.objectives.loss(self.module, batch, model(**batch), epoch=0)[0]

    def train_step(self, batch: dict) -> None:
        self.loss(self.model, batch).backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def infer(self, batch: dict) -> None:
        import torch

        self.model.eval()
        with torch.inference_mode():
            self.model(modality_inputs=batch["modality_inputs"], modality_mask=batch["modality_mask"])

    def train_flops(self, batch: dict) -> int:
        """Forward + backward FLOPs of one training step (an untimed one whose gradients are dropped)."""
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            self.loss(self.module, batch).backward()
        self.optimizer.zero_grad(set_to_none=True)
        return counter.get_total_flops()

    def timed(self, operation: str, batch: dict) -> tuple[float, float]:
        self.sync()
        start, cpu_start = time.perf_counter(), self.cpu_clock()
        getattr(self, operation)(batch)
        self.sync()
        return time.perf_counter() - start, self.cpu_clock() - cpu_start


def make_batches(args: SpeedArguments) -> list[dict]:
    """Model-ready batches of complete rows: seeded standard-normal features, random labels."""
    import torch

    generator = torch.Generator().manual_seed(args.seed)
    return [{"modality_inputs": {view: torch.randn(args.batch_size, dim, generator=generator).to(args.device)
                                 for view, dim in sorted(UCI_DIMS.items())},
             "modality_mask": torch.ones(args.batch_size, len(UCI_DIMS), dtype=torch.bool, device=args.device),
             "labels": torch.randint(NUM_LABELS, (args.batch_size,), generator=generator).to(args.device)}
            for _ in range(args.num_batches)]  # fmt: skip


def peak_memory(name: str, args: SpeedArguments) -> dict:
    """Peak memory of `memory_steps` training steps and inference passes of one configuration."""
    import torch

    batches = make_batches(args)
    if args.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    elif args.memory_worker is None:  # the peak RSS is per process: measure in a fresh one
        command = [sys.executable, "-m", "benchmarks.bench_speed", "--memory_worker", name,
                   *(f"--{key}={value}" for key, value in asdict(args).items() if value is not None
                     and key not in ("memory_worker", "configs", "output", "command"))]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
        lines = [line for line in done.stdout.splitlines() if line.startswith(MEMORY_MARKER)]
        if not lines:
            raise RuntimeError(f"memory worker for {name!r} failed: {done.stderr[-2000:]}")
        return json.loads(lines[0][len(MEMORY_MARKER) :])
    else:
        before = vm_hwm()
    runner = Runner(name, args)
    for step in range(args.memory_steps):
        runner.train_step(batches[step % len(batches)])
        runner.infer(batches[step % len(batches)])
    if args.device == "cuda":
        torch.cuda.synchronize()
        return {"peak_mib": (torch.cuda.max_memory_allocated() - before) / 2**20, "steps": args.memory_steps,
                "method": "torch.cuda.max_memory_allocated minus the memory allocated before the model"}  # fmt: skip
    return {"peak_mib": (vm_hwm() - before) / 2**20, "steps": args.memory_steps,
            "method": "growth of the VmHWM (peak RSS) of /proc/self/status of a fresh process"}  # fmt: skip


def vm_hwm() -> int:  # the high-water mark of this process's resident set (Linux), in bytes
    lines = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) * 1024 for line in lines if line.startswith("VmHWM:"))


def main(args: SpeedArguments) -> dict:
    import torch

    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device not in ("cpu", "cuda") or (args.device == "cuda" and not torch.cuda.is_available()):
        raise ValueError(f"--device must be auto, cpu or cuda (with a GPU visible), got {args.device!r}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.memory_worker is not None:
        print(MEMORY_MARKER + json.dumps(peak_memory(args.memory_worker, args)))
        return {}
    batches = make_batches(args)
    chosen = names(args.configs, list(CONFIGS), "--configs")
    runners = [Runner(name, args) for name in chosen]
    results = {name: {"config": CONFIGS[name], "model": type(runner.module).__name__,
                      "parameters": sum(p.numel() for p in runner.parameters)}
               for name, runner in zip(chosen, runners)}  # fmt: skip
    for operation, part, unit in (("train_step", "train", "samples_per_s"), ("infer", "inference", "rows_per_s")):
        for runner in runners:
            for step in range(args.warmup):
                getattr(runner, operation)(batches[step % len(batches)])
        times: dict[str, list] = {name: [] for name in results}
        for index in range(args.repeats):  # interleaved rounds, the order rotated every round
            order = list(zip(results, runners))
            for name, runner in order[index % len(order) :] + order[: index % len(order)]:
                times[name].append(runner.timed(operation, batches[index % len(batches)]))
        for name, values in times.items():
            wall, cpu = statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)
            results[name][part] = {"median_s": wall, "cpu_median_s": cpu, "repeats": len(values),
                                   unit: args.batch_size / wall, f"{unit}_cpu": args.batch_size / cpu}  # fmt: skip
    for name, runner in zip(results, runners):
        flops, train = runner.train_flops(batches[0]), results[name]["train"]
        train.update(mflop_per_row=flops / args.batch_size / 1e6, gflop_per_s=flops / train["median_s"] / 1e9)
    del runners
    for name in results if args.memory_steps else ():
        results[name]["memory"] = peak_memory(name, args)
    if "early_fusion" in results:
        early = results["early_fusion"]
        for entry in results.values():
            entry["ratio_to_early_fusion"] = {
                "train": entry["train"]["samples_per_s"] / early["train"]["samples_per_s"],
                "inference": entry["inference"]["rows_per_s"] / early["inference"]["rows_per_s"],
            }
    setting = {key: value for key, value in asdict(args).items() if key not in ("output", "memory_worker", "command")}
    record = {**provenance("speed", args.command), "setting": {**setting, "dims": UCI_DIMS}, "results": results}
    write_json(Path(args.output), record)
    for name, entry in results.items():
        ratio = entry.get("ratio_to_early_fusion", {}).get("train", float("nan"))
        print(f"{name:<26}{entry['train']['samples_per_s']:>12,.0f} samples/s{ratio:>8.2f}x early fusion")
    print(f"wrote {args.output}")
    return record


if __name__ == "__main__":
    run_cli(SpeedArguments, main)
