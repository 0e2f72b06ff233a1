"""The benchmark scripts keep working: each runs in `--quick` mode into a temporary folder, and `benchmarks.report`
turns their results files into a report whose tables, commands and provenance come from those files.

No timing is asserted (the numbers of a loaded CI machine mean nothing); the tests check what the scripts write.
The report on hand-made results files: `test_make_report.py`.
"""

import json
import re
from pathlib import Path

import pytest
from report_text import section

from benchmarks import (
    bench_accuracy,
    bench_collator,
    bench_scaling,
    bench_speed,
    bench_tmc_recipe,
    report,
)
from benchmarks.common import RESULTS_DIR, quick_output_dir

REPO_ROOT = Path(__file__).resolve().parents[2]

PROVENANCE_KEYS = ("benchmark", "command", "git_commit", "git_dirty", "machine", "created")
ACCURACY_VARIANTS = ("cldmdf", "cldmdf_tuple")  # CL-DMDF and one companion method
SPEED_CONFIGS = ("cldmdf", "early_fusion", "cldmdf_cal")

# Every script in its smallest setting; `{out}` is the temporary results folder.
QUICK_ARGV = {
    "accuracy_uci.json": (
        bench_accuracy,
        ["--quick", "--variants", ",".join(ACCURACY_VARIANTS), "--output", "{out}/accuracy_uci.json"],
    ),
    "validation_uci.json": (
        bench_accuracy,
        ["--quick", "--split", "validation", "--variants", "cldmdf", "--output", "{out}/validation_uci.json"],
    ),
    "cv_uci.json": (
        bench_accuracy,
        ["--quick", "--split", "cv", "--folds", "2", "--variants", "cldmdf", "--output", "{out}/cv_uci.json"],
    ),
    "speed.json": (
        bench_speed,
        [
            "--quick",
            "--configs",
            ",".join(SPEED_CONFIGS),
            "--batch-size",
            "16",
            "--hidden-size",
            "16",
            "--repeats",
            "2",
            "--output",
            "{out}/speed.json",
        ],
    ),  # fmt: skip
    "scaling.json": (
        bench_scaling,
        [
            "--quick",
            "--batch-sizes",
            "8,16",
            "--modalities",
            "2,3",
            "--dim",
            "8",
            "--hidden-size",
            "16",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--output",
            "{out}/scaling.json",
        ],
    ),  # fmt: skip
    "collator.json": (bench_collator, ["--quick", "--batch-size", "32", "--output", "{out}/collator.json"]),
    "tmc_recipe_uci.json": (bench_tmc_recipe, ["--quick", "--seeds", "0,1", "--output", "{out}/tmc_recipe_uci.json"]),
}


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    """The four benchmarks run once in `--quick` mode into one folder, and the report made from it."""
    out = tmp_path_factory.mktemp("bench")
    for module, argv in QUICK_ARGV.values():
        module.main(module.parse_args([arg.replace("{out}", str(out)) for arg in argv]))
    markdown = out / "BENCHMARKS.md"
    report.main(report.parse_args(["--results-dir", str(out), "--output", str(markdown)]))
    return out, markdown.read_text()


@pytest.mark.slow
def test_every_results_file_starts_with_the_provenance_header(quick_results):
    out, _ = quick_results
    for filename, (module, argv) in QUICK_ARGV.items():
        record = json.loads((out / filename).read_text())
        assert all(key in record for key in PROVENANCE_KEYS), filename
        expected = " ".join(["python", "-m", module.__name__, *(a.replace("{out}", str(out)) for a in argv)])
        assert record["command"] == expected
        assert re.fullmatch(r"[0-9a-f]{40}", record["git_commit"]), "the tests run inside the git checkout"
        assert isinstance(record["git_dirty"], bool)
        assert record["machine"]["cpu_count"] >= 1 and record["machine"]["torch"]


