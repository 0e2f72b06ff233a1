"""The benchmark scripts keep working: each runs in `--quick` mode into a temporary folder, and `make_report.py` turns
their results files into a report whose tables, commands and provenance come from those files.

No timing is asserted (the numbers of a loaded CI machine mean nothing); the tests check what the scripts write.
"""

import copy
import json
import re
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks import (  # noqa: E402
    bench_accuracy,
    bench_collator,
    bench_scaling,
    bench_speed,
    bench_tmc_recipe,
    make_report,
    report_format,
)
from benchmarks.common import RESULTS_DIR, quick_output_dir  # noqa: E402

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
    report = out / "BENCHMARKS.md"
    make_report.main(make_report.parse_args(["--results-dir", str(out), "--output", str(report)]))
    return out, report.read_text()


def section(text: str, title: str) -> str:
    """The markdown of one `## title...` section."""
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


@pytest.mark.slow
def test_every_results_file_starts_with_the_provenance_header(quick_results):
    out, _ = quick_results
    for filename, (module, argv) in QUICK_ARGV.items():
        record = json.loads((out / filename).read_text())
        assert all(key in record for key in PROVENANCE_KEYS), filename
        script = Path(module.__file__).name
        expected = " ".join(["python", f"benchmarks/{script}", *(a.replace("{out}", str(out)) for a in argv)])
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
    assert record["results"]["cldmdf_cal"]["config"] == {"baseline": None, "cal": True}
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
    assert f"| {report_format.pct(record['summary']['missing_0.5'])} |" in row
    assert f"Command: `{record['command']}`" in part and "Quick smoke-test numbers" in part
    stats = report_format.pct(record["summary"]["missing_0"])
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


# ----------------------------------------------------------------------------------------------------------------
# make_report.py on hand-made results files (fast: no benchmark runs)


def stats(mean, std=0.01, n=5):
    return {"mean": mean, "std": std, "n": n}


def accuracy_record(clean: float, early_half: float) -> dict:
    """An accuracy results file with CL-DMDF, one ablation and early fusion over two conditions."""
    conditions = ["missing_0", "missing_0.5"]
    summary = {
        "cldmdf": {"seeds": [0, 1, 2, 3, 4], "accuracy": {"missing_0": stats(clean), "missing_0.5": stats(0.90)}},
        "mean_fusion": {"seeds": [0, 1, 2, 3, 4], "accuracy": {"missing_0": stats(0.95), "missing_0.5": stats(0.85)}},
        "early_fusion": {
            "seeds": [0, 1, 2, 3, 4],
            "accuracy": {"missing_0": stats(0.97), "missing_0.5": stats(early_half, std=0.002)},
        },
    }
    for entry in summary.values():
        entry["f1"] = copy.deepcopy(entry["accuracy"])
    return {
        "benchmark": "accuracy",
        "command": "python benchmarks/bench_accuracy.py --dataset uci",
        "git_commit": "0" * 40,
        "git_dirty": False,
        "machine": {"platform": "TestOS", "cpu_count": 2, "torch": "x"},
        "created": "2026-01-01T00:00:00Z",
        "setting": {"dataset": "uci", "quick": False, "train_args": [], "eval_missing_rates": [0.0, 0.5]},
        "variants": {
            "cldmdf": {"group": "CL-DMDF", "config_overrides": None, "description": "CL-DMDF"},
            "mean_fusion": {"group": "ablation", "config_overrides": "fusion_mode=mean", "description": "mean"},
            "early_fusion": {"group": "baseline", "config_overrides": "baseline=early_fusion", "description": "ef"},
        },
        "summary": summary,
        "conditions": conditions,
        "runs": [],
        "failures": [],
        "invocations": [],
        "identical_variants": [],
    }


def write(folder: Path, name: str, record: dict) -> None:
    (folder / name).write_text(json.dumps(record))


def test_report_on_an_empty_folder_lists_every_file_as_missing(tmp_path):
    text = make_report.main(
        make_report.parse_args(["--results-dir", str(tmp_path), "--output", str(tmp_path / "B.md")])
    )
    for filename in ("accuracy_uci.json", "accuracy_reviews.json", "speed.json", "scaling.json", "collator.json"):
        assert f"_Missing: `{filename}` was not found" in text
    assert (tmp_path / "B.md").read_text() == text


