# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""What the companion methods learn about the modalities while training, for any accelerate training loop.

CAL needs each modality's contribution W^m and TupleInfoNCE's automatic ratios need the unimodal accuracies; both
are measured on a validation slice through the modality mask (`subset_statistics`) and handed to the model by
[`MethodState`]. `train_accelerate.py` calls `MethodState.update` every `cal_interval` epochs; a custom loop does
the same:

```python
methods = MethodState(accelerator.unwrap_model(model).config)
for epoch in range(num_epochs):
    ...  # train one epoch
    if methods.due(epoch):
        accelerator.log(methods.update(model, validation_loader, accelerator, epoch))
```
"""

from __future__ import annotations

from typing import Optional

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

from .methods_cldmdf import auto_tuple_alphas, cal_contributions, leave_one_out_values, shapley_values

__all__ = ["MAX_SHAPLEY_MODALITIES", "MethodState", "statistics_subsets", "subset_statistics"]

MAX_SHAPLEY_MODALITIES = 8  # exact Shapley values (2^M masked passes) up to here, leave-one-out above


def statistics_subsets(num_modalities: int) -> list[tuple[bool, ...]]:
    """The modality subsets CAL evaluates: all 2^M for exact Shapley values up to 8 modalities, else the full set,
    each leave-one-out set, each singleton and the empty set."""
    if num_modalities <= MAX_SHAPLEY_MODALITIES:
        return [tuple(bool(b >> m & 1) for m in range(num_modalities)) for b in range(2**num_modalities)]
    full = (True,) * num_modalities
    subsets = {full, (False,) * num_modalities}
    for m in range(num_modalities):
        subsets.add(full[:m] + (False,) + full[m + 1 :])
        subsets.add(tuple(i == m for i in range(num_modalities)))
    return sorted(subsets)


def subset_statistics(
    model, dataloader: DataLoader, accelerator: Accelerator, subsets: Optional[list] = None
) -> tuple[dict, torch.Tensor]:
    """Validation accuracy with only the modalities of each subset S present (default: every subset; through the
    mask; rows left with no modality count as a uniform guess), and the mean true-class probability of each
    modality's unimodal head. What CAL's contributions and TupleInfoNCE's automatic ratios are computed from. (Sums
    are reduced across processes; the few rows accelerate repeats to even out the last batch count twice.)"""
    config = accelerator.unwrap_model(model).config
    num_modalities = config.num_modalities
    full = (True,) * num_modalities
    subsets = list(subsets or statistics_subsets(num_modalities))
    if full not in subsets:
        subsets.append(full)
    correct = dict.fromkeys(subsets, 0.0)
    true_class_probability = torch.zeros(num_modalities)
    present_counts = torch.zeros(num_modalities)
    total = 0
    model.eval()
    for batch in dataloader:
        labels = batch.pop("labels")
        mask = batch["modality_mask"]
        for subset in subsets:
            keep = mask & torch.tensor(subset, device=mask.device)
            rows = keep.any(dim=1)
            hits = torch.zeros((), device=mask.device)
            if rows.any():
                inputs = {"modality_inputs": batch["modality_inputs"], "modality_mask": torch.where(
                    rows.unsqueeze(1), keep, mask
                )}  # fmt: skip
                with torch.no_grad():
                    outputs = model(**inputs)
                hits = ((outputs.logits.argmax(-1) == labels) & rows).sum().float()
                if all(subset) and outputs.unimodal_logits is not None:
                    probability = outputs.unimodal_logits.float().softmax(-1)
                    picked = probability.gather(-1, labels.view(-1, 1, 1).expand(-1, num_modalities, 1)).squeeze(-1)
                    true_class_probability += accelerator.reduce((picked * mask).sum(0), reduction="sum").cpu()
                    present_counts += accelerator.reduce(mask.sum(0).float(), reduction="sum").cpu()
            guesses = (~rows).sum().float() / config.num_labels
            correct[subset] += accelerator.reduce(hits + guesses, reduction="sum").item()
        total += accelerator.reduce(torch.tensor(float(labels.shape[0]), device=labels.device), reduction="sum").item()
    accuracy = {subset: value / max(total, 1.0) for subset, value in correct.items()}
    return accuracy, true_class_probability / present_counts.clamp(min=1.0)


class MethodState:
    """
    What the companion methods learn about the modalities during training, measured every `cal_interval` epochs on
    a validation slice: CAL's contributions W^m (from Shapley values of the masked validation accuracy and the
    unimodal heads' confidence and its increase) and TupleInfoNCE's automatic ratios α_k (from the unimodal
    validation accuracies). Every estimate is kept as flat `cal_contribution_<m>_epoch_<e>` /
    `tuple_alpha_<m>_epoch_<e>` entries for the tracker and `all_results.json`.
    """

    def __init__(self, config):
        self.config = config
        self.names = config.modality_names
        self.cal = bool(config.cal)
        self.auto_alphas = config.tuple_weight > 0 and config.tuple_alphas == "auto"
        self.previous_confidence = None
        self.log: dict[str, float] = {}

    @property
    def active(self) -> bool:
        return self.cal or self.auto_alphas

    def due(self, epoch: int) -> bool:
        return self.active and (epoch + 1) % self.config.cal_interval == 0

    def update(self, model, dataloader: DataLoader, accelerator: Accelerator, epoch: int) -> dict:
        num_modalities = len(self.names)
        accuracy, confidence = subset_statistics(model, dataloader, accelerator, statistics_subsets(num_modalities))
        base = accelerator.unwrap_model(model).cldmdf
        logged = {}
        if self.cal:
            if num_modalities <= MAX_SHAPLEY_MODALITIES:
                information = shapley_values(accuracy, num_modalities)
            else:
                information = leave_one_out_values(accuracy, num_modalities)
            confidence = confidence.tolist()
            previous = self.previous_confidence or confidence
            potential = [c + self.config.cal_potential_weight * (c - p) for c, p in zip(confidence, previous)]
            self.previous_confidence = confidence
            contributions = cal_contributions(
                information, potential, self.config.cal_lambda, self.config.cal_temperature
            )
            base.set_modality_contributions(contributions)
            for name, phi, weight in zip(self.names, information, contributions):
                logged[f"cal_contribution_{name}_epoch_{epoch}"] = round(weight, 6)
                logged[f"cal_shapley_{name}_epoch_{epoch}"] = round(phi, 6)
        if self.auto_alphas:
            unimodal = [accuracy[tuple(i == m for i in range(num_modalities))] for m in range(num_modalities)]
            alphas = auto_tuple_alphas(unimodal, self.config.tuple_alpha_total)
            base.set_tuple_alphas(alphas)
            for name, alpha in zip(self.names, alphas):
                logged[f"tuple_alpha_{name}_epoch_{epoch}"] = round(alpha, 6)
        self.log.update(logged)
        return logged
