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
"""The two companion methods of CL-DMDF, as pure functions and small modules (METHODS.md sections 2 and 3).

- TupleInfoNCE (Liu et al., ICCV 2021): `augment_view`, `derangement`, `swap_modality`, `tuple_infonce_loss`,
  `auto_tuple_alphas`.
- CAL, contribution-guided asymmetric learning (Xu et al., 2025): `shapley_values`, `leave_one_out_values`,
  `cal_contributions`, `gradient_scales`, `scale_gradient`, `CLDMDFInformationBottleneck`, `bottleneck_betas`.

The model wires them in (`CLDMDFModel.tuple_loss`, `CLDMDFModel.bottleneck`); the training script measures what
the contributions and automatic ratios are computed from. This file travels to the Hub as remote code.
"""

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "augment_view",
    "derangement",
    "swap_modality",
    "tuple_infonce_loss",
    "auto_tuple_alphas",
    "disturbance_ratios",
    "disturbance_ratio_tensor",
    "modalities_to_disturb",
    "shapley_values",
    "leave_one_out_values",
    "cal_contributions",
    "gradient_scales",
    "scale_gradient",
    "bottleneck_betas",
    "CLDMDFInformationBottleneck",
]


# --------------------------------------------------------------------------------------------------------------------
# TupleInfoNCE
# --------------------------------------------------------------------------------------------------------------------


def augment_view(
    modality_inputs: Mapping,
    modality_mask: torch.Tensor,
    dense_names: Sequence[str],
    modality_dropout: float,
    feature_noise: float,
    feature_dropout: float,
    generator: Optional[torch.Generator] = None,
) -> tuple[dict, torch.Tensor]:
    """
    One augmented view of a batch: modality dropout on the mask (each present entry dropped with `modality_dropout`,
    one present modality given back to a row that lost all), and on dense modalities Gaussian noise of std
    `feature_noise` and feature dropout (zeroing, inverted scaling) with probability `feature_dropout`. Text and image
    inputs are only subject to modality dropout. Values under a False mask are left as they are (never read).
    """
    device = modality_mask.device
    noise = torch.rand(modality_mask.shape, generator=generator, device=device)
    kept = modality_mask & (noise >= modality_dropout)
    scores = torch.rand(modality_mask.shape, generator=generator, device=device).masked_fill(~modality_mask, -1.0)
    restore = F.one_hot(scores.argmax(dim=1), modality_mask.shape[1]).bool() & ~kept.any(dim=1, keepdim=True)
    mask = kept | restore

    view = dict(modality_inputs)
    for name in dense_names:
        if name not in view:
            continue
        values = view[name]
        if feature_noise > 0:
            values = values + feature_noise * torch.randn(
                values.shape, generator=generator, device=device, dtype=values.dtype
            )
        if feature_dropout > 0:
            keep = torch.rand(values.shape, generator=generator, device=device) >= feature_dropout
            values = values * keep.to(values.dtype) / (1.0 - feature_dropout)
        view[name] = values
    return view, mask


def derangement(size: int, generator: Optional[torch.Generator] = None, device=None) -> torch.Tensor:
    """A random permutation `π` of `range(size)` with no fixed point (`π[b] != b` for all b), `size >= 2`: a random
    cycle through all rows, so every row is paired with another entity."""
    if size < 2:
        raise ValueError(f"A derangement needs at least 2 elements, got {size}.")
    order = torch.randperm(size, generator=generator).to(device)
    permutation = torch.empty(size, dtype=torch.long, device=device)
    permutation[order] = order.roll(-1)
    return permutation


