"""`benchmarks/report.py` on hand-made results files (fast: no benchmark runs): which sections, tables, comparisons and
losses the report computes from what the files hold.
"""

import copy
import json
import subprocess
import sys
from pathlib import Path

from report_text import section

from benchmarks import bench_accuracy, report

REPO_ROOT = Path(__file__).resolve().parents[2]


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
        # as files written before the benchmarks became a package recorded it: the report shows it as it runs today
        "command": "python benchmarks/bench_accuracy.py --dataset uci",
        "git_commit": "0" * 40,
        "git_dirty": False,
        "machine": {"platform": "TestOS", "cpu_count": 2, "torch": "x"},
        "created": "2026-01-01T00:00:00Z",
        "setting": {"dataset": "uci", "quick": False, "train_args": [], "eval_missing_rates": [0.0, 0.5]},
        "variants": {
            "cldmdf": {"group": "CL-DMDF", "train_args": None, "description": "CL-DMDF"},
            "mean_fusion": {"group": "ablation", "train_args": "--fusion_mode mean", "description": "mean"},
            "early_fusion": {"group": "baseline", "train_args": "--baseline early_fusion", "description": "ef"},
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


def test_the_report_imports_neither_torch_nor_the_library():
    """`python -m benchmarks.report` runs in a second: it reads JSON files, nothing heavier."""
    code = "import sys, benchmarks.report; print(sorted({'torch', 'transformers', 'datasets'} & set(sys.modules)))"
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert process.stdout.strip() == "[]"


def test_report_on_an_empty_folder_lists_every_file_as_missing(tmp_path):
    text = report.main(report.parse_args(["--results-dir", str(tmp_path), "--output", str(tmp_path / "B.md")]))
    for filename in ("accuracy_uci.json", "accuracy_reviews.json", "speed.json", "scaling.json", "collator.json"):
        assert f"_Missing: `{filename}` was not found" in text
    assert (tmp_path / "B.md").read_text() == text


def test_where_cldmdf_loses_is_computed_from_the_results(tmp_path):
    write(tmp_path, "accuracy_uci.json", accuracy_record(clean=0.965, early_half=0.93))
    text = report.build_report(tmp_path, tmp_path / "B.md")
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
    assert "Command: `python -m benchmarks.bench_accuracy --dataset uci`" in text
    assert f"Commit: `{'0' * 40}`\n" in text  # clean tree: no dirty flag


def test_variants_show_their_training_arguments_and_older_files_their_config_overrides(tmp_path):
    write(tmp_path, "accuracy_uci.json", accuracy_record(clean=0.965, early_half=0.93))
    text = section(report.build_report(tmp_path, tmp_path / "B.md"), "Accuracy: UCI")
    variants = "`mean_fusion`: mean (`--fusion_mode mean`); `early_fusion`: ef (`--baseline early_fusion`)."
    assert f"Variants: `cldmdf`: CL-DMDF; {variants}" in text
    # A file written before bench_accuracy recorded the arguments whole holds its config overrides.
    older = accuracy_record(clean=0.965, early_half=0.93)
    del older["variants"]["mean_fusion"]["train_args"]
    older["variants"]["mean_fusion"]["config_overrides"] = "fusion_mode=mean"
    write(tmp_path, "accuracy_uci.json", older)
    text = section(report.build_report(tmp_path, tmp_path / "B.md"), "Accuracy: UCI")
    assert "`mean_fusion`: mean (`--config_overrides fusion_mode=mean`)" in text


def test_sensitivity_files_get_their_own_section_and_never_replace_the_main_table(tmp_path):
    write(tmp_path, "accuracy_uci.json", accuracy_record(clean=0.965, early_half=0.93))
    changed = accuracy_record(clean=0.955, early_half=0.91)
    changed["setting"]["train_args"] = ["--modality_dropout", "0.5"]
    changed["command"] += " --train-args '--modality_dropout 0.5'"
    write(tmp_path, "sensitivity_uci_modality_dropout_0.5.json", changed)
    text = report.build_report(tmp_path, tmp_path / "B.md")
    part = section(text, "Sensitivity to training settings")
    assert "### `sensitivity_uci_modality_dropout_0.5.json`" in part
    assert "Training arguments: `--modality_dropout 0.5`." in part
    assert "Command: `python -m benchmarks.bench_accuracy --dataset uci --train-args '--modality_dropout 0.5'`" in part
    row = next(line for line in part.splitlines() if line.startswith("| `cldmdf` |"))
    assert " 95.50 ± 1.00 | 90.00 ± 1.00 |" in row
    # The main table and the comparisons still come from accuracy_uci.json only.
    main = next(line for line in section(text, "Accuracy: UCI").splitlines() if line.startswith("| `cldmdf` |"))
    assert " 96.50 ± 1.00 |" in main
    assert "Choosing defaults" not in text  # no validation_*.json in the folder


def test_tmc_comparison_when_cldmdf_reaches_it(tmp_path):
    write(tmp_path, "accuracy_uci.json", accuracy_record(clean=0.9860, early_half=0.80))
    text = report.build_report(tmp_path, tmp_path / "B.md")
    assert "CL-DMDF 98.60 ± 1.00 over 5 seed(s) against TMC's published 98.51 ± 0.15: CL-DMDF's mean reaches 98.5" in (
        text
    )
    assert "margin +10.00 points, more than one std" in text
    assert "TMC trained by this library" not in text  # no `tmc` runs in the file


def test_tmc_comparison_adds_our_own_tmc_run_on_the_same_split(tmp_path):
    record = accuracy_record(clean=0.9860, early_half=0.80)
    record["variants"]["tmc"] = {"group": "baseline", "train_args": "--baseline tmc", "description": "TMC"}
    record["summary"]["tmc"] = copy.deepcopy(record["summary"]["early_fusion"])
    record["summary"]["tmc"]["accuracy"]["missing_0"]["mean"] = 0.9750
    record["runs"] = [
        {"variant": variant, "seed": seed, "results": {"test_accuracy": value}}
        for seed, (ours, theirs) in enumerate([(0.99, 0.97), (0.98, 0.98), (0.986, 0.975)])
        for variant, value in (("cldmdf", ours), ("tmc", theirs))
    ]
    write(tmp_path, "accuracy_uci.json", record)
    text = report.build_report(tmp_path, tmp_path / "B.md")
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
        "command": "python -m benchmarks.bench_speed",
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
    text = report.build_report(tmp_path, tmp_path / "B.md")
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
        "command": "python -m benchmarks.bench_scaling --device cuda",
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
    text = report.build_report(tmp_path, tmp_path / "B.md")
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
    loses = section(report.build_report(tmp_path, tmp_path / "B.md"), "Where CL-DMDF loses")
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
    text = report.build_report(tmp_path, tmp_path / "B.md")
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
    # the report: its own section, never in the candidates table that chose the defaults.
    record = accuracy_record(clean=0.985, early_half=0.95)
    record["setting"].update(split="cv", folds=5, cv_pool="all")
    write(tmp_path, "cv_all_uci.json", record)
    write(tmp_path, "cv_uci.json", accuracy_record(clean=0.975, early_half=0.95) | {"setting": {"split": "cv"}})
    text = report.build_report(tmp_path, tmp_path / "B.md")
    assert "### `cv_all_uci.json`" in section(text, "Evaluation by cross-validation over every row")
    assert "cv_all_uci" not in section(text, "Choosing defaults by cross-validation")
    args = bench_accuracy.parse_args(["--split", "cv", "--cv-pool", "all"])
    bench_accuracy.resolve_args(args)
    assert Path(args.output).name == "cv_all_uci.json" and bench_accuracy.setting(args)["cv_pool"] == "all"