@pytest.mark.slow
def test_accuracy_results_hold_every_condition_of_every_variant(quick_results):
    out, _ = quick_results
    record = json.loads((out / "accuracy_uci.json").read_text())
    assert record["failures"] == []
    assert list(record["summary"]) == list(ACCURACY_VARIANTS)
    removed = [f"without_{name}" for name in ("fac", "fou", "kar", "mor", "pix", "zer")]
    assert record["conditions"] == ["missing_0", "missing_0.1", "missing_0.3", "missing_0.5", *removed]
    for entry in record["summary"].values():
        for condition in record["conditions"]:
            stats = entry["accuracy"][condition]
            assert stats["n"] == 1 and 0.0 <= stats["mean"] <= 1.0 and stats["std"] is None
    # The companion switch changed the training: its metrics differ from plain CL-DMDF's.
    assert record["identical_variants"] == []
    assert (out / "accuracy_uci.png").stat().st_size > 0


@pytest.mark.slow
def test_validation_sweeps_never_read_the_test_split_and_have_their_own_section(quick_results):
    out, text = quick_results
    record = json.loads((out / "validation_uci.json").read_text())
    assert record["setting"]["split"] == "validation" and record["failures"] == []
    (run,) = record["runs"]
    assert run["results"]["validation_accuracy"] == record["summary"]["cldmdf"]["accuracy"]["missing_0"]["mean"]
    assert not [key for key in run["results"] if key.startswith("test_")]
    part = section(text, "Choosing defaults on the validation split")
    assert "### `validation_uci.json`" in part and f"Command: `{record['command']}`" in part
    mean = record["summary"]["cldmdf"]["accuracy"]["missing_0.5"]["mean"]
    row = next(line for line in part.splitlines() if line.startswith("| `cldmdf` |"))
    assert f" {100 * mean:.2f} |" in row
    # A validation file is never mistaken for the test-split accuracy of the same dataset.
    assert "validation_uci" not in section(text, "Accuracy: UCI")


@pytest.mark.slow
def test_cross_validation_runs_average_their_folds_and_have_their_own_section(quick_results):
    out, text = quick_results
    record = json.loads((out / "cv_uci.json").read_text())
    assert (record["setting"]["split"], record["setting"]["folds"]) == ("cv", 2) and record["failures"] == []
    (run,) = record["runs"]
    assert len(run["fold_accuracy"]) == 2
    # Each held-out fold is the run's test split; its validation split (early stopping) came out of the other fold.
    assert run["results"]["test_accuracy"] == pytest.approx(sum(run["fold_accuracy"]) / 2)
    assert run["results"]["test_rows"] == 64  # --quick's --max_eval_samples of each held-out fold
    part = section(text, "Choosing defaults by cross-validation")
    assert "### `cv_uci.json`" in part and f"Command: `{record['command']}`" in part
    # The candidates table: the average over the η columns of the run, in bold as the only (so best) candidate.
    rates = record["setting"]["eval_missing_rates"]
    keys = ["test_accuracy", *(f"test_accuracy_missing_{rate:g}" for rate in rates if rate)]
    average = sum(run["results"][key] for key in keys) / len(keys)
    assert f"| **`cldmdf`** | **`cv_uci.json`** | **`{' '.join(record['setting']['train_args'])}`** | **1** |" in part
    assert f"| **{100 * average:.2f}** |" in part
    assert "cv_uci" not in section(text, "Accuracy: UCI")


def test_cross_validation_folds_partition_train_and_validation_by_class_never_the_test_split(tmp_path):
    import datasets

    path = REPO_ROOT / bench_accuracy.DATASETS["uci"]["path"]
    folders = bench_accuracy.write_folds(path, 5, tmp_path)
    bundled = datasets.load_dataset(str(path))
    pool = set(bundled["train"]["row_id"]) | set(bundled["validation"]["row_id"])
    held_out = []
    for folder in folders:
        fold = datasets.load_dataset(str(folder))
        assert sorted(fold) == ["test", "train"]
        train, test = set(fold["train"]["row_id"]), set(fold["test"]["row_id"])
        assert not train & test and train | test == pool
        # Stratified: 1,600 rows of 10 balanced classes in 5 folds, 32 of each class per held-out fold.
        assert sorted(set(fold["test"]["label"])) == list(range(10))
        assert all(fold["test"]["label"].count(label) == 32 for label in range(10))
        assert fold["test"].features == bundled["test"].features
        held_out += fold["test"]["row_id"]
    assert sorted(held_out) == sorted(pool)  # every pooled row is held out exactly once
    assert not pool & set(bundled["test"]["row_id"])  # and the test split is never among them
    # The same folds on a second call (fixed seed): every variant and seed sees the same partition.
    again = bench_accuracy.write_folds(path, 5, tmp_path / "again")
    assert (
        datasets.load_dataset(str(again[3]))["test"]["row_id"]
        == datasets.load_dataset(str(folders[3]))["test"]["row_id"]
    )


