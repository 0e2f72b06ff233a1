"""The report's sections of the accuracy sweeps that `bench_accuracy.py` writes with a non-default `--output`: the
cross-validation that chose the defaults (`cv_*.json`), the cross-validation over every row (`cv_all_*.json`, an
evaluation only), the validation-split sweeps (`validation_*.json`) and the sensitivity sweeps (`sensitivity_*.json`).
"""

from pathlib import Path

from benchmarks.common import mean_std, read_json
from benchmarks.report_accuracy import (
    REFERENCE_VARIANT,
    accuracy_table,
    ordered_variants,
    paired_differences,
    record_key,
    train_args_text,
)
from benchmarks.report_format import condition_label, pct, provenance_lines, quick_warning, table

CV_TEXT = (
    "k-fold cross-validation on the train and validation splits together (`bench_accuracy.py --split cv`, files "
    "`cv_*.json`; stratified folds, the same for every run; the test split is never read): each (variant, seed) "
    "trains once per fold and is evaluated on the held-out fold; early stopping and the best epoch use a validation "
    "split carved out of the training folds, so the held-out rows never influence training. A run's accuracy is the "
    "mean over folds: on UCI with 5 folds, 1,600 held-out rows per seed, ten times the validation split. The rule, "
    "fixed before the runs: per model (CL-DMDF and each baseline), the setting with the highest accuracy "
    "averaged over the η columns (`mean over η`, its std over seeds) is chosen, and a default changes only when "
    "another setting beats it by more than that std. CL-DMDF's candidates are its configurations that keep every "
    "part of it (group CL-DMDF: the default, auxiliary heads, the confidence gate, under any training arguments); "
    "its ablations and the companion methods are cross-validated beside them as measurements, never as candidates "
    "for its default (one of them as the default would make the comparisons below compare it with itself)."
)
CV_ALL_TEXT = (
    "The fixed test split has 400 UCI rows, one row 0.25 points. Here every row of the dataset is tested once: "
    "k-fold cross-validation over train, validation and test together (`bench_accuracy.py --split cv --cv-pool all`, "
    "files `cv_all_*.json`; stratified folds, early stopping on a split carved from the training folds), accuracy (%) "
    "the mean over folds, mean ± sample std over seeds. An evaluation only: nothing was chosen with it, and the "
    "tables above stay the reference."
)
VALIDATION_TEXT = (
    "Defaults are chosen on the validation split (`bench_accuracy.py --split validation`, files `validation_*.json`), "
    "never on the test split. Validation accuracy (%), mean ± sample std over seeds; same columns as above. The "
    "validation split also picks each run's best epoch, so these numbers are optimistic, more so for the models that "
    "train longer; on UCI it has 160 rows: one row is 0.625 points."
)
SENSITIVITY_TEXT = (
    "The test-split sweep again with one training setting changed (files `sensitivity_*.json`, written by "
    "`bench_accuracy.py --output benchmarks/results/sensitivity_<...>.json --train-args ...`): whether a conclusion "
    "above depends on that setting. Not used to choose anything. Test accuracy (%), mean ± sample std over seeds."
)
CV_HEADER = ["variant", "file", "training arguments", "seeds", "η=0", "largest η", "mean over η"]


def sweep_files_section(title: str, explanation: str, paths: list[Path]) -> list[str]:
    """One accuracy table per results file of `bench_accuracy.py` run with a non-default `--output`."""
    lines = [f"## {title}", "", explanation, ""]
    for path in paths:
        record = read_json(path)
        if record is None:
            continue
        lines += [
            f"### `{path.name}`",
            "",
            *quick_warning(record),
            f"Training arguments: `{train_args_text(record)}`.",
            "",
            *accuracy_table(record, "accuracy"),
            "",
            *provenance_lines(record),
            "",
        ]
    return lines


def cv_rows(path: Path, record: dict) -> list[tuple[str, str, dict, list[str]]]:
    """(variant, group, accuracy averaged over the η columns, table cells) of every variant of one `cv_*.json`."""
    rates = record.get("setting", {}).get("eval_missing_rates", [0.0])
    keys = [record_key(record, "accuracy", f"missing_{rate:g}") for rate in rates]
    rows = []
    for name, entry in record.get("summary", {}).items():
        runs = [run["results"] for run in record.get("runs", []) if run["variant"] == name]
        average = mean_std([sum(r[key] for key in keys) / len(keys) for r in runs])
        cells = [
            f"`{name}`",
            f"`{path.name}`",
            f"`{train_args_text(record)}`",
            str(len(runs)),
            pct(entry["accuracy"].get("missing_0")),
            pct(entry["accuracy"].get(f"missing_{max(rates):g}")),
            pct(average),
        ]
        rows.append((name, record.get("variants", {}).get(name, {}).get("group"), average, cells))
    return rows


