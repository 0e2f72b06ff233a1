"""`benchmarks/bench_text.py`'s summary (`common.summarize`) and table, without training."""

import pytest

from benchmarks.bench_text import RUN_STATS, format_table
from benchmarks.common import summarize


def test_the_summary_averages_seeds_and_the_table_shows_accuracy_f1_and_both_times():
    runs = [
        {"candidate": "defaults", "seed": 0, "results": {"test_accuracy": 0.92, "test_f1": 0.86, "train_runtime": 120},
         "wall_s": 130.0, "cpu_s": 128.0},
        {"candidate": "defaults", "seed": 1, "results": {"test_accuracy": 0.94, "test_f1": 0.88, "train_runtime": 140},
         "wall_s": 150.0, "cpu_s": 148.0},
        {"candidate": "defaults", "seed": 2, "error": "failed"},  # a failed run counts in no mean
        {"candidate": "reference:logreg", "seed": 0, "results": {"test_accuracy": 0.91}, "wall_s": 9.0, "cpu_s": 8.0},
    ]  # fmt: skip
    summary = summarize(runs, "candidate", stats=RUN_STATS)
    assert summary["defaults"]["test_accuracy"]["mean"] == pytest.approx(0.93)
    assert summary["defaults"]["test_accuracy"]["n"] == 2
    assert summary["defaults"]["cpu_s"]["mean"] == pytest.approx(138.0)
    lines = format_table(summary).splitlines()
    assert lines[2].startswith("| defaults | 93.00 ± 1.41 | 87.00 ± 1.41 | – | – | – | 130.0 ± 14.1 | 140.0 ± 14.1")
    assert lines[3].startswith("| reference:logreg | 91.00 | – |")
