# Copyright 2026 The CL-DMDF contributors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""CAL, contribution-guided asymmetric learning (Xu et al., 2025), as a training objective of CL-DMDF (docs/methods.md
section 3).

Every `interval` epochs the contribution `W^m` of each modality is measured on a validation slice through the
modality mask (`subset_statistics`: Shapley values of the masked accuracy, and the confidence of the model's unimodal
heads and its increase). From the next step on, the gradient reaching encoder m is multiplied by
`clamp(W^m, 1, k_max)` (forward hooks on the encoders: the forward pass is unchanged), and the KL divergences of the
model's token bottleneck (`config.token_bottleneck`) are weighted by `β_m = β (1 - W^m / max W)`.
"""

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Optional

import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader

from modeling_cldmdf import CLDMDFModel

__all__ = [
    "CAL",
    "MAX_SHAPLEY_MODALITIES",
    "bottleneck_betas",
    "cal_contributions",
    "gradient_scales",
    "leave_one_out_values",
    "scale_gradient",
    "shapley_values",
    "statistics_subsets",
    "subset_statistics",
]

DEFAULT_AIB_BETA = 1e-3  # β of the bottleneck loss
DEFAULT_K_MAX = 2.0  # the largest gradient acceleration
MAX_SHAPLEY_MODALITIES = 8  # exact Shapley values (2^M masked passes) up to here, leave-one-out above


class CAL(nn.Module):
    """
    The CAL objective: measured contributions, gradient acceleration hooks, and the weighted bottleneck loss.

    Args:
        model ([`CLDMDFModel`]): the base model; its encoders get the gradient hooks, and it needs unimodal heads
            (`use_auxiliary_heads`, for the confidence) and, for the bottleneck term, `token_bottleneck`.
        cal_lambda (`float`, defaults to 0.5): mix λ of information (Shapley value) and confidence in `W^m`.
        temperature (`float`, defaults to 1.0): softmax temperature of the contributions.
        k_max (`float`, defaults to 2.0): upper bound of the gradient acceleration.
        potential_weight (`float`, defaults to 1.0): weight of the confidence increase ("dynamic potential").
        aib_beta (`float`, defaults to 1e-3): scale β of the bottleneck loss.
        interval (`int`, defaults to 1): epochs between contribution estimates.
    """

    def __init__(
        self,
        model: CLDMDFModel,
        cal_lambda: float = 0.5,
        temperature: float = 1.0,
        k_max: float = DEFAULT_K_MAX,
        potential_weight: float = 1.0,
        aib_beta: float = DEFAULT_AIB_BETA,
        interval: int = 1,
    ):
        super().__init__()
        config = model.config
        if model.unimodal_heads is None:
            raise ValueError(
                "CAL measures each modality's confidence with unimodal heads: build the model with "
                "`use_auxiliary_heads=True`."
            )
        self.names = config.modality_names
        self.cal_lambda, self.temperature, self.k_max = cal_lambda, temperature, k_max
        self.potential_weight, self.aib_beta, self.interval = potential_weight, aib_beta, interval
        self.previous_confidence: Optional[list[float]] = None
        # W^m, all 1 (symmetric training) until the first estimate.
        self.register_buffer("contributions", torch.ones(config.num_modalities), persistent=False)
        self.hooks = [
            model.encoders[name].register_forward_hook(self._gradient_hook(index))
            for index, name in enumerate(self.names)
        ]

    def _gradient_hook(self, index: int):
        def hook(module, inputs, output):
            if not torch.is_grad_enabled():
                return output
            scale = gradient_scales(self.contributions, self.k_max)[index]
            return scale_gradient(output, scale.to(output.device))

        return hook

    def remove_hooks(self) -> None:
        """Takes the gradient hooks off the encoders (the model then trains as without CAL)."""
        for handle in self.hooks:
            handle.remove()
        self.hooks = []

    def set_contributions(self, contributions: Sequence[float]) -> None:
        """Sets `W^m` (one positive number per modality, sorted names)."""
        values = torch.as_tensor(contributions, dtype=torch.float32).flatten()
        if values.numel() != len(self.names) or not bool((values > 0).all() & values.isfinite().all()):
            raise ValueError(
                f"CAL contributions must be {len(self.names)} positive finite numbers (modalities {self.names}), got "
                f"{values.tolist()}."
            )
        self.contributions.copy_(values.to(self.contributions.device))

    def forward(self, outputs) -> Optional[torch.Tensor]:
        """The bottleneck loss `sum_m β_m mean_{present b} KL_m[b]` of a model output (None without a bottleneck)."""
        kl = getattr(outputs, "bottleneck_kl", None)
        if kl is None or self.aib_beta == 0:
            return None
        present = outputs.modality_mask.to(kl.dtype)
        mean_kl = kl.sum(dim=0) / present.sum(dim=0).clamp(min=1.0)  # (M,)
        return (bottleneck_betas(self.contributions, self.aib_beta).to(kl.dtype) * mean_kl).sum()

    def due(self, epoch: int) -> bool:
        return (epoch + 1) % self.interval == 0

    def update(self, accuracy: Mapping, confidence: torch.Tensor, epoch: int) -> dict:
        """New contributions from `subset_statistics`'s accuracies and confidences; returns what to log."""
        num_modalities = len(self.names)
        if num_modalities <= MAX_SHAPLEY_MODALITIES:
            information = shapley_values(accuracy, num_modalities)
        else:
            information = leave_one_out_values(accuracy, num_modalities)
        confidence = confidence.tolist()
        previous = self.previous_confidence or confidence
        potential = [c + self.potential_weight * (c - p) for c, p in zip(confidence, previous)]
        self.previous_confidence = confidence
        contributions = cal_contributions(information, potential, self.cal_lambda, self.temperature)
        self.set_contributions(contributions)
        logged = {}
        for name, phi, weight in zip(self.names, information, contributions):
            logged[f"cal_contribution_{name}_epoch_{epoch}"] = round(weight, 6)
            logged[f"cal_shapley_{name}_epoch_{epoch}"] = round(phi, 6)
        return logged


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
        labels = batch["labels"]  # read, not popped: the caller's batches stay as they were
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


