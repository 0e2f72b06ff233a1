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
"""Reference fusion methods behind `CLDMDFConfig.baseline`, on the same data path as CL-DMDF.

- Early fusion: the zero-filled features of every modality (raw dense values; the pooled, projected backbone output of
  text/image modalities) concatenated with the mask indicators, then an MLP of width `hidden_size`.
- Late fusion: one classifier per modality on its encoder token, logits averaged over the present modalities (the
  classifier heads are `CLDMDFModel.unimodal_heads`; see `late_fusion_logits`).
- TMC, trusted multi-view classification (Han et al., ICLR 2021): the same per-modality heads give Dirichlet evidence
  `e_m = softplus(head_m(h_m))`, `alpha_m = e_m + 1`; the subjective opinions (belief `b_m = e_m / S_m`, uncertainty
  `u_m = C / S_m`, `S_m = sum alpha_m`) of the present modalities are combined by the reduced Dempster-Shafer rule
  (`combine_opinions`), and the loss is the evidential cross-entropy with an annealed KL term of every present
  modality and of the combination (`evidential_loss`). A missing modality has no evidence: its opinion `b = 0, u = 1`
  is the identity of the combination, so it changes nothing.

This file travels to the Hub as remote code with the modeling file.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from .configuration_cldmdf import CLDMDFConfig

__all__ = [
    "CLDMDFEarlyFusion",
    "combine_opinions",
    "evidential_loss",
    "late_fusion_logits",
    "tmc_fusion",
    "tmc_kl_weight",
    "tmc_loss",
    "uniform_weights",
]

# Smallest combined uncertainty kept: the Dirichlet strength `C / u` of a combination stays finite in float32.
MIN_UNCERTAINTY = 1e-20


class CLDMDFEarlyFusion(nn.Module):
    """
    Early fusion: `MLP([x_1 * m_1; ...; x_M * m_M; m])` with `x_m` the (zero-filled) features of modality m and `m`
    the mask indicators.

    Inputs:
        features (`list[torch.Tensor]`): per modality (sorted names) a `(B, d_m)` tensor, any values where missing.
        mask (`torch.BoolTensor` of shape `(B, M)`).
    Returns:
        `(B, hidden_size)`.
    """

    def __init__(self, input_dims: list[int], config: CLDMDFConfig):
        super().__init__()
        width = sum(input_dims) + len(input_dims)
        # The same choice as CL-DMDF's dense encoders (`dense_input_norm`), so that the comparison is about fusion.
        self.norm = nn.LayerNorm(width, eps=config.layer_norm_eps) if config.dense_input_norm else nn.Identity()
        self.mlp = nn.Sequential(
            nn.Linear(width, config.hidden_size),
            nn.GELU(),
            nn.Dropout(config.hidden_dropout_prob),
            nn.Linear(config.hidden_size, config.hidden_size),
        )

    def forward(self, features: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        filled = [
            torch.where(mask[:, i : i + 1], values, torch.zeros_like(values)) for i, values in enumerate(features)
        ]
        inputs = torch.cat([*filled, mask.to(filled[0].dtype)], dim=-1)  # (B, sum d_m + M)
        return self.mlp(self.norm(inputs))


def uniform_weights(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """`(B, M)` weights 1 / #present on present modalities, exactly 0 elsewhere."""
    weights = mask.to(dtype)
    return weights / weights.sum(dim=1, keepdim=True).clamp(min=1.0)


