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
"""The losses of CL-DMDF: pure functions, unit-tested against values computed by hand (docs/methods.md).

This file travels to the Hub as remote code with the modeling file.
"""

from typing import Optional

import torch
import torch.nn.functional as F

__all__ = ["entity_centroid_loss", "task_loss"]


def entity_centroid_loss(
    projections: torch.Tensor,
    modality_mask: torch.Tensor,
    temperature: float,
    leave_one_out: bool = True,
    labels: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Entity-centroid InfoNCE (docs/methods.md section 1).

    Each present projection `p[b, m]` is pulled towards the centroid of its own entity and pushed from the centroids
    of the other entities of the batch. With `leave_one_out` the centroid seen from modality m is the normalised sum
    of the *other* present modalities of the row, so a row with one present modality gives no anchor. With `labels`,
    the positives are the centroids of every entity with the same label (supervised contrastive).

    Args:
        projections (`torch.Tensor` of shape `(B, M, P)`): projected tokens (normalised here).
        modality_mask (`torch.BoolTensor` of shape `(B, M)`): True = present.
        temperature (`float`): τ.
        leave_one_out (`bool`): see above.
        labels (`torch.LongTensor` of shape `(B,)`, *optional*): enables supervised centroids.

    Returns:
        `(loss, num_anchors)`: the mean loss over valid anchors (exactly 0 when there is none) and their count.
    """
    num_modalities = projections.shape[1]
    mask = modality_mask.bool()
    # fp32 for the similarity logits: at τ = 0.1 bf16 rounding of p.k would move the loss visibly.
    p = F.normalize(projections.float(), dim=-1) * mask.unsqueeze(-1)  # (B, M, P), exact zeros where missing
    total = p.sum(dim=1)  # (B, P)
    count = mask.sum(dim=1)  # (B,)
    if leave_one_out:
        centroids = F.normalize(total.unsqueeze(1) - p, dim=-1)  # (B, M, P): k[b, m] leaves m out
        defined = (count.unsqueeze(1) - mask.long()) >= 1  # (B, M)
    else:
        centroids = F.normalize(total, dim=-1).unsqueeze(1).expand(-1, num_modalities, -1)
        defined = (count >= 1).unsqueeze(1).expand(-1, num_modalities)

    logits = torch.einsum("bmp,cmp->mbc", p, centroids) / temperature  # (M, B anchors, B candidates)
    candidate_ok = defined.t().unsqueeze(1)  # (M, 1, B)
    anchors = (mask & defined).t()  # (M, B)
    # The lowest finite value rather than -inf: it takes no softmax mass all the same, and a 0 times it is 0 where the
    # diagonal below is computed as a product with the identity (ONNX), where -inf x 0 would be NaN.
    logits = logits.masked_fill(~candidate_ok, torch.finfo(logits.dtype).min)
    # Rows that are not anchors are zeroed so that log_softmax never sees an all-masked row (NaN gradients otherwise).
    logits = torch.where(anchors.unsqueeze(-1), logits, torch.zeros_like(logits))
    log_prob = logits.log_softmax(dim=-1)

    if labels is None:
        # The one positive of an anchor is its own entity's centroid: the diagonal (the masked mean over an identity
        # mask, the same value without its (M, B, B) temporaries); rows that are not anchors are zeroed below.
        positive_log_prob = log_prob.diagonal(dim1=1, dim2=2)  # (M, B)
    else:
        positives = (labels.view(-1, 1) == labels.view(1, -1)).unsqueeze(0) & candidate_ok
        positives = positives & anchors.unsqueeze(-1)
        positive_log_prob = log_prob.masked_fill(~positives, 0.0).sum(-1) / positives.sum(-1).clamp(min=1)  # (M, B)

    num_anchors = anchors.sum()
    # Without an anchor the sum is exactly 0 (and its gradients too): no branch, so no device sync and no graph break.
    loss = -(positive_log_prob * anchors).sum() / num_anchors.clamp(min=1)
    return loss, num_anchors


def task_loss(logits: torch.Tensor, labels: torch.Tensor, problem_type: str, reduction: str = "mean") -> torch.Tensor:
    """The supervised loss of `problem_type`, as transformers' sequence-classification heads compute it; with
    `reduction="none"`, one loss per row `(N,)` (multi-label: the mean over the labels), whose mean is that loss."""
    if problem_type == "regression":
        losses = F.mse_loss(logits.squeeze(-1).float(), labels.float().view(-1), reduction="none")
    elif problem_type == "single_label_classification":
        losses = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), labels.view(-1), reduction="none")
    else:
        losses = F.binary_cross_entropy_with_logits(logits.float(), labels.float(), reduction="none").mean(dim=-1)
    return losses.mean() if reduction == "mean" else losses
