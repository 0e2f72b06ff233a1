"""The report's comparison with the references: which (setting, η) meet their bar, and what is listed as a loss."""

import json

from benchmarks.report import comparisons, suite_section


def _stats(mean: float, std: float = 0.0) -> dict:
    return {"mean": mean, "std": std, "n": 3}


REFERENCES = {
    "summary": {
        "two": {
            "logreg": {"test_accuracy": _stats(0.90), "test_accuracy_missing_0.3": _stats(0.80), "wall_s": _stats(1)},
            "hgb": {"test_accuracy": _stats(0.91), "test_accuracy_missing_0.3": _stats(0.70), "wall_s": _stats(9)},
        },
        "six": {"logreg": {"test_accuracy": _stats(0.990), "test_accuracy_missing_0.5": _stats(0.950)}},
    }
}
CLDMDF = {
    "summary": {
        "defaults": {
            # 0.4 points under the best at η = 0 (met: the bar allows 0.5), 0.1 under at η = 0.3 (not met)
            "two": {
                "test_accuracy": _stats(0.906),
                "test_accuracy_missing_0.3": _stats(0.799),
                "wall_time": _stats(3),
            },
            # 0.6 under at η = 0 (not met), above at η = 0.5 (met)
            "six": {
                "test_accuracy": _stats(0.984),
                "test_accuracy_missing_0.5": _stats(0.951),
                "wall_time": _stats(4),
            },
        }
    }
}


def test_bars_compare_with_the_best_reference_of_each_setting_and_rate():
    rows = {(row["setting"], row["rate"]): row for row in comparisons(REFERENCES, CLDMDF)}
    assert set(rows) == {("two", 0.0), ("two", 0.3), ("six", 0.0), ("six", 0.5)}
    assert rows["two", 0.0]["best"] == "hgb" and rows["two", 0.3]["best"] == "logreg"
    assert abs(rows["two", 0.0]["margin"] - (-0.4)) < 1e-9 and rows["two", 0.0]["met"]
    assert not rows["two", 0.3]["met"]
    assert not rows["six", 0.0]["met"] and rows["six", 0.5]["met"]


def test_the_section_lists_every_missed_bar_as_a_loss(tmp_path):
    (tmp_path / "references_suite.json").write_text(json.dumps(REFERENCES))
    (tmp_path / "test_suite.json").write_text(json.dumps(CLDMDF))
    lines, losses = suite_section(tmp_path)
    text = "\n".join(lines)
    assert "Bars met: 2 of 4" in text
    assert len(losses) == 2
    assert any("`two` at η = 0.3" in loss and "-0.10 points" in loss for loss in losses)
    assert any("`six` at η = 0" in loss and "-0.60 points" in loss for loss in losses)


def test_a_missing_results_file_is_named_with_its_command(tmp_path):
    (tmp_path / "references_suite.json").write_text(json.dumps(REFERENCES))
    lines, losses = suite_section(tmp_path)
    assert losses == [] and any("test_suite.json" in line and "benchmarks.bench_suite" in line for line in lines)


def test_selection_view_never_holds_the_test_split(tmp_path):
    from benchmarks.bench_suite import parse_candidates, selection_view

    setting = tmp_path / "setting"
    (setting / "data").mkdir(parents=True)
    for split in ("train", "validation", "test"):
        (setting / "data" / f"{split}-00000-of-00001.parquet").write_bytes(split.encode())
    view = selection_view(setting, tmp_path / "work")
    files = {path.name: path.read_bytes() for path in (view / "data").iterdir()}
    assert files == {"train-00000-of-00001.parquet": b"train", "test-00000-of-00001.parquet": b"validation"}
    assert parse_candidates("defaults=,small=--hidden_size 32") == {"defaults": [], "small": ["--hidden_size", "32"]}


