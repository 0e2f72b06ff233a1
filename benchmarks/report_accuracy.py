"""The report's accuracy sections ("Accuracy: <dataset>", one per `accuracy_<dataset>.json` of `bench_accuracy.py`)
and what the other accuracy-based sections share with them: the variants in group order, the accuracy table, the
paired per-seed difference to CL-DMDF, and the conditions where an ablation or a baseline beats CL-DMDF.
"""

from pathlib import Path

from benchmarks.bench_accuracy import metric_split, result_key
from benchmarks.common import mean_std
from benchmarks.report_format import condition_label, pct, plot_link, provenance_lines, quick_warning, table

# The datasets of the accuracy sections: title, and the command that writes `accuracy_<key>.json`.
ACCURACY_DATASETS = {
    "uci": ("UCI Multiple Features", "python benchmarks/bench_accuracy.py --dataset uci"),
    "reviews": ("Women's clothing reviews", "python benchmarks/bench_accuracy.py --dataset reviews"),
}
GROUP_ORDER = ("CL-DMDF", "companion", "ablation", "baseline")
GROUP_TITLES = {
    "CL-DMDF": "CL-DMDF",
    "companion": "CL-DMDF + companion methods",
    "ablation": "ablations (CL-DMDF with one part removed)",
    "baseline": "baselines",
}
REFERENCE_VARIANT = "cldmdf"
ACCURACY_TEXT = (
    "Test accuracy (%), mean ± sample std (ddof=1) over seeds, of one training run per (variant, seed) of "
    "`train_accelerate.py`. Columns: η is the share of missing (row, modality) entries of the test set (a seeded "
    "pattern, one modality always kept per row); `−m` is the test set with modality m removed from every row. "
)


def record_key(record: dict, metric: str, condition: str) -> str:
    """The `results` key of one run of a bench_accuracy results file for `metric` under `condition`."""
    return result_key(metric, condition, metric_split(record.get("setting", {}).get("split", "test")))


def train_args_text(record: dict) -> str:
    """The training arguments shared by all runs of a results file, `(defaults)` without any."""
    return " ".join(record.get("setting", {}).get("train_args", [])) or "(defaults)"


def ordered_variants(record: dict) -> list[tuple[str, str]]:
    """(variant, group) of the variants with results, grouped CL-DMDF / companions / ablations / baselines."""
    groups = {name: info.get("group", "other") for name, info in record.get("variants", {}).items()}
    names = list(record.get("summary", {}))
    rank = {group: index for index, group in enumerate(GROUP_ORDER)}
    return sorted(((name, groups.get(name, "other")) for name in names), key=lambda item: rank.get(item[1], len(rank)))


def accuracy_table(record: dict, metric: str) -> list[str]:
    conditions = record.get("conditions", [])
    header = ["variant", "group", "seeds", *(condition_label(c) for c in conditions)]
    rows = []
    for name, group in ordered_variants(record):
        entry = record["summary"][name]
        cells = [pct(entry.get(metric, {}).get(condition)) for condition in conditions]
        rows.append([f"`{name}`", GROUP_TITLES.get(group, group), str(len(entry.get("seeds", []))), *cells])
    return table(header, rows)


def variant_descriptions(record: dict) -> list[str]:
    """`Variants: ...` of the variants with results, with their training arguments (`--config_overrides` in files
    written before the arguments were recorded whole); nothing without any."""
    descriptions = [
        f"`{name}`: {info.get('description', '')}" + _variant_arguments(info)
        for name, info in record.get("variants", {}).items()
        if name in record.get("summary", {})
    ]
    return ["Variants: " + "; ".join(descriptions) + ".", ""] if descriptions else []


def _variant_arguments(info: dict) -> str:
    if info.get("train_args"):
        return f" (`{info['train_args']}`)"
    return f" (`--config_overrides {info['config_overrides']}`)" if info.get("config_overrides") else ""


def run_warnings(record: dict) -> list[str]:
    """The variants that gave identical metrics, and the runs that failed."""
    lines = []
    for group in record.get("identical_variants", []):
        lines += [f"**Warning:** variants {', '.join(group)} gave identical test metrics on every shared seed.", ""]
    for failure in record.get("failures", []):
        lines += [f"**Failed run:** `{failure['variant']}` seed {failure['seed']}: {failure['error']}", ""]
    return lines


def run_history(record: dict) -> list[str]:
    """The commits of the runs when there are several, and the earlier commands that wrote into the same file."""
    lines = []
    commits = sorted({run.get("git_commit") or "unknown" for run in record.get("runs", [])})
    if len(commits) > 1:
        lines += ["", "Runs made on several commits: " + ", ".join(f"`{c}`" for c in commits)]
    earlier = [inv["command"] for inv in record.get("invocations", [])[:-1] if inv["command"] != record.get("command")]
    if earlier:
        lines += ["", "Earlier invocations into the same file: " + "; ".join(f"`{c}`" for c in dict.fromkeys(earlier))]
    return lines


