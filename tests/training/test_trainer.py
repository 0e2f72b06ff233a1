"""`transformers.Trainer` as the README describes it: the collator, `remove_unused_columns=False`, and the shipped
`trainer_compute_metrics`, on a small real subset of the bundled UCI dataset."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import Trainer, TrainingArguments

from cldmdf.evaluation.trainer import trainer_compute_metrics
from cldmdf.processing.collator import CLDMDFDataCollator
from cldmdf.processing.loading import load_multimodal_dataset
from modeling_cldmdf import CLDMDFConfig, CLDMDFForSequenceClassification
from modeling_cldmdf.modeling_outputs_cldmdf import CLDMDFSequenceClassifierOutput
from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor

UCI = str(Path(__file__).resolve().parents[2] / "bundled_datasets" / "uci_multifeature")


@pytest.fixture(scope="module")
def uci():
    data = load_multimodal_dataset(UCI)
    config = CLDMDFConfig(modalities=data.modalities, hidden_size=32, num_labels=data.num_labels)
    processor = CLDMDFProcessor.from_config(config).fit(data["train"])
    return data, config, processor


def make_trainer(tmp_path, uci, **arguments) -> Trainer:
    data, config, processor = uci
    torch.manual_seed(0)
    arguments = {
        "output_dir": str(tmp_path), "per_device_train_batch_size": 32, "per_device_eval_batch_size": 64,
        "max_steps": 30, "learning_rate": 3e-3, "remove_unused_columns": False, "report_to": [], "use_cpu": True,
        "save_strategy": "no", **arguments,
    }  # fmt: skip
    return Trainer(
        model=CLDMDFForSequenceClassification(config),
        args=TrainingArguments(**arguments),
        train_dataset=data["train"].shuffle(seed=0).select(range(320)),
        eval_dataset=data["validation"],
        data_collator=CLDMDFDataCollator(processor),
        compute_metrics=trainer_compute_metrics,
    )


def test_trainer_trains_and_evaluates_accuracy_on_the_logits(tmp_path, uci):
    trainer = make_trainer(tmp_path, uci)
    before = trainer.evaluate()
    trainer.train()
    after = trainer.evaluate()
    assert {"eval_loss", "eval_accuracy", "eval_f1"} <= set(after)
    assert after["eval_loss"] < before["eval_loss"]
    assert after["eval_accuracy"] > 0.5  # 10 classes, 30 steps on 320 rows: far above chance (0.1)
    # The predictions are the logits alone (not a tuple of every output), and give the reported accuracy.
    predicted = trainer.predict(uci[0]["validation"])
    assert isinstance(predicted.predictions, np.ndarray) and predicted.predictions.shape == (160, 10)
    accuracy = float((predicted.predictions.argmax(-1) == predicted.label_ids).mean())
    assert accuracy == pytest.approx(after["eval_accuracy"], abs=1e-12)
    # Asked for, the other outputs come back after the logits, and the helper still scores the logits.
    everything = trainer.predict(uci[0]["validation"], ignore_keys=[])
    assert isinstance(everything.predictions, tuple) and len(everything.predictions) > 1
    assert np.array_equal(everything.predictions[0], predicted.predictions)
    assert trainer_compute_metrics(everything)["accuracy"] == pytest.approx(accuracy, abs=1e-12)


def test_the_trainer_default_remove_unused_columns_is_named_by_the_collator(tmp_path, uci):
    trainer = make_trainer(tmp_path, uci, remove_unused_columns=True)
    with pytest.raises(ValueError, match=r"pass `TrainingArguments\(remove_unused_columns=False, \.\.\.\)`"):
        trainer.train()


def test_keys_ignored_at_inference_are_every_classifier_output_but_loss_and_logits():
    fields = [field.name for field in dataclasses.fields(CLDMDFSequenceClassifierOutput)]
    assert CLDMDFConfig.keys_to_ignore_at_inference == [name for name in fields if name not in ("loss", "logits")]
    assert "keys_to_ignore_at_inference" not in CLDMDFConfig(modalities={"a": {"type": "dense", "dim": 2}}).to_dict()
    # The reference models too: Trainer's predictions are their logits.
    from modeling_cldmdf import FusionBaselineConfig, FusionBaselineOutput

    fields = [field.name for field in dataclasses.fields(FusionBaselineOutput)]
    assert FusionBaselineConfig.keys_to_ignore_at_inference == [n for n in fields if n not in ("loss", "logits")]


def test_trainer_compute_metrics_regression_and_bad_shapes():
    from transformers import EvalPrediction

    regression = EvalPrediction(predictions=np.array([[1.0], [3.0]]), label_ids=np.array([0.0, 1.0]))
    assert trainer_compute_metrics(regression) == {"mse": 2.5}
    with pytest.raises(ValueError, match=r"logits of shape \(N, num_labels\) and labels of shape \(N,\), got logits"):
        trainer_compute_metrics(EvalPrediction(predictions=np.zeros((2, 3)), label_ids=np.zeros((2, 3))))
