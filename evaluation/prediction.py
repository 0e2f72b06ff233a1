# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""Predictions and metrics of a (possibly `accelerator.prepare`d) CL-DMDF model over a dataloader.

`predict` gathers with `accelerator.gather_for_metrics`, so every row counts exactly once however many processes
share the dataloader; `compute_metrics` turns its output into the loss, the number of rows and, for single-label
classification, accuracy and macro-F1 through the offline `evaluate` modules of this package. `predict_rows` is the
one-call path for new rows (dicts with `None` for missing modalities) -> labels, probabilities, modality weights.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Optional

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

from modeling_cldmdf.losses_cldmdf import task_loss
from modeling_cldmdf.pipeline_cldmdf import prediction_records, rows_to_columns

from . import load_metrics

__all__ = ["compute_metrics", "per_row_loss", "predict", "predict_dataset", "predict_rows", "regression_metrics"]


def predict(model, dataloader: DataLoader, accelerator: Accelerator, removed: Optional[Sequence[int]] = None) -> dict:
    """Gathered predictions/labels over every row exactly once; with `removed` (modality indices), those modalities
    are masked out and rows left with no modality are flagged invalid (excluded from the metrics)."""
    model.eval()
    collected = {"predictions": [], "labels": [], "valid": [], "loss": []}
    for batch in dataloader:
        labels = batch.pop("labels")
        valid = torch.ones(labels.shape[0], dtype=torch.bool, device=labels.device)
        if removed is not None:
            mask = batch["modality_mask"].clone()
            mask[:, list(removed)] = False
            valid = mask.any(dim=1)
            # rows that would be empty keep their data for a well-formed forward pass, then are discarded
            batch["modality_mask"] = torch.where(valid.unsqueeze(1), mask, batch["modality_mask"])
        with torch.no_grad():
            logits = model(**batch).logits
        loss = per_row_loss(logits, labels, model)
        if getattr(model, "module", model).config.problem_type == "multi_label_classification":
            predictions = logits > 0  # each label whose sigmoid is over 1/2
        else:
            predictions = logits.argmax(-1) if logits.shape[-1] > 1 else logits.squeeze(-1)
        gathered = accelerator.gather_for_metrics((predictions, labels, valid, loss))
        for key, value in zip(collected, gathered):
            collected[key].append(value.cpu())
    return {key: torch.cat(value) for key, value in collected.items()}


def per_row_loss(logits: torch.Tensor, labels: torch.Tensor, model) -> torch.Tensor:
    """The task loss of each row (no reduction, float32) for the model's `problem_type`: the model's own task loss
    (`losses_cldmdf.task_loss`) without the mean."""
    config = getattr(model, "module", model).config  # a DDP-wrapped model keeps its config on `.module`
    return task_loss(logits, labels, config.problem_type or "single_label_classification", reduction="none")


def compute_metrics(outputs: dict, problem_type: str) -> dict:
    """Mean loss and number of rows of `predict`'s valid rows; plus `accuracy` and `f1` (macro) for single-label
    classification; `subset_accuracy`, `f1` (macro over the labels) and `micro_f1` for multi-label; `mse`, `rmse`,
    `mae` and `r2` (the coefficient of determination, left out when the labels are all equal) for regression."""
    valid = outputs["valid"]
    predictions, labels = outputs["predictions"][valid], outputs["labels"][valid]
    metrics = {"loss": outputs["loss"][valid].mean().item(), "rows": int(valid.sum())}
    if problem_type == "single_label_classification":
        metrics.update(_classification_metrics().compute(predictions=predictions.numpy(), references=labels.numpy()))
    elif problem_type == "multi_label_classification":
        metrics.update(multi_label_metrics(predictions, labels))
    elif problem_type == "regression":
        metrics.update(regression_metrics(predictions, labels))
    return metrics


