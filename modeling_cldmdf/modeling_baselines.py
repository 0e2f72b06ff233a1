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
"""The reference fusion methods CL-DMDF is compared with, as small mask-aware models of their own.

They read the same inputs as CL-DMDF (`modality_inputs` + `modality_mask`) through the same modality encoders, so a
comparison is about fusion:

- [`EarlyFusionForSequenceClassification`]: the zero-filled features of every modality (raw dense values; the pooled,
  projected backbone output of text/image modalities) concatenated with the mask indicators, then an MLP.
- [`LateFusionForSequenceClassification`]: one classifier per modality on its encoder output, logits averaged over
  the present modalities.
- [`TMCForSequenceClassification`]: trusted multi-view classification (Han et al., ICLR 2021). The per-modality heads
  give Dirichlet evidence `e_m = softplus(head_m(h_m))`, `alpha_m = e_m + 1`; the subjective opinions (belief
  `b_m = e_m / S_m`, uncertainty `u_m = C / S_m`, `S_m = sum alpha_m`) of the present modalities are combined by the
  reduced Dempster-Shafer rule (`combine_opinions`), and the loss is the evidential cross-entropy plus a KL term, of
  every present modality and of the combination (`evidential_loss`). A missing modality has no evidence: its opinion
  `b = 0, u = 1` is the identity of the combination, so it changes nothing.

This file travels to the Hub as remote code.
"""

import math
from dataclasses import dataclass
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import nn
from transformers.utils import ModelOutput

from .configuration_baselines import EarlyFusionConfig, FusionBaselineConfig, LateFusionConfig, TMCConfig
from .encoders_cldmdf import build_encoder
from .inputs_cldmdf import ModalityInputs, check_labels, input_batch_size
from .losses_cldmdf import task_loss
from .modeling_cldmdf import CLDMDFPreTrainedModel

__all__ = [
    "FusionBaselineOutput",
    "EarlyFusionForSequenceClassification",
    "LateFusionForSequenceClassification",
    "TMCForSequenceClassification",
    "BASELINE_MODELS",
    "combine_opinions",
    "evidential_loss",
    "tmc_fusion",
]

# Smallest combined uncertainty kept: the Dirichlet strength `C / u` of a combination stays finite in float32.
MIN_UNCERTAINTY = 1e-20


@dataclass
class FusionBaselineOutput(ModelOutput):
    """
    Output of the reference fusion models.

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` are given):
            The task loss (TMC: `evidential_loss + kl_loss`, the KL term at full weight).
        logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
            Classification scores (TMC: the log expected class probabilities `log(alpha / S)` of the combination).
        modality_weights (`torch.FloatTensor` of shape `(batch_size, num_modalities)`):
            `1 / #present` on the present modalities, 0 elsewhere: none of these methods weighs modalities per row.
        modality_mask (`torch.BoolTensor` of shape `(batch_size, num_modalities)`):
            The mask that was used (after training-time modality dropout).
        unimodal_logits (`torch.FloatTensor` of shape `(batch_size, num_modalities, num_labels)`, *optional*):
            Late fusion: each modality's classifier; TMC: the log expected class probabilities of each modality's
            Dirichlet (uniform where it is missing).
        uncertainty (`torch.FloatTensor` of shape `(batch_size,)`, *optional*):
            TMC: the uncertainty `u = C / S` in (0, 1] of the combined opinion (1: no evidence).
        evidential_loss (`torch.FloatTensor` of shape `()`, *optional*):
            TMC: the expected cross-entropy part of the loss; a training loop that anneals the KL term computes
            `evidential_loss + weight * kl_loss` from these two.
        kl_loss (`torch.FloatTensor` of shape `()`, *optional*):
            TMC: the KL part of the loss at weight 1.
    """

    loss: Optional[torch.FloatTensor] = None
    logits: Optional[torch.FloatTensor] = None
    modality_weights: Optional[torch.FloatTensor] = None
    modality_mask: Optional[torch.BoolTensor] = None
    unimodal_logits: Optional[torch.FloatTensor] = None
    uncertainty: Optional[torch.FloatTensor] = None
    evidential_loss: Optional[torch.FloatTensor] = None
    kl_loss: Optional[torch.FloatTensor] = None