def shapley_values(values: Mapping[tuple[bool, ...], float], num_modalities: int) -> list[float]:
    """
    Exact Shapley value of each modality for the value function `values[S]` (S a tuple of M booleans, True =
    present; every one of the 2^M subsets needed):
    `φ_m = sum_{S ∌ m} |S|! (M - |S| - 1)! / M! (v(S ∪ {m}) - v(S))`. They sum to `v(all) - v(∅)`.
    """
    factorial = math.factorial
    phi = [0.0] * num_modalities
    for subset in itertools.product([False, True], repeat=num_modalities):
        size = sum(subset)
        for m in range(num_modalities):
            if subset[m]:
                continue
            with_m = subset[:m] + (True,) + subset[m + 1 :]
            weight = factorial(size) * factorial(num_modalities - size - 1) / factorial(num_modalities)
            phi[m] += weight * (values[with_m] - values[subset])
    return phi


def leave_one_out_values(values: Mapping[tuple[bool, ...], float], num_modalities: int) -> list[float]:
    """`v(all) - v(all without m)`: the marginal performance used instead of Shapley values above 8 modalities."""
    full = (True,) * num_modalities
    return [values[full] - values[full[:m] + (False,) + full[m + 1 :]] for m in range(num_modalities)]


def _standardise(values: torch.Tensor) -> torch.Tensor:
    std = values.std(unbiased=False)
    return (values - values.mean()) / std if std > 1e-12 else torch.zeros_like(values)


def cal_contributions(
    information: Sequence[float], confidence: Sequence[float], cal_lambda: float, temperature: float
) -> list[float]:
    """`W^m = M * softmax_m((λ Î(m) + (1 - λ) D̂(m)) / T)` with Î, D̂ standardised across modalities; mean 1."""
    information = _standardise(torch.tensor([float(v) for v in information], dtype=torch.float64))
    confidence = _standardise(torch.tensor([float(v) for v in confidence], dtype=torch.float64))
    scores = (cal_lambda * information + (1.0 - cal_lambda) * confidence) / temperature
    return (len(scores) * scores.softmax(dim=0)).tolist()


def gradient_scales(contributions: torch.Tensor, k_max: float) -> torch.Tensor:
    """Asymmetric gradient acceleration factors `k_m = clamp(W^m, 1, k_max)`: none below 1, none suppressed."""
    return contributions.clamp(min=1.0, max=k_max)


class _ScaleGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inputs: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(scale)
        return inputs.view_as(inputs)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (scale,) = ctx.saved_tensors
        return grad_output * scale.to(grad_output.dtype), None


def scale_gradient(inputs: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Identity in the forward pass; multiplies the gradient by `scale` (broadcast to `inputs`) in the backward."""
    return _ScaleGradient.apply(inputs, scale.detach())


def bottleneck_betas(contributions: torch.Tensor, beta: float) -> torch.Tensor:
    """`β_m = β (1 - W^m / max W)`: the lowest-contribution modality is compressed most, the top one not at all."""
    return beta * (1.0 - contributions / contributions.max())