def late_fusion_logits(unimodal_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the unimodal logits over present modalities: `(B, M, C), (B, M) -> (B, C)`."""
    weights = uniform_weights(mask, unimodal_logits.dtype)
    return (weights.unsqueeze(-1) * unimodal_logits).sum(dim=1)


def combine_opinions(belief: torch.Tensor, uncertainty: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """
    The reduced Dempster-Shafer combination of TMC over the modality axis.

    Two opinions combine as `b_k = (b1_k b2_k + b1_k u2 + b2_k u1) / (1 - K)`, `u = u1 u2 / (1 - K)` with the conflict
    `K = sum_{i != j} b1_i b2_j`; `1 - K` is also the sum of the unnormalised masses, which is how it is computed here
    (it is at least `u1 u2 > 0`, so never a division by zero). The rule is commutative and associative; the vacuous
    opinion `b = 0, u = 1` (no evidence) is its identity.

    Args:
        belief (`torch.Tensor` of shape `(B, M, C)`): non-negative, `belief.sum(-1) + uncertainty == 1`.
        uncertainty (`torch.Tensor` of shape `(B, M)`): in (0, 1].
    Returns:
        `(B, C)` belief and `(B,)` uncertainty of the combination.
    """
    combined_belief, combined_uncertainty = belief[:, 0], uncertainty[:, :1]
    for index in range(1, belief.shape[1]):
        other_belief, other_uncertainty = belief[:, index], uncertainty[:, index : index + 1]
        mass = (
            combined_belief * other_belief + combined_belief * other_uncertainty + other_belief * combined_uncertainty
        )
        joint_uncertainty = combined_uncertainty * other_uncertainty
        total = mass.sum(dim=-1, keepdim=True) + joint_uncertainty  # = 1 - conflict
        combined_belief, combined_uncertainty = mass / total, joint_uncertainty / total
    return combined_belief, combined_uncertainty.squeeze(-1)


def tmc_fusion(head_outputs: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    TMC's fusion of per-modality heads: `(B, M, C)` raw head outputs and the `(B, M)` mask to the Dirichlet
    parameters `(B, M, C)` of every modality (all ones where it is missing: no evidence) and `(B, C)` of their
    combination, and the combination's uncertainty `(B,)`. Computed in float32 at least (the digamma and the products
    of uncertainties need it under bf16 autocast).
    """
    num_classes = head_outputs.shape[-1]
    evidence = F.softplus(at_least_float32(head_outputs)) * mask.unsqueeze(-1)
    view_alphas = evidence + 1.0
    strength = view_alphas.sum(dim=-1)  # (B, M)
    belief, uncertainty = combine_opinions(evidence / strength.unsqueeze(-1), num_classes / strength)
    uncertainty = uncertainty.clamp(min=MIN_UNCERTAINTY)
    alphas = belief * (num_classes / uncertainty).unsqueeze(-1) + 1.0
    return view_alphas, alphas, uncertainty


def evidential_loss(alphas: torch.Tensor, labels: torch.Tensor, kl_weight) -> torch.Tensor:
    """
    TMC's per-row loss of Dirichlet parameters `(N, C)` for class ids `(N,)`: the expected cross-entropy under
    `Dir(alpha)`, `digamma(S) - digamma(alpha_y)`, plus `kl_weight * KL(Dir(alpha~) || Dir(1))` with `alpha~` the
    parameters with the true class's evidence removed (it pushes misleading evidence to 0). Returns `(N,)`.
    """
    alphas = at_least_float32(alphas)
    one_hot = F.one_hot(labels, alphas.shape[-1]).to(alphas.dtype)
    expected_ce = torch.digamma(alphas.sum(-1)) - torch.digamma((alphas * one_hot).sum(-1))
    misleading = (alphas - 1.0) * (1.0 - one_hot) + 1.0
    return expected_ce + kl_weight * dirichlet_kl_to_uniform(misleading)


def tmc_loss(
    view_alphas: torch.Tensor, alphas: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, kl_weight
) -> torch.Tensor:
    """TMC's loss: the evidential loss of the combination `(B, C)` (mean over rows) plus, for every modality, that of
    its own Dirichlet `(B, M, C)` (mean over the rows where it is present)."""
    batch_size, num_modalities, num_classes = view_alphas.shape
    per_view = evidential_loss(
        view_alphas.reshape(-1, num_classes), labels.repeat_interleave(num_modalities), kl_weight
    ).view(batch_size, num_modalities)
    present = mask.to(per_view.dtype)
    view_means = (per_view * present).sum(dim=0) / present.sum(dim=0).clamp(min=1.0)
    return evidential_loss(alphas, labels, kl_weight).mean() + view_means.sum()


def dirichlet_kl_to_uniform(alphas: torch.Tensor) -> torch.Tensor:
    """`KL(Dir(alpha) || Dir(1, ..., 1))` per row: `(N, C) -> (N,)`."""
    num_classes = alphas.shape[-1]
    strength = alphas.sum(-1)
    log_normaliser = torch.lgamma(strength) - torch.lgamma(alphas).sum(-1) - math.lgamma(num_classes)
    return ((alphas - 1.0) * (torch.digamma(alphas) - torch.digamma(strength).unsqueeze(-1))).sum(-1) + log_normaliser


def tmc_kl_weight(epoch: int, annealing_epochs: int) -> float:
    """TMC's annealed weight of the KL term in epoch `epoch` (0-based): `min(1, (epoch + 1) / annealing_epochs)`,
    1 throughout when `annealing_epochs` is 0."""
    return 1.0 if annealing_epochs == 0 else min(1.0, (epoch + 1) / annealing_epochs)


def at_least_float32(values: torch.Tensor) -> torch.Tensor:
    return values.to(torch.promote_types(values.dtype, torch.float32))
