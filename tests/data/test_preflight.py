"""The training script's pre-flight check: every data problem of every split in one message, before anything is
fitted or trained, with the row numbers of the user's file and the flag that fixes it."""

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
from accelerate import PartialState
from shared_run import run_script
from tiny_data import FAST, rows, write_folder

import cldmdf.train_accelerate as train_accelerate
from cldmdf.processing.column_types import parse_number_list
from cldmdf.processing.loading import load_multimodal_dataset, prepare_multimodal_dataset
from cldmdf.processing.preflight import find_data_problems
from cldmdf.training.data import load_data, parse_modality_types, preflight_check


def run_error(capsys, *argv: str) -> str:
    """The script's error, which starts with the one line `train_accelerate.py: error: ...` (no traceback)."""
    assert train_accelerate.cli(list(argv)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    start = err.index("train_accelerate.py: error: ")
    return err[start:]


def test_nan_in_a_dense_vector_is_reported_at_the_files_row(tmp_path, capsys):
    train = rows(60, 0)
    train["a"][34][1] = float("nan")  # the file's row 34; shuffled and carved into validation, it keeps its id
    train["b"][50][0] = float("inf")
    folder = write_folder(tmp_path / "data", train, rows(20, 1))
    output = tmp_path / "out"
    message = run_error(capsys, "--dataset_name", folder, *FAST, "--output_dir", str(output))
    assert "dense modality 'a': rows [34] hold NaN, infinite or null values inside a present vector" in message
    assert "dense modality 'b': rows [50] hold NaN, infinite or null values" in message
    assert "split 'validation'" not in message  # a carved validation split reports rows of the train file
    assert message.count("split 'train'") == 1  # the problems of one split come together, under it
    assert not output.exists()


def test_a_row_without_modalities_only_in_the_test_split_stops_before_training(tmp_path, capsys, caplog):
    test = rows(20, 1)
    test["a"][7] = test["b"][7] = None
    folder = write_folder(tmp_path / "data", rows(60, 0), test)
    output = tmp_path / "out"
    message = run_error(capsys, "--dataset_name", folder, *FAST, "--output_dir", str(output))
    assert "split 'test':\n    - rows [7] have every modality missing; pass --drop_rows_without_modalities" in message
    assert "nothing was trained" in message
    assert not output.exists()  # nothing half-written

    with caplog.at_level(logging.WARNING):
        code = train_accelerate.cli(
            ["--dataset_name", folder, *FAST, "--output_dir", str(output), "--drop_rows_without_modalities"]
        )
    assert code == 0
    assert "dropped 1 rows of split 'test' with every modality missing: rows [7] (rows are numbered" in caplog.text
    assert (output / "model.safetensors").exists()


def test_a_label_only_in_the_test_split_is_named(tmp_path, capsys):
    test = rows(20, 1)
    test["label"][3] = test["label"][11] = "maybe"  # sorted between "no" and "yes": it would shift "yes"'s id
    folder = write_folder(tmp_path / "data", rows(60, 0), test)
    message = run_error(capsys, "--dataset_name", folder, *FAST, "--output_dir", str(tmp_path / "out"))
    assert "split 'test':\n    - label 'maybe' (rows [3, 11]) never occurs in the training split" in message


def test_a_class_missing_only_from_a_training_sample_is_not_a_problem(tmp_path):
    three = ("low", "mid", "high")
    folder = write_folder(tmp_path / "data", rows(60, 0, three), rows(20, 1, three))
    argv = ["--dataset_name", folder, *FAST, "--output_dir", str(tmp_path / "out"), "--max_train_samples", "2"]
    assert train_accelerate.cli(argv) == 0  # 2 training rows cannot hold 3 classes; the file's train split does


def test_every_problem_is_listed_in_one_message(tmp_path, capsys):
    train, test = rows(60, 0), rows(20, 1)
    train["a"][34][0] = float("nan")
    test["a"][2] = test["b"][2] = None
    test["label"][5] = "maybe"
    folder = write_folder(tmp_path / "data", train, test)
    message = run_error(capsys, "--dataset_name", folder, *FAST, "--output_dir", str(tmp_path / "out"))
    assert "3 data problem(s)" in message
    lines = message.splitlines()
    assert [line for line in lines if line.startswith("  split ")] == ["  split 'train':", "  split 'test':"]
    assert len([line for line in lines if line.startswith("    - ")]) == 3
    test_part = message[message.index("  split 'test':") :]
    assert "rows [2] have every modality missing" in test_part and "label 'maybe' (rows [5])" in test_part


def vector_csv(path, count: int = 40) -> str:
    rng = np.random.default_rng(0)
    lines = ["vec,size,label"]
    for i in range(count):
        x, y = rng.normal(size=2)
        size = "?" if i == 4 else f"{rng.normal():.3f}"
        lines.append(f'"[{x:.3f}, {y:.3f}]",{size},{i % 2}')
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_vectors_stored_as_strings_are_named_with_the_flag_that_parses_them(tmp_path, capsys):
    csv = vector_csv(tmp_path / "vectors.csv")
    message = run_error(capsys, "--dataset_name", csv, *FAST, "--output_dir", str(tmp_path / "out"))
    assert "column 'vec' holds vectors stored as strings (e.g. '[" in message
    assert "pass --modality_types vec=dense to parse them" in message
    assert "column 'size' holds numbers stored as strings" in message
    assert "--modality_types size=dense" in message
    assert "--text_backbone" not in message  # the type is the problem, not the missing backbone


def test_modality_types_parse_strings_into_dense_vectors(tmp_path):
    csv = vector_csv(tmp_path / "vectors.csv")
    args = train_accelerate.parse_args(["--dataset_name", csv, "--modality_types", "vec=dense,size=dense"])
    data = load_data(args)
    assert data.modalities == {"size": {"type": "dense", "dim": 1}, "vec": {"type": "dense", "dim": 2}}
    train = data["train"]
    by_id = {row_id: (vec, size) for row_id, vec, size in zip(train["row_id"], train["vec"], train["size"])}
    assert by_id[4][1] is None  # "?" is a missing marker
    raw = (tmp_path / "vectors.csv").read_text().splitlines()[1]
    assert by_id[0][0] == pytest.approx(parse_number_list(raw.split('"')[1]))
    PartialState()
    preflight_check(args, data)  # nothing left to report


def test_modality_types_trains_end_to_end(tmp_path):
    csv = vector_csv(tmp_path / "vectors.csv")
    argv = ["--dataset_name", csv, *FAST, "--output_dir", str(tmp_path / "out")]
    assert train_accelerate.cli([*argv, "--modality_types", "vec=dense,size=dense"]) == 0
    assert (tmp_path / "out" / "model.safetensors").exists()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[0.1, 0.2]", [0.1, 0.2]),
        ("0.1,0.2", [0.1, 0.2]),
        ("(1 2 3)", [1.0, 2.0, 3.0]),
        ("3.5", [3.5]),
        ("fine", None),
        ("[0.1, x]", None),
        ("", None),
    ],
)
def test_parse_number_list(text, expected):
    assert parse_number_list(text) == expected