def multi_label_metrics(predictions: torch.Tensor, labels: torch.Tensor) -> dict:
    """Subset accuracy (the share of rows with every label right), and F1 macro-averaged over the labels and micro
    (over every (row, label) decision), as scikit-learn's `f1_score(..., zero_division=0)`."""
    predicted, true = predictions.bool(), labels.bool()  # (N, C)
    hits, false_alarms, misses = ((predicted & true).sum(0), (predicted & ~true).sum(0), (~predicted & true).sum(0))
    per_label = 2 * hits / (2 * hits + false_alarms + misses).clamp(min=1)
    micro = 2 * hits.sum() / (2 * hits.sum() + false_alarms.sum() + misses.sum()).clamp(min=1)
    return {
        "subset_accuracy": (predicted == true).all(dim=1).double().mean().item(),
        "f1": per_label.double().mean().item(),
        "micro_f1": micro.double().item(),
    }


@functools.cache
def _classification_metrics():
    """`load_metrics()`, loaded once per process: `evaluate.load` copies and imports the module scripts again on every
    call (a few ms, a tenth of the 50 validations of a run), and `compute` with the values given leaves the modules
    empty, ready for the next call."""
    return load_metrics()


def regression_metrics(predictions: torch.Tensor, labels: torch.Tensor) -> dict:
    """MSE, RMSE, MAE and R² (uniform over the targets, as scikit-learn's `r2_score`) in float64."""
    predictions = predictions.double().reshape(labels.shape[0], -1)
    labels = labels.double().reshape(labels.shape[0], -1)
    errors = predictions - labels
    mse = float(errors.pow(2).mean())
    metrics = {"mse": mse, "rmse": mse**0.5, "mae": float(errors.abs().mean())}
    total = (labels - labels.mean(dim=0)).pow(2).sum(dim=0)
    if labels.shape[0] > 1 and bool((total > 0).all()):
        metrics["r2"] = float((1 - errors.pow(2).sum(dim=0) / total).mean())
    return metrics


def predict_rows(model, processor, rows: Sequence[Mapping[str, Any]], batch_size: int = 256) -> list[dict]:
    """Predictions for rows given as dicts, `None` (or an absent key) for a missing modality.

    Args:
        model (`CLDMDFForSequenceClassification`): the trained model (its device is used; put into eval mode).
        processor (`CLDMDFProcessor`): the fitted processor saved with it (dense values are given raw).
        rows (`Sequence[dict]`): modality name -> value (a list of numbers, a string, an image); other keys ignored.
        batch_size (`int`, defaults to 256): rows per forward pass.

    Returns:
        `list[dict]`, one per row: `label` (the predicted label's name), `score` (its probability), `probabilities`
        (label name -> probability, summing to 1) and `modality_weights` (modality name -> fusion weight, 0 for a
        missing modality); a regression model gives `value` (the predicted number) instead of the label, score and
        probabilities. See `modeling_cldmdf.pipeline_cldmdf.prediction_records` for multi-label.

    Example:

    >>> records = predict_rows(model, processor, [{"audio": [0.1, 0.2], "video": None}])  # doctest: +SKIP
    >>> records[0]["label"], records[0]["probabilities"]  # doctest: +SKIP
    ('positive', {'negative': 0.1, 'positive': 0.9})
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int, got {batch_size!r}")
    columns = rows_to_columns(rows, processor.modality_names)  # checks every row once, positions in `rows`
    count = len(rows)
    return [
        record
        for start in range(0, count, batch_size)
        for record in _predict_columns(
            model, processor, {name: values[start : start + batch_size] for name, values in columns.items()}
        )
    ]


def predict_dataset(model, processor, dataset, batch_size: int = 256) -> list[dict]:
    """`predict_rows` over a `datasets.Dataset` whose modality columns hold `None` where missing, batch by batch."""
    records = []
    for batch in dataset.iter(batch_size=batch_size):
        columns = {name: batch[name] for name in processor.modality_names if name in batch}
        records += _predict_columns(model, processor, columns)
    return records


def _predict_columns(model, processor, columns: dict) -> list[dict]:
    model.eval()
    batch = processor(columns, return_tensors="pt").to(model.device)
    with torch.no_grad():
        outputs = model(**batch)
    return prediction_records(model.config, outputs.logits, outputs.modality_weights)
