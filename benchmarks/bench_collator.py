"""Collator throughput: `CLDMDFDataCollator` versus a naive per-row `torch.stack` collator.

Setting: B rows of 6 dense modalities with the UCI multiple-features dims (fac 216, fou 76, kar 64, mor 6, pix 240,
zer 47), 30 % of the (row, modality) entries missing (the seeded pattern of `processing.missing`, at least one kept
per row). Two row formats: python dicts of lists of python floats (what a `datasets.Dataset` in python format
yields, the common case) and dicts of float32 numpy arrays (in-memory features, or a dataset with a numpy
`set_transform`). Both collators produce the same batch (checked before timing).

Run from the repository root:

    python -m benchmarks.bench_collator [--batch-size 1024] [--repeats 30] [--output benchmarks/results/collator.json]
    python -m benchmarks.bench_collator --quick     # smoke test: B=128, 3 repeats, written to a temp folder

Prints a table (rows/s, median over repeats) and writes a JSON file with the command, the git commit and the machine.
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import (
    UCI_DIMS,
    apply_quick_defaults,
    check_counts,
    command_line,
    default_output,
    provenance,
    run_cli,
    summarize_times,
    time_it,
    write_json,
)
from cldmdf.processing.collator import CLDMDFDataCollator
from cldmdf.processing.missing import missing_pattern
from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=None, help="Rows per batch (default 1024; quick 128).")
    parser.add_argument("--missing-rate", type=float, default=0.3)
    parser.add_argument("--repeats", type=int, default=None, help="Timed calls (default 30; quick 3).")
    parser.add_argument("--warmup", type=int, default=None, help="Untimed calls first (default 3; quick 1).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="Smoke test: B=128, 3 repeats, 1 warm-up call.")
    parser.add_argument("--output", default=None, help="Results JSON (default: benchmarks/results/collator.json).")
    args = parser.parse_args(argv)
    args.command = command_line(__file__, argv)
    return args


def resolve_args(args: argparse.Namespace) -> None:
    """Fills the defaults that depend on --quick and validates the numbers; raises ValueError."""
    apply_quick_defaults(args, {"batch_size": (1024, 128), "repeats": (30, 3), "warmup": (3, 1)})
    check_counts(args, ("batch_size", "repeats"))
    if not 0 <= args.missing_rate < 1:
        raise ValueError(f"--missing-rate must be in [0, 1), got {args.missing_rate}")
    args.output = default_output(args, "collator.json")


def make_rows(batch_size: int, missing_rate: float, seed: int, row_format: str) -> list[dict]:
    """Rows with None where missing (one present modality at least); values as python lists or numpy arrays."""
    rng = np.random.default_rng(seed)
    names = sorted(UCI_DIMS)
    present = missing_pattern(np.arange(batch_size), np.ones((batch_size, len(names)), bool), missing_rate, seed)
    rows = []
    for i in range(batch_size):
        row = {"label": int(rng.integers(10)), "row_id": i}
        for j, name in enumerate(names):
            values = rng.standard_normal(UCI_DIMS[name]).astype(np.float32)
            row[name] = (values.tolist() if row_format == "list" else values) if present[i, j] else None
        rows.append(row)
    return rows


def naive_collate(rows: list[dict], dims: dict[str, int]) -> dict:
    """What one writes first: a tensor per row and modality, zeros for the missing ones, then `torch.stack`."""
    names = sorted(dims)
    inputs = {}
    for name in names:
        inputs[name] = torch.stack(
            [
                torch.tensor(row[name], dtype=torch.float32) if row[name] is not None else torch.zeros(dims[name])
                for row in rows
            ]
        )
    mask = torch.stack([torch.tensor([row[name] is not None for name in names]) for row in rows])
    labels = torch.tensor([row["label"] for row in rows], dtype=torch.long)
    return {"modality_inputs": inputs, "modality_mask": mask, "labels": labels}


def bench_format(args: argparse.Namespace, row_format: str) -> dict:
    rows = make_rows(args.batch_size, args.missing_rate, args.seed, row_format)
    processor = CLDMDFProcessor(
        {name: {"type": "dense", "dim": dim} for name, dim in UCI_DIMS.items()}, allow_unfitted=True
    )
    collator = CLDMDFDataCollator(processor)

    # Same batch from both: the timing compares equal work.
    ours, naive = collator(rows), naive_collate(rows, UCI_DIMS)
    assert torch.equal(ours["modality_mask"], naive["modality_mask"])
    assert torch.equal(ours["labels"], naive["labels"])
    for name in UCI_DIMS:
        assert torch.equal(ours["modality_inputs"][name], naive["modality_inputs"][name])

    results = {}
    candidates = (
        ("naive per-row torch.stack", lambda: naive_collate(rows, UCI_DIMS)),
        ("CLDMDFDataCollator", lambda: collator(rows)),
    )
    for label, fn in candidates:
        timing = summarize_times(time_it(fn, args.repeats, args.warmup))
        results[label] = {**timing, "rows_per_s": args.batch_size / timing["median_s"]}
    present = sum(row[name] is not None for row in rows for name in UCI_DIMS)
    return {
        "row_format": row_format,
        "missing_rate_realised": 1 - present / (len(rows) * len(UCI_DIMS)),
        "results": results,
        "speedup": results["CLDMDFDataCollator"]["rows_per_s"] / results["naive per-row torch.stack"]["rows_per_s"],
    }


def main(args: argparse.Namespace) -> dict:
    resolve_args(args)
    runs = [bench_format(args, row_format) for row_format in ("list", "numpy")]
    print(
        f"B={args.batch_size}, 6 dense modalities {UCI_DIMS}, missing {runs[0]['missing_rate_realised']:.1%}, "
        f"{args.repeats} repeats (median), torch threads {torch.get_num_threads()}"
    )
    print(f"{'row values':<14} {'collator':<28} {'median ms':>10} {'rows/s':>12} {'speed-up':>9}")
    for run in runs:
        for label, r in run["results"].items():
            speedup = f"{run['speedup']:.1f}x" if label == "CLDMDFDataCollator" else ""
            ms, rate = r["median_s"] * 1e3, r["rows_per_s"]
            print(f"{run['row_format']:<14} {label:<28} {ms:>10.2f} {rate:>12,.0f} {speedup:>9}")

    record = {
        **provenance("collator", args.command),
        "quick": args.quick,
        "setting": {
            "batch_size": args.batch_size,
            "dims": UCI_DIMS,
            "missing_rate": args.missing_rate,
            "repeats": args.repeats,
            "warmup": args.warmup,
        },
        "runs": runs,
    }
    output = write_json(Path(args.output), record)
    print(f"wrote {output}")
    return record


if __name__ == "__main__":
    run_cli(__file__, parse_args, main)