@pytest.mark.parametrize("text", ["vec", "vec=vector", "=dense"])
def test_bad_modality_types_name_the_flag(text):
    with pytest.raises(train_accelerate.UserError, match="--modality_types items must look like"):
        parse_modality_types(text)


def test_a_string_column_that_does_not_parse_names_the_value(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('vec,label\n"[0.1, 0.2]",0\n"oops",1\n"[0.3, 0.4]",0\n"[0.5, 0.6]",1\n')
    with pytest.raises(ValueError, match="modality_types\\['vec'\\]='dense' but column 'vec' .* holds 'oops'"):
        load_multimodal_dataset(str(path), modality_types={"vec": "dense"})


# ---------------------------------------------------------------------------------------------------------------
# Every split, every failure the processor would hit later, said once


ROOT = Path(__file__).resolve().parents[2]


def script(*argv: str, launcher: tuple = (sys.executable,), timeout: int = 300) -> subprocess.CompletedProcess:
    """The training script run as a user runs it, in a subprocess (see `shared_run.run_script`)."""
    return run_script(*argv, launcher=launcher, timeout=timeout)


def pandas_folder(folder: Path, nan_at: int) -> str:
    """train / test parquet files written by pandas, the test split with a NaN inside row `nan_at`'s vector `a`:
    pandas writes it as a null element inside the list."""
    import pandas as pd

    folder.mkdir()
    for split, count, seed in (("train", 60, 0), ("test", 20, 1)):
        frame = pd.DataFrame(rows(count, seed))
        if split == "test":
            frame.at[nan_at, "a"] = [0.1, None, 0.3]
        frame.to_parquet(folder / f"{split}.parquet")
    return str(folder)


def test_a_null_inside_a_test_vector_stops_the_cli_before_training(tmp_path):
    folder = pandas_folder(tmp_path / "data", nan_at=5)
    assert pq.read_table(Path(folder) / "test.parquet").column("a")[5].as_py()[1] is None  # as the user's file
    output = tmp_path / "out"
    done = script("--dataset_name", folder, *FAST, "--output_dir", str(output))
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert done.stderr.count("train_accelerate.py: error: ") == 1
    assert "split 'test':\n    - dense modality 'a': rows [5] hold NaN, infinite or null values" in done.stderr
    assert "Total optimization steps" not in done.stderr  # stopped before the training plan, let alone a step
    assert not output.exists()


def test_the_loader_warning_and_the_error_name_the_same_rows(tmp_path, capsys, caplog):
    """The loader warns of rows without modalities at load time; the pre-flight error follows: the same row ids, the
    same split names, whichever side of the carved validation split the rows fell on."""
    train = rows(60, 0)
    for row in (5, 41):
        train["a"][row] = train["b"][row] = None
    folder = write_folder(tmp_path / "data", train, rows(20, 1))
    with caplog.at_level(logging.WARNING, logger="cldmdf.processing.loading"):
        message = run_error(capsys, "--dataset_name", folder, *FAST, "--output_dir", str(tmp_path / "out"))
    warnings = [record.getMessage() for record in caplog.records if "no modality present" in record.getMessage()]
    assert warnings and all("split 'train'" in warning for warning in warnings)
    warned = sorted(
        int(row) for warning in warnings for row in re.search(r"rows \[([\d, ]+)\]", warning)[1].split(",")
    )
    assert warned == [5, 41]
    assert "rows [5, 41] have every modality missing" in message


def test_a_row_without_a_label_in_the_validation_split_is_named(tmp_path, capsys):
    train = rows(60, 0)
    (tmp_path / "data").mkdir()
    for split, values in (("train", train), ("validation", rows(20, 2)), ("test", rows(20, 1))):
        if split == "validation":
            values["label"][4] = None
        datasets.Dataset.from_dict(values).to_parquet(str(tmp_path / "data" / f"{split}.parquet"))
    message = run_error(capsys, "--dataset_name", str(tmp_path / "data"), *FAST, "--output_dir", str(tmp_path / "o"))
    assert "split 'validation':\n    - rows [4] have no label in column 'label'" in message


def test_a_modality_stored_as_another_type_in_one_split_is_refused_at_load():
    splits = {"train": rows(20, 0), "test": {**rows(6, 1), "a": ["[1, 2, 3]"] * 6}}
    dataset = datasets.DatasetDict({name: datasets.Dataset.from_dict(values) for name, values in splits.items()})
    with pytest.raises(ValueError, match="modality column 'a' is a dense modality but has feature Value\\('string'\\) "
                       "in split 'test'"):  # fmt: skip
        prepare_multimodal_dataset(dataset)


def test_vectors_of_another_length_are_named_by_row():
    test = rows(6, 1)
    test["a"][4] = [1.0, 2.0]
    dataset = datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict(rows(20, 0)), "test": datasets.Dataset.from_dict(test)}
    )
    with pytest.raises(
        ValueError, match=r"lengths \[2, 3\] in split 'test'.*3 numbers, the rows at 0-based positions \[4\]"
    ):
        prepare_multimodal_dataset(dataset)