def best_first(scored: list[tuple[dict, list[str]]]) -> list[list[str]]:
    """The table cells of (average, cells) pairs, the highest mean average first."""
    return [cells for _, cells in sorted(scored, key=lambda item: -(item[0]["mean"] or 0.0))]


def cv_selection(paths: list[Path]) -> list[str]:
    """The cross-validation candidates of every `cv_*.json` file side by side, per model, best first: accuracy at
    η=0, at the largest η and averaged over the η columns (mean ± std over seeds of each run's average); the best
    of each model in bold. Then the ablations and companion methods of the same files, measured, not candidates."""
    candidates: dict[str, list[tuple[dict, list[str]]]] = {}
    measured: list[tuple[dict, list[str]]] = []
    for path in paths:
        record = read_json(path)
        if record is None:
            continue
        for name, group, average, cells in cv_rows(path, record):
            if group not in ("baseline", "CL-DMDF"):
                measured.append((average, cells))  # an ablation or a companion method: not a candidate (CV_TEXT)
                continue
            model = name if group == "baseline" else REFERENCE_VARIANT
            candidates.setdefault(model, []).append((average, cells))
    if not candidates:
        return []
    rows = []
    for model in sorted(candidates, key=lambda m: (m != REFERENCE_VARIANT, m)):
        ranked = best_first(candidates[model])
        rows += [[f"**{cell}**" for cell in ranked[0]], *ranked[1:]]
    lines = ["Candidates per model, best first (bold):", "", *table(CV_HEADER, rows), ""]
    if measured:
        lines += ["Ablations and companion methods, measured beside them (not candidates):", ""]
        lines += [*table(CV_HEADER, best_first(measured)), ""]
    return lines


def baseline_gaps(record: dict, baseline: str) -> str:
    """`vs <baseline> η=0 +x (ahead on k of n), ...`: CL-DMDF minus the baseline at η=0 and at the largest η."""
    rates = record.get("setting", {}).get("eval_missing_rates", [0.0])
    cells = []
    for condition in dict.fromkeys(("missing_0", f"missing_{max(rates):g}")):
        ours = record["summary"][REFERENCE_VARIANT]["accuracy"][condition]["mean"]
        theirs = record["summary"][baseline]["accuracy"][condition]["mean"]
        differences = paired_differences(record, baseline, "accuracy", condition)
        ahead = sum(difference < 0 for difference in differences)  # the baseline behind: CL-DMDF ahead
        gap = 100 * (ours - theirs)
        cells.append(f"{condition_label(condition)} {gap:+.2f} (ahead on {ahead} of {len(differences)})")
    return f"vs `{baseline}` " + ", ".join(cells)


def cv_against_baselines(paths: list[Path]) -> list[str]:
    """Per `cv_*.json` file: CL-DMDF's accuracy minus each baseline's trained with the same arguments, at η=0 and at
    the largest η (points, mean over seeds, and on how many seeds CL-DMDF was ahead)."""
    lines = []
    for path in paths:
        record = read_json(path)
        if record is None or REFERENCE_VARIANT not in record.get("summary", {}):
            continue
        parts = [baseline_gaps(record, name) for name, group in ordered_variants(record) if group == "baseline"]
        if parts:
            lines.append(f"- `{path.name}` (`{train_args_text(record)}`): CL-DMDF " + "; ".join(parts) + ".")
    if not lines:
        return []
    header = (
        "CL-DMDF minus each baseline trained with the same arguments, in points (mean over seeds; seeds on which "
        "CL-DMDF was ahead, ties not counted):"
    )
    return [header, "", *lines, ""]


def sweep_sections(results_dir: Path) -> list[str]:
    """The sections of every cross-validation, validation and sensitivity file in `results_dir`, in that order."""
    # cv_all_*.json held the test split out too: an evaluation, never among the candidates that chose a default.
    all_rows = sorted(results_dir.glob("cv_all_*.json"))
    cv_files = [path for path in sorted(results_dir.glob("cv_*.json")) if path not in all_rows]
    lines = []
    if cv_files:
        lines += sweep_files_section("Choosing defaults by cross-validation", CV_TEXT, cv_files)
        lines += cv_selection(cv_files)
        lines += cv_against_baselines(cv_files)
    if all_rows:
        lines += sweep_files_section("Evaluation by cross-validation over every row", CV_ALL_TEXT, all_rows)
        lines += cv_against_baselines(all_rows)
    for pattern, title, text in (
        ("validation_*.json", "Choosing defaults on the validation split", VALIDATION_TEXT),
        ("sensitivity_*.json", "Sensitivity to training settings", SENSITIVITY_TEXT),
    ):
        files = sorted(results_dir.glob(pattern))
        if files:
            lines += sweep_files_section(title, text, files)
    return lines
