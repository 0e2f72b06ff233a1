"""The training script's pre-flight check: every data problem of every split in one message, before anything is
fitted or trained, with the row numbers of the user's file and the flag that fixes it."""

import logging

import datasets
import numpy as np
import pytest
from accelerate import PartialState

import train_accelerate
from processing.column_types import parse_number_list
from processing.loading import load_multimodal_dataset
from training.data import load_data, parse_modality_types, preflight_check

FAST = ["--hidden_size", "16", "--max_train_steps", "2", "--eval_missing_rates", "0", "--skip_modality_removal"]


def rows(count: int, seed: int, labels=("no", "yes")) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "a": rng.normal(size=(count, 3)).astype(np.float32).tolist(),
        "b": rng.normal(size=(count, 2)).astype(np.float32).tolist(),
        "label": [labels[i % len(labels)] for i in range(count)],
    }


def write_folder(folder, train: dict, test: dict):
    folder.mkdir()
    datasets.Dataset.from_dict(train).to_parquet(str(folder / "train.parquet"))
    datasets.Dataset.from_dict(test).to_parquet(str(folder / "test.parquet"))
    return str(folder)


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
    assert "dense modality 'a' has NaN or infinite values in rows [34]" in message
    assert "dense modality 'b' has NaN or infinite values in rows [50]" in message
    assert "split 'validation'" not in message  # a carved validation split reports rows of the train file
    assert message.count("split 'train'") == 2
    assert not output.exists()


def test_a_row_without_modalities_only_in_the_test_split_stops_before_training(tmp_path, capsys, caplog):
    test = rows(20, 1)
    test["a"][7] = test["b"][7] = None
    folder = write_folder(tmp_path / "data", rows(60, 0), test)
    output = tmp_path / "out"
    message = run_error(capsys, "--dataset_name", folder, *FAST, "--output_dir", str(output))
    assert "split 'test': rows [7] have every modality missing; pass --drop_rows_without_modalities" in message
    assert "nothing was trained" in message
    assert not output.exists()  # nothing half-written

    with caplog.at_level(logging.WARNING):
        code = train_accelerate.cli(
            ["--dataset_name", folder, *FAST, "--output_dir", str(output), "--drop_rows_without_modalities"]
        )
    assert code == 0
    assert "dropped 1 rows of split 'test' with every modality missing (row ids [7])" in caplog.text
    assert (output / "model.safetensors").exists()


def test_a_label_only_in_the_test_split_is_named(tmp_path, capsys):
    test = rows(20, 1)
    test["label"][3] = test["label"][11] = "maybe"  # sorted between "no" and "yes": it would shift "yes"'s id
    folder = write_folder(tmp_path / "data", rows(60, 0), test)
    message = run_error(capsys, "--dataset_name", folder, *FAST, "--output_dir", str(tmp_path / "out"))
    assert "split 'test': label 'maybe' (rows [3, 11]) never occurs in the training split" in message


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
    assert len([line for line in message.splitlines() if line.startswith("  - ")]) == 3


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
