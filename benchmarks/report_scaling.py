"""The report's scaling sections (`scaling.json` and `scaling_*.json` of `bench_scaling.py`): training step time
against batch size and against the number of modalities, its growth exponent, and every growth faster than linear.
"""

from pathlib import Path
from typing import Optional

from benchmarks.common import growth_words
from benchmarks.report_format import plot_link, provenance_lines, quick_warning, table

FASTER_THAN_LINEAR = 1.3  # growth_words' upper bound of "about linear"
VARIABLE_TITLES = {"batch_size": "batch size", "num_modalities": "modalities"}


def slope_text(slope: Optional[float]) -> str:
    return f"k = {slope:.2f} ({growth_words(slope)})" if slope is not None else "no fit"


def scaling_text(setting: dict) -> str:
    """What was measured, and how the growth exponent is fitted."""
    return (
        f"Synthetic dense modalities ({setting.get('dim')} features each), hidden size {setting.get('hidden_size')}, "
        f"device {setting.get('device')}; median step time (ms) of {setting.get('repeats')} steps after "
        f"{setting.get('warmup')} warm-up steps. The growth exponent k of time ~ size^k is the least-squares slope in "
        "log-log, over all points and over the largest points (where fixed per-step costs matter least)."
    )


def step_time_cell(sweep: dict, variable: str, value: int) -> str:
    """The median step time (ms) of one sweep at one value of its variable, `n/a` where it has no point there."""
    point = next((p for p in sweep["points"] if p[variable] == value), None)
    return f"{1e3 * point['median_s']:.2f}" if point else "n/a"


def slope_line(sweep: dict, variable: str) -> str:
    """The fitted growth exponent of one sweep, over all points and over the largest ones."""
    tail = (
        f"; over {sweep['tail_points']}: {slope_text(sweep['slope_tail'])}"
        if sweep.get("slope_tail") is not None
        else ""
    )
    overall = slope_text(sweep["slope_all"])
    return f"- `{sweep['series']}` against {VARIABLE_TITLES[variable]}: overall {overall}{tail}."


def sweep_table(record: dict, variable: str) -> list[str]:
    """The step times of every series swept over `variable`, and their growth exponents; nothing without any."""
    setting = record.get("setting", {})
    sweeps = [s for s in record.get("sweeps", []) if s["variable"] == variable]
    if not sweeps:
        return []
    fixed = {
        "batch_size": f"M = {setting.get('batch_modalities')} modalities",
        "num_modalities": f"batch size {setting.get('modality_batch_size')}",
    }
    title = VARIABLE_TITLES[variable]
    values = sorted({p[variable] for s in sweeps for p in s["points"]})
    header = [title, *(f"`{s['series']}` step (ms)" for s in sweeps)]
    rows = [[str(value), *(step_time_cell(s, variable, value) for s in sweeps)] for value in values]
    lines = [f"Step time against {title} ({fixed[variable]}):", "", *table(header, rows), ""]
    return lines + [slope_line(s, variable) for s in sweeps] + [""]


def scaling_section(
    record: dict,
    png: Path,
    output: Path,
    heading: str = "## Scaling: training step time against batch size and number of modalities",
) -> list[str]:
    lines = [heading, "", *quick_warning(record), scaling_text(record.get("setting", {})), ""]
    for variable in ("batch_size", "num_modalities"):
        lines += sweep_table(record, variable)
    lines += plot_link(png, output, "step time against batch size and modalities")
    return lines + provenance_lines(record) + [""]


def scaling_losses(record: dict) -> list[str]:
    device = record.get("setting", {}).get("device", "?")
    lines = []
    for s in record.get("sweeps", []):
        slope = s.get("slope_tail") if s.get("slope_tail") is not None else s.get("slope_all")
        if slope is not None and slope >= FASTER_THAN_LINEAR:
            lines.append(
                f"- Scaling ({device}): `{s['series']}` step time grows faster than linearly with {s['variable']} "
                f"({slope_text(slope)} over the largest points)."
            )
    return lines
