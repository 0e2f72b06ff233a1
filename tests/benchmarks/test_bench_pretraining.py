"""`benchmarks/bench_pretraining.py`'s data views and its report section, without training."""

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.bench_pretraining import DATASET, LABEL, labelled_subset, make_views
from benchmarks.report import pretraining_losses, pretraining_section


def test_the_labelled_subset_is_stratified_seeded_and_keeps_every_label():
    table = pa.table({LABEL: [0] * 90 + [1] * 10, "row_id": list(range(100))})
    subset = labelled_subset(table, 0.05, seed=0)
    labels = subset.column(LABEL).to_pylist()
    assert labels.count(0) == 4 and labels.count(1) == 1  # 5 % of each label, at least one
    assert subset.column("row_id").to_pylist() == labelled_subset(table, 0.05, seed=0).column("row_id").to_pylist()
    assert subset.column("row_id").to_pylist() != labelled_subset(table, 0.05, seed=1).column("row_id").to_pylist()


def test_views_drop_the_labels_for_pretraining_and_keep_the_test_split_whole(tmp_path):
    unlabelled, labelled = make_views(DATASET, 0.05, seed=0, workdir=tmp_path)
    train = pq.read_table(next((DATASET / "data").glob("train-*.parquet")))
    pre_train = pq.read_table(unlabelled / "data" / "train-00000-of-00001.parquet")
    assert LABEL not in pre_train.column_names and pre_train.num_rows == train.num_rows
    assert not (unlabelled / "data" / "test-00000-of-00001.parquet").exists()
    tuned_train = pq.read_table(labelled / "data" / "train-00000-of-00001.parquet")
    assert abs(tuned_train.num_rows - 0.05 * train.num_rows) <= 2
    test = pq.read_table(next((DATASET / "data").glob("test-*.parquet")))
    assert pq.read_table(labelled / "data" / "test-00000-of-00001.parquet").num_rows == test.num_rows


def test_the_report_section_shows_both_arms_and_lists_where_fine_tuning_loses():
    summary = {
        "from_scratch": {"test_accuracy": {"mean": 0.80, "std": 0.01}, "wall_time": {"mean": 10.0, "std": 0.0}},
        "fine_tuned": {"test_accuracy": {"mean": 0.78, "std": 0.02}, "wall_time": {"mean": 12.0, "std": 0.0}},
        "pretraining": {"wall_time": {"mean": 30.0, "std": 0.0}},
    }
    record = {"setting": {"dataset": "d", "label_fraction": 0.05}, "summary": summary, "seeds": [{"seed": 0}]}
    text = "\n".join(pretraining_section(record))
    assert (
        "| from scratch | 80.00 ± 1.00 |" in text
        and "| fine-tuned from the pre-trained checkpoint | 78.00 ± 2.00 |" in text
    )
    assert pretraining_losses(record) == ["- Pre-training, η=0: fine-tuned 78.00 < from scratch 80.00 (-2.00 points)."]