class FusionBaselinePreTrainedModel(CLDMDFPreTrainedModel):
    config_class = FusionBaselineConfig
    base_model_prefix = "baseline"  # no base model inside: one class per method
    _no_split_modules = []

    def __init__(self, config: FusionBaselineConfig):
        super().__init__(config)
        self._auto_map = {
            "AutoConfig": f"configuration_baselines.{type(config).__name__}",
            "AutoModelForSequenceClassification": f"modeling_baselines.{type(self).__name__}",
        }

    def parameter_uses_per_row(self) -> int:
        """Each parameter is used once a row (see `CLDMDFPreTrainedModel.floating_point_ops`)."""
        return sum(p.numel() for p in self.parameters())

    def problem_type_of(self, labels: Optional[torch.Tensor], modality_inputs: ModalityInputs) -> Optional[str]:
        """Checks `labels` (when given) and returns their problem type, recorded in the config the first time."""
        if labels is None:
            return None
        problem_type = check_labels(labels, self.config, input_batch_size(self.config, modality_inputs))
        if self.config.problem_type is None:
            self.config.problem_type = problem_type
        return problem_type


class EarlyFusionForSequenceClassification(FusionBaselinePreTrainedModel):
    """
    Early fusion: `classifier(MLP([x_1 * m_1; ...; x_M * m_M; m]))` with `x_m` the (zero-filled) features of modality
    m (raw dense values, the projected backbone output of text/image) and `m` the mask indicators.
    """

    config_class = EarlyFusionConfig

    def __init__(self, config: EarlyFusionConfig):
        super().__init__(config)
        specs = [config.modalities[name] for name in config.modality_names]
        # Dense modalities are read raw; text and image go through CL-DMDF's backbone encoders.
        self.encoders = nn.ModuleDict(
            {
                name: build_encoder(spec, config)
                for name, spec in zip(config.modality_names, specs)
                if spec["type"] != "dense"
            }
        )
        width = sum(spec["dim"] if spec["type"] == "dense" else config.hidden_size for spec in specs) + len(specs)
        self.norm = nn.LayerNorm(width, eps=config.layer_norm_eps) if config.dense_input_norm else nn.Identity()
        self.mlp = nn.Sequential(
            nn.Linear(width, config.hidden_size),
            nn.GELU(),
            nn.Dropout(config.hidden_dropout_prob),
            nn.Linear(config.hidden_size, config.hidden_size),
        )
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def input_layer_weights(self) -> list[nn.Parameter]:
        return [] if self.config.dense_input_norm else [self.mlp[0].weight]

    def forward(
        self,
        modality_inputs: ModalityInputs,
        modality_mask: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        return_dict: Optional[bool] = None,
    ) -> Union[FusionBaselineOutput, tuple]:
        r"""
        Args:
            modality_inputs, modality_mask, labels, return_dict: See [`CLDMDFForSequenceClassification.forward`].
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        problem_type = self.problem_type_of(labels, modality_inputs)
        mask = self.modality_mask_of(modality_inputs, modality_mask)  # (B, M)
        features = []
        for index, name in enumerate(self.config.modality_names):
            spec, present = self.config.modalities[name], mask[:, index : index + 1]
            width = spec["dim"] if spec["type"] == "dense" else self.config.hidden_size
            if name not in modality_inputs:
                values = mask.new_zeros(mask.shape[0], width, dtype=self.dtype)
            elif spec["type"] == "dense":
                values = modality_inputs[name]
            else:
                values = self.encoders[name](modality_inputs[name], present.squeeze(1))
            features.append(torch.where(present, values, torch.zeros_like(values)))  # (B, d_m)
        inputs = torch.cat([*features, mask.to(features[0].dtype)], dim=-1)  # (B, sum d_m + M)
        logits = self.classifier(self.dropout(self.mlp(self.norm(inputs))))  # (B, C)
        loss = task_loss(logits, labels, problem_type) if labels is not None else None
        result = FusionBaselineOutput(
            loss=loss, logits=logits, modality_weights=uniform_weights(mask), modality_mask=mask
        )
        return result if return_dict else result.to_tuple()


class PerModalityHeadsModel(FusionBaselinePreTrainedModel):
    """Late fusion and TMC: every modality's encoder, then a linear head of its own; they differ in how they combine
    the heads of the present modalities."""

    def __init__(self, config: FusionBaselineConfig):
        super().__init__(config)
        names = config.modality_names
        self.encoders = nn.ModuleDict({name: build_encoder(config.modalities[name], config) for name in names})
        self.heads = nn.ModuleDict({name: nn.Linear(config.hidden_size, config.num_labels) for name in names})
        self.post_init()

    def encode(self, modality_inputs: ModalityInputs, mask: torch.Tensor) -> torch.Tensor:
        """Every modality's encoder output, zero where it is missing: `(B, M, D)`."""
        tokens = []
        for index, name in enumerate(self.config.modality_names):
            present = mask[:, index]
            if name not in modality_inputs:
                tokens.append(mask.new_zeros(mask.shape[0], self.config.hidden_size, dtype=self.dtype))
                continue
            encoded = self.encoders[name](modality_inputs[name], present)
            tokens.append(torch.where(present.unsqueeze(-1), encoded, torch.zeros_like(encoded)))
        return torch.stack(tokens, dim=1)

    def head_outputs(self, modality_inputs: ModalityInputs, mask: torch.Tensor) -> torch.Tensor:
        """Each modality's head on its encoder output: `(B, M, C)` (a missing modality's head sees zeros)."""
        tokens = self.encode(modality_inputs, mask)  # (B, M, D)
        return torch.stack([self.heads[name](tokens[:, i]) for i, name in enumerate(self.config.modality_names)], 1)