def accuracy_section(key: str, record: dict, results_dir: Path, output: Path) -> list[str]:
    title, _ = ACCURACY_DATASETS[key]
    lines = [f"## Accuracy: {title}", "", *quick_warning(record)]
    lines += [
        ACCURACY_TEXT + f"Training arguments shared by all runs: `{train_args_text(record)}`.",
        "",
        *accuracy_table(record, "accuracy"),
        "",
    ]
    if key == "reviews":
        lines += ["Macro-F1 (%), same runs:", "", *accuracy_table(record, "f1"), ""]
    lines += variant_descriptions(record) + run_warnings(record)
    lines += plot_link(results_dir / f"accuracy_{key}.png", output, f"{title}: accuracy against η")
    return lines + provenance_lines(record) + run_history(record) + [""]


def paired_differences(record: dict, name: str, metric: str, condition: str) -> list[float]:
    """`name` minus CL-DMDF, seed by seed, in points, over the seeds both have runs for (the same data, split and
    missing pattern, so the seed-to-seed noise that both share cancels)."""
    key = record_key(record, metric, condition)
    by_seed: dict[str, dict[int, float]] = {}
    for run in record.get("runs", []):
        if run.get("results", {}).get(key) is not None:
            by_seed.setdefault(run["variant"], {})[run["seed"]] = run["results"][key]
    ours, theirs = by_seed.get(REFERENCE_VARIANT, {}), by_seed.get(name, {})
    return [100 * (theirs[seed] - ours[seed]) for seed in sorted(set(ours) & set(theirs))]


def paired_difference(record: dict, name: str, metric: str, condition: str, label: str = "") -> str:
    """`; <label>per seed +x ± y, ahead on k of n` of `paired_differences`; empty without shared seeds."""
    differences = paired_differences(record, name, metric, condition)
    if not differences:
        return ""
    stats = mean_std(differences)
    std = f" ± {stats['std']:.2f}" if stats["std"] is not None else ""
    ahead = sum(difference > 0 for difference in differences)
    return f"; {label}per seed {stats['mean']:+.2f}{std}, ahead on {ahead} of {len(differences)}"


def has_mean(*stats) -> bool:
    """Whether every one of these `mean_std` dicts is there and has a mean."""
    return all(entry and entry.get("mean") is not None for entry in stats)


def stds_in_points(*stats: dict) -> list[float]:
    """The stds of these `mean_std` dicts that have one, in points."""
    return [100 * entry["std"] for entry in stats if entry.get("std") is not None]


def noise_words(gap: float, stds: list[float]) -> str:
    """Whether a gap of `gap` points is more than one std of the two means compared."""
    if not stds:
        return "single seed, no std"
    return "more than one std" if gap > max(stds) else "within one std"


def loss_line(title: str, record: dict, name: str, group: str, metric: str, condition: str) -> str:
    """The line of one (variant, metric, condition) whose mean beats CL-DMDF's; empty where it does not."""
    summary = record["summary"]
    mine, theirs = summary[REFERENCE_VARIANT][metric].get(condition), summary[name][metric].get(condition)
    if not has_mean(mine, theirs) or not theirs["mean"] > mine["mean"]:
        return ""
    gap = 100 * (theirs["mean"] - mine["mean"])
    return (
        f"- {title}, {metric}, {condition_label(condition)}: `{name}` ({group}) {pct(theirs)} > "
        f"CL-DMDF {pct(mine)} (+{gap:.2f} points, {noise_words(gap, stds_in_points(mine, theirs))}"
        f"{paired_difference(record, name, metric, condition)})"
    )


def accuracy_losses(key: str, record: dict) -> list[str]:
    """Every (condition, metric) where an ablation's or a baseline's mean beats CL-DMDF's."""
    title = ACCURACY_DATASETS[key][0]
    if REFERENCE_VARIANT not in record.get("summary", {}):
        return [f"- {title}: no `{REFERENCE_VARIANT}` runs, nothing to compare."]
    metrics = ("accuracy", "f1") if key == "reviews" else ("accuracy",)
    compared = [(name, group) for name, group in ordered_variants(record) if group in ("ablation", "baseline")]
    lines = [
        loss_line(title, record, name, group, metric, condition)
        for name, group in compared
        for metric in metrics
        for condition in record.get("conditions", [])
    ]
    lines = [line for line in lines if line]
    return lines or [f"- {title}: no ablation or baseline mean beats CL-DMDF's under any condition measured."]