@pytest.mark.slow
def test_speed_results_have_the_companion_configurations_and_ratios(quick_results):
    out, _ = quick_results
    record = json.loads((out / "speed.json").read_text())
    assert list(record["results"]) == list(SPEED_CONFIGS)
    # Each configuration is described as train_accelerate.py arguments, and names the model it built.
    assert record["results"]["cldmdf_cal"]["config"] == {"cal": True}
    assert record["results"]["early_fusion"]["config"] == {"baseline": "early_fusion"}
    models = {name: entry["model"] for name, entry in record["results"].items()}
    assert models == {
        "cldmdf": "CLDMDFForSequenceClassification",
        "early_fusion": "EarlyFusionForSequenceClassification",
        "cldmdf_cal": "CLDMDFForSequenceClassification",
    }
    # CAL's model has the unimodal heads and the token bottleneck CAL needs: more parameters than CL-DMDF's.
    assert record["results"]["cldmdf_cal"]["parameters"] > record["results"]["cldmdf"]["parameters"]
    for entry in record["results"].values():
        assert entry["train"]["samples_per_s"] > 0 and entry["inference"]["rows_per_s"] > 0
        assert entry["memory"]["peak_mib"] >= 0
    assert record["results"]["early_fusion"]["ratio_to_early_fusion"] == {"train": 1.0, "inference": 1.0}
    assert record["headline"]["ratios"]["train"] == pytest.approx(
        record["results"]["cldmdf"]["train"]["samples_per_s"]
        / record["results"]["early_fusion"]["train"]["samples_per_s"]
    )
    # FLOPs per training row: CL-DMDF's fusion layers run on every modality token, early fusion's MLP once a row.
    flops = {name: entry["train"]["mflop_per_row"] for name, entry in record["results"].items()}
    assert flops["cldmdf"] > 2 * flops["early_fusion"] > 0
    assert record["headline"]["ratios"]["train_flops"] == pytest.approx(flops["cldmdf"] / flops["early_fusion"])
    cldmdf = record["results"]["cldmdf"]["train"]
    assert cldmdf["gflop_per_s"] == pytest.approx(
        cldmdf["mflop_per_row"] * 1e6 * record["setting"]["batch_size"] / cldmdf["median_s"] / 1e9
    )


@pytest.mark.slow
def test_report_has_one_table_per_benchmark_with_its_command_commit_and_machine(quick_results):
    out, text = quick_results
    for title, filename in (
        ("Accuracy: UCI", "accuracy_uci.json"),
        ("Speed", "speed.json"),
        ("Scaling", "scaling.json"),
        ("Collator", "collator.json"),
    ):
        part = section(text, title)
        record = json.loads((out / filename).read_text())
        assert f"Command: `{record['command']}`" in part
        assert f"Commit: `{record['git_commit']}`" in part
        assert "Machine: " in part and record["machine"]["platform"] in part
        assert "\n|---|" in part, f"no table in the {title} section"
        assert "Quick smoke-test numbers" in part
    accuracy = section(text, "Accuracy: UCI")
    for variant in ACCURACY_VARIANTS:
        assert f"| `{variant}` |" in accuracy
    assert "![UCI Multiple Features: accuracy against η](accuracy_uci.png)" in accuracy
    speed = section(text, "Speed")
    for config in SPEED_CONFIGS:
        assert f"| `{config}` |" in speed
    flops = json.loads((out / "speed.json").read_text())["headline"]["ratios"]["train_flops"]
    assert f"training row costs {flops:.1f}x the FLOPs" in speed
    assert "(scaling.png)" in section(text, "Scaling")
    # The reviews benchmark was not run: listed as missing, with the command that makes it.
    assert "_Missing: `accuracy_reviews.json` was not found" in section(text, "Accuracy: Women")
    assert "TMC's published 98.51 ± 0.15" in text