class LateFusionForSequenceClassification(PerModalityHeadsModel):
    """Late fusion: one linear classifier per modality on its encoder output; the logits of the present modalities
    are averaged."""

    config_class = LateFusionConfig

    def forward(
        self,
        modality_inputs: ModalityInputs,
        modality_mask: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        return_dict: Optional[bool] = None,
    ) -> Union[FusionBaselineOutput, tuple]:
        r"""
        Args:
            modality_inputs, modality_mask, labels, return_dict: See [`CLDMDFForSequenceClassification.forward`].
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        problem_type = self.problem_type_of(labels, modality_inputs)
        mask = self.modality_mask_of(modality_inputs, modality_mask)  # (B, M)
        unimodal_logits = self.head_outputs(modality_inputs, mask)  # (B, M, C)
        weights = uniform_weights(mask, unimodal_logits.dtype)  # (B, M)
        logits = (weights.unsqueeze(-1) * unimodal_logits).sum(dim=1)  # (B, C)
        loss = task_loss(logits, labels, problem_type) if labels is not None else None
        result = FusionBaselineOutput(
            loss=loss, logits=logits, modality_weights=weights, modality_mask=mask, unimodal_logits=unimodal_logits
        )
        return result if return_dict else result.to_tuple()


class TMCForSequenceClassification(PerModalityHeadsModel):
    """TMC (Han et al., ICLR 2021): per-modality Dirichlet evidence combined by the reduced Dempster-Shafer rule."""

    config_class = TMCConfig

    def forward(
        self,
        modality_inputs: ModalityInputs,
        modality_mask: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        return_dict: Optional[bool] = None,
    ) -> Union[FusionBaselineOutput, tuple]:
        r"""
        Args:
            modality_inputs, modality_mask, return_dict: See [`CLDMDFForSequenceClassification.forward`].
            labels (`torch.LongTensor` of shape `(B,)`, *optional*): class ids; the loss is returned when given.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if self.problem_type_of(labels, modality_inputs) not in (None, "single_label_classification"):
            raise ValueError(
                f"TMC takes single-label class ids (Dirichlet evidence over classes), got {labels.dtype} labels of "
                f"shape {tuple(labels.shape)}."
            )
        mask = self.modality_mask_of(modality_inputs, modality_mask)  # (B, M)
        view_alphas, alphas, uncertainty = tmc_fusion(self.head_outputs(modality_inputs, mask), mask)
        # Log expected class probabilities of the Dirichlets: softmax gives back alpha / S.
        logits = (alphas / alphas.sum(dim=-1, keepdim=True)).log()
        unimodal_logits = (view_alphas / view_alphas.sum(dim=-1, keepdim=True)).log()
        loss = expected_ce = kl = None
        if labels is not None:
            expected_ce, kl = tmc_loss(view_alphas, alphas, labels, mask)
            loss = expected_ce + kl
        result = FusionBaselineOutput(
            loss=loss,
            logits=logits,
            modality_weights=uniform_weights(mask),
            modality_mask=mask,
            unimodal_logits=unimodal_logits,
            uncertainty=uncertainty,
            evidential_loss=expected_ce,
            kl_loss=kl,
        )
        return result if return_dict else result.to_tuple()


