"""Writes `BENCHMARKS.md` from the results files of the benchmark scripts: tables, plots and provenance.

Every number in the report is read from a JSON file under `--results-dir` (default `benchmarks/results/`); nothing is
measured or typed in here. A results file that does not exist is listed as missing, with the command that makes it.
Under each table: the exact command that wrote the file, the commit it ran on (and whether the working tree had
uncommitted changes) and the machine.

Run from the repository root, after the benchmarks:

    python benchmarks/make_report.py [--results-dir benchmarks/results] [--output BENCHMARKS.md]

It imports neither torch nor the library, so it runs in a second.
"""

import argparse
import os
import sys
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO_ROOT, RESULTS_DIR, read_json  # noqa: E402
from benchmarks.report_accuracy import (  # noqa: E402
    ACCURACY_DATASETS,
    accuracy_losses,
    accuracy_section,
)
from benchmarks.report_collator import collator_section  # noqa: E402
from benchmarks.report_format import (  # noqa: E402
    missing_section,
)
from benchmarks.report_scaling import scaling_losses, scaling_section  # noqa: E402
from benchmarks.report_speed import speed_label, speed_losses, speed_section  # noqa: E402
from benchmarks.report_suite import REFERENCES_COMMAND, SUITE_COMMAND, suite_section  # noqa: E402
from benchmarks.report_sweeps import sweep_sections  # noqa: E402
from benchmarks.report_tmc import tmc_comparison, tmc_recipe_comparison, tmc_recipe_section  # noqa: E402

# The commands that regenerate every results file, in the order the report shows them (the accuracy ones are in
# ACCURACY_DATASETS, the suite ones in report_suite).
SPEED_COMMAND = "python benchmarks/bench_speed.py"
SCALING_COMMAND = "python benchmarks/bench_scaling.py"
COLLATOR_COMMAND = "python benchmarks/bench_collator.py"
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


# ----------------------------------------------------------------------------------------------------------------
# Accuracy


OTHER_DEVICES_TEXT = (
    "The speed and scaling benchmarks again on another device (files `speed_*.json`, `scaling_*.json`; same "
    "configurations, same definitions). The GPU files were written by `bash scripts/gpu_check.sh OUT_DIR` on a GPU "
    "machine (it also runs `tests/test_cuda.py` and the main job in float32 and bf16) and copied from OUT_DIR into "
    "`benchmarks/results/`: the commands below show OUT_DIR. To regenerate on a GPU: "
    "`python benchmarks/bench_speed.py --device cuda --output benchmarks/results/speed_cuda.json` (add "
    "`--batch-size 4096 --output benchmarks/results/speed_cuda_b4096.json` for the large batch) and "
    "`python benchmarks/bench_scaling.py --device cuda --output benchmarks/results/scaling_cuda.json`."
)


# ----------------------------------------------------------------------------------------------------------------
# Report


def intro(results_dir: Path) -> list[str]:
    commands = [SUITE_BUILD_COMMAND, REFERENCES_COMMAND, SUITE_COMMAND]
    commands += [command for _, command in ACCURACY_DATASETS.values()]
    commands += [TMC_RECIPE_COMMAND, SPEED_COMMAND, SCALING_COMMAND, COLLATOR_COMMAND, REPORT_COMMAND]
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


def build_report(results_dir: Path, output: Path) -> str:
    """The markdown text of the report for the results files in `results_dir`."""
    lines = intro(results_dir)
    losses: list[str] = []
    comparisons: list[str] = []
    missing: list[str] = []

    suite_lines, losses = suite_section(results_dir)  # the headline: what a user would use instead
    lines += suite_lines

    for key, (title, command) in ACCURACY_DATASETS.items():
        path = results_dir / f"accuracy_{key}.json"
        record = read_json(path)
        if record is None:
            lines += missing_section(f"Accuracy: {title}", path, command)
            missing.append(path.name)
            continue
        lines += accuracy_section(key, record, results_dir, output)
        losses += accuracy_losses(key, record)
        if key == "uci":
            comparisons += tmc_comparison(record)

    recipe = read_json(results_dir / "tmc_recipe_uci.json")  # optional: a reference point for the published bar
    if recipe is not None:
        lines += tmc_recipe_section(recipe)
        comparisons += tmc_recipe_comparison(recipe, read_json(results_dir / "accuracy_uci.json"))

    lines += sweep_sections(results_dir)

    sections = (
        ("speed.json", "Speed", SPEED_COMMAND, lambda r: speed_section(r), speed_losses),
        (
            "scaling.json",
            "Scaling",
            SCALING_COMMAND,
            lambda r: scaling_section(r, results_dir / "scaling.png", output),
            scaling_losses,
        ),
        ("collator.json", "Collator", COLLATOR_COMMAND, collator_section, None),
    )
    for filename, title, command, render, find_losses in sections:
        path = results_dir / filename
        record = read_json(path)
        if record is None:
            lines += missing_section(title, path, command)
            missing.append(filename)
            continue
        lines += render(record)
        if find_losses is not None:
            losses += find_losses(record)

    other_devices = sorted(results_dir.glob("speed_*.json")) + sorted(results_dir.glob("scaling_*.json"))
    if other_devices:
        lines += ["## Speed and scaling on other devices", "", OTHER_DEVICES_TEXT, ""]
    for path in other_devices:
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

    lines += ["## Where CL-DMDF loses", ""]
    lines += [
        "Computed from the results above: every condition where an ablation's or a baseline's mean beats CL-DMDF's "
        "(a difference within one std is noise, not a finding), every CL-DMDF configuration slower than early "
        "fusion, and every step-time growth faster than linear. `per seed` is the paired difference: the other "
        "model minus CL-DMDF seed by seed (mean ± std, in points) and on how many seeds the other model was ahead.",
        "",
        *losses,
        "",
    ]
    if comparisons:
        lines += ["### Against the published result", "", *comparisons, ""]
    if missing:
        lines += ["Missing results files (their sections are empty): " + ", ".join(f"`{m}`" for m in missing), ""]
    return "\n".join(lines).rstrip() + "\n"


def main(args: argparse.Namespace) -> str:
    results_dir, output = Path(args.results_dir), Path(args.output)
    text = build_report(results_dir, output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"wrote {output}")
    return text


if __name__ == "__main__":
    main(parse_args())
