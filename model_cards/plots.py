# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""The model card's robustness figure: scores vs missing rate, and scores with each modality removed.

matplotlib is optional (the `plots` and `dev` extras): it is imported only when a plot is drawn, and without it the
plot is skipped with a warning. The figure is drawn on a `matplotlib.figure.Figure` (Agg canvas) without pyplot, so
it never changes the process-wide backend nor needs a display.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._atomic import atomic_path
from .results import RobustnessResults, parse_results

__all__ = ["PLOTTED_METRICS", "PLOTTED_MULTI_LABEL_METRICS", "PLOTTED_REGRESSION_METRICS", "plot_robustness"]

logger = logging.getLogger(__name__)

# metric -> (label, marker, colour), in drawing order
PLOTTED_METRICS: dict[str, tuple[str, str, str]] = {
    "accuracy": ("Accuracy", "o", "C0"),
    "f1": ("Macro F1", "s", "C1"),
}
# A multi-label model's: every label of a row right, and F1 over the labels (macro) and the decisions (micro).
PLOTTED_MULTI_LABEL_METRICS: dict[str, tuple[str, str, str]] = {
    "subset_accuracy": ("Subset accuracy", "o", "C0"),
    "f1": ("Macro F1", "s", "C1"),
    "micro_f1": ("Micro F1", "^", "C2"),
}
# A regression model's results have no accuracy: its error is drawn instead (lower is better).
PLOTTED_REGRESSION_METRICS: dict[str, tuple[str, str, str]] = {"rmse": ("RMSE", "o", "C0")}


def _score_limits(values: list[float], metrics: Mapping[str, Any] = PLOTTED_METRICS) -> tuple[float, float]:
    """y limits from 0 (or below, for a negative score) to 1.05: the whole range a score can take, so that a
    difference of two test rows is drawn as small as it is; for an error (RMSE), from 0 to 5 % above the largest."""
    finite = [value for value in values if value == value]  # drops NaN
    if metrics is PLOTTED_REGRESSION_METRICS:
        return 0.0, 1.05 * max([*finite, 1e-12])
    return min([0.0, *finite]), max([1.05, *finite])


def _y_label(metrics: Mapping[str, Any]) -> str:
    if metrics is PLOTTED_REGRESSION_METRICS:
        return "RMSE on the test split (lower is better)"
    return "score on the test split"


def _rows_label(rows: float | None) -> str:
    return "" if rows is None else f"{int(rows)} rows"


def _draw_missing_rates(
    axes: Any, missing_rates: Mapping[float, Mapping[str, float]], metrics: Mapping[str, Any] = PLOTTED_METRICS
) -> None:
    values = []
    for metric, (label, marker, colour) in metrics.items():
        points = [(rate, scores[metric]) for rate, scores in missing_rates.items() if metric in scores]
        if points:
            axes.plot(*zip(*points), marker=marker, color=colour, label=label)
            values += [score for _, score in points]
    axes.set_ylim(*_score_limits(values, metrics))
    axes.set_xlabel("missing rate η (fraction of (row, modality) entries removed)")
    axes.set_ylabel(_y_label(metrics))
    rows = _rows_label(missing_rates.get(0.0, {}).get("rows"))
    axes.set_title("Randomly missing modalities" + (f" ({rows})" if rows else ""))
    axes.grid(True, alpha=0.3)
    if axes.lines:
        axes.legend()
    else:
        axes.text(0.5, 0.5, "no missing-rate results", ha="center", va="center", transform=axes.transAxes)