def placeholder_csv(path: Path, placeholder: str) -> str:
    """Two number columns and a third, `size`, with `placeholder` in every 9th row (rows 8, 17, 26, 35)."""
    rng = np.random.default_rng(0)
    lines = ["x1,x2,size,label"]
    for i in range(40):
        size = placeholder if i % 9 == 8 else f"{rng.normal():.3f}"
        lines.append(f"{rng.normal():.3f},{rng.normal():.3f},{size},{i % 2}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_a_number_column_with_unknown_in_every_9th_row_is_not_trained_as_text(tmp_path, capsys, caplog):
    csv = placeholder_csv(tmp_path / "sizes.csv", "unknown")
    argv = ["--dataset_name", csv, *FAST, "--output_dir", str(tmp_path / "out")]
    with caplog.at_level(logging.INFO, logger="cldmdf.processing.schema"):
        message = run_error(capsys, *argv)
    # What was inferred, and why, in the log; the refusal names the placeholder's rows (the carved validation
    # split's among them) and the flag.
    assert "column 'size': text modality, inferred from its feature Value('large_string') (strings;" in caplog.text
    assert "columns ['x1', 'x2']: packed into one dense modality 'tabular'" in caplog.text
    assert "column 'size' holds numbers stored as strings (e.g. " in message
    assert "pass --modality_types size=dense to read it as one number ('unknown' (rows [8, 17, 26, 35])" in message
    assert not (tmp_path / "out").exists()
    assert train_accelerate.cli([*argv, "--modality_types", "size=dense"]) == 0  # 'unknown' read as missing
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["modalities"]["size"] == {"type": "dense", "dim": 1}


def test_a_number_column_with_another_placeholder_is_refused_naming_it(tmp_path, capsys):
    csv = placeholder_csv(tmp_path / "sizes.csv", "n.d.")
    message = run_error(capsys, "--dataset_name", csv, *FAST, "--output_dir", str(tmp_path / "out"))
    assert "holds strings, but 36 of its 40 values (empty cells and missing markers aside) are numbers" in message
    assert "the others are 'n.d.' (rows [8, 17, 26, 35])" in message
    assert "--modality_types size=dense" in message and "--modality_types size=text" in message


def test_a_text_column_is_not_questioned():
    words = ["fine", "12", "good", "3 stars", "bad", "7"] * 10
    dataset = datasets.Dataset.from_dict({"note": words, "label": [i % 2 for i in range(60)]})
    data = prepare_multimodal_dataset(dataset)
    assert data.modalities == {"note": {"type": "text"}}
    assert find_data_problems(data) == []


def test_integer_labels_in_train_and_strings_in_test_are_matched_by_value_and_said(tmp_path, caplog):
    (tmp_path / "data").mkdir()
    train, test = rows(40, 0, labels=(1, 2)), rows(10, 1, labels=("2", "1"))
    datasets.Dataset.from_dict(train).to_parquet(str(tmp_path / "data" / "train.parquet"))
    datasets.Dataset.from_dict(test).to_parquet(str(tmp_path / "data" / "test.parquet"))
    with caplog.at_level(logging.WARNING):
        data = load_multimodal_dataset(str(tmp_path / "data"))
    assert data["test"]["label"] == [2, 1] * 5  # "2" is the class 2 of train
    assert "column 'label' is stored as string in test.parquet (split 'test') but as int64 in train.parquet" in (
        caplog.text
    )


def test_string_labels_in_train_and_integers_in_test_keep_their_class(caplog):
    """Strings become class names sorted ('1' -> id 0): an integer test label 1 is the class '1', not the id 1."""
    train_labels, test_labels = ("1", "2"), (1, 2)
    dataset = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(rows(20, 0, labels=train_labels)),
            "test": datasets.Dataset.from_dict(rows(6, 1, labels=test_labels)),
        }
    )
    with caplog.at_level(logging.WARNING):
        data = prepare_multimodal_dataset(dataset, validation_fraction=0)
    names = [data.id2label[i] for i in data["test"]["label"]]
    assert names == [str(label) for label in rows(6, 1, labels=test_labels)["label"]]
    assert "matched by value to split 'train''s type (1 -> '1', 2 -> '2')" in caplog.text


