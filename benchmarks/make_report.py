"""Writes `BENCHMARKS.md` from the results files of the benchmark scripts: tables, plots and provenance.

Every number in the report is read from a JSON file under `--results-dir` (default `benchmarks/results/`); nothing is
measured or typed in here. A results file that does not exist is listed as missing, with the command that makes it.
Under each table: the exact command that wrote the file, the commit it ran on (and whether the working tree had
uncommitted changes) and the machine.

Run from the repository root, after the benchmarks:

    python benchmarks/make_report.py [--results-dir benchmarks/results] [--output BENCHMARKS.md]

It imports neither torch nor the library, so it runs in a second.

Each section is written by a module of its own: `report_suite.py` (CL-DMDF against the references),
`report_accuracy.py`, `report_raw.py` (text and images with `--dataset_name` alone), `report_tmc.py`,
`report_sweeps.py` (cross-validation, validation and sensitivity files), `report_speed.py`, `report_scaling.py`,
`report_collator.py` and `report_devices.py` (speed and scaling on other devices), with the shared formatting in
`report_format.py`; this file puts them together in order.
"""

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO_ROOT, RESULTS_DIR, read_json  # noqa: E402
from benchmarks.report_accuracy import ACCURACY_DATASETS, accuracy_losses, accuracy_section  # noqa: E402
from benchmarks.report_collator import collator_section  # noqa: E402
from benchmarks.report_devices import other_devices_section  # noqa: E402
from benchmarks.report_format import missing_section  # noqa: E402
from benchmarks.report_pretraining import pretraining_losses, pretraining_section  # noqa: E402
from benchmarks.report_raw import IMAGE_COMMANDS, TEXT_COMMANDS, raw_section  # noqa: E402
from benchmarks.report_redesign import redesign_section  # noqa: E402
from benchmarks.report_scaling import scaling_losses, scaling_section  # noqa: E402
from benchmarks.report_speed import speed_losses, speed_section  # noqa: E402
from benchmarks.report_suite import REFERENCES_COMMAND, SUITE_COMMAND, suite_section  # noqa: E402
from benchmarks.report_sweeps import sweep_sections  # noqa: E402
from benchmarks.report_tmc import tmc_comparison, tmc_recipe_comparison, tmc_recipe_section  # noqa: E402

# The commands that regenerate every results file, in the order the report shows them (the accuracy ones are in
# ACCURACY_DATASETS, the suite ones in report_suite).
SPEED_COMMAND = "python benchmarks/bench_speed.py"
SCALING_COMMAND = "python benchmarks/bench_scaling.py"
COLLATOR_COMMAND = "python benchmarks/bench_collator.py"
PRETRAINING_COMMAND = "python benchmarks/bench_pretraining.py --seeds 0,1,2"
TMC_RECIPE_COMMAND = "python benchmarks/bench_tmc_recipe.py"
REPORT_COMMAND = "python benchmarks/make_report.py"
SUITE_BUILD_COMMAND = "python benchmarks/suite.py --out .cache/suite"
# Every change of a default training setting, with the commit that made it: `(defaults)` under a table means the
# defaults of the commit named there, so a file made before a change ran with the old value.
DEFAULT_CHANGES = (
    ("modality_dropout", "0.1", "0.3", "0976738", "on the validation split"),
    ("hidden_dropout_prob", "0.3", "0.5", "cad4359", "by 5-fold cross-validation"),
    ("dense_input_norm", "LayerNorm first", "False", "4ed5289", "on the development suite's validation splits"),
    ("training budget", "30 epochs", "max(1000 steps, 30 epochs)", "ae3164e", "on the suite's validation splits"),
)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", default=str(RESULTS_DIR), help="Folder of the results JSON files.")
    parser.add_argument("--output", default=str(REPO_ROOT / "BENCHMARKS.md"), help="Markdown file to write.")
    return parser.parse_args(argv)


