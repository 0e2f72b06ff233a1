"""The report's section "CL-DMDF against what you would use instead": CL-DMDF with its defaults on the development
suite (`bench_suite.py`) beside the scikit-learn references (`bench_references.py`), and the bars the defaults are
held to.

The bars (issue "Defaults that win on any real dataset"): on every setting of the suite, CL-DMDF's mean accuracy is at
least the best reference's minus 0.5 points at η = 0, and at least the best reference's at η = 0.3 and η = 0.5.
Every (setting, η) that misses its bar is listed among the places where CL-DMDF loses.
"""

from pathlib import Path
from typing import Optional

from benchmarks.common import TEXT_ARGS, percent, read_json

SUITE_COMMAND = "python benchmarks/bench_suite.py --suite-dir .cache/suite"
REFERENCES_COMMAND = "python benchmarks/bench_references.py --suite-dir .cache/suite"
SELECTION_COMMAND = (
    'python benchmarks/bench_suite.py --suite-dir .cache/suite --split selection --candidates "..." '
    "--output benchmarks/results/selection_suite_<name>.json"
)
RATES = (0.0, 0.3, 0.5)
MARGIN_AT_0 = 0.5  # points: the η = 0 bar allows CL-DMDF to be this far under the best reference
CANDIDATE = "defaults"

INTRO = (
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
    "tabular (3,000 / 1,000 / 2,000 rows; CL-DMDF's MiniLM frozen and cached). Accuracy %, mean ± std over seeds."
)


def _pct(stats: Optional[dict]) -> str:
    return percent(stats)  # the std left out for a single seed


def _key(rate: float, metric: str = "accuracy") -> str:
    return f"test_{metric}" + (f"_missing_{rate:g}" if rate else "")