def _draw_removed_modalities(
    axes: Any, parsed: RobustnessResults, metrics: Mapping[str, Any] = PLOTTED_METRICS
) -> None:
    removed = parsed.removed_modalities
    names = list(removed)
    if not names:
        axes.text(0.5, 0.5, "no modality-removal results", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return
    width = 0.8 / len(metrics)
    values = []
    for offset, (metric, (label, _, colour)) in enumerate(metrics.items()):
        positions = [i + (offset - (len(metrics) - 1) / 2) * width for i in range(len(names))]
        heights = [removed[name].get(metric, float("nan")) for name in names]
        axes.bar(positions, heights, width=width, color=colour, label=f"{label} without the modality")
        # The reference of each bar is every modality's score on the rows that bar was scored on, not on the split.
        references = [parsed.removal_reference(name, metric) for name in names]
        drawn = [(position, reference) for position, reference in zip(positions, references) if reference is not None]
        if drawn:
            axes.hlines(
                [reference for _, reference in drawn],
                [position - width / 2 for position, _ in drawn],
                [position + width / 2 for position, _ in drawn],
                colors="black" if offset == 0 else "dimgray",
                linewidth=2.5,
                label=f"{label}, all modalities, same rows",
            )
        values += heights + [reference for _, reference in drawn]
        # The modality alone (every other one removed): the row where only it arrived.
        alone = [(x, parsed.alone_modalities.get(name, {}).get(metric)) for x, name in zip(positions, names)]
        alone = [(x, score) for x, score in alone if score is not None]
        if alone:
            axes.scatter(*zip(*alone), marker="D", color=colour, edgecolors="black", zorder=3,
                         label=f"{label}, the modality alone")  # fmt: skip
            values += [score for _, score in alone]
    title, labels = "Each modality removed, or alone", names
    rows = {removed[name].get("rows") for name in names}
    if len(rows) == 1 and None not in rows:  # the same number of rows for every removal: said once, in the title
        title += f" ({_rows_label(*rows)} each)"
    elif len(rows) > 1:
        labels = [f"{name}\n{_rows_label(removed[name].get('rows'))}".strip() for name in names]
    axes.set_xticks(range(len(names)), labels, rotation=30 if len(names) > 4 and labels is names else 0)
    axes.set_ylim(*_score_limits(values, metrics))
    axes.set_ylabel(_y_label(metrics))
    axes.set_title(title)
    axes.grid(True, axis="y", alpha=0.3)
    # Below the axes: inside, it would hide the bars or the reference marks.
    axes.legend(fontsize="small", ncols=2, loc="upper center", bbox_to_anchor=(0.5, -0.2))


def plot_robustness(results: Mapping[str, Any], path: str | os.PathLike, *, title: str | None = None) -> Path | None:
    """Writes a two-panel PNG: accuracy / macro-F1 (a regression model: RMSE) vs missing rate, and per-modality
    removal bars.

    Args:
        results (`Mapping[str, Any]`):
            The flat results dict of `all_results.json` (see `model_cards.results.parse_results`).
        path (`str` or `os.PathLike`):
            Where to write the PNG (atomically).
        title (`str`, *optional*):
            A title over both panels.

    Returns:
        `Path` or `None`: the written file, or `None` when nothing was written because matplotlib is not installed
        or `results` hold no test accuracy / F1 / RMSE.
    """
    parsed = parse_results(results)
    metrics = PLOTTED_METRICS
    if parsed.has_condition_metric(["subset_accuracy"]):
        metrics = PLOTTED_MULTI_LABEL_METRICS
    elif not parsed.has_condition_metric(PLOTTED_METRICS):
        metrics = PLOTTED_REGRESSION_METRICS
    if not parsed.has_condition_metric(metrics):
        logger.warning("`results` hold no test accuracy, F1 or RMSE: no robustness plot written")
        return None
    try:
        from matplotlib.figure import Figure
    except ImportError:
        logger.warning("matplotlib is not installed: no robustness plot (install it with `pip install cldmdf[plots]`)")
        return None

    figure = Figure(figsize=(11, 4.2), dpi=110, layout="constrained")
    rate_axes, modality_axes = figure.subplots(1, 2)
    _draw_missing_rates(rate_axes, parsed.missing_rates, metrics)
    _draw_removed_modalities(modality_axes, parsed, metrics)
    if title:
        figure.suptitle(title)
    path = Path(path)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png")
    return path
