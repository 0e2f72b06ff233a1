"""Writes `BENCHMARKS.md` from `benchmarks/results/*.json`: table builders and one template (`report_template.md`);
under each table the command, commit and machine of its files. No verdicts: the README and `docs/results.md` say, in
a person's words, where the model wins and loses.

    python -m benchmarks.report [--results_dir benchmarks/results] [--output BENCHMARKS.md]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import RATES, REPO_ROOT, RESULTS_DIR, mean_std, read_json, run_cli
from benchmarks.suite import SETTINGS
from cldmdf.evaluation.results import result_key

TEXT_ARGS = ("--freeze_backbones", "--cache_backbone_outputs")  # shared by every run of a setting with text
CLDMDF = "defaults"  # the candidate of `test_suite.json` that is CL-DMDF with no flag
SUITE_COMMAND = "python -m benchmarks.bench_suite --suite-dir .cache/suite"
TEMPLATE = Path(__file__).with_name("report_template.md")  # `{name}`: a table builder's output


def pct(stats: dict | None, std: bool = True) -> str:
    if not stats or stats.get("mean") is None:
        return "–"
    spread = f" ± {100 * stats['std']:.2f}" if std and stats.get("std") is not None else ""
    return f"{100 * stats['mean']:.2f}{spread}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def provenance(name: str, record: dict) -> str:
    """One line per file: each invocation that wrote into it with its command, commit, machine and date."""
    lines = []
    for run in record.get("invocations") or [record]:
        machine = run.get("machine") or record.get("machine") or {}
        gpu = f", {machine['gpu']}" if machine.get("gpu") else ""
        load = machine.get("load_average_1m")
        where = f"{machine.get('cpu_model') or 'CPU'} x {machine.get('cpu_count', '?')}, torch {machine.get('torch')} "
        where += f"({machine.get('torch_threads')} threads){gpu}" + (f", load {load:.1f}" if load is not None else "")
        dirty = " (+ uncommitted changes)" if run.get("git_dirty") else ""
        note = f" {run['note']}" if run.get("note") else ""
        commit = (run.get("git_commit") or "?")[:10]
        lines.append(f"`{run.get('command')}` at `{commit}`{dirty}; {where}; {run.get('created')}.{note}")
    return f"- `{name}`: " + " · ".join(lines)


def suite_tables(test: dict, references: dict) -> tuple[str, str]:
    """Accuracy per (setting, η) of CL-DMDF and of each reference, and the wall time of a run."""
    ours = dict(sorted(test["summary"][CLDMDF].items(), key=lambda item: list(SETTINGS).index(item[0])))
    names = sorted({name for entry in references["summary"].values() for name in entry})
    rows, wall = [], []
    for setting, entry in ours.items():
        refs = references["summary"].get(setting, {})
        for rate in RATES:
            key = result_key("accuracy", rate)
            if key not in entry:
                continue
            scores = {name: refs.get(name, {}).get(key) for name in names}
            best = max((n for n in names if scores[n]), key=lambda n: scores[n]["mean"], default=None)
            gap = f"{100 * (entry[key]['mean'] - scores[best]['mean']):+.2f}" if best else "–"
            rows.append([setting, f"{rate:g}", pct(entry[key]), *(pct(scores[n]) for n in names), best or "–", gap])
        seconds = [entry.get("wall_time"), *(refs.get(n, {}).get("wall_s") for n in names)]
        wall.append([setting, *(f"{s['mean']:.1f}" if s else "–" for s in seconds)])
    header = ["setting", "η", "CL-DMDF", *names, "best reference", "CL-DMDF − best"]
    return table(header, rows), table(["setting", "CL-DMDF", *names], wall)


def alone_table(test: dict, alone: dict) -> str:
    """Per (setting, modality): CL-DMDF with only that modality present, and each specialist on it alone."""
    specialists = ["logreg", "mlp", "cnn"]
    values: dict = {}
    for run in test["runs"]:
        for key, value in run.get("results", {}).items():
            if run["candidate"] == CLDMDF and key.startswith("test_accuracy_only_"):
                values.setdefault((run["setting"], key.removeprefix("test_accuracy_only_")), []).append(value)
    rows = []
    for (setting, modality), accuracies in values.items():
        own = alone["summary"].get(setting, {}).get(modality, {})
        cells = [pct((own.get(s) or {}).get("test_accuracy", own.get(s))) for s in specialists]
        rows.append([setting, f"`{modality}`", pct(mean_std(accuracies)), *cells])
    return table(["setting", "modality", "CL-DMDF, alone", *specialists], rows)


def selection_table(record: dict) -> str:
    """A selection file: candidates × settings at η = 0, and the means over the settings they share."""
    summary = record["summary"]
    settings = sorted({setting for entry in summary.values() for setting in entry})
    common = [s for s in settings if all(s in entry for entry in summary.values())]
    argv = {run["candidate"]: run["argv"][6:] for run in record["runs"] if "argv" in run}
    rows = []
    for candidate, entry in summary.items():
        at_zero = [entry[s]["test_accuracy"]["mean"] for s in common]
        every = [v["mean"] for s in common for k, v in entry[s].items() if k.startswith("test_accuracy_missing_")]
        mine = [run for run in record["runs"] if run.get("candidate") == candidate and run.get("setting") in common]
        alone = [v for run in mine for k, v in run.get("results", {}).items() if k.startswith("test_accuracy_only_")]
        own = " ".join(a for a in argv.get(candidate, []) if a not in TEXT_ARGS)
        seeds = max(e["test_accuracy"]["n"] for e in entry.values())
        means = [f"{100 * sum(v) / len(v):.2f}" if v else "–" for v in (at_zero, at_zero + every, alone)]
        cells = [pct(entry.get(s, {}).get("test_accuracy")) for s in settings]
        rows.append([candidate, f"`{own or '(no flags)'}`", str(seeds), *cells, *means])
    header = ["candidate", "arguments", "seeds", *settings, "mean", "mean over η", "mean of each modality alone"]
    return table(header, rows)


def candidates_table(summaries: dict, labels: dict) -> str:
    """Candidates (CL-DMDF runs and references) × accuracy and macro-F1 at each η, with wall and CPU seconds."""
    header = ["model", *(f"{m} η = {r:g}" for r in RATES for m in ("acc", "F1")), "wall s", "CPU s"]
    rows = []
    for name, entry in summaries.items():
        cells = [pct(entry.get(result_key(m, r))) for r in RATES for m in ("accuracy", "f1")]
        times = [f"{entry[k]['mean']:.1f}" if k in entry else "–" for k in ("wall_s", "cpu_s")]
        rows.append([f"{name}{labels.get(name, '')}", *cells, *times])
    return table(header, rows)


def variants_table(record: dict) -> str:
    """A variants file (CL-DMDF, ablations, baselines): accuracy at each η and macro-F1 at η = 0 and the largest."""
    rates = record["setting"]["eval_missing_rates"]
    header = ["variant", "arguments", "seeds", *(f"acc η = {r:g}" for r in rates), "F1 η = 0", f"F1 η = {rates[-1]:g}"]
    rows = []
    for name, entry in record["summary"].items():
        f1 = [entry["f1"][f"missing_{r:g}"] for r in (rates[0], rates[-1])]
        variant = record["variants"][name]
        arguments = variant.get("train_args") or variant.get("config_overrides") or "(defaults)"
        accuracy = [pct(entry["accuracy"][f"missing_{r:g}"]) for r in rates]
        rows.append([f"`{name}`", f"`{arguments}`", str(len(entry["seeds"])), *accuracy, *map(pct, f1)])
    return table(header, rows)


def speed_table(records: dict[str, dict]) -> str:
    """Every speed file: parameters, throughput, ratios to early fusion, FLOPs and peak memory per configuration."""
    header = ["file", "device, batch", "configuration", "parameters", "train samples/s", "inference rows/s",
              "train ratio", "inference ratio", "train MFLOP/row", "peak MiB"]  # fmt: skip
    rows = []
    for name, record in records.items():
        setting = record["setting"]
        where = f"{setting['device']}, {setting['batch_size']}" + (", compiled" if setting.get("compile") else "")
        for config, entry in record["results"].items():
            if name != "speed.json" and config not in ("cldmdf", "early_fusion"):  # the options: once, on the CPU
                continue
            ratio = entry.get("ratio_to_early_fusion", {})
            memory = entry.get("memory", {}).get("peak_mib")
            rows.append([f"`{name}`", where, f"`{config}`", f"{entry['parameters']:,}",
                         f"{entry['train']['samples_per_s']:,.0f}", f"{entry['inference']['rows_per_s']:,.0f}",
                         *(f"{ratio[k]:.2f}" if k in ratio else "–" for k in ("train", "inference")),
                         f"{entry['train']['mflop_per_row']:.2f}", f"{memory:.0f}" if memory else "–"])  # fmt: skip
    return table(header, rows)


def main_job_table(records: dict[str, dict]) -> str:
    rows = []
    for record in records.values():
        s = record["summary"]
        refit = f" + {s['refit_steps']['mean']:.0f} (refit)" if "refit_steps" in s else ""
        wall = f"{s['wall_time']['mean']:.1f}" + (f" ± {s['wall_time']['std']:.1f}" if s["wall_time"]["std"] else "")
        label = record.get("label") or record["git_commit"][:7]
        rows.append([label, wall, f"{s['train_runtime']['mean']:.1f}", f"{s['train_steps']['mean']:.0f}{refit}",
                     pct(s["test_accuracy"]), str(s["wall_time"]["n"])])  # fmt: skip
    return table(["code", "wall time, s", "of which training, s", "optimizer steps", "test accuracy", "runs"], rows)


def onnx_table(record: dict) -> str:
    rows = [[str(r["batch_size"]), str(r["threads"]), f"{r['eager']:,.0f}", f"{r['onnxruntime']:,.0f}",
             f"{r['onnxruntime'] / r['eager']:.2f}x"] for r in record["rows_per_s"]]  # fmt: skip
    return table(["batch", "threads", "PyTorch eager, rows/s", "ONNX Runtime, rows/s", "ratio"], rows)


def flat(record: dict) -> dict:  # a text file's summary, candidate -> key (as bench_suite.py writes it, or not)
    summary = record["summary"]
    if "reviews_full" in summary:  # `--run references`: setting -> reference -> key
        return {f"reference:{name}": entry for name, entry in summary["reviews_full"].items()}
    return {name: entry.get("reviews_full", entry) for name, entry in summary.items()}


def build_report(results_dir: Path) -> str:
    files = {path.name: read_json(path) for path in sorted(Path(results_dir).glob("*.json"))}
    picked = lambda *names: {n: r for n, r in files.items() if n.startswith(names)}  # noqa: E731
    sources = lambda chosen: "\n".join(provenance(n, r) for n, r in chosen.items())  # noqa: E731
    test, references, alone = files["test_suite.json"], files["references_suite.json"], files["alone_references.json"]
    suite, wall = suite_tables(test, references)
    text, chosen = picked("text_test"), picked("text_selection")
    labels = {n: f" (`{a}`)" for r in picked("text_").values() for n, a in r.get("candidates", {}).items() if a}
    sections = lambda builder, chosen: "\n\n".join(  # noqa: E731
        f"### `{n}`\n\n{builder(r)}\n\n{provenance(n, r)}" for n, r in chosen.items())
    return TEMPLATE.read_text().format(
        SUITE_COMMAND=SUITE_COMMAND, suite=suite, wall=wall,
        suite_provenance=sources(picked("test_suite", "references")),
        alone=alone_table(test, alone) + "\n\n" + provenance("alone_references.json", alone),
        selection=sections(selection_table, picked("selection_suite_")),
        text=candidates_table({k: v for r in text.values() for k, v in flat(r).items()}, labels) + "\n\n"
        + sources(text),
        text_selection=sections(lambda r: candidates_table(r["summary"], labels), chosen),
        variants=sections(variants_table, picked("accuracy_")),
        speed=speed_table(picked("speed")) + "\n\n" + sources(picked("speed")),
        main_job=main_job_table(picked("main_job")) + "\n\n" + sources(picked("main_job")),
        onnx=onnx_table(files["onnx.json"]) + "\n\n" + provenance("onnx.json", files["onnx.json"]),
    )  # fmt: skip


@dataclass
class ReportArguments:
    results_dir: str = field(default=str(RESULTS_DIR), metadata={"help": "Folder of the results JSON files."})
    output: str = field(default=str(REPO_ROOT / "BENCHMARKS.md"), metadata={"help": "Markdown file to write."})


def main(args: ReportArguments) -> str:
    markdown = build_report(Path(args.results_dir))
    Path(args.output).write_text(markdown)
    print(f"wrote {args.output}")
    return markdown


if __name__ == "__main__":
    run_cli(ReportArguments, main)
