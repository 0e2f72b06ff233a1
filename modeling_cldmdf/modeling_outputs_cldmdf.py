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
"""Output classes of the CL-DMDF models (`ModelOutput` dataclasses, every field optional, shapes documented).

This file travels to the Hub as remote code with the modeling file.
"""

from dataclasses import dataclass
from typing import Optional

import torch
from transformers.utils import ModelOutput

__all__ = ["CLDMDFModelOutput", "CLDMDFSequenceClassifierOutput", "CLDMDFPreTrainingOutput"]


@dataclass
class CLDMDFModelOutput(ModelOutput):
    """
    Output of [`CLDMDFModel`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*):
            The entity-centroid contrastive loss (unweighted); present when `config.contrastive_weight > 0`.
        last_hidden_state (`torch.FloatTensor` of shape `(batch_size, num_modalities, hidden_size)`):
            The per-modality tokens after the fusion layers. Tokens of missing modalities are placeholders that no
            other output reads.
        pooler_output (`torch.FloatTensor` of shape `(batch_size, hidden_size)`):
            The fused entity embedding: the `modality_weights`-weighted sum of the present tokens.
        modality_weights (`torch.FloatTensor` of shape `(batch_size, num_modalities)`):
            Adaptive fusion weights; they sum to 1 over present modalities and are exactly 0 on missing ones.
        modality_mask (`torch.BoolTensor` of shape `(batch_size, num_modalities)`):
            The mask that was used (after training-time modality dropout), True = present.
        modality_embeddings (`torch.FloatTensor` of shape `(batch_size, num_modalities, hidden_size)`):
            The unimodal encoder tokens, learned missing embeddings in place of missing modalities.
        contrastive_loss (`torch.FloatTensor` of shape `()`, *optional*):
            Same value as `loss`, named.
        num_contrastive_anchors (`torch.LongTensor` of shape `()`, *optional*):
            Number of (row, modality) anchors that contributed to the contrastive loss; 0 means the loss is exactly
            0 because the batch had no valid anchor (e.g. one present modality per row under leave-one-out).
        unimodal_logits (`torch.FloatTensor` of shape `(batch_size, num_modalities, num_labels)`, *optional*):
            Logits of the auxiliary unimodal heads on the encoder tokens (when enabled).
        feature_attentions (`torch.FloatTensor`, *optional*):
            Feature-attention scores in (0, 1) of shape `(num_fusion_layers, batch_size, num_modalities, hidden_size)`,
            returned when `output_attentions=True`.
        modality_attentions (`torch.FloatTensor`, *optional*):
            Modality-attention probabilities of shape
            `(num_fusion_layers, batch_size, num_heads, num_modalities, num_modalities)` (missing modalities masked as
            keys), returned when `output_attentions=True`.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*):
            The tokens after the encoders and after each fusion layer, when `output_hidden_states=True`.
        attentions (`tuple(torch.FloatTensor)`, *optional*):
            One tensor per fusion layer, the modality-attention probabilities `(batch_size, num_heads, num_modalities,
            num_modalities)` (transformers' per-layer form of `modality_attentions`; the tensors the forward computed
            with, so `retain_grad` on them gets gradients), when `output_attentions=True`.
        bottleneck_kl (`torch.FloatTensor` of shape `(batch_size, num_modalities)`, *optional*):
            With `config.token_bottleneck`: the KL divergence of each token's bottleneck distribution from `N(0, I)`
            (0 where the modality is missing). CAL's objective weights it per modality.
    """

    loss: Optional[torch.FloatTensor] = None
    last_hidden_state: Optional[torch.FloatTensor] = None
    pooler_output: Optional[torch.FloatTensor] = None
    modality_weights: Optional[torch.FloatTensor] = None
    modality_mask: Optional[torch.BoolTensor] = None
    modality_embeddings: Optional[torch.FloatTensor] = None
    contrastive_loss: Optional[torch.FloatTensor] = None
    num_contrastive_anchors: Optional[torch.LongTensor] = None
    unimodal_logits: Optional[torch.FloatTensor] = None
    feature_attentions: Optional[torch.FloatTensor] = None
    modality_attentions: Optional[torch.FloatTensor] = None
    hidden_states: Optional[tuple[torch.FloatTensor, ...]] = None
    attentions: Optional[tuple[torch.FloatTensor, ...]] = None
    bottleneck_kl: Optional[torch.FloatTensor] = None


