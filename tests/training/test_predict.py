"""Predictions for a user's rows: `--do_predict` in the training script and `predict_rows` in Python."""

import ast
import contextlib
import csv
import io
import json
from pathlib import Path

import datasets
import pytest
import torch
from tiny_data import FAST, rows, write_folder

import cldmdf.train_accelerate as train_accelerate
from cldmdf.evaluation.prediction import predict_rows

ROOT = Path(__file__).resolve().parents[2]
UCI = str(ROOT / "bundled_datasets" / "uci_multifeature")


def python_block(path: Path, after: str) -> str:
    """The first python block of the markdown file `path` after the line that starts with `after`."""
    text = path.read_text()
    start = text.index("```python\n", text.index(after)) + len("```python\n")
    return text[start : text.index("```", start)]


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_do_predict_writes_the_test_split_predictions(tmp_path):
    test = rows(20, 1)
    test["a"][4] = None  # a missing modality: weight 0
    folder = write_folder(tmp_path / "data", rows(60, 0), test)
    output = tmp_path / "out"
    assert train_accelerate.cli(["--dataset_name", folder, *FAST, "--output_dir", str(output), "--do_predict"]) == 0
    lines = read_jsonl(output / "predictions.jsonl")
    assert [line["row_id"] for line in lines] == list(range(20))
    assert [line["label"] for line in lines] == test["label"]  # names, as in the file
    config = json.loads((output / "config.json").read_text())
    for line in lines:
        assert set(line["probabilities"]) == {"no", "yes"}
        assert sum(line["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
        assert line["predicted_label"] == max(line["probabilities"], key=line["probabilities"].get)
        assert sum(line["modality_weights"].values()) == pytest.approx(1.0, abs=1e-6)
    assert lines[4]["modality_weights"]["a"] == 0.0
    pipelines = config["custom_pipelines"]
    assert pipelines["cldmdf-classification"]["impl"] == "pipeline_cldmdf.CLDMDFClassificationPipeline"


def test_do_predict_on_a_csv_file_without_labels_or_a_column(tmp_path):
    folder = write_folder(tmp_path / "data", rows(60, 0), rows(20, 1))
    # Only modality `a`, as a string-encoded vector column (declared dense), no label, an id column of its own.
    lines = ["id,a"] + [f'{100 + i},"[{i * 0.1:.1f}, 0.5, -1.0]"' for i in range(5)]
    (tmp_path / "new.csv").write_text("\n".join(lines) + "\n")
    output = tmp_path / "out"
    argv = ["--dataset_name", folder, *FAST, "--output_dir", str(output), "--do_predict"]
    argv += ["--predict_file", str(tmp_path / "new.csv"), "--modality_types", "a=dense", "--predictions_format", "csv"]
    assert train_accelerate.cli(argv) == 0
    with (output / "predictions.csv").open() as file:
        table = list(csv.DictReader(file))
    assert [row["row_id"] for row in table] == ["100", "101", "102", "103", "104"]
    assert "label" not in table[0]
    for row in table:
        assert float(row["probability_no"]) + float(row["probability_yes"]) == pytest.approx(1.0, abs=1e-6)
        assert float(row["weight_a"]) == pytest.approx(1.0) and float(row["weight_b"]) == 0.0


def test_a_bad_predict_file_stops_before_training(tmp_path, capsys):
    folder = write_folder(tmp_path / "data", rows(60, 0), rows(20, 1))
    new = {"a": [[0.1, 0.2, 0.3], None, [0.0, float("nan"), 1.0]], "b": [None, None, [1.0, 2.0]]}
    datasets.Dataset.from_dict(new).to_parquet(str(tmp_path / "new.parquet"))
    output = tmp_path / "out"
    argv = ["--dataset_name", folder, *FAST, "--output_dir", str(output), "--do_predict"]
    assert train_accelerate.cli([*argv, "--predict_file", str(tmp_path / "new.parquet")]) == 2
    err = capsys.readouterr().err
    assert "split 'predict_file':\n    - rows [1] have every modality missing" in err
    assert "    - dense modality 'a': rows [2] hold NaN, infinite or null values" in err
    assert not output.exists()
    assert train_accelerate.cli([*argv, "--predict_split", "nope"]) == 2
    assert "--predict_split 'nope': the dataset has the splits" in capsys.readouterr().err
    assert train_accelerate.cli([*argv[:-1], "--predict_split", "test"]) == 2
    assert "--predict_split 'test' only applies with --do_predict" in capsys.readouterr().err


def test_predict_rows_takes_none_for_missing_modalities(tiny_saved_model):
    model, processor, _ = tiny_saved_model
    new_rows = [{"a": [0.1, 0.2, 0.3], "b": None}, {"b": [1.0, -1.0]}, {"a": [1.0, 0.0, 0.0], "b": [0.5, 0.5]}]
    records = predict_rows(model, processor, new_rows, batch_size=2)
    assert len(records) == 3
    batch = processor({"a": [r.get("a") for r in new_rows], "b": [r.get("b") for r in new_rows]})
    with torch.no_grad():
        expected = torch.softmax(model(**batch).logits, -1)
    for record, probabilities in zip(records, expected):
        assert list(record["probabilities"]) == ["low", "mid", "high"]
        assert list(record["probabilities"].values()) == pytest.approx(probabilities.tolist(), abs=1e-6)
        assert record["label"] == ["low", "mid", "high"][int(probabilities.argmax())]
        assert record["score"] == pytest.approx(float(probabilities.max()), abs=1e-6)
    assert records[0]["modality_weights"] == {"a": 1.0, "b": 0.0}
    assert records[1]["modality_weights"] == {"a": 0.0, "b": 1.0}
    with pytest.raises(ValueError, match=r"rows \[1\] have every modality missing"):
        predict_rows(model, processor, [{"a": [0.0, 0.0, 0.0]}, {"a": None, "label": 1}])


def test_the_docs_prediction_snippet_runs_on_a_trained_folder(trained_run):
    """docs/data.md's "Predict" block on a folder the training script wrote (the shared run: UCI views, so the rows of
    the block fit); the card's own snippet is run by test_run_outputs.py."""
    output = trained_run.folder
    block = python_block(ROOT / "docs" / "data.md", "## Predict").replace('"outputs/cldmdf-uci"', repr(str(output)))
    namespace = {}
    exec(compile(block, "docs/data.md Predict", "exec"), namespace)
    assert namespace["classifier"].task == "cldmdf-classification"
    records = namespace["predict_rows"](namespace["model"], namespace["processor"], namespace["rows"])
    answer = namespace["classifier"](namespace["rows"][0], top_k=2)
    assert answer[0]["label"] == records[0]["label"] and answer[0]["score"] == pytest.approx(records[0]["score"])
    assert records[0]["modality_weights"]["kar"] == 0.0 and records[0]["modality_weights"]["pix"] == 0.0


def test_the_readme_quickstart_runs_as_written_on_a_trained_folder(trained_run):
    """The README's quickstart on a folder the training script wrote (the shared run's UCI views): one line of label
    and score per row, then the row's modality weights, exactly 0 for the views the snippet removes."""
    quickstart = python_block(ROOT / "README.md", "## Quickstart")
    quickstart = quickstart.replace('"outputs/cldmdf-uci"', repr(str(trained_run.folder))).replace(
        '"bundled_datasets/uci_multifeature"', repr(UCI)
    )
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(quickstart, "README quickstart", "exec"), {})
    lines = printed.getvalue().splitlines()
    test_rows = datasets.load_dataset(UCI, split="test").select(range(3))
    names = json.loads((trained_run.folder / "config.json").read_text())["id2label"].values()
    assert len(lines) == 6
    for row, (answer, weights) in enumerate(zip(lines[::2], lines[1::2])):
        label, predicted, score = answer.split()
        assert int(label) == test_rows[row]["label"] and predicted in names
        assert 0.0 < float(score) <= 1.0
        weights = ast.literal_eval(weights)
        assert sum(weights.values()) == pytest.approx(1.0, abs=1e-5)
        missing = {0: {"pix"}, 1: {"fac", "kar", "zer"}}.get(row, set())
        assert {name for name, weight in weights.items() if weight == 0.0} == missing
