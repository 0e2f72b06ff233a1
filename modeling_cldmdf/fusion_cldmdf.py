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
"""The fusion of CL-DMDF: stacked dual (feature x modality) attention over the modality tokens of each row, then
adaptive per-row fusion over its present modalities (docs/methods.md).

Shapes: B rows, M modalities (sorted names), D `hidden_size`. This file travels to the Hub as remote code with
`modeling_cldmdf.py` (which imports it): it imports only torch and its siblings.
"""

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer

from .configuration_cldmdf import CLDMDFConfig
from .encoders_cldmdf import CLDMDFDropout

__all__ = [
    "CLDMDFAdaptiveFusion",
    "CLDMDFFeatureAttention",
    "CLDMDFFusionLayer",
    "CLDMDFModalityAttention",
    "absence_summary",
    "row_context",
    "token_and_context_linear",
]


class CLDMDFFeatureAttention(nn.Module):
    """
    Feature-level attention: a score in (0, 1) for each of the D features of each modality token, computed from the
    token and the row's global context; the token is re-weighted feature-wise.

    Inputs:
        hidden (`(B, M, D)`), context (`(B, D)`).
    Returns:
        the re-weighted tokens `(B, M, D)` and the scores `(B, M, D)`.
    """

    def __init__(self, config: CLDMDFConfig):
        super().__init__()
        self.fc1 = nn.Linear(2 * config.hidden_size, config.feature_attention_hidden_size)
        self.fc2 = nn.Linear(config.feature_attention_hidden_size, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pre = token_and_context_linear(self.fc1, hidden, context)  # fc1([h; c]) (B, M, feature_attention_hidden)
        scores = torch.sigmoid(self.fc2(F.gelu(pre)))  # (B, M, D)
        return self.norm(hidden + hidden * scores), scores


class CLDMDFModalityAttention(nn.Module):
    """
    Modality-level attention: a standard post-norm encoder layer over the M tokens of a row, with missing modalities
    masked as keys (`key_padding_mask = ~mask`), capturing global cross-modal complementarity.
    """

    def __init__(self, config: CLDMDFConfig):
        super().__init__()
        self.config = config  # `_attn_implementation` is read at each call: `set_attn_implementation` switches it
        # Holds the projections (its parameters and their initialisation; `self_attention` computes with them).
        self.attention = nn.MultiheadAttention(
            config.hidden_size, config.num_attention_heads, dropout=config.attention_dropout_prob, batch_first=True
        )
        self.attention_dropout = CLDMDFDropout(config.attention_dropout_prob)
        self.norm1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = nn.Sequential(
            nn.Linear(config.hidden_size, config.intermediate_size),
            nn.GELU(),
            CLDMDFDropout(config.hidden_dropout_prob),
            nn.Linear(config.intermediate_size, config.hidden_size),
        )
        self.dropout = CLDMDFDropout(config.hidden_dropout_prob)
        self.norm2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def self_attention(
        self, hidden: torch.Tensor, mask: torch.Tensor, need_weights: bool = True
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """`nn.MultiheadAttention(hidden, hidden, hidden, key_padding_mask=~mask, need_weights=True,
        average_attn_weights=False)` written out: the same operations (the same numbers up to float rounding),
        without its argument checks and reshapes (a third of its time at M = 6). The weights come with the output,
        so returning them never changes the numbers. With `config._attn_implementation == "sdpa"` and no weights
        asked for, `F.scaled_dot_product_attention` computes the same attention (weights None)."""
        attention = self.attention
        batch_size, num_tokens, width = hidden.shape
        head_dim = width // attention.num_heads
        qkv = F.linear(hidden, attention.in_proj_weight, attention.in_proj_bias)  # (B, M, 3D)
        qkv = qkv.view(batch_size, num_tokens, 3, attention.num_heads, head_dim).permute(2, 0, 3, 1, 4)
        query, key, value = qkv.unbind(0)  # (B, heads, M, D / heads) each
        if self.config._attn_implementation == "sdpa" and not need_weights:
            dropout = self.attention_dropout.p if self.training else 0.0
            keys = mask.view(batch_size, 1, 1, num_tokens)  # True: a present modality, attended to
            attended = F.scaled_dot_product_attention(query, key, value, attn_mask=keys, dropout_p=dropout)
            return attention.out_proj(attended.transpose(1, 2).reshape(batch_size, num_tokens, width)), None
        # Scores laid out keys first, (B, heads, key, query), and normalised over dim -2: torch's CPU softmax over a
        # last dimension as short as M = 6 takes a slow path (3x the time of the whole softmax over dim -2).
        scores = key @ (query * math.sqrt(1.0 / head_dim)).transpose(-2, -1)  # (B, heads, M keys, M queries)
        scores = scores.masked_fill(~mask.view(batch_size, 1, num_tokens, 1), float("-inf"))
        weights = scores.softmax(dim=-2).transpose(-2, -1)  # (B, heads, M queries, M keys)
        attended = (self.attention_dropout(weights) @ value).transpose(1, 2).reshape(batch_size, num_tokens, width)
        return attention.out_proj(attended), weights

    def forward(
        self, hidden: torch.Tensor, mask: torch.Tensor, need_weights: bool = True
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        attended, weights = self.self_attention(hidden, mask, need_weights)  # (B, M, D), (B, heads, M, M)
        hidden = self.norm1(hidden + self.dropout(attended))
        hidden = self.norm2(hidden + self.dropout(self.feed_forward(hidden)))
        return hidden, weights


class CLDMDFFusionLayer(GradientCheckpointingLayer):
    """One dual-attention layer: feature attention, then modality attention (each can be switched off). With
    `model.gradient_checkpointing_enable()` its activations are recomputed in the backward pass."""

    def __init__(self, config: CLDMDFConfig):
        super().__init__()
        self.feature_attention = CLDMDFFeatureAttention(config) if config.use_feature_attention else None
        self.modality_attention = CLDMDFModalityAttention(config) if config.use_modality_attention else None

    def forward(
        self,
        hidden: torch.Tensor,
        mask: torch.Tensor,
        absence: Optional[torch.Tensor] = None,
        output_attentions: bool = True,
    ) -> tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        feature_scores = modality_scores = None
        if self.feature_attention is not None:
            hidden, feature_scores = self.feature_attention(hidden, row_context(hidden, mask, absence))
        if self.modality_attention is not None:
            hidden, modality_scores = self.modality_attention(hidden, mask, output_attentions)
        return hidden, feature_scores, modality_scores


class CLDMDFAdaptiveFusion(nn.Module):
    """
    Adaptive fusion: gate logits `g[b, m] = v . tanh(U [h[b, m]; c[b]])` (+ conf[b, m] with `fusion_use_confidence`),
    softmax over the present modalities of each row; the fused embedding is the weighted sum of the present tokens.
    """

    def __init__(self, config: CLDMDFConfig):
        super().__init__()
        self.mode = config.fusion_mode
        self.gate = nn.Linear(2 * config.hidden_size, config.hidden_size)
        self.gate_vector = nn.Linear(config.hidden_size, 1, bias=False)

    def forward(
        self,
        hidden: torch.Tensor,
        mask: torch.Tensor,
        absence: Optional[torch.Tensor] = None,
        confidence: Optional[torch.Tensor] = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mode == "mean":
            logits = torch.zeros(mask.shape, dtype=hidden.dtype, device=hidden.device)
        else:
            pre = token_and_context_linear(self.gate, hidden, row_context(hidden, mask, absence))  # U [h; c]
            logits = self.gate_vector(torch.tanh(pre)).squeeze(-1)
            if confidence is not None:
                logits = logits + confidence.to(logits.dtype)
        weights = logits.float().masked_fill(~mask, float("-inf")).softmax(dim=-1)  # (B, M), exact 0 where missing
        fused = (weights.to(hidden.dtype).unsqueeze(-1) * hidden).sum(dim=1)  # (B, D)
        return fused, weights


def row_context(hidden: torch.Tensor, mask: torch.Tensor, absence: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Global context of each row: mean of its present tokens (+ its absence summary): `(B, M, D) -> (B, D)`."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    context = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
    return context if absence is None else context + absence.to(context.dtype)


def token_and_context_linear(linear: nn.Linear, hidden: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """`linear(cat([hidden, context broadcast over M], -1))` for `(B, M, D)` tokens and a `(B, D)` row context,
    without the concatenation: the weight's token half runs on each token, its context half once a row (the same
    sum in another order: equal up to float rounding, and a third fewer multiply-adds for a (2D -> D) layer). The
    halves come from `split`, whose backward writes the weight's gradient in one concatenation (two slices would each
    pad their half with zeros, then add them up: the same numbers in three full-size operations)."""
    token_weight, context_weight = linear.weight.split(hidden.shape[-1], dim=1)
    return F.linear(hidden, token_weight) + F.linear(context, context_weight, linear.bias).unsqueeze(1)


def absence_summary(mask: torch.Tensor, missing_embeddings: torch.Tensor) -> torch.Tensor:
    """Mean learned missing embedding of each row's absent modalities, 0 for complete rows: `(B, M) -> (B, D)`."""
    absent = (~mask).to(missing_embeddings.dtype)  # (B, M)
    return absent @ missing_embeddings / absent.sum(dim=1, keepdim=True).clamp(min=1.0)