def test_where_cldmdf_loses_is_computed_from_the_results(tmp_path):
    write(tmp_path, "accuracy_uci.json", accuracy_record(clean=0.965, early_half=0.93))
    text = make_report.build_report(tmp_path, tmp_path / "B.md")
    loses = section(text, "Where CL-DMDF loses")
    # early fusion beats CL-DMDF at η=0 (0.97 > 0.965) and at η=0.5 (0.93 > 0.90); the ablation never does.
    assert "η=0: `early_fusion` (baseline) 97.00 ± 1.00 > CL-DMDF 96.50 ± 1.00 (+0.50 points, within one std)" in loses
    assert (
        "η=0.5: `early_fusion` (baseline) 93.00 ± 0.20 > CL-DMDF 90.00 ± 1.00 (+3.00 points, more than one std)"
        in (loses)
    )
    assert "mean_fusion" not in loses
    assert "CL-DMDF's mean does **not** reach 98.5" in text
    assert "margin -3.00 points" in text
    # The table groups CL-DMDF first, then ablations, then baselines, whatever the order in the file.
    rows = [
        line.split("|")[1].strip() for line in section(text, "Accuracy: UCI").splitlines() if line.startswith("| `")
    ]
    assert rows == ["`cldmdf`", "`mean_fusion`", "`early_fusion`"]
    assert "Command: `python benchmarks/bench_accuracy.py --dataset uci`" in text
    assert f"Commit: `{'0' * 40}`\n" in text  # clean tree: no dirty flag


def test_sensitivity_files_get_their_own_section_and_never_replace_the_main_table(tmp_path):
    write(tmp_path, "accuracy_uci.json", accuracy_record(clean=0.965, early_half=0.93))
    changed = accuracy_record(clean=0.955, early_half=0.91)
    changed["setting"]["train_args"] = ["--modality_dropout", "0.5"]
    changed["command"] += " --train-args '--modality_dropout 0.5'"
    write(tmp_path, "sensitivity_uci_modality_dropout_0.5.json", changed)
    text = make_report.build_report(tmp_path, tmp_path / "B.md")
    part = section(text, "Sensitivity to training settings")
    assert "### `sensitivity_uci_modality_dropout_0.5.json`" in part
    assert "Training arguments: `--modality_dropout 0.5`." in part
    assert f"Command: `{changed['command']}`" in part
    row = next(line for line in part.splitlines() if line.startswith("| `cldmdf` |"))
    assert " 95.50 ± 1.00 | 90.00 ± 1.00 |" in row
    # The main table and the comparisons still come from accuracy_uci.json only.
    main = next(line for line in section(text, "Accuracy: UCI").splitlines() if line.startswith("| `cldmdf` |"))
    assert " 96.50 ± 1.00 |" in main
    assert "Choosing defaults" not in text  # no validation_*.json in the folder


def test_tmc_comparison_when_cldmdf_reaches_it(tmp_path):
    write(tmp_path, "accuracy_uci.json", accuracy_record(clean=0.9860, early_half=0.80))
    text = make_report.build_report(tmp_path, tmp_path / "B.md")
    assert "CL-DMDF 98.60 ± 1.00 over 5 seed(s) against TMC's published 98.51 ± 0.15: CL-DMDF's mean reaches 98.5" in (
        text
    )
    assert "margin +10.00 points, more than one std" in text
    assert "TMC trained by this library" not in text  # no `tmc` runs in the file


def test_tmc_comparison_adds_our_own_tmc_run_on_the_same_split(tmp_path):
    record = accuracy_record(clean=0.9860, early_half=0.80)
    record["variants"]["tmc"] = {"group": "baseline", "config_overrides": "baseline=tmc", "description": "TMC"}
    record["summary"]["tmc"] = copy.deepcopy(record["summary"]["early_fusion"])
    record["summary"]["tmc"]["accuracy"]["missing_0"]["mean"] = 0.9750
    record["runs"] = [
        {"variant": variant, "seed": seed, "results": {"test_accuracy": value}}
        for seed, (ours, theirs) in enumerate([(0.99, 0.97), (0.98, 0.98), (0.986, 0.975)])
        for variant, value in (("cldmdf", ours), ("tmc", theirs))
    ]
    write(tmp_path, "accuracy_uci.json", record)
    text = make_report.build_report(tmp_path, tmp_path / "B.md")
    line = next(line for line in text.splitlines() if "TMC trained by this library" in line)
    assert "(`tmc`): 97.50 ± 1.00 against CL-DMDF 98.60 ± 1.00" in line
    assert "`tmc` per seed -1.03 ± 1.00, ahead on 0 of 3." in line  # tmc minus CL-DMDF: -2, 0, -1.1 points


