"""The benchmarks keep working: the driver runs CL-DMDF, the references and the one-modality specialists on a tiny
suite setting, the speed benchmark times two models, and the report renders the committed results into the committed
BENCHMARKS.md, its tables holding the numbers of the JSON files. No timing is asserted."""

import json
from pathlib import Path

import pytest

from benchmarks import bench_speed, bench_suite, report, suite
from benchmarks.common import RESULTS_DIR, parse

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = "tiny=--max_train_steps 2 --min_train_steps 0 --hidden_size 16 --max_train_samples 64 --max_eval_samples 32"


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("suite")
    suite.main(parse(suite.BuildArguments, ["--out", str(out), "--only", "breast_cancer"]))
    return out


@pytest.mark.parametrize("run", ["cldmdf", "references", "alone"])
def test_the_driver_runs_each_kind_and_resumes(suite_dir, tmp_path, run):
    output = tmp_path / f"{run}.json"
    argv = ["--suite_dir", str(suite_dir), "--datasets", "breast_cancer", "--run", run, "--seeds", "0",
            "--candidates", TINY, "--quick", "--references", "logreg,mlp_md",
            "--output", str(output)]  # fmt: skip
    record = bench_suite.main(parse(bench_suite.SuiteArguments, argv))
    assert record["command"].startswith("python -m benchmarks.bench_suite --suite_dir")
    assert record["runs"] and not [r for r in record["runs"] if "error" in r], record["runs"]
    expected = {"cldmdf": 1, "references": 2, "alone": 6}[run]  # alone: 3 modalities x (logreg, mlp)
    assert len(record["runs"]) == expected
    if run != "alone":
        keys = {key for r in record["runs"] for key in r["results"]}
        assert {"test_accuracy", "test_accuracy_missing_0.3", "test_accuracy_missing_0.5"} <= keys
    assert json.loads(output.read_text())["summary"]
    again = bench_suite.main(parse(bench_suite.SuiteArguments, argv))  # everything done: nothing runs again
    assert len(again["runs"]) == expected and len(again["invocations"]) == 2


def test_the_speed_benchmark_times_cldmdf_against_early_fusion(tmp_path):
    argv = ["--configs", "cldmdf,early_fusion,cldmdf_cal", "--batch_size", "8", "--hidden_size", "16", "--warmup", "1",
            "--repeats", "2", "--memory_steps", "0", "--device", "cpu", "--output", f"{tmp_path}/s.json"]  # fmt: skip
    record = bench_speed.main(parse(bench_speed.SpeedArguments, argv))
    assert set(record["results"]) == {"cldmdf", "early_fusion", "cldmdf_cal"}
    assert record["results"]["early_fusion"]["ratio_to_early_fusion"] == {"train": 1.0, "inference": 1.0}
    assert record["results"]["cldmdf"]["train"]["mflop_per_row"] > record["results"]["early_fusion"]["train"][
        "mflop_per_row"]  # fmt: skip


def pct(stats: dict) -> str:
    return f"{100 * stats['mean']:.2f}" + (f" ± {100 * stats['std']:.2f}" if stats.get("std") is not None else "")


def row(markdown: str, *cells: str) -> str:
    """The one table row that starts with `cells`."""
    (line,) = [line for line in markdown.splitlines() if line.startswith("| " + " | ".join(cells) + " |")]
    return line


def test_the_report_renders_the_results_into_benchmarks_md(tmp_path):
    output = tmp_path / "BENCHMARKS.md"
    markdown = report.main(parse(report.ReportArguments, ["--output", str(output)]))
    assert markdown == (REPO_ROOT / "BENCHMARKS.md").read_text(), "BENCHMARKS.md is stale: python -m benchmarks.report"
    assert len(markdown.splitlines()) <= 300 and "Where CL-DMDF loses" not in markdown
    files = {path.name: json.loads(path.read_text()) for path in RESULTS_DIR.glob("*.json")}
    ours, refs = files["test_suite.json"]["summary"]["defaults"], files["references_suite.json"]["summary"]
    for setting in ("uci_full", "letter_10_per_class"):
        line = row(markdown, setting, "0.5")
        assert pct(ours[setting]["test_accuracy_missing_0.5"]) in line
        assert pct(refs[setting]["mlp_md"]["test_accuracy_missing_0.5"]) in line
    alone = files["alone_references.json"]["summary"]["uci_full"]["zer"]
    assert pct(alone["logreg"]) in row(markdown, "uci_full", "`zer`")
    balance = files["selection_suite_balance.json"]["summary"]["alone1"]
    assert pct(balance["letter_10_per_class"]["test_accuracy"]) in row(markdown, "alone1")
    text = markdown.split("## Text")[1]
    assert pct(files["text_test.json"]["summary"]["defaults"]["test_f1"]) in row(text, "defaults")
    early = files["speed_cuda.json"]["results"]["early_fusion"]["train"]["samples_per_s"]
    assert f"{early:,.0f}" in row(markdown, "`speed_cuda.json`", "cuda, 256", "`early_fusion`")
    for name, record in files.items():
        assert f"`{name}`: `{record.get('invocations', [record])[0]['command']}`" in markdown  # each file's command