def swap_modality(
    tokens: torch.Tensor, modality_mask: torch.Tensor, index: int, permutation: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    The disturbed tuples of modality `index`: token `index` of row b is taken from row `permutation[b]`, where that
    modality is present in both rows (encoders work row by row, so swapping tokens is swapping inputs).

    Returns:
        the disturbed tokens `(B, M, D)` and which rows were swapped `(B,)`.
    """
    present = modality_mask[:, index]
    swapped = present & present[permutation]
    disturbed = tokens.clone()
    disturbed[:, index] = torch.where(swapped.unsqueeze(-1), tokens[permutation, index], tokens[:, index])
    return disturbed, swapped


def disturbance_ratios(alphas: Sequence[float]) -> list[float]:
    """`r_k = α_k / α_0` with `α_0 = 1 - sum_k α_k`: the weight of one disturbed tuple relative to one ordinary
    negative, so that disturbed tuples of modality k make up the share α_k of the negatives."""
    alpha_0 = 1.0 - float(sum(alphas))
    if alpha_0 <= 0:
        raise ValueError(f"TupleInfoNCE ratios must sum to less than 1, got {list(alphas)} (sum {sum(alphas)}).")
    return [float(alpha) / alpha_0 for alpha in alphas]


def modalities_to_disturb(alphas: Sequence[float]) -> tuple[int, ...]:
    """The modalities TupleInfoNCE disturbs: those with α_k > 0."""
    return tuple(k for k, alpha in enumerate(alphas) if alpha > 0)


def disturbance_ratio_tensor(alphas: Sequence[float]) -> torch.Tensor:
    """`disturbance_ratios` as a float32 tensor."""
    return torch.tensor(disturbance_ratios(alphas), dtype=torch.float32)


def tuple_infonce_loss(
    anchors: torch.Tensor,
    positives: torch.Tensor,
    temperature: float,
    disturbed: Sequence[tuple[torch.Tensor, torch.Tensor, float]] = (),
) -> torch.Tensor:
    """
    TupleInfoNCE with importance-weighted disturbed negatives (METHODS.md section 2):

        L = mean_b -log( e(u1[b], u2[b]) / ( e(u1[b], u2[b]) + sum_{b' != b} e(u1[b], u2[b'])
                                             + sum_k r_k (B - 1) [swapped_k[b]] e(u1[b], d_k[b]) ) )

    with `e(x, y) = exp(norm(x) . norm(y) / τ)`.

    Args:
        anchors (`(B, P)`): projections of view 1 (normalised here).
        positives (`(B, P)`): projections of view 2; the other rows are the ordinary negatives.
        temperature (`float`): τ.
        disturbed: one `(d_k (B, P), swapped_k (B,) bool, r_k)` per disturbed modality; `r_k` a float, or a 0-dim
            tensor (read without a device sync; 0 then gives the term weight 0).
    """
    dtype = torch.promote_types(anchors.dtype, torch.float32)  # at least fp32: logits at τ = 0.1 are sensitive
    u1 = F.normalize(anchors.to(dtype), dim=-1)
    u2 = F.normalize(positives.to(dtype), dim=-1)
    batch_size = u1.shape[0]
    logits = u1 @ u2.t() / temperature  # (B, B): the diagonal holds the positives
    terms = [logits]
    for projections, swapped, ratio in disturbed:
        if not isinstance(ratio, torch.Tensor) and ratio <= 0:
            continue
        weight = ratio * (batch_size - 1)
        log_weight = weight.to(dtype).log() if isinstance(weight, torch.Tensor) else math.log(weight)
        d = F.normalize(projections.to(dtype), dim=-1)
        logit = (u1 * d).sum(dim=-1, keepdim=True) / temperature + log_weight  # (B, 1)
        terms.append(logit.masked_fill(~swapped.view(-1, 1), float("-inf")))
    denominators = torch.cat(terms, dim=1).logsumexp(dim=1)  # (B,)
    return (denominators - logits.diagonal()).mean()


def auto_tuple_alphas(unimodal_accuracy: Sequence[float], total: float) -> list[float]:
    """
    Automatic ratios (`tuple_alphas="auto"`, our simplified sample optimisation): α_k in proportion to each modality's
    weakness `1 - acc_k / max_k acc_k`, scaled to `sum_k α_k = total`; uniform when every modality is equally strong.
    Weak modalities get more disturbed negatives, so the fused embedding cannot ignore them.
    """
    accuracy = torch.tensor([float(a) for a in unimodal_accuracy], dtype=torch.float64)
    best = accuracy.max()
    weakness = 1.0 - accuracy / best if best > 0 else torch.zeros_like(accuracy)
    if weakness.sum() <= 0:
        return [total / len(accuracy)] * len(accuracy)
    return (weakness / weakness.sum() * total).tolist()


# --------------------------------------------------------------------------------------------------------------------
# CAL
# --------------------------------------------------------------------------------------------------------------------


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


class CLDMDFInformationBottleneck(nn.Module):
    """
    The contribution-aware asymmetric information bottleneck of one modality: `μ(h)`, `log σ²(h)`;
    `h~ = μ + σ ε` in training, `μ` at evaluation; `KL(N(μ, σ²) || N(0, I))` per row (summed over features).
    The variance starts small (`log σ²` bias at -6) so a fresh bottleneck barely perturbs the tokens.
    """

    initial_log_variance = -6.0

    def __init__(self, hidden_size: int):
        super().__init__()
        self.mean = nn.Linear(hidden_size, hidden_size)
        self.log_variance = nn.Linear(hidden_size, hidden_size, bias=False)
        # A parameter of this module (not of a Linear) so that weight initialisation can give it its own value.
        self.log_variance_bias = nn.Parameter(torch.full((hidden_size,), self.initial_log_variance))

    def forward(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.mean(hidden)
        log_variance = (self.log_variance(hidden) + self.log_variance_bias).float().clamp(-20.0, 10.0)
        kl = 0.5 * (mean.float().pow(2) + log_variance.exp() - log_variance - 1.0).sum(dim=-1)
        if self.training:
            sample = mean + (0.5 * log_variance).exp().to(mean.dtype) * torch.randn_like(mean)
            return sample, kl
        return mean, kl