@dataclass
class CLDMDFSequenceClassifierOutput(ModelOutput):
    """
    Output of [`CLDMDFForSequenceClassification`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` are given):
            `task_loss + contrastive_weight * contrastive_loss + aux_weight * aux_loss + alone_weight * alone_loss`
            (each term when enabled; probes' `aux_loss` counts with weight 1 and reaches only the heads).
        logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
            Classification (or regression when `num_labels == 1`) scores.
        task_loss (`torch.FloatTensor` of shape `()`, *optional*):
            The supervised loss alone (cross-entropy, BCE-with-logits or MSE by `problem_type`).
        contrastive_loss (`torch.FloatTensor` of shape `()`, *optional*):
            The unweighted entity-centroid loss.
        aux_loss (`torch.FloatTensor` of shape `()`, *optional*):
            The mean task loss of the auxiliary unimodal heads over present (row, modality) entries.
        alone_loss (`torch.FloatTensor` of shape `()`, *optional*):
            In training with `config.alone_weight > 0`: the task loss of each row fused with one of its present
            modalities alone.
        pooler_output (`torch.FloatTensor` of shape `(batch_size, hidden_size)`):
            The fused entity embedding.
        modality_weights (`torch.FloatTensor` of shape `(batch_size, num_modalities)`):
            Adaptive fusion weights (0 on missing modalities).
        modality_mask (`torch.BoolTensor` of shape `(batch_size, num_modalities)`):
            The mask that was used.
        unimodal_logits (`torch.FloatTensor` of shape `(batch_size, num_modalities, num_labels)`, *optional*):
            Logits of the auxiliary unimodal heads (when enabled).
        feature_attentions (`torch.FloatTensor`, *optional*):
            See [`CLDMDFModelOutput`].
        modality_attentions (`torch.FloatTensor`, *optional*):
            See [`CLDMDFModelOutput`].
        hidden_states (`tuple(torch.FloatTensor)`, *optional*):
            See [`CLDMDFModelOutput`].
        attentions (`tuple(torch.FloatTensor)`, *optional*):
            See [`CLDMDFModelOutput`].
        bottleneck_kl (`torch.FloatTensor` of shape `(batch_size, num_modalities)`, *optional*):
            See [`CLDMDFModelOutput`].
    """

    loss: Optional[torch.FloatTensor] = None
    logits: Optional[torch.FloatTensor] = None
    task_loss: Optional[torch.FloatTensor] = None
    contrastive_loss: Optional[torch.FloatTensor] = None
    aux_loss: Optional[torch.FloatTensor] = None
    alone_loss: Optional[torch.FloatTensor] = None
    pooler_output: Optional[torch.FloatTensor] = None
    modality_weights: Optional[torch.FloatTensor] = None
    modality_mask: Optional[torch.BoolTensor] = None
    unimodal_logits: Optional[torch.FloatTensor] = None
    feature_attentions: Optional[torch.FloatTensor] = None
    modality_attentions: Optional[torch.FloatTensor] = None
    hidden_states: Optional[tuple[torch.FloatTensor, ...]] = None
    attentions: Optional[tuple[torch.FloatTensor, ...]] = None
    bottleneck_kl: Optional[torch.FloatTensor] = None


@dataclass
class CLDMDFPreTrainingOutput(ModelOutput):
    """
    Output of [`CLDMDFForPreTraining`].

    Args:
        loss (`torch.FloatTensor` of shape `()`):
            `reconstruction_weight * reconstruction_loss + contrastive_weight * contrastive_loss`.
        reconstruction_loss (`torch.FloatTensor` of shape `()`):
            Mean squared error of the hidden modalities predicted from the fused embedding of the visible ones
            (0 when no row had two present modalities).
        contrastive_loss (`torch.FloatTensor` of shape `()`, *optional*):
            The unweighted entity-centroid loss on the visible modalities.
        reconstruction_mask (`torch.BoolTensor` of shape `(batch_size, num_modalities)`):
            Which (row, modality) entries were hidden and reconstructed.
        pooler_output (`torch.FloatTensor` of shape `(batch_size, hidden_size)`):
            The fused embedding of the visible modalities.
        modality_weights (`torch.FloatTensor` of shape `(batch_size, num_modalities)`):
            Adaptive fusion weights over the visible modalities.
        modality_mask (`torch.BoolTensor` of shape `(batch_size, num_modalities)`):
            The visible modalities: present (after training-time modality dropout) and not hidden.
        hidden_states, attentions (`tuple(torch.FloatTensor)`, *optional*):
            See [`CLDMDFModelOutput`] (the fusion of the visible modalities).
        bottleneck_kl (`torch.FloatTensor` of shape `(batch_size, num_modalities)`, *optional*):
            See [`CLDMDFModelOutput`] (on the visible modalities).
    """

    loss: Optional[torch.FloatTensor] = None
    reconstruction_loss: Optional[torch.FloatTensor] = None
    contrastive_loss: Optional[torch.FloatTensor] = None
    reconstruction_mask: Optional[torch.BoolTensor] = None
    pooler_output: Optional[torch.FloatTensor] = None
    modality_weights: Optional[torch.FloatTensor] = None
    modality_mask: Optional[torch.BoolTensor] = None
    hidden_states: Optional[tuple[torch.FloatTensor, ...]] = None
    attentions: Optional[tuple[torch.FloatTensor, ...]] = None
    bottleneck_kl: Optional[torch.FloatTensor] = None
