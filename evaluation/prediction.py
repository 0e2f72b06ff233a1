# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""Predictions and metrics of a (possibly `accelerator.prepare`d) CL-DMDF model over a dataloader.

`predict` gathers with `accelerator.gather_for_metrics`, so every row counts exactly once however many processes
share the dataloader; `compute_metrics` turns its output into the loss, the number of rows and, for single-label
classification, accuracy and macro-F1 through the offline `evaluate` modules of this package.
"""

from __future__ import annotations

from typing import Optional

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

from . import load_metrics

__all__ = ["compute_metrics", "per_row_loss", "predict"]


def predict(model, dataloader: DataLoader, accelerator: Accelerator, removed: Optional[int] = None) -> dict:
    """Gathered predictions/labels over every row exactly once; with `removed`, that modality is masked out and
    rows left with no modality are flagged invalid (excluded from the metrics)."""
    model.eval()
    collected = {"predictions": [], "labels": [], "valid": [], "loss": []}
    for batch in dataloader:
        labels = batch.pop("labels")
        valid = torch.ones(labels.shape[0], dtype=torch.bool, device=labels.device)
        if removed is not None:
            mask = batch["modality_mask"].clone()
            mask[:, removed] = False
            valid = mask.any(dim=1)
            # rows that would be empty keep their data for a well-formed forward pass, then are discarded
            batch["modality_mask"] = torch.where(valid.unsqueeze(1), mask, batch["modality_mask"])
        with torch.no_grad():
            logits = model(**batch).logits
        loss = per_row_loss(logits, labels, model)
        predictions = logits.argmax(-1) if logits.shape[-1] > 1 else logits.squeeze(-1)
        gathered = accelerator.gather_for_metrics((predictions, labels, valid, loss))
        for key, value in zip(collected, gathered):
            collected[key].append(value.cpu())
    return {key: torch.cat(value) for key, value in collected.items()}


def per_row_loss(logits: torch.Tensor, labels: torch.Tensor, model) -> torch.Tensor:
    """The task loss of each row (no reduction, float32) for the model's `problem_type`: squared error, mean
    binary cross-entropy over labels, or cross-entropy."""
    config = getattr(model, "module", model).config  # a DDP-wrapped model keeps its config on `.module`
    if config.problem_type == "regression":
        return (logits.squeeze(-1).float() - labels.float()) ** 2
    if config.problem_type == "multi_label_classification":
        return torch.nn.functional.binary_cross_entropy_with_logits(
            logits.float(), labels.float(), reduction="none"
        ).mean(-1)
    return torch.nn.functional.cross_entropy(logits.float(), labels, reduction="none")


def compute_metrics(outputs: dict, problem_type: str) -> dict:
    """Mean loss and number of rows of `predict`'s valid rows; plus `accuracy` and `f1` (macro) for single-label
    classification, `mse` for regression."""
    valid = outputs["valid"]
    predictions, labels = outputs["predictions"][valid], outputs["labels"][valid]
    metrics = {"loss": outputs["loss"][valid].mean().item(), "rows": int(valid.sum())}
    if problem_type == "single_label_classification":
        metrics.update(load_metrics().compute(predictions=predictions.numpy(), references=labels.numpy()))
    elif problem_type == "regression":
        metrics["mse"] = metrics["loss"]
    return metrics