@pytest.mark.slow
def test_tmc_recipe_runs_tmc_on_the_test_split_and_the_report_compares_it(quick_results):
    out, text = quick_results
    record = json.loads((out / "tmc_recipe_uci.json").read_text())
    assert record["setting"]["train_rows"] == 1600 and record["setting"]["test_rows"] == 400  # train + validation
    assert record["setting"]["epochs"] == 2 and [run["seed"] for run in record["runs"]] == [0, 1]
    assert record["conditions"] == ["missing_0", "missing_0.1", "missing_0.3", "missing_0.5"]
    # Floors: the 3-seed minimum of the real `--quick` runs (seeds 0, 1, 2: η = 0 0.940 / 0.943 / 0.908, η = 0.1
    # 0.930 / 0.935 / 0.898, η = 0.3 0.913 / 0.935 / 0.883, η = 0.5 0.858 / 0.893 / 0.848) minus 0.03, about one
    # seed-to-seed std. A variant fusing only the `pix` view reaches 0.880 / 0.793 / 0.678 / 0.520 (seed 0).
    floors = {"missing_0": 0.8775, "missing_0.1": 0.8675, "missing_0.3": 0.8525, "missing_0.5": 0.8175}
    for run in record["runs"]:
        assert run["accuracy"].keys() == floors.keys()
        for condition, floor in floors.items():
            assert floor <= run["accuracy"][condition] <= 1.0, (run["seed"], condition)
    assert record["runs"][0]["accuracy"] != record["runs"][1]["accuracy"]  # the seed changes the run
    part = section(text, "TMC's own recipe on this split")
    row = next(line for line in part.splitlines() if line.startswith("| 2 |"))
    assert f"| {report.pct(record['summary']['missing_0.5'])} |" in row
    assert f"Command: `{record['command']}`" in part and "Quick smoke-test numbers" in part
    stats = report.pct(record["summary"]["missing_0"])
    assert f"TMC's own recipe on this split (`tmc_recipe_uci.json`): {stats} against CL-DMDF" in text


@pytest.mark.slow
def test_report_numbers_are_the_json_numbers(quick_results):
    out, text = quick_results
    accuracy = json.loads((out / "accuracy_uci.json").read_text())
    for variant in ACCURACY_VARIANTS:
        mean = accuracy["summary"][variant]["accuracy"]["missing_0.5"]["mean"]
        row = next(line for line in text.splitlines() if line.startswith(f"| `{variant}` |"))
        assert f" {100 * mean:.2f} |" in row
    speed = json.loads((out / "speed.json").read_text())
    rate = speed["results"]["cldmdf_cal"]["train"]["samples_per_s"]
    assert f"| {rate:,.0f} |" in section(text, "Speed")


def test_quick_runs_never_default_to_the_results_folder():
    for module, argv in (
        (bench_accuracy, ["--quick"]),
        (bench_speed, ["--quick"]),
        (bench_scaling, ["--quick"]),
        (bench_collator, ["--quick"]),
        (bench_tmc_recipe, ["--quick"]),
    ):
        args = module.parse_args(argv)
        module.resolve_args(args)
        assert Path(args.output).parent == quick_output_dir(), module.__name__
        assert Path(args.output).parent != RESULTS_DIR


def test_quick_mode_keeps_explicit_sizes():
    args = bench_speed.parse_args(["--quick", "--batch-size", "8", "--repeats", "4"])
    bench_speed.resolve_args(args)
    assert (args.batch_size, args.repeats, args.hidden_size, args.warmup) == (8, 4, 32, 1)
    args = bench_scaling.parse_args(["--quick", "--modalities", "2,3"])
    bench_scaling.resolve_args(args)
    assert (args.modality_list, args.batch_list) == ([2, 3], [64, 128, 256])