def comparisons(references: dict, cldmdf: dict) -> list[dict]:
    """One row per (setting, η) both files measured: CL-DMDF, the best reference and whether the bar is met."""
    rows = []
    for setting, by_reference in references.get("summary", {}).items():
        ours = cldmdf.get("summary", {}).get(CANDIDATE, {}).get(setting)
        if ours is None:
            continue
        for rate in RATES:
            scores = {name: entry.get(_key(rate)) for name, entry in by_reference.items()}
            scores = {name: stats for name, stats in scores.items() if stats}
            if not scores or not ours.get(_key(rate)):
                continue
            best = max(scores, key=lambda name: scores[name]["mean"])
            margin = 100 * (ours[_key(rate)]["mean"] - scores[best]["mean"])
            bar = -MARGIN_AT_0 if rate == 0 else 0.0
            rows.append(
                {
                    "setting": setting,
                    "rate": rate,
                    "cldmdf": ours[_key(rate)],
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
    lines = ["## CL-DMDF against what you would use instead", "", INTRO, ""]
    if references is None or cldmdf is None:
        absent = [
            name for name, record in (("references_suite.json", references), ("test_suite.json", cldmdf)) if not record
        ]
        lines += [f"_Missing: {', '.join(absent)}; `{REFERENCES_COMMAND}` and `{SUITE_COMMAND}` write them._", ""]
        return lines, []
    rows = comparisons(references, cldmdf)
    names = sorted({name for row in rows for name in row["scores"]})
    header = ["setting", "η", "CL-DMDF", *names, "best reference", "CL-DMDF − best", "bar met"]
    body = []
    for row in rows:
        cells = [_pct(row["scores"].get(name)) for name in names]
        body.append(
            [
                row["setting"],
                f"{row['rate']:g}",
                _pct(row["cldmdf"]),
                *cells,
                row["best"],
                f"{row['margin']:+.2f}",
                "yes" if row["met"] else f"**no** (bar {row['bar']:+.1f})",
            ]  # fmt: skip
        )
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    met = sum(row["met"] for row in rows)
    lines += ["", f"Bars met: {met} of {len(rows)} (setting, η) pairs.", ""]
    lines += _wall_times(references, cldmdf)
    lines += _provenance(references, "references") + _provenance(cldmdf, "CL-DMDF")
    lines += _main_job(results_dir)
    for path in sorted(results_dir.glob("selection_suite*.json")):
        lines += _selection(path)
    losses = [
        f"- suite `{row['setting']}` at η = {row['rate']:g}: CL-DMDF {_pct(row['cldmdf'])} against {row['best']} "
        f"{_pct(row['scores'][row['best']])} ({row['margin']:+.2f} points; the bar is {row['bar']:+.1f})."
        for row in rows
        if not row["met"]
    ]
    timed = {
        record.get("label", "this checkout"): record["summary"]["wall_time"]["mean"]
        for record in _main_jobs(results_dir)
    }
    ours = timed.pop("this checkout", None)
    losses += [
        f"- the README main job takes {ours:.1f} s end to end, against {theirs:.1f} s with {label}."
        for label, theirs in timed.items()
        if ours is not None and ours > theirs
    ]
    return lines, losses


def _main_jobs(results_dir: Path) -> list[dict]:
    records = [read_json(path) for path in sorted(results_dir.glob("main_job*.json"))]
    return [record for record in records if record]


def _wall_times(references: dict, cldmdf: dict) -> list[str]:
    lines = [
        "Wall time of one run, seconds (mean over seeds). CL-DMDF: the whole `train_accelerate.py` process, two runs "
        "at a time on the 2 cores, one thread each, with other work on the machine (the load averages below); the "
        "references one at a time.",
        "",
    ]
    header = ["setting", "CL-DMDF", *sorted(next(iter(references["summary"].values())).keys())]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for setting, by_reference in references["summary"].items():
        ours = cldmdf.get("summary", {}).get(CANDIDATE, {}).get(setting, {})
        cells = [f"{ours['wall_time']['mean']:.1f}" if "wall_time" in ours else "–"]
        walls = [by_reference.get(name, {}).get("wall_s") for name in header[2:]]
        cells += [f"{wall['mean']:.1f}" if wall else "–" for wall in walls]
        lines.append("| " + " | ".join([setting, *cells]) + " |")
    return [*lines, ""]


def _provenance(record: dict, label: str) -> list[str]:
    lines = []
    for invocation in record.get("invocations") or [record]:
        machine = invocation.get("machine") or {}
        load = machine.get("load_average_1m")
        lines += [
            f"{label}: `{invocation.get('command')}` at commit `{invocation.get('git_commit')}`"
            + (" (+ uncommitted changes)" if invocation.get("git_dirty") else "")
            + f", {machine.get('cpu_count', '?')} CPU cores"
            + (f", load average {load:.1f} when it started" if load is not None else "")
            + f", written {invocation.get('created', '?')}."
            + (f" {invocation['note']}" if invocation.get("note") else ""),
            "",
        ]
    return lines


def _selection(path: Path) -> list[str]:
    """A selection file: candidates scored on each setting's validation split (the test split is never read)."""
    record = read_json(path)
    if record is None:
        return []
    lines = [
        f"### Choosing the defaults: `{path.name}`",
        "",
        "Each candidate trained on the setting's train split (its early-stopping split carved out of it) and scored "
        "on the setting's validation split; the test split is never read. Accuracy % at η = 0, mean ± std over "
        "seeds. The means are over the settings every candidate ran (those without a dash), the last one over every η "
        "they allow (0, 0.3, 0.5).",
        "",
    ]
    summary = record.get("summary", {})
    settings = sorted({setting for entry in summary.values() for setting in entry})
    common = [setting for setting in settings if all(setting in entry for entry in summary.values())]
    header = ["candidate", "arguments", "seeds", *settings, "mean over settings", "mean over settings and η"]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    arguments = {run["candidate"]: run["argv"] for run in record.get("runs", []) if "argv" in run}
    for candidate, entry in summary.items():
        cells = [_pct(entry.get(setting, {}).get("test_accuracy")) for setting in settings]
        at_zero = [entry[setting]["test_accuracy"]["mean"] for setting in common]
        every_rate = [
            stats["mean"]
            for setting in common
            for key, stats in entry[setting].items()
            if key == "test_accuracy" or key.startswith("test_accuracy_missing_")
        ]
        # a run's argv: --dataset_name, --output_dir, --seed (6 items), the candidate's own, then those of text
        own = " ".join(a for a in arguments.get(candidate, [])[6:] if a not in TEXT_ARGS) or "(no flags)"
        means = [f"{100 * sum(values) / len(values):.2f}" if values else "–" for values in (at_zero, every_rate)]
        seeds = max(stats["test_accuracy"]["n"] for stats in entry.values() if "test_accuracy" in stats)
        lines.append("| " + " | ".join([candidate, f"`{own}`", str(seeds), *cells, *means]) + " |")
    lines.append("")
    for invocation in record.get("invocations") or [record]:
        dirty = " (+ uncommitted changes)" if invocation.get("git_dirty") else ""
        note = f" {invocation['note']}" if invocation.get("note") else ""
        where = f"at commit `{invocation.get('git_commit')}`{dirty}"
        lines += [f"Command: `{invocation.get('command')}` {where}.{note}", ""]
    return lines


def _seconds(value: dict) -> str:
    """`mean ± std` seconds, the std left out for a single run."""
    return f"{value['mean']:.1f}" + (f" ± {value['std']:.1f}" if value.get("std") is not None else "")


def _main_job(results_dir: Path) -> list[str]:
    """The README main job's wall time, for this checkout and any other timed on the same machine."""
    records = _main_jobs(results_dir)
    if not records:
        return []
    lines = [
        "### The README main job",
        "",
        "`accelerate launch train_accelerate.py` end to end (start-up, pre-flight check, training, sweep, card), one "
        "run at a time on an otherwise idle machine (`python benchmarks/bench_main_job.py`).",
        "",
        "| code | wall time, s | of which training, s | optimizer steps | test accuracy % | runs |",
        "|---|---|---|---|---|---|",
    ]
    for record in records:
        summary = record["summary"]
        refit = f" + {summary['refit_steps']['mean']:.0f} (refit)" if "refit_steps" in summary else ""
        label = record.get("label", "this checkout")
        if label == "this checkout":
            label = f"`{str(record.get('git_commit'))[:7]}`"
        lines.append(
            f"| {label} | {_seconds(summary['wall_time'])} | "
            f"{summary['train_runtime']['mean']:.1f} | {summary['train_steps']['mean']:.0f}{refit} | "
            f"{_pct(summary['test_accuracy'])} | {len(record['runs'])} |"
        )
    return [*lines, ""]
