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

This file travels to the Hub as remote code with the modeling file.
"""

import torch
from torch import nn

from .configuration_cldmdf import CLDMDFConfig

__all__ = ["CLDMDFEarlyFusion", "late_fusion_logits", "uniform_weights"]


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
        self.norm = nn.LayerNorm(width, eps=config.layer_norm_eps)
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