def test_labels_that_cannot_be_matched_are_refused():
    dataset = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(rows(20, 0, labels=(0, 1))),
            "test": datasets.Dataset.from_dict(rows(6, 1, labels=("0", "one"))),
        }
    )
    with pytest.raises(ValueError, match=r"holds integers in split 'train' .* strings in split 'test', of which "
                       r"\['one'\] are not integers"):  # fmt: skip
        prepare_multimodal_dataset(dataset, validation_fraction=0)


def test_bad_data_is_said_once_without_traceback_under_accelerate_launch(tmp_path):
    """`accelerate launch` re-raises a failing script's exit status as a CalledProcessError whose cause repeats the
    script's stderr; `--quiet` (-q) makes it exit 1 after the script's own message, which is said once."""
    folder = pandas_folder(tmp_path / "data", nan_at=5)
    output = tmp_path / "out"
    launcher = (str(Path(sys.executable).parent / "accelerate"), "launch", "-q", "--num_processes", "1",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no")  # fmt: skip
    done = script("--dataset_name", folder, *FAST, "--output_dir", str(output), launcher=launcher)
    assert done.returncode != 0
    everything = done.stdout + done.stderr
    assert everything.count("train_accelerate.py: error: ") == 1, everything[-3000:]
    assert everything.count("rows [5] hold NaN") == 1
    assert "Traceback" not in everything and "CalledProcessError" not in everything
    assert not output.exists()
