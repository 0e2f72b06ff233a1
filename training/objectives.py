# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""The training objectives the training loop adds to a model's own loss: TupleInfoNCE, CAL and TMC's annealing.

Each reads the model's outputs (and, for TupleInfoNCE, calls the base model's public `embed_modalities` and
`forward(modality_embeddings=...)`); none changes what a saved model computes. A custom accelerate loop uses them the
way `train_accelerate.py` does:

```python
objectives = TrainingObjectives.build(model, tuple_weight=0.1, cal=True)
optimizer = torch.optim.AdamW([*model.parameters(), *objectives.parameters()], lr=1e-3)
model, objectives, optimizer, ... = accelerator.prepare(model, objectives, optimizer, ...)
for epoch in range(num_epochs):
    for batch in train_dataloader:
        outputs = model(**batch)
        loss, terms = objectives.loss(accelerator.unwrap_model(model), batch, outputs, epoch)
        accelerator.backward(loss)
        ...
    if objectives.due(epoch):
        accelerator.log(objectives.update(model, validation_dataloader, accelerator, epoch))
```
"""

from __future__ import annotations

from typing import Optional, Union

import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader

from .cal import CAL, DEFAULT_AIB_BETA, DEFAULT_K_MAX, statistics_subsets, subset_statistics
from .tuple_infonce import TupleInfoNCE, auto_tuple_alphas

__all__ = ["TrainingObjectives", "tmc_kl_weight"]


def tmc_kl_weight(epoch: int, annealing_epochs: int) -> float:
    """TMC's annealed weight of the KL term in epoch `epoch` (0-based): `min(1, (epoch + 1) / annealing_epochs)`,
    1 throughout when `annealing_epochs` is 0."""
    return 1.0 if annealing_epochs == 0 else min(1.0, (epoch + 1) / annealing_epochs)


class TrainingObjectives(nn.Module):
    """
    The objectives of one training run, composable: `loss` adds each enabled one to the model's loss.

    Args:
        tuple_infonce ([`TupleInfoNCE`], *optional*): added with `tuple_weight`.
        tuple_weight (`float`): weight of TupleInfoNCE.
        cal ([`CAL`], *optional*): gradient acceleration (hooks already on the encoders) and the bottleneck loss.
        tmc_annealing_epochs (`int`, *optional*): for TMC models, the epochs over which the KL term's weight grows
            to 1 (`tmc_kl_weight`).
        interval (`int`): epochs between the estimates of CAL's contributions and the automatic TupleInfoNCE ratios.
    """

    def __init__(
        self,
        tuple_infonce: Optional[TupleInfoNCE] = None,
        tuple_weight: float = 0.0,
        cal: Optional[CAL] = None,
        tmc_annealing_epochs: Optional[int] = None,
        interval: int = 1,
    ):
        super().__init__()
        self.tuple_infonce = tuple_infonce
        self.tuple_weight = tuple_weight
        self.cal = cal
        self.tmc_annealing_epochs = tmc_annealing_epochs
        self.interval = interval
        self.log: dict[str, float] = {}

    @classmethod
    def build(
        cls,
        model,
        tuple_weight: float = 0.0,
        tuple_alphas: Union[list[float], str, None] = None,
        cal: bool = False,
        aib_beta: float = DEFAULT_AIB_BETA,
        cal_k_max: float = DEFAULT_K_MAX,
        interval: int = 1,
        tmc_annealing_epochs: int = 10,
    ) -> TrainingObjectives:
        """The objectives asked for, for `model` (a CL-DMDF head or a reference model; the TMC annealing applies to
        TMC models only)."""
        base = getattr(model, "cldmdf", None)
        if (tuple_weight > 0 or cal) and base is None:
            raise ValueError(
                f"TupleInfoNCE and CAL work on CL-DMDF's modality tokens; {type(model).__name__} has none (got "
                f"tuple_weight={tuple_weight!r}, cal={cal!r})."
            )
        tuple_infonce = TupleInfoNCE(model.config, alphas=tuple_alphas) if tuple_weight > 0 else None
        is_tmc = getattr(model.config, "baseline", None) == "tmc"
        return cls(
            tuple_infonce=tuple_infonce,
            tuple_weight=tuple_weight,
            cal=CAL(base, k_max=cal_k_max, aib_beta=aib_beta, interval=interval) if cal else None,
            tmc_annealing_epochs=tmc_annealing_epochs if is_tmc else None,
            interval=interval,
        )

    @property
    def estimates_alphas(self) -> bool:
        return self.tuple_infonce is not None and self.tuple_infonce.automatic

    def forward(self, model, batch: dict, outputs, epoch: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss to optimise for one batch, and each added term (unweighted) by name. `model` is the unwrapped
        model that produced `outputs` from `batch`. (A forward, so that a prepared, distributed copy syncs the
        objectives' own parameters; `loss` is the same.)"""
        terms = {}
        loss = outputs.loss
        if self.tmc_annealing_epochs is not None:
            weight = tmc_kl_weight(epoch, self.tmc_annealing_epochs)
            loss = outputs.evidential_loss + weight * outputs.kl_loss
        if self.cal is not None:
            bottleneck_loss = self.cal(outputs)
            if bottleneck_loss is not None:
                terms["aib_loss"] = bottleneck_loss
                loss = loss + bottleneck_loss
        if self.tuple_infonce is not None and model.training:
            tuple_loss = self.tuple_infonce(model.cldmdf, batch["modality_inputs"], batch["modality_mask"])
            terms["tuple_loss"] = tuple_loss
            loss = loss + self.tuple_weight * tuple_loss
        return loss, terms

    loss = forward

    def due(self, epoch: int) -> bool:
        """Whether the estimates are to be updated after epoch `epoch` (0-based)."""
        return (self.cal is not None or self.estimates_alphas) and (epoch + 1) % self.interval == 0

    def update(self, model, dataloader: DataLoader, accelerator: Accelerator, epoch: int) -> dict:
        """Measures CAL's contributions and the automatic TupleInfoNCE ratios on `dataloader`; returns the flat
        `cal_contribution_<m>_epoch_<e>` / `tuple_alpha_<m>_epoch_<e>` entries for the tracker (also kept in `log`
        for `all_results.json`)."""
        names = accelerator.unwrap_model(model).config.modality_names
        accuracy, confidence = subset_statistics(model, dataloader, accelerator, statistics_subsets(len(names)))
        logged = {}
        if self.cal is not None:
            logged.update(self.cal.update(accuracy, confidence, epoch))
        if self.estimates_alphas:
            unimodal = [accuracy[tuple(i == m for i in range(len(names)))] for m in range(len(names))]
            alphas = auto_tuple_alphas(unimodal, self.tuple_infonce.alpha_total)
            self.tuple_infonce.set_alphas(alphas)
            logged.update({f"tuple_alpha_{name}_epoch_{epoch}": round(alpha, 6) for name, alpha in zip(names, alphas)})
        self.log.update(logged)
        return logged