BASELINE_MODELS = {
    "early_fusion": EarlyFusionForSequenceClassification,
    "late_fusion": LateFusionForSequenceClassification,
    "tmc": TMCForSequenceClassification,
}


def uniform_weights(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """`(B, M)` weights 1 / #present on present modalities, exactly 0 elsewhere."""
    weights = mask.to(dtype)
    return weights / weights.sum(dim=1, keepdim=True).clamp(min=1.0)


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


def evidential_loss(alphas: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """
    TMC's per-row loss of Dirichlet parameters `(N, C)` for class ids `(N,)`, in its two parts `(N,)` each: the
    expected cross-entropy under `Dir(alpha)`, `digamma(S) - digamma(alpha_y)`, and `KL(Dir(alpha~) || Dir(1))` with
    `alpha~` the parameters with the true class's evidence removed (it pushes misleading evidence to 0). TMC weighs
    the second with an annealed weight.
    """
    alphas = at_least_float32(alphas)
    one_hot = F.one_hot(labels, alphas.shape[-1]).to(alphas.dtype)
    expected_ce = torch.digamma(alphas.sum(-1)) - torch.digamma((alphas * one_hot).sum(-1))
    misleading = (alphas - 1.0) * (1.0 - one_hot) + 1.0
    return expected_ce, dirichlet_kl_to_uniform(misleading)


def tmc_loss(
    view_alphas: torch.Tensor, alphas: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """TMC's loss, as `(expected cross-entropy, KL)` terms `()`: each the mean over rows of the combination `(B, C)`
    plus, for every modality, the mean over the rows where it is present of its own Dirichlet `(B, M, C)`."""
    batch_size, num_modalities, num_classes = view_alphas.shape
    present = mask.to(torch.promote_types(view_alphas.dtype, torch.float32))
    terms = []
    for combined, per_view in zip(
        evidential_loss(alphas, labels),
        evidential_loss(view_alphas.reshape(-1, num_classes), labels.repeat_interleave(num_modalities)),
    ):
        per_view = per_view.view(batch_size, num_modalities)
        view_means = (per_view * present).sum(dim=0) / present.sum(dim=0).clamp(min=1.0)
        terms.append(combined.mean() + view_means.sum())
    return terms[0], terms[1]


def dirichlet_kl_to_uniform(alphas: torch.Tensor) -> torch.Tensor:
    """`KL(Dir(alpha) || Dir(1, ..., 1))` per row: `(N, C) -> (N,)`."""
    num_classes = alphas.shape[-1]
    strength = alphas.sum(-1)
    log_normaliser = torch.lgamma(strength) - torch.lgamma(alphas).sum(-1) - math.lgamma(num_classes)
    return ((alphas - 1.0) * (torch.digamma(alphas) - torch.digamma(strength).unsqueeze(-1))).sum(-1) + log_normaliser


def at_least_float32(values: torch.Tensor) -> torch.Tensor:
    return values.to(torch.promote_types(values.dtype, torch.float32))
