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
"""TupleInfoNCE (Liu et al., ICCV 2021) as a training objective of CL-DMDF (docs/methods.md section 2).

Two augmented views of each batch are fused by the model; view-1 tuples are contrasted with their view-2 tuple
(positive), the other rows' view-2 tuples (ordinary negatives) and, for each modality k with a ratio α_k > 0, the
view-2 tuple with modality k swapped in from another row (disturbed negatives, importance weight `r_k = α_k / α_0`).
The objective owns its projection g; it reads the model only through `CLDMDFModel.embed_modalities` and
`CLDMDFModel.forward(modality_embeddings=...)`.
"""

import math
from collections.abc import Mapping, Sequence
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from modeling_cldmdf import CLDMDFConfig, CLDMDFModel
from modeling_cldmdf.inputs_cldmdf import drop_modalities

__all__ = [
    "TupleInfoNCE",
    "augment_view",
    "auto_tuple_alphas",
    "derangement",
    "disturbance_ratios",
    "swap_modality",
    "tuple_infonce_loss",
]


class TupleInfoNCE(nn.Module):
    """
    The TupleInfoNCE objective for a CL-DMDF model.

    Args:
        config ([`CLDMDFConfig`]): the model's config (modalities, `hidden_size`, `projection_dim`).
        temperature (`float`, defaults to 0.1): τ.
        alphas (`list[float]` or `"auto"`, *optional*): the share α_k of the negatives disturbed in modality k (sorted
            names), `sum α_k < 1`; defaults to `alpha_total / M` each. With `"auto"` they start there and
            [`TupleInfoNCE.set_alphas`] updates them (see `auto_tuple_alphas`).
        alpha_total (`float`, defaults to 0.5): `sum α_k` of the default and automatic ratios.
        modality_dropout, feature_noise, feature_dropout (`float`): the augmentations of the views (`augment_view`).
    """

    def __init__(
        self,
        config: CLDMDFConfig,
        temperature: float = 0.1,
        alphas: Union[Sequence[float], str, None] = None,
        alpha_total: float = 0.5,
        modality_dropout: float = 0.2,
        feature_noise: float = 0.1,
        feature_dropout: float = 0.1,
    ):
        super().__init__()
        num_modalities = config.num_modalities
        self.automatic = alphas == "auto"
        if alphas is None or self.automatic:
            alphas = [alpha_total / num_modalities] * num_modalities
        self.temperature = temperature
        self.augmentations = (modality_dropout, feature_noise, feature_dropout)
        self.alpha_total = alpha_total
        self.dense_names = [name for name in config.modality_names if config.modalities[name]["type"] == "dense"]
        self.projection = nn.Sequential(
            nn.Linear(config.hidden_size, config.hidden_size),
            nn.GELU(),
            nn.Linear(config.hidden_size, config.projection_dim),
        )
        # The ratios r_k live in a buffer (read without a device sync); which modalities are disturbed is Python
        # state, changed only when an α_k becomes 0 or stops being 0.
        self.register_buffer("ratios", torch.zeros(num_modalities), persistent=False)
        self.set_alphas(alphas)

    def set_alphas(self, alphas: Sequence[float]) -> None:
        """Sets the ratios α_k in use (one per modality, non-negative, summing to less than 1)."""
        values = [float(alpha) for alpha in alphas]
        if len(values) != self.ratios.numel() or any(v < 0 for v in values) or sum(values) >= 1:
            raise ValueError(
                f"TupleInfoNCE ratios must be {self.ratios.numel()} non-negative numbers summing to less than 1 (one "
                f"per modality, sorted names), got {values}."
            )
        self.alphas = values
        self.disturbed_modalities = tuple(k for k, alpha in enumerate(values) if alpha > 0)
        self.ratios.copy_(torch.tensor(disturbance_ratios(values), dtype=torch.float32))

    def forward(
        self,
        model: CLDMDFModel,
        modality_inputs: Mapping,
        modality_mask: torch.Tensor,
        generator: Optional[torch.Generator] = None,
    ) -> torch.Tensor:
        """The unweighted TupleInfoNCE loss `()` of a batch as given (before the model's own modality dropout)."""
        projections, views = [], []
        for _ in range(2):
            inputs, mask = augment_view(
                modality_inputs, modality_mask, self.dense_names, *self.augmentations, generator
            )
            tokens, _ = model.embed_modalities(inputs, mask)  # (B, M, D)
            fused = model(modality_embeddings=tokens, modality_mask=mask, return_loss=False).pooler_output
            projections.append(self.projection(fused))  # (B, P)
            views.append((tokens, mask))
        batch_size = modality_mask.shape[0]
        disturbed = []
        if batch_size >= 2 and self.disturbed_modalities:
            tokens, mask = views[1]
            swaps = [
                swap_modality(tokens, mask, k, derangement(batch_size, generator, device=tokens.device))
                for k in self.disturbed_modalities
            ]
            # All disturbed batches go through the fusion in one call (rows are independent there).
            stacked = torch.cat([swapped_tokens for swapped_tokens, _ in swaps])
            count = len(swaps)
            fused = model(modality_embeddings=stacked, modality_mask=mask.repeat(count, 1), return_loss=False)
            d = self.projection(fused.pooler_output).split(batch_size)
            disturbed = [(d[i], swaps[i][1], self.ratios[k]) for i, k in enumerate(self.disturbed_modalities)]
        return tuple_infonce_loss(projections[0], projections[1], self.temperature, disturbed)


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
    One augmented view of a batch: modality dropout on the mask (`drop_modalities`), and on dense modalities Gaussian
    noise of std `feature_noise` and feature dropout (zeroing, inverted scaling) with probability `feature_dropout`.
    Text and image inputs are only subject to modality dropout. Values under a False mask are left as they are
    (never read).
    """
    mask = drop_modalities(modality_mask, modality_dropout, generator)
    view = dict(modality_inputs)
    for name in dense_names:
        if name not in view:
            continue
        values = view[name]
        if feature_noise > 0:
            values = values + feature_noise * torch.randn(
                values.shape, generator=generator, device=values.device, dtype=values.dtype
            )
        if feature_dropout > 0:
            keep = torch.rand(values.shape, generator=generator, device=values.device) >= feature_dropout
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


def tuple_infonce_loss(
    anchors: torch.Tensor,
    positives: torch.Tensor,
    temperature: float,
    disturbed: Sequence[tuple[torch.Tensor, torch.Tensor, float]] = (),
) -> torch.Tensor:
    """
    TupleInfoNCE with importance-weighted disturbed negatives (docs/methods.md section 2):

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
