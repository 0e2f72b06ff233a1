"""How CL-DMDF's training step time grows with the batch size and with the number of modalities.

Setting: synthetic dense modalities (seeded standard-normal features, `--dim` each, all present), 10 classes,
`hidden_size` 128 (train_accelerate's default). One step = forward + backward + AdamW step + zero_grad, in train mode.
Two sweeps, each for CL-DMDF with its default entity-centroid contrastive loss (`contrastive_weight` 0.1) and without
it (`contrastive_weight` 0), so the loss's own cost shows:

- batch size 64, 128, ..., 4096 (doubling) at M = 6 modalities;
- modalities 2, 4, ..., 32 (doubling) at batch size 256.

Each point is the median of `--repeats` steps after `--warmup` untimed ones. The growth exponent k of
time ~ size^k is the least-squares slope in log-log, over all points and over the largest three (where fixed
per-step overheads matter least): k ≈ 1 is linear growth, k ≈ 2 quadratic.

What theory says, per training step (D hidden size, P projection size): the encoders, feature attention and
feed-forward layers cost O(B M D²); modality attention O(B M² D) (quadratic in M per row); the entity-centroid loss
compares every anchor with every centroid of the batch, O(B² M P) (quadratic in the batch).

Run from the repository root:

    python -m benchmarks.bench_scaling [--repeats 5] [--quick]
"""

import argparse
import time
from pathlib import Path
from typing import Optional

import torch

from benchmarks.common import (
    apply_quick_defaults,
    check_counts,
    command_line,
    default_output,
    growth_words,
    loglog_slope,
    provenance,
    pyplot,
    resolve_device,
    run_cli,
    summarize_times,
    time_it,
    write_json,
)
from modeling_cldmdf import CLDMDFConfig, CLDMDFForSequenceClassification

SERIES = {"cldmdf": {}, "cldmdf_no_contrastive": {"contrastive_weight": 0.0}}
NUM_LABELS = 10
TAIL_POINTS = 3


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default=None, help="Default 64,128,...,4096; quick 64,128,256.")
    parser.add_argument("--batch-modalities", type=int, default=6, help="M during the batch-size sweep.")
    parser.add_argument("--modalities", default=None, help="Default 2,4,8,16,32; quick 2,4,8.")
    parser.add_argument("--modality-batch-size", type=int, default=256, help="Batch size during the modality sweep.")
    parser.add_argument("--dim", type=int, default=64, help="Features per dense modality.")
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=None, help="Untimed steps per point (default 2; quick 1).")
    parser.add_argument("--repeats", type=int, default=None, help="Timed steps per point (default 5; quick 2).")
    parser.add_argument("--device", default="auto", help="'auto' (cuda when available), 'cpu' or 'cuda'.")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="Smoke test: batch 64-256, M 2-8, 2 repeats.")
    parser.add_argument("--output", default=None, help="Results JSON (default: benchmarks/results/scaling.json).")
    parser.add_argument("--plot", default=None, help="PNG plot (default: next to --output, same stem).")
    args = parser.parse_args(argv)
    args.command = command_line(__file__, argv)
    return args