def intro(results_dir: Path) -> list[str]:
    commands = [SUITE_BUILD_COMMAND, REFERENCES_COMMAND, SUITE_COMMAND]
    commands += [command for _, command in ACCURACY_DATASETS.values()]
    commands += [TEXT_COMMANDS["text_test.json"], IMAGE_COMMANDS["image_tabular.json"]]
    commands += [TMC_RECIPE_COMMAND, SPEED_COMMAND, SCALING_COMMAND, COLLATOR_COMMAND]
    commands += [PRETRAINING_COMMAND, REPORT_COMMAND]
    shown = Path(os.path.relpath(results_dir.resolve(), REPO_ROOT)).as_posix()
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
        "Under each table: the exact command that wrote its file, the commit and the machine. To regenerate "
        "everything, from the repository root:",
        "",
        "```bash",
        *commands,
        "```",
        "",
        "Each script also has a `--quick` smoke-test mode (written to a temporary folder, never over these results).",
        "",
        "Defaults changed along the way, each chosen without the test split; `(defaults)` under a table are those of "
        "the commit named there: "
        + "; ".join(
            f"`{name}` {old} → {new} at `{commit}` (chosen {basis})"
            for name, old, new, commit, basis in DEFAULT_CHANGES
        )
        + ".",
        "",
    ]


@dataclass
class Report:
    """The report as it is built: its lines, and what its closing sections gather from every section before."""

    lines: list[str]
    losses: list[str] = field(default_factory=list)  # "Where CL-DMDF loses"
    comparisons: list[str] = field(default_factory=list)  # "Against the published result"
    missing: list[str] = field(default_factory=list)  # the names of the results files not found

    def add_missing(self, title: str, path: Path, command: str) -> None:
        self.lines += missing_section(title, path, command)
        self.missing.append(path.name)


def add_accuracy(report: Report, results_dir: Path, output: Path) -> None:
    """One section per accuracy dataset, then TMC's own recipe when its file is there (optional: a reference point
    for the published bar)."""
    for key, (title, command) in ACCURACY_DATASETS.items():
        path = results_dir / f"accuracy_{key}.json"
        record = read_json(path)
        if record is None:
            report.add_missing(f"Accuracy: {title}", path, command)
            continue
        report.lines += accuracy_section(key, record, results_dir, output)
        report.losses += accuracy_losses(key, record)
        if key == "uci":
            report.comparisons += tmc_comparison(record)
    recipe = read_json(results_dir / "tmc_recipe_uci.json")
    if recipe is not None:
        report.lines += tmc_recipe_section(recipe)
        report.comparisons += tmc_recipe_comparison(recipe, read_json(results_dir / "accuracy_uci.json"))


def add_measurements(report: Report, results_dir: Path, output: Path) -> None:
    """The speed, scaling, collator and pre-training sections of this machine's results files."""
    sections = (
        ("speed.json", "Speed", SPEED_COMMAND, speed_section, speed_losses),
        (
            "scaling.json",
            "Scaling",
            SCALING_COMMAND,
            lambda r: scaling_section(r, results_dir / "scaling.png", output),
            scaling_losses,
        ),
        ("collator.json", "Collator", COLLATOR_COMMAND, collator_section, None),
        ("pretraining_reviews.json", "Pre-training", PRETRAINING_COMMAND, pretraining_section, pretraining_losses),
    )
    for filename, title, command, render, find_losses in sections:
        path = results_dir / filename
        record = read_json(path)
        if record is None:
            report.add_missing(title, path, command)
            continue
        report.lines += render(record)
        if find_losses is not None:
            report.losses += find_losses(record)


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
        missing = ", ".join(f"`{name}`" for name in report.missing)
        lines += [f"Missing results files (their sections are empty): {missing}", ""]
    return lines


def build_report(results_dir: Path, output: Path) -> str:
    """The markdown text of the report for the results files in `results_dir`."""
    report = Report(intro(results_dir))
    suite_lines, report.losses = suite_section(results_dir)  # the headline: what a user would use instead
    report.lines += suite_lines
    add_accuracy(report, results_dir, output)
    raw_lines, raw_losses, raw_missing = raw_section(results_dir)
    report.lines += raw_lines
    report.losses += raw_losses
    report.missing += raw_missing
    report.lines += sweep_sections(results_dir)
    before = read_json(results_dir / "test_suite_before_redesign.json")
    after = read_json(results_dir / "redesign_suite.json")
    if before is not None and after is not None:
        report.lines += redesign_section(before, after)
    add_measurements(report, results_dir, output)
    device_lines, device_losses = other_devices_section(results_dir, output)
    report.lines += device_lines
    report.losses += device_losses
    return "\n".join(report.lines + closing(report)).rstrip() + "\n"


def main(args: argparse.Namespace) -> str:
    results_dir, output = Path(args.results_dir), Path(args.output)
    text = build_report(results_dir, output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"wrote {output}")
    return text


if __name__ == "__main__":
    main(parse_args())