def test_a_selection_table_averages_over_the_settings_every_candidate_ran(tmp_path):
    from benchmarks.report import selection_table

    argv = ["--dataset_name", "d", "--output_dir", "o", "--seed", "0"]
    record = {
        "summary": {
            "a": {"two": {"test_accuracy": _stats(0.90), "test_accuracy_missing_0.3": _stats(0.80)},
                  "six": {"test_accuracy": _stats(0.98), "test_accuracy_missing_0.5": _stats(0.96)}},
            "b": {"two": {"test_accuracy": _stats(0.92), "test_accuracy_missing_0.3": _stats(0.84)}},
        },
        # the text arguments every run on a text setting gets are not the candidate's own
        "runs": [{"candidate": "a", "argv": [*argv, "--no_refit", "--freeze_backbones", "--cache_backbone_outputs"]},
                 {"candidate": "b", "argv": argv},
                 # each modality alone: averaged over the runs of the settings every candidate ran
                 {"candidate": "a", "setting": "two", "results": {"test_accuracy_only_x": 0.7,
                                                                  "test_accuracy_only_y": 0.8}},
                 {"candidate": "a", "setting": "six", "results": {"test_accuracy_only_x": 0.1}}],
    }  # fmt: skip
    path = tmp_path / "selection_suite_x.json"
    path.write_text(json.dumps(record))
    rows = {line[2]: line for line in selection_table(path) if line.startswith(("| a |", "| b |"))}
    # `six` has no run of b: the means are over `two` only, at η = 0, over η = 0 and 0.3, and of each modality alone
    assert rows["a"].endswith("| 90.00 | 85.00 | 75.00 |") and "| `--no_refit` |" in rows["a"]
    assert rows["b"].endswith("| 92.00 | 88.00 | – |") and "| `(no flags)` | 3 |" in rows["b"]
    assert "| 98.00 ± 0.00 |" in rows["a"] and "| – |" in rows["b"]  # six's own cell is still shown


def test_a_main_job_timed_with_one_seed_has_no_std(tmp_path):
    (tmp_path / "references_suite.json").write_text(json.dumps(REFERENCES))
    (tmp_path / "test_suite.json").write_text(json.dumps(CLDMDF))
    one = {"mean": 44.35, "std": None, "n": 1}
    summary = {"wall_time": one, "train_runtime": {"mean": 35.9, "std": None, "n": 1}, "train_steps": _stats(1000)}
    summary["test_accuracy"] = {"mean": 0.9925, "std": None, "n": 1}
    record = {"label": "one seed", "runs": [{"seed": 1}], "summary": summary}
    (tmp_path / "main_job_one.json").write_text(json.dumps(record))
    lines, _ = suite_section(tmp_path)
    assert "| one seed | 44.4 | 35.9 | 1000 | 99.25 | 1 |" in lines


def test_replace_runs_again_what_the_file_holds_and_keeps_the_rest(tmp_path, monkeypatch):
    from benchmarks import bench_suite

    (tmp_path / "suite" / "breast_cancer").mkdir(parents=True)
    (tmp_path / "suite" / "digits_halves").mkdir()
    calls = []

    def fake_run(dataset, seed, arguments, workdir):
        calls.append((dataset.name, seed))
        return {"results": {"test_accuracy": len(calls) / 4}, "wall_time": 1.0, "argv": arguments}

    monkeypatch.setattr(bench_suite, "run_one", fake_run)
    output = tmp_path / "test_suite.json"

    def run(*argv):
        base = ["--suite-dir", str(tmp_path / "suite"), "--jobs", "1", "--output", str(output)]
        return bench_suite.main(bench_suite.parse_args([*base, *argv]))

    run("--datasets", "breast_cancer,digits_halves", "--seeds", "0")
    run("--datasets", "breast_cancer", "--seeds", "0")  # already there: nothing runs
    assert calls == [("breast_cancer", 0), ("digits_halves", 0)]
    record = run("--datasets", "breast_cancer", "--seeds", "0", "--replace")
    assert calls[-1] == ("breast_cancer", 0) and len(calls) == 3
    scores = {run["setting"]: run["results"]["test_accuracy"] for run in record["runs"]}
    assert scores == {"digits_halves": 0.5, "breast_cancer": 0.75}
    assert len(record["invocations"]) == 2  # the invocation that ran nothing wrote nothing