def int_list(text: str, flag: str) -> list[int]:
    try:
        values = [int(value) for value in text.split(",") if value.strip()]
    except ValueError:
        raise ValueError(f"{flag} must be comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise ValueError(f"{flag} must list positive integers, got {text!r}")
    return sorted(set(values))


def resolve_args(args: argparse.Namespace) -> None:
    defaults = {
        "batch_sizes": ("64,128,256,512,1024,2048,4096", "64,128,256"),
        "modalities": ("2,4,8,16,32", "2,4,8"),
        "warmup": (2, 1),
        "repeats": (5, 2),
    }
    apply_quick_defaults(args, defaults)
    args.batch_list = int_list(args.batch_sizes, "--batch-sizes")
    args.modality_list = int_list(args.modalities, "--modalities")
    check_counts(args, ("batch_modalities", "modality_batch_size", "dim", "hidden_size", "repeats"))
    resolve_device(args)
    args.output = default_output(args, "scaling.json")
    if args.plot is None:
        args.plot = str(Path(args.output).with_suffix(".png"))


def step_times(series: str, batch_size: int, num_modalities: int, args: argparse.Namespace) -> list[float]:
    """Seconds of each timed training step of one (series, B, M) point."""
    torch.manual_seed(args.seed)
    names = [f"m{index:02d}" for index in range(num_modalities)]  # zero-padded: sorted order = creation order
    config = CLDMDFConfig(
        modalities={name: {"type": "dense", "dim": args.dim} for name in names},
        num_labels=NUM_LABELS,
        hidden_size=args.hidden_size,
        **SERIES[series],
    )
    model = CLDMDFForSequenceClassification(config).to(args.device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(args.seed)
    batch = {
        "modality_inputs": {
            name: torch.randn(batch_size, args.dim, generator=generator).to(args.device) for name in names
        },
        "modality_mask": torch.ones(batch_size, num_modalities, dtype=torch.bool, device=args.device),
        "labels": torch.randint(NUM_LABELS, (batch_size,), generator=generator).to(args.device),
    }
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)

    def step() -> None:
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return time_it(step, args.repeats, args.warmup, sync)


def sweep(series: str, variable: str, values: list[int], args: argparse.Namespace) -> dict:
    """One sweep of one series: per point the median step time, and the fitted exponents."""
    points = []
    for value in values:
        batch_size = value if variable == "batch_size" else args.modality_batch_size
        num_modalities = value if variable == "num_modalities" else args.batch_modalities
        timing = summarize_times(step_times(series, batch_size, num_modalities, args))
        median = timing["median_s"]
        points.append(
            {
                variable: value,
                "batch_size": batch_size,
                "num_modalities": num_modalities,
                **timing,
                "us_per_row": 1e6 * median / batch_size,
            }
        )
        print(
            f"{series:<24}{variable}={value:<6} step {1e3 * median:9.2f} ms ({1e6 * median / batch_size:8.1f} µs/row)"
        )
    xs, ys = [p[variable] for p in points], [p["median_s"] for p in points]
    tail = slice(-TAIL_POINTS, None)
    return {
        "series": series,
        "variable": variable,
        "config": SERIES[series],
        "points": points,
        "slope_all": loglog_slope(xs, ys),
        "slope_tail": loglog_slope(xs[tail], ys[tail]) if len(xs) > TAIL_POINTS else None,
        "tail_points": xs[tail] if len(xs) > TAIL_POINTS else None,
    }


def plot(record: dict, path: Path) -> Optional[Path]:
    """Two log-log panels (step time against B, against M), one line per series; None without matplotlib."""
    plt = pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    labels = {"batch_size": "batch size B", "num_modalities": "modalities M"}
    for ax, variable in zip(axes, ("batch_size", "num_modalities")):
        for result in record["sweeps"]:
            if result["variable"] != variable:
                continue
            xs = [p[variable] for p in result["points"]]
            ys = [1e3 * p["median_s"] for p in result["points"]]
            slope = result["slope_tail"] if result["slope_tail"] is not None else result["slope_all"]
            fit = f" (k = {slope:.2f} over the largest points)" if slope is not None else ""
            ax.plot(xs, ys, marker="o", label=f"{result['series']}{fit}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        fixed = (
            f"M = {record['setting']['batch_modalities']}"
            if variable == "batch_size"
            else f"B = {record['setting']['modality_batch_size']}"
        )
        ax.set_title(f"training step time vs {labels[variable]} ({fixed})", fontsize=9)
        ax.set_xlabel(labels[variable])
        ax.set_ylabel("median step time (ms)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    if record["quick"]:
        fig.suptitle("quick smoke test, not a result", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(args: argparse.Namespace) -> dict:
    resolve_args(args)
    record = {
        **provenance("scaling", args.command),
        "quick": args.quick,
        "setting": {
            "dim": args.dim,
            "hidden_size": args.hidden_size,
            "batch_modalities": args.batch_modalities,
            "modality_batch_size": args.modality_batch_size,
            "warmup": args.warmup,
            "repeats": args.repeats,
            "device": args.device,
            "optimizer": "AdamW(lr=1e-3)",
            "tail_points": TAIL_POINTS,
        },
        "sweeps": [],
    }
    start = time.perf_counter()
    for variable, values in (("batch_size", args.batch_list), ("num_modalities", args.modality_list)):
        for series in SERIES:
            record["sweeps"].append(sweep(series, variable, values, args))
    record["wall_s"] = time.perf_counter() - start
    for result in record["sweeps"]:
        slope, tail = result["slope_all"], result["slope_tail"]
        overall = f"{slope:.2f} overall ({growth_words(slope)})" if slope is not None else "no fit (1 point)"
        tail_text = f", {tail:.2f} over {result['tail_points']} ({growth_words(tail)})" if tail is not None else ""
        print(f"{result['series']} vs {result['variable']}: k = {overall}{tail_text}")
    write_json(Path(args.output), record)
    print(f"wrote {args.output}")
    written = plot(record, Path(args.plot))
    if written:
        print(f"wrote {written}")
    return record


if __name__ == "__main__":
    run_cli(__file__, parse_args, main)