def speed_record(cldmdf_train: float, device: str = "cpu", batch_size: int = 256, gpu: str = "") -> dict:
    """A speed results file: CL-DMDF trains at `cldmdf_train` samples/s against early fusion's 1000."""

    def config(train, infer):
        return {"parameters": 10, "train": {"samples_per_s": train}, "inference": {"rows_per_s": infer}}

    ratio = cldmdf_train / 1000.0
    return {
        "benchmark": "speed",
        "command": "python benchmarks/bench_speed.py",
        "git_commit": "1" * 40,
        "git_dirty": True,
        "machine": {"gpu": gpu} if gpu else {},
        "setting": {"batch_size": batch_size, "hidden_size": 128, "device": device, "repeats": 30, "warmup": 5},
        "results": {
            "cldmdf": config(cldmdf_train, 2000.0),
            "early_fusion": config(1000.0, 1000.0),
            "late_fusion": config(500.0, 500.0),
            "cldmdf_tuple": config(cldmdf_train / 2, 2000.0),
        },
        "headline": {
            "numerator": "cldmdf",
            "denominator": "early_fusion",
            "ratios": {"train": ratio, "inference": 2.0},
            "train_goal_met": ratio >= 0.5,
        },
    }


def test_speed_ratios_below_one_are_listed_but_baselines_are_not(tmp_path):
    write(tmp_path, "speed.json", speed_record(600.0))
    text = make_report.build_report(tmp_path, tmp_path / "B.md")
    loses = section(text, "Where CL-DMDF loses")
    assert "- Speed (cpu, batch 256): `cldmdf` is slower than `early_fusion`: train 0.60x." in loses
    assert "`cldmdf_tuple` is slower than `early_fusion`: train 0.30x." in loses
    assert "late_fusion" not in loses and "goal" not in loses
    assert "`cldmdf_tuple` 0.50x training, 1.00x inference" in section(text, "Speed")
    assert f"Commit: `{'1' * 40}` (+ uncommitted changes)" in text


def test_speed_and_scaling_on_a_gpu_get_their_own_section_and_labelled_losses(tmp_path):
    write(tmp_path, "speed.json", speed_record(70.0))
    write(tmp_path, "speed_cuda_b4096.json", speed_record(200.0, "cuda", 4096, gpu="NVIDIA H200 (140 GiB), CUDA 13.0"))
    scaling = {
        "benchmark": "scaling",
        "command": "python benchmarks/bench_scaling.py --device cuda",
        "provenance_note": "Measured on a copy whose git metadata lagged.",
        "setting": {"device": "cuda", "batch_modalities": 6, "modality_batch_size": 256},
        "sweeps": [
            {
                "series": "cldmdf",
                "variable": "batch_size",
                "points": [{"batch_size": 64, "median_s": 0.010}, {"batch_size": 4096, "median_s": 0.640}],
                "slope_all": 1.0,
                "slope_tail": 1.5,
                "tail_points": [64, 4096],
            }
        ],
    }
    write(tmp_path, "scaling_cuda.json", scaling)
    (tmp_path / "scaling_cuda.png").write_bytes(b"png")
    text = make_report.build_report(tmp_path, tmp_path / "B.md")
    other = section(text, "Speed and scaling on other devices")
    assert (
        "### `speed_cuda_b4096.json`: cuda (NVIDIA H200), batch 4096" in other and "| `cldmdf` | 10 | 200 |" in other
    )
    assert "### `scaling_cuda.json`: cuda" in other and "(scaling_cuda.png)" in other
    assert "| 4096 | 640.00 |" in other
    assert "\n\nMeasured on a copy whose git metadata lagged.\n\nMachine: " in other
    loses = section(text, "Where CL-DMDF loses")
    # Each speed or scaling loss says which measurement it comes from.
    assert (
        "- Speed (cpu, batch 256): the training-throughput goal (CL-DMDF / early fusion ≥ 0.5) is not met: 0.07."
        in (loses)
    )
    assert "- Speed (cuda (NVIDIA H200), batch 4096): the training-throughput goal" in loses and ": 0.20." in loses
    assert "- Scaling (cuda): `cldmdf` step time grows faster than linearly with batch_size" in loses


