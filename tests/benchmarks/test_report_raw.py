"""The raw-modality section of `benchmarks/report.py` on small hand-made results files of `bench_text.py` and
`bench_image.py`: the table's numbers are the runs' mean ± std, the win/loss sentence and the loss lines follow the
numbers, and missing files get the report's missing line."""

import json
import statistics
from pathlib import Path

from report_text import section

from benchmarks import report
from benchmarks.report import RAW_TITLE, raw_section

HEADER = {"command": "python -m benchmarks.bench_x", "git_commit": "a" * 40, "git_dirty": False, "machine": {}}


def run(field: str, name: str, seed: int, accuracy: float, half: float) -> dict:
    results = {"test_accuracy": accuracy, "test_f1": accuracy - 0.05, "test_accuracy_missing_0.5": half}
    return {field: name, "seed": seed, "results": results, "wall_s": 10.0 + seed, "cpu_s": 5.0}


def write_text_files(folder: Path, ours: list[float], reference: float) -> None:
    test = [run("candidate", "defaults", seed, value, 0.80) for seed, value in enumerate(ours)]
    references = [run("candidate", "reference:logreg_md", seed, reference, 0.70) for seed in range(3)]
    selection = [run("candidate", name, 0, 0.9, 0.8) for name in ("e32", "e64")]
    for name, runs, extra in (
        ("text_test.json", test, {}),
        ("text_test_references.json", references, {}),
        ("text_selection.json", selection, {"candidates": {"e32": "--text_embedding_dim 32", "e64": ""}}),
    ):
        (folder / name).write_text(json.dumps({**HEADER, "runs": runs, **extra}))


def text_part(lines: list[str]) -> str:
    text = "\n".join(lines)
    return text[: text.index("**Image.**")]


def test_table_shows_the_mean_and_std_of_the_runs_and_the_sentence_follows_the_numbers(tmp_path):
    ours = [0.91, 0.92, 0.96]
    write_text_files(tmp_path, ours, reference=0.95)
    lines, losses, missing = raw_section(tmp_path)
    text = text_part(lines)
    mean, std = 100 * statistics.fmean(ours), 100 * statistics.stdev(ours)
    row = next(line for line in text.splitlines() if line.startswith("| **CL-DMDF**"))
    assert row.split(" | ")[1] == f"{mean:.2f} ± {std:.2f}"
    assert "| TF-IDF + logreg with modality dropout | 95.00 ± 0.00 |" in text
    # behind at η = 0 (93.00 < 95.00), ahead at η = 0.5 (80 > 70)
    assert f"acc at η = 0 ({95 - mean:.2f} behind TF-IDF + logreg with modality dropout)" in text
    assert "acc at η = 0.5 (+10.00 over TF-IDF + logreg with modality dropout)" in text
    assert losses == [
        f"- Raw text (reviews), acc at η = 0: CL-DMDF {mean:.2f} < TF-IDF + logreg with modality dropout 95.00 "
        f"({mean - 95:+.2f} points).",
        f"- Raw text (reviews), macro-F1 at η = 0: CL-DMDF {mean - 5:.2f} < TF-IDF + logreg with modality dropout "
        f"90.00 ({mean - 95:+.2f} points).",
    ]
    assert "| e32 (`--text_embedding_dim 32`) | 90.00 |" in text and "| e64 | 90.00 |" in text
    assert missing == ["image_tabular.json", "selection_image.json"]

    write_text_files(tmp_path, ours, reference=0.90)  # now CL-DMDF is ahead everywhere
    lines, losses, _ = raw_section(tmp_path)
    assert f"acc at η = 0 (+{mean - 90:.2f} over TF-IDF + logreg with modality dropout)" in text_part(lines)
    assert "behind" not in text_part(lines) and losses == []


def test_image_selection_pools_each_candidates_run_files_and_missing_files_get_the_missing_line(tmp_path):
    parts = [
        [run("model", "cldmdf", 0, 0.90, 0.8)],
        [run("model", "cldmdf", 1, 1.0, 0.8), run("model", "hgb", 1, 0.5, 0.4)],
    ]
    candidates = {"defaults": [{**HEADER, "runs": part} for part in parts]}
    (tmp_path / "selection_image.json").write_text(json.dumps({"note": "x", "candidates": candidates}))
    text = report.main(report.parse_args(["--results-dir", str(tmp_path), "--output", str(tmp_path / "B.md")]))
    raw = section(text, RAW_TITLE)
    assert f"| defaults | 95.00 ± {100 * statistics.stdev([0.9, 1.0]):.2f} |" in raw
    assert "| defaults: HistGradientBoosting | 50.00 |" in raw
    for name in ("text_test.json", "text_test_references.json", "text_selection.json", "image_tabular.json"):
        assert f"_Missing: `{name}` was not found" in raw and f"`{name}`" in text.split("Missing results files")[1]
    assert "`selection_image.json`" not in text.split("Missing results files")[1]
