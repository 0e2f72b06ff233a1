"""How the report writes what every section has: percentages, condition names, tables, the provenance under a table,
the quick-mode warning, plot links and the line of a missing results file.

Used by `make_report.py` and its section modules (`report_*.py`); imports neither torch nor the library.
"""

import os
from pathlib import Path
from typing import Optional

from benchmarks.common import describe_machine


def pct(stats: Optional[dict]) -> str:
    """`mean ± std` in percent from a `mean_std` dict; the std left out with one value, `n/a` without any."""
    if not stats or stats.get("mean") is None:
        return "n/a"
    text = f"{100 * stats['mean']:.2f}"
    return text + (f" ± {100 * stats['std']:.2f}" if stats.get("std") is not None else "")


def condition_label(condition: str) -> str:
    if condition.startswith("missing_"):
        return f"η={condition[len('missing_') :]}"
    if condition.startswith("without_"):
        return f"−{condition[len('without_') :]}"
    return condition


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def provenance_lines(record: dict) -> list[str]:
    """`Command`, `Commit` and `Machine` lines of one results file (its latest invocation)."""
    commit = record.get("git_commit") or "unknown (not a git checkout)"
    dirty = record.get("git_dirty")
    flag = " (+ uncommitted changes)" if dirty else "" if dirty is False else " (working-tree state unknown)"
    lines = [
        f"Command: `{record.get('command', 'unknown')}`",
        "",
        f"Commit: `{commit}`{flag}",
        "",
        *([record["provenance_note"], ""] if record.get("provenance_note") else []),
        f"Machine: {describe_machine(record.get('machine') or {})}",
        "",
        f"Written: {record.get('created', 'unknown')}",
    ]
    return lines


def quick_warning(record: dict) -> list[str]:
    quick = record.get("quick", (record.get("setting") or {}).get("quick", False))
    if quick:
        return ["> **Quick smoke-test numbers (`--quick`), not results.**", ""]
    return []


def plot_link(png: Path, output: Path, title: str) -> list[str]:
    if not png.exists():
        return []
    relative = Path(os.path.relpath(png.resolve(), output.resolve().parent)).as_posix()
    return [f"![{title}]({relative})", ""]


def missing_section(title: str, path: Path, command: str) -> list[str]:
    return [f"## {title}", "", f"_Missing: `{path.name}` was not found; `{command}` writes it._", ""]