def test_losses_give_the_paired_per_seed_difference_computed_from_the_runs(tmp_path):
    record = accuracy_record(clean=0.965, early_half=0.93)
    # Seed by seed, early fusion minus CL-DMDF at η=0: +1, +2 and -0.5 points; ahead on two seeds of three.
    for seed, (ours, theirs) in enumerate(((0.96, 0.97), (0.95, 0.97), (0.985, 0.98))):
        for variant, value in (("cldmdf", ours), ("early_fusion", theirs)):
            record["runs"].append({"variant": variant, "seed": seed, "results": {"test_accuracy": value}})
    write(tmp_path, "accuracy_uci.json", record)
    loses = section(make_report.build_report(tmp_path, tmp_path / "B.md"), "Where CL-DMDF loses")
    line = next(line for line in loses.splitlines() if "η=0: `early_fusion`" in line)
    assert line.endswith("(+0.50 points, within one std; per seed +0.83 ± 1.26, ahead on 2 of 3)")
    # No runs for η=0.5 in the file: the line keeps the summary comparison only.
    line = next(line for line in loses.splitlines() if "η=0.5: `early_fusion`" in line)
    assert line.endswith("more than one std)")


def test_cross_validation_section_compares_cldmdf_with_each_baseline_seed_by_seed(tmp_path):
    record = accuracy_record(clean=0.985, early_half=0.95)
    record["setting"].update(split="cv", folds=5)
    record["command"] += " --split cv"
    # Held-out folds are the runs' test split: CL-DMDF ahead of early fusion on seeds 0 and 1, behind on seed 2.
    for seed, (ours, theirs) in enumerate(((0.99, 0.98), (0.98, 0.97), (0.98, 0.99))):
        for variant, value in (("cldmdf", ours), ("early_fusion", theirs)):
            results = {"test_accuracy": value, "test_accuracy_missing_0.5": value - 0.02}
            record["runs"].append({"variant": variant, "seed": seed, "results": results})
    write(tmp_path, "cv_uci.json", record)
    text = make_report.build_report(tmp_path, tmp_path / "B.md")
    part = section(text, "Choosing defaults by cross-validation")
    # The summary means (98.5 vs 97.0 at η=0 and 90.0 vs 95.0 at η=0.5), the seed counts from the runs.
    assert (
        "- `cv_uci.json` (`(defaults)`): CL-DMDF vs `early_fusion` η=0 +1.50 (ahead on 2 of 3), "
        "η=0.5 -5.00 (ahead on 2 of 3)." in part
    )
    # The candidates table ranks CL-DMDF's and early fusion's settings separately, each model's best in bold.
    assert "| **`cldmdf`** | **`cv_uci.json`** | **`(defaults)`** | **3** |" in part
    assert "| **`early_fusion`** |" in part
    # The ablation is in its file's table and in the table of what was measured, never a candidate.
    candidates, measured = part.split("Ablations and companion methods, measured beside them (not candidates):")
    assert "| `mean_fusion` | ablations" in candidates and "| `mean_fusion` | `cv_uci.json`" not in candidates
    assert "| `mean_fusion` | `cv_uci.json` | `(defaults)` |" in measured


def test_cross_validation_over_every_row_tests_each_row_once_and_is_never_a_candidate(tmp_path):
    import datasets

    path = REPO_ROOT / bench_accuracy.DATASETS["uci"]["path"]
    folders = bench_accuracy.write_folds(path, 5, tmp_path, include_test=True)
    bundled = datasets.load_dataset(str(path))
    every = [row for split in ("train", "validation", "test") for row in bundled[split]["row_id"]]
    held_out = [row for folder in folders for row in datasets.load_dataset(str(folder))["test"]["row_id"]]
    assert sorted(held_out) == sorted(every) and len(every) == 2000
    # make_report: its own section, never in the candidates table that chose the defaults.
    record = accuracy_record(clean=0.985, early_half=0.95)
    record["setting"].update(split="cv", folds=5, cv_pool="all")
    write(tmp_path, "cv_all_uci.json", record)
    write(tmp_path, "cv_uci.json", accuracy_record(clean=0.975, early_half=0.95) | {"setting": {"split": "cv"}})
    text = make_report.build_report(tmp_path, tmp_path / "B.md")
    assert "### `cv_all_uci.json`" in section(text, "Evaluation by cross-validation over every row")
    assert "cv_all_uci" not in section(text, "Choosing defaults by cross-validation")
    args = bench_accuracy.parse_args(["--split", "cv", "--cv-pool", "all"])
    bench_accuracy.resolve_args(args)
    assert Path(args.output).name == "cv_all_uci.json" and bench_accuracy.setting(args)["cv_pool"] == "all"
