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
"""PyTorch CL-DMDF model.

CL-DMDF: A Contrastive Learning-Based Framework for Dynamic Multimodal Data Fusion (Li, Zhang, Han, Ding, Kou; AAAI
2026). The paper's text is not public; this is the reading written down in METHODS.md of this repository:
modality encoders -> learned missing-modality embeddings -> stacked dual (feature x modality) attention -> adaptive
per-row fusion over present modalities, trained with an entity-centroid InfoNCE.

Shapes: B rows, M modalities (sorted names), D `hidden_size`, P `projection_dim`, C labels, L fusion layers.
This file travels to the Hub as remote code: it imports only torch, public transformers APIs and its siblings.
"""

from collections.abc import Mapping
from typing import Any, Optional, Union

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.utils import logging

from .baselines_cldmdf import CLDMDFEarlyFusion, late_fusion_logits, tmc_fusion, tmc_loss, uniform_weights
from .configuration_cldmdf import CLDMDFConfig
from .inputs_cldmdf import ModalityInputs, check_inputs, input_batch_size
from .losses_cldmdf import check_labels, drop_modalities, entity_centroid_loss, task_loss
from .methods_cldmdf import (
    CLDMDFInformationBottleneck,
    augment_view,
    bottleneck_betas,
    derangement,
    disturbance_ratio_tensor,
    gradient_scales,
    modalities_to_disturb,
    scale_gradient,
    swap_modality,
    tuple_infonce_loss,
)
from .modeling_outputs_cldmdf import CLDMDFModelOutput, CLDMDFPreTrainingOutput, CLDMDFSequenceClassifierOutput

# Imported here so that `save_pretrained` copies the pipeline file too (remote code follows relative imports).
from .pipeline_cldmdf import CLDMDF_CUSTOM_PIPELINES

logger = logging.get_logger(__name__)

__all__ = [
    "CLDMDFPreTrainedModel",
    "CLDMDFModel",
    "CLDMDFForSequenceClassification",
    "CLDMDFForPreTraining",
    "CLDMDFModelOutput",
    "CLDMDFSequenceClassifierOutput",
    "CLDMDFPreTrainingOutput",
    "entity_centroid_loss",
]

# Every Auto class a saved CL-DMDF folder should answer to; written into `config.auto_map` on save so that the folder
# loads with `trust_remote_code=True` through any of them, whichever head was saved.
CLDMDF_AUTO_MAP = {
    "AutoConfig": "configuration_cldmdf.CLDMDFConfig",
    "AutoModel": "modeling_cldmdf.CLDMDFModel",
    "AutoModelForSequenceClassification": "modeling_cldmdf.CLDMDFForSequenceClassification",
    "AutoModelForPreTraining": "modeling_cldmdf.CLDMDFForPreTraining",
}

# --------------------------------------------------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------------------------------------------------


class CLDMDFDenseEncoder(nn.Module):
    """`dense` modality: [LayerNorm ->] Linear -> GELU -> Dropout -> Linear to `hidden_size`."""

    def __init__(self, input_dim: int, config: CLDMDFConfig):
        super().__init__()
        self.norm = nn.LayerNorm(input_dim, eps=config.layer_norm_eps) if config.dense_input_norm else nn.Identity()
        self.fc1 = nn.Linear(input_dim, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.fc2 = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, values: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        # (B, dim) -> (B, D). Missing rows are zero-filled first so that NaN/inf placeholders can reach no gradient.
        values = torch.where(present.unsqueeze(-1), values, torch.zeros_like(values))
        return self.fc2(self.dropout(F.gelu(self.fc1(self.norm(values)))))


class CLDMDFBackboneEncoder(nn.Module):
    """`text` / `image` modality: any transformers backbone, pooled, then a Linear to `hidden_size`."""

    def __init__(self, spec: dict, backbone: PreTrainedModel, config: CLDMDFConfig):
        super().__init__()
        self.kind = spec["type"]
        self.pooling = spec["pooling"]
        self.backbone = backbone
        backbone_config = backbone.config
        width = getattr(backbone_config, "hidden_size", None) or getattr(backbone_config, "d_model", None)
        if width is None and getattr(backbone_config, "hidden_sizes", None):
            width = backbone_config.hidden_sizes[-1]
        if width is None:
            raise ValueError(
                f"Cannot tell the output width of backbone {type(backbone).__name__}: its config has no "
                f"`hidden_size`, `d_model` or `hidden_sizes`."
            )
        self.projection = nn.Linear(width, config.hidden_size)
        self.frozen = spec["freeze_backbone"]
        if self.frozen:
            self.backbone.requires_grad_(False)

    def train(self, mode: bool = True) -> "CLDMDFBackboneEncoder":
        super().train(mode)
        if self.frozen:  # a frozen backbone is a fixed function: no dropout, so cached outputs stay exact
            self.backbone.eval()
        return self

    def forward(self, inputs: Union[torch.Tensor, Mapping[str, torch.Tensor]], present: torch.Tensor) -> torch.Tensor:
        if isinstance(inputs, Mapping) and "pooled_output" in inputs:
            # Precomputed pooled backbone outputs (frozen backbones, see `cache_backbone_outputs` in the training
            # script): only the projection runs.
            pooled = inputs["pooled_output"]
            pooled = torch.where(present.unsqueeze(-1), pooled, torch.zeros_like(pooled))
        else:
            pooled = self.backbone_output(inputs, present)
        return self.projection(pooled)

    def backbone_output(self, inputs: Union[torch.Tensor, Mapping[str, torch.Tensor]], present: torch.Tensor):
        """The pooled backbone output `(B, H)` before the projection (what `pooled_output` inputs stand for)."""
        if self.kind == "text":
            input_ids = inputs["input_ids"]
            attention_mask = inputs.get("attention_mask")
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            # Missing rows: token ids 0 attending to the first position only, so no row is fully masked.
            keep = present.unsqueeze(-1)
            first_only = torch.zeros_like(attention_mask)
            first_only[:, 0] = 1
            attention_mask = torch.where(keep, attention_mask, first_only)
            model_inputs = {"input_ids": torch.where(keep, input_ids, torch.zeros_like(input_ids))}
            model_inputs["attention_mask"] = attention_mask
            if "token_type_ids" in inputs:
                model_inputs["token_type_ids"] = torch.where(keep, inputs["token_type_ids"], 0)
            outputs = self.backbone(**model_inputs)
            token_mask = attention_mask
        else:
            pixel_values = inputs["pixel_values"] if isinstance(inputs, Mapping) else inputs
            pixel_values = torch.where(present.view(-1, 1, 1, 1), pixel_values, torch.zeros_like(pixel_values))
            outputs = self.backbone(pixel_values=pixel_values)
            token_mask = None
        return self._pool(outputs, token_mask)

    def _pool(self, outputs: Any, token_mask: Optional[torch.Tensor]) -> torch.Tensor:
        if self.pooling == "pooler":
            pooled = outputs.pooler_output
            return pooled.flatten(1)
        hidden = outputs.last_hidden_state
        if hidden.dim() == 4:  # convolutional backbones: (B, C, H, W)
            return hidden.mean(dim=(2, 3))
        if self.pooling == "cls":
            return hidden[:, 0]
        if token_mask is None:
            return hidden.mean(dim=1)
        weights = token_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


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
        context = context.unsqueeze(1).expand_as(hidden)  # (B, M, D)
        scores = torch.sigmoid(self.fc2(F.gelu(self.fc1(torch.cat([hidden, context], dim=-1)))))  # (B, M, D)
        return self.norm(hidden + hidden * scores), scores


class CLDMDFModalityAttention(nn.Module):
    """
    Modality-level attention: a standard post-norm encoder layer over the M tokens of a row, with missing modalities
    masked as keys (`key_padding_mask = ~mask`), capturing global cross-modal complementarity.
    """

    def __init__(self, config: CLDMDFConfig):
        super().__init__()
        self.attention = nn.MultiheadAttention(
            config.hidden_size, config.num_attention_heads, dropout=config.attention_dropout_prob, batch_first=True
        )
        self.norm1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = nn.Sequential(
            nn.Linear(config.hidden_size, config.intermediate_size),
            nn.GELU(),
            nn.Dropout(config.hidden_dropout_prob),
            nn.Linear(config.intermediate_size, config.hidden_size),
        )
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.norm2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # need_weights=True always: one code path, so returning attentions never changes the numbers.
        attended, weights = self.attention(
            hidden, hidden, hidden, key_padding_mask=~mask, need_weights=True, average_attn_weights=False
        )  # (B, M, D), (B, heads, M, M)
        hidden = self.norm1(hidden + self.dropout(attended))
        hidden = self.norm2(hidden + self.dropout(self.feed_forward(hidden)))
        return hidden, weights


class CLDMDFFusionLayer(nn.Module):
    """One dual-attention layer: feature attention, then modality attention (each can be switched off)."""

    def __init__(self, config: CLDMDFConfig):
        super().__init__()
        self.feature_attention = CLDMDFFeatureAttention(config) if config.use_feature_attention else None
        self.modality_attention = CLDMDFModalityAttention(config) if config.use_modality_attention else None

    def forward(
        self, hidden: torch.Tensor, mask: torch.Tensor, absence: Optional[torch.Tensor] = None
    ) -> tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        feature_scores = modality_scores = None
        if self.feature_attention is not None:
            hidden, feature_scores = self.feature_attention(hidden, row_context(hidden, mask, absence))
        if self.modality_attention is not None:
            hidden, modality_scores = self.modality_attention(hidden, mask)
        return hidden, feature_scores, modality_scores


class CLDMDFAdaptiveFusion(nn.Module):
    """
    Adaptive fusion: gate logits `g[b, m] = v . tanh(U [h[b, m]; c[b]])` (+ γ conf[b, m]), softmax over the present
    modalities of each row; the fused embedding is the weighted sum of the present tokens.
    """

    def __init__(self, config: CLDMDFConfig):
        super().__init__()
        self.mode = config.fusion_mode
        self.confidence_scale = config.fusion_confidence_scale
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
            context = row_context(hidden, mask, absence).unsqueeze(1).expand_as(hidden)
            logits = self.gate_vector(torch.tanh(self.gate(torch.cat([hidden, context], dim=-1)))).squeeze(-1)
            if confidence is not None:
                logits = logits + self.confidence_scale * confidence.to(logits.dtype)
        weights = logits.float().masked_fill(~mask, float("-inf")).softmax(dim=-1)  # (B, M), exact 0 where missing
        fused = (weights.to(hidden.dtype).unsqueeze(-1) * hidden).sum(dim=1)  # (B, D)
        return fused, weights


def row_context(hidden: torch.Tensor, mask: torch.Tensor, absence: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Global context of each row: mean of its present tokens (+ its absence summary): `(B, M, D) -> (B, D)`."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    context = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
    return context if absence is None else context + absence.to(context.dtype)


def absence_summary(mask: torch.Tensor, missing_embeddings: torch.Tensor) -> torch.Tensor:
    """Mean learned missing embedding of each row's absent modalities, 0 for complete rows: `(B, M) -> (B, D)`."""
    absent = (~mask).to(missing_embeddings.dtype)  # (B, M)
    return absent @ missing_embeddings / absent.sum(dim=1, keepdim=True).clamp(min=1.0)


# --------------------------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------------------------


class CLDMDFPreTrainedModel(PreTrainedModel):
    config_class = CLDMDFConfig
    config: CLDMDFConfig
    base_model_prefix = "cldmdf"
    # The one input that is always a tensor with a batch dimension (`modality_inputs` is a dict); Trainer reads it.
    main_input_name = "modality_mask"
    supports_gradient_checkpointing = False
    _no_split_modules = ["CLDMDFFusionLayer"]
    # Written into the saved config's `custom_pipelines` (the classifier's pipeline; none for the other heads).
    _custom_pipelines: Optional[dict] = None

    @torch.no_grad()
    def _init_weights(self, module: nn.Module):
        super()._init_weights(module)
        if isinstance(module, CLDMDFModel):
            init.normal_(module.missing_embeddings, mean=0.0, std=self.config.initializer_range)
            # Non-persistent buffers are not in the weights file: `from_pretrained` builds them on the meta device, so
            # they are rebuilt here (CAL's contributions all 1 = symmetric training until the next estimate).
            init.ones_(module.modality_contributions)
            init.copy_(module.tuple_ratio_values, disturbance_ratio_tensor(module.tuple_alphas_in_use))
        if isinstance(module, CLDMDFForSequenceClassification):
            init.ones_(module.evidential_kl_weight)
        if isinstance(module, CLDMDFInformationBottleneck):
            # A fresh bottleneck starts nearly deterministic (σ ≈ 0.05) so it does not drown the tokens in noise.
            init.constant_(module.log_variance_bias, module.initial_log_variance)

    def floating_point_ops(self, inputs: dict, exclude_embeddings: bool = True) -> int:
        """
        Forward + backward FLOPs of a training batch, for `Trainer`'s `total_flos`: 6 x rows x the parameter uses of
        one row. The fusion layers, the fusion gate and the contrastive projection run once per modality token (M
        times a row), everything else once; the missing embeddings and unused modules (the projection without the
        contrastive loss) do no multiply-adds. Within a few % of `torch.utils.flop_counter` for dense modalities; it
        leaves out the attention scores (`M^2` per head), TupleInfoNCE's extra views and the sequence length of text
        and image backbones (counted once a row, as if pooled).
        """
        mask = inputs.get("modality_mask")
        rows = mask.shape[0] if mask is not None else self.cldmdf_batch_size(inputs)
        # A layer that reads the inputs themselves computes no gradient for them: 4 FLOPs a multiply-add, not 6.
        input_layers = sum(weight.numel() for weight in self.input_layer_weights())
        return rows * (6 * self.parameter_uses_per_row() - 2 * input_layers)

    def input_layer_weights(self) -> list[nn.Parameter]:
        """The weights of the linear layers that read a dense input directly (no input LayerNorm before them)."""
        if self.config.dense_input_norm:
            return []
        base = getattr(self, self.base_model_prefix, self)
        if base.early_fusion is not None:
            return [base.early_fusion.mlp[0].weight]
        return [encoder.fc1.weight for encoder in base.encoders.values() if isinstance(encoder, CLDMDFDenseEncoder)]

    def parameter_uses_per_row(self) -> int:
        """Multiply-adds per row of the dense path: each parameter counted once per use on one row (see
        `floating_point_ops`)."""
        base = getattr(self, self.base_model_prefix, self)
        tokens = self.config.num_modalities
        per_token = [base.layers, base.fusion]
        per_token.append(base.projection if self.config.contrastive_weight > 0 else None)
        uses = {id(p): tokens for module in per_token if module is not None for p in module.parameters()}
        unused = [base.missing_embeddings, *(base.tuple_projection.parameters() if base.tuple_projection else [])]
        if self.config.contrastive_weight == 0:
            unused += list(base.projection.parameters())
        uses.update({id(p): 0 for p in unused})
        return sum(uses.get(id(p), 1) * p.numel() for p in self.parameters())

    def cldmdf_batch_size(self, inputs: dict) -> int:
        base = getattr(self, self.base_model_prefix, self)
        return base.batch_size(inputs["modality_inputs"])

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        try:
            return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        except SafetensorError as error:
            # safetensors does not say which file is broken; a user with a half-copied checkpoint needs to know.
            raise OSError(
                f"The weights of {str(pretrained_model_name_or_path)!r} are not a valid safetensors file ({error}); "
                f"the file is probably truncated or corrupt. Re-download or re-save the checkpoint."
            ) from error

    def save_pretrained(self, save_directory, *args, **kwargs):
        # Write every Auto class into auto_map (transformers only adds the class being saved).
        self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}), **CLDMDF_AUTO_MAP}
        if self._custom_pipelines:  # `pipeline(model=folder, trust_remote_code=True)` finds its pipeline there
            self.config.custom_pipelines = dict(self._custom_pipelines)
        return super().save_pretrained(save_directory, *args, **kwargs)


def _build_backbone(name: str, spec: dict) -> PreTrainedModel:
    """Builds a text/image backbone from a config dict, or loads it by checkpoint name and records its config."""
    backbone = spec["backbone"]
    if isinstance(backbone, str):
        model = AutoModel.from_pretrained(backbone)
        # Keep the resolved config so a saved CL-DMDF rebuilds the backbone offline, weights coming from our file.
        spec["pretrained_name"] = backbone
        spec["backbone"] = model.config.to_dict()
        return model
    backbone_config = AutoConfig.for_model(**backbone)
    return AutoModel.from_config(backbone_config)


class CLDMDFModel(CLDMDFPreTrainedModel):
    """
    The bare CL-DMDF model: modality encoders, learned missing embeddings, stacked dual attention and adaptive
    fusion. Returns the fused entity embedding, the tokens, fusion weights, attention scores and the entity-centroid
    contrastive loss.
    """

    def __init__(self, config: CLDMDFConfig):
        super().__init__(config)
        self.modality_names = config.modality_names
        early = config.baseline == "early_fusion"
        encoders = {}
        for name in self.modality_names:
            spec = config.modalities[name]
            if spec["type"] != "dense":
                encoders[name] = CLDMDFBackboneEncoder(spec, _build_backbone(name, spec), config)
            elif not early:  # early fusion reads dense features raw
                encoders[name] = CLDMDFDenseEncoder(spec["dim"], config)
        self.encoders = nn.ModuleDict(encoders)
        self.missing_embeddings = nn.Parameter(torch.zeros(config.num_modalities, config.hidden_size))
        num_layers = 0 if config.baseline else config.num_fusion_layers
        self.layers = nn.ModuleList(CLDMDFFusionLayer(config) for _ in range(num_layers))
        self.fusion = None if config.baseline else CLDMDFAdaptiveFusion(config)
        self.early_fusion = None
        if early:
            dims = [
                config.modalities[name]["dim"] if config.modalities[name]["type"] == "dense" else config.hidden_size
                for name in self.modality_names
            ]
            self.early_fusion = CLDMDFEarlyFusion(dims, config)
        self.projection = nn.Sequential(
            nn.Linear(config.hidden_size, config.hidden_size),
            nn.GELU(),
            nn.Linear(config.hidden_size, config.projection_dim),
        )
        self.unimodal_heads = (
            nn.ModuleDict({name: nn.Linear(config.hidden_size, config.num_labels) for name in self.modality_names})
            if config.uses_auxiliary_heads
            else None
        )
        # TupleInfoNCE: a projection g of the fused embedding, and the ratios α_k in use (the training script updates
        # them when `tuple_alphas="auto"`).
        self.tuple_projection = None
        if config.tuple_weight > 0:
            self.tuple_projection = nn.Sequential(
                nn.Linear(config.hidden_size, config.hidden_size),
                nn.GELU(),
                nn.Linear(config.hidden_size, config.projection_dim),
            )
        # TupleInfoNCE's α_k in use. The loss reads which modalities are disturbed as Python ints (they change only
        # when an α_k becomes 0 or stops being 0) and the ratios r_k from a buffer: no device sync, and no
        # torch.compile recompilation each time "auto" updates the values.
        self.register_buffer("tuple_ratio_values", torch.zeros(config.num_modalities), persistent=False)
        self._use_tuple_alphas(self.initial_tuple_alphas())
        # CAL: the contributions W^m (mean 1; all 1 = symmetric training until the training script measures them)
        # and the per-modality information bottlenecks.
        self.register_buffer("modality_contributions", torch.ones(config.num_modalities), persistent=False)
        self.bottlenecks = None
        if config.cal and config.aib_beta > 0 and not config.baseline:
            self.bottlenecks = nn.ModuleDict(
                {name: CLDMDFInformationBottleneck(config.hidden_size) for name in self.modality_names}
            )
        self.post_init()

    def initial_tuple_alphas(self) -> list[float]:
        """The TupleInfoNCE ratios α_k before any update: the config's, or `tuple_alpha_total / M` each for "auto"."""
        alphas = self.config.tuple_alphas
        if alphas == "auto":
            alphas = [self.config.tuple_alpha_total / self.config.num_modalities] * self.config.num_modalities
        return [float(alpha) for alpha in alphas]

    def set_modality_contributions(self, contributions) -> None:
        """Sets CAL's `W^m` (one positive number per modality, sorted names), which drive the gradient scales and
        the bottleneck weights from the next step on."""
        values = torch.as_tensor(contributions, dtype=torch.float32).flatten()
        if values.numel() != self.config.num_modalities or not bool((values > 0).all() & values.isfinite().all()):
            raise ValueError(
                f"CAL contributions must be {self.config.num_modalities} positive finite numbers (modalities "
                f"{self.modality_names}), got {values.tolist()}."
            )
        self.modality_contributions.copy_(values.to(self.modality_contributions.device))

    def set_tuple_alphas(self, alphas) -> None:
        """Sets the TupleInfoNCE ratios α_k in use (one per modality, non-negative, summing to less than 1)."""
        values = torch.as_tensor(alphas, dtype=torch.float32).flatten()
        if values.numel() != self.config.num_modalities or bool((values < 0).any()) or float(values.sum()) >= 1:
            raise ValueError(
                f"TupleInfoNCE ratios must be {self.config.num_modalities} non-negative numbers summing to less than "
                f"1 (modalities {self.modality_names}), got {values.tolist()}."
            )
        self._use_tuple_alphas(values.tolist())

    def _use_tuple_alphas(self, alphas: list[float]) -> None:
        """The α_k in use, the modalities they disturb and their ratios r_k (all three always set together)."""
        self.tuple_alphas_in_use = alphas
        self.disturbed_modalities = modalities_to_disturb(alphas)
        self.tuple_ratio_values.copy_(disturbance_ratio_tensor(alphas).to(self.tuple_ratio_values.device))

    # ---- input checking (inputs_cldmdf.py) -----------------------------------------------------------------------

    def check_inputs(self, modality_inputs: ModalityInputs, modality_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """Validates the inputs and returns the boolean `(B, M)` mask on the model's device (see `check_inputs`)."""
        return check_inputs(self.config, modality_inputs, modality_mask, self.device)

    def batch_size(self, modality_inputs: ModalityInputs) -> int:
        """Checks names, types and ranks of `modality_inputs` and returns the (common) number of rows."""
        return input_batch_size(self.config, modality_inputs)

    # ---- forward pieces ------------------------------------------------------------------------------------------

    def encode_modalities(self, modality_inputs: ModalityInputs, modality_mask: torch.Tensor) -> torch.Tensor:
        """
        Runs every modality encoder: `(B, M, D)`; rows where a modality is missing hold its missing embedding. With
        CAL, the gradient flowing back into encoder m is multiplied by `clamp(W^m, 1, cal_k_max)` (forward unchanged).
        """
        batch_size = modality_mask.shape[0]
        scales = None
        if self.config.cal and torch.is_grad_enabled():
            scales = gradient_scales(self.modality_contributions, self.config.cal_k_max)
        tokens = []
        for index, name in enumerate(self.modality_names):
            present = modality_mask[:, index]
            missing = self.missing_embeddings[index].expand(batch_size, -1)
            if name not in modality_inputs:
                tokens.append(missing)
                continue
            encoded = self.encoders[name](modality_inputs[name], present)  # (B, D)
            if scales is not None:
                encoded = scale_gradient(encoded, scales[index])
            tokens.append(torch.where(present.unsqueeze(-1), encoded, missing.to(encoded.dtype)))
        return torch.stack(tokens, dim=1)  # (B, M, D)

    def bottleneck(
        self, tokens: torch.Tensor, modality_mask: torch.Tensor
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """
        CAL's contribution-aware asymmetric information bottleneck on the present tokens: `(tokens, L_aib)` with
        `L_aib = sum_m β_m mean_{present b} KL_m[b]`, `β_m = aib_beta (1 - W^m / max W)`. Identity without it.
        """
        if self.bottlenecks is None:
            return tokens, None
        compressed, divergences = [], []
        for index, name in enumerate(self.modality_names):
            token, kl = self.bottlenecks[name](tokens[:, index])
            compressed.append(torch.where(modality_mask[:, index].unsqueeze(-1), token, tokens[:, index]))
            divergences.append(kl)
        kl = torch.stack(divergences, dim=1)  # (B, M)
        present = modality_mask.to(kl.dtype)
        mean_kl = (kl * present).sum(dim=0) / present.sum(dim=0).clamp(min=1.0)  # (M,)
        betas = bottleneck_betas(self.modality_contributions, self.config.aib_beta).to(mean_kl.dtype)
        return torch.stack(compressed, dim=1), (betas * mean_kl).sum()

    def tuple_loss(
        self,
        modality_inputs: ModalityInputs,
        modality_mask: torch.Tensor,
        generator: Optional[torch.Generator] = None,
    ) -> torch.Tensor:
        """
        TupleInfoNCE on a batch (METHODS.md section 2): two augmented views of the same rows; view-1 tuples are
        contrasted with their view-2 tuple (positive), the other rows' view-2 tuples (ordinary negatives) and, for
        each modality k with α_k > 0, the view-2 tuple with modality k swapped in from another row (disturbed
        negatives, importance weight `r_k = α_k / α_0`). Needs `config.tuple_weight > 0` (the projection g).
        """
        config = self.config
        if self.tuple_projection is None:
            raise ValueError("`tuple_loss` needs a model built with `tuple_weight > 0` (it owns the projection g).")
        dense = [name for name in self.modality_names if config.modalities[name]["type"] == "dense"]
        projections, views = [], []
        for _ in range(2):
            inputs, mask = augment_view(
                modality_inputs,
                modality_mask,
                dense,
                config.tuple_modality_dropout,
                config.tuple_feature_noise,
                config.tuple_feature_dropout,
                generator,
            )
            tokens, _ = self.bottleneck(self.encode_modalities(inputs, mask), mask)
            fused = self.fuse(tokens, mask, contrastive=False).pooler_output
            projections.append(self.tuple_projection(fused))
            views.append((tokens, mask))
        batch_size = modality_mask.shape[0]
        disturbed = []
        if batch_size >= 2:
            tokens, mask = views[1]
            chosen = self.disturbed_modalities
            if chosen:
                # All disturbed batches go through the fusion in one call (rows are independent there).
                swaps = []
                for k in chosen:
                    permutation = derangement(batch_size, generator, device=tokens.device)
                    swaps.append(swap_modality(tokens, mask, k, permutation))
                stacked = torch.cat([swapped_tokens for swapped_tokens, _ in swaps])
                fused = self.fuse(stacked, mask.repeat(len(chosen), 1), contrastive=False).pooler_output
                d = self.tuple_projection(fused).split(batch_size)
                disturbed = [(d[i], swaps[i][1], self.tuple_ratio_values[k]) for i, k in enumerate(chosen)]
        return tuple_infonce_loss(projections[0], projections[1], config.tuple_temperature, disturbed)

    def fuse(
        self,
        tokens: torch.Tensor,
        modality_mask: torch.Tensor,
        labels: Optional[torch.Tensor] = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        contrastive: bool = True,
    ) -> CLDMDFModelOutput:
        """Dual attention, adaptive fusion and (unless `contrastive=False`) the contrastive loss on already-encoded
        tokens `(B, M, D)`."""
        config = self.config
        unimodal_logits = confidence = None
        if self.unimodal_heads is not None:
            # With aux_weight 0 the heads are probes (trained on detached tokens: the encoders' gradients are those
            # of the model without heads); late fusion's heads are its classifier and train the encoders.
            head_inputs = tokens.detach() if config.auxiliary_heads_are_probes else tokens
            unimodal_logits = torch.stack(
                [self.unimodal_heads[name](head_inputs[:, i]) for i, name in enumerate(self.modality_names)], dim=1
            )  # (B, M, C)
            if config.fusion_use_confidence:
                # A modality's own predictive confidence; detached so the gate cannot inflate it.
                confidence = unimodal_logits.detach().float().softmax(dim=-1).amax(dim=-1)

        absence = absence_summary(modality_mask, self.missing_embeddings) if config.context_sees_missing else None
        hidden = tokens
        all_hidden = [hidden] if output_hidden_states else None
        feature_scores, modality_scores = [], []
        for layer in self.layers:
            hidden, feature, modality = layer(hidden, modality_mask, absence)
            if feature is not None:
                feature_scores.append(feature)
            if modality is not None:
                modality_scores.append(modality)
            if output_hidden_states:
                all_hidden.append(hidden)

        if self.fusion is not None:
            fused, weights = self.fusion(hidden, modality_mask, absence, confidence)
        else:  # baselines: uniform weights over present modalities (late fusion averages its heads with them)
            weights = uniform_weights(modality_mask)
            fused = (weights.to(hidden.dtype).unsqueeze(-1) * hidden).sum(dim=1)

        contrastive_loss = num_anchors = None
        if contrastive and config.contrastive_weight > 0:
            source = tokens if config.contrastive_source == "encoder" else hidden
            supervised = labels if (config.supervised_centroids and labels is not None) else None
            contrastive_loss, num_anchors = entity_centroid_loss(
                self.projection(source),
                modality_mask,
                config.contrastive_temperature,
                leave_one_out=config.centroid_leave_one_out,
                labels=supervised,
            )

        return CLDMDFModelOutput(
            loss=contrastive_loss,
            last_hidden_state=hidden,
            pooler_output=fused,
            modality_weights=weights,
            modality_mask=modality_mask,
            modality_embeddings=tokens,
            contrastive_loss=contrastive_loss,
            num_contrastive_anchors=num_anchors,
            unimodal_logits=unimodal_logits,
            feature_attentions=torch.stack(feature_scores) if output_attentions and feature_scores else None,
            modality_attentions=torch.stack(modality_scores) if output_attentions and modality_scores else None,
            hidden_states=tuple(all_hidden) if output_hidden_states else None,
        )

    def forward(
        self,
        modality_inputs: ModalityInputs,
        modality_mask: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
        return_loss: bool = True,
    ) -> Union[CLDMDFModelOutput, tuple]:
        r"""
        Args:
            modality_inputs (`dict[str, torch.Tensor | dict[str, torch.Tensor]]`):
                One entry per modality name: dense `(B, dim)` floats; text `{"input_ids": (B, L), "attention_mask":
                (B, L)}`; image `(B, 3, H, W)` pixel values. Values under a False mask are ignored (any value, NaN
                included). A modality absent from the dict is missing in every row.
            modality_mask (`torch.BoolTensor` of shape `(B, M)`, *optional*):
                True where the modality (sorted name order) is present. Defaults to "present" for every given modality.
            labels (`torch.LongTensor` of shape `(B,)`, *optional*):
                Only used by the supervised-centroid variant of the contrastive loss.
            output_attentions (`bool`, *optional*):
                Return `feature_attentions` and `modality_attentions`.
            output_hidden_states (`bool`, *optional*):
                Return the tokens after the encoders and each fusion layer.
            return_dict (`bool`, *optional*):
                Return a [`CLDMDFModelOutput`] instead of a plain tuple.
            return_loss (`bool`, *optional*, defaults to `True`):
                Compute the entity-centroid contrastive loss (`loss`, `contrastive_loss`). The classification head
                asks for it only with labels: plain inference skips its `(B, B)` similarities per modality.
        """
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        given_mask = self.check_inputs(modality_inputs, modality_mask)
        mask = drop_modalities(given_mask, self.config.modality_dropout) if self.training else given_mask
        if self.early_fusion is not None:
            outputs = self.early_fuse(modality_inputs, mask)
        else:
            tokens, aib_loss = self.bottleneck(self.encode_modalities(modality_inputs, mask), mask)
            outputs = self.fuse(tokens, mask, labels, output_attentions, output_hidden_states, contrastive=return_loss)
            outputs.aib_loss = aib_loss
        if self.training and self.tuple_projection is not None:
            # The views come from the rows as given (before this pass's modality dropout): their own augmentations.
            outputs.tuple_loss = self.tuple_loss(modality_inputs, given_mask)
        return outputs if return_dict else outputs.to_tuple()

    def early_fuse(self, modality_inputs: ModalityInputs, modality_mask: torch.Tensor) -> CLDMDFModelOutput:
        """The early-fusion baseline: raw dense features and backbone outputs, concatenated with the mask."""
        batch_size = modality_mask.shape[0]
        features = []
        for index, name in enumerate(self.modality_names):
            spec = self.config.modalities[name]
            present = modality_mask[:, index]
            width = spec["dim"] if spec["type"] == "dense" else self.config.hidden_size
            if name not in modality_inputs:
                features.append(self.missing_embeddings.new_zeros(batch_size, width))
            elif spec["type"] == "dense":
                features.append(modality_inputs[name])
            else:
                features.append(self.encoders[name](modality_inputs[name], present))
        fused = self.early_fusion(features, modality_mask)
        return CLDMDFModelOutput(
            pooler_output=fused, modality_weights=uniform_weights(modality_mask), modality_mask=modality_mask
        )


class CLDMDFForSequenceClassification(CLDMDFPreTrainedModel):
    """CL-DMDF with a linear head on the fused entity embedding (classification, multi-label or regression)."""

    _custom_pipelines = CLDMDF_CUSTOM_PIPELINES

    def __init__(self, config: CLDMDFConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.cldmdf = CLDMDFModel(config)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        # TMC: the weight of the KL term of the evidential loss (1 unless the training script anneals it).
        self.register_buffer("evidential_kl_weight", torch.ones(()), persistent=False)
        self.post_init()

    def set_evidential_kl_weight(self, weight: float) -> None:
        """Sets the weight of TMC's KL term (`baseline="tmc"`); the training script anneals it over
        `config.tmc_annealing_epochs` epochs."""
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight < float("inf"):
            raise ValueError(f"The evidential KL weight must be a finite number >= 0, got {weight!r}.")
        self.evidential_kl_weight.fill_(float(weight))

    def forward(
        self,
        modality_inputs: ModalityInputs,
        modality_mask: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
    ) -> Union[CLDMDFSequenceClassifierOutput, tuple]:
        r"""
        Args:
            modality_inputs, modality_mask, output_attentions, output_hidden_states, return_dict:
                See [`CLDMDFModel.forward`].
            labels (`torch.Tensor`, *optional*):
                `(B,)` class ids for single-label classification, `(B, num_labels)` floats in {0, 1} for multi-label,
                `(B,)` floats for regression (`num_labels == 1`). When given, the loss is returned.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        problem_type = None
        if labels is not None:
            problem_type = check_labels(labels, self.config, self.cldmdf.batch_size(modality_inputs))
            if self.config.problem_type is None:
                self.config.problem_type = problem_type
        outputs = self.cldmdf(
            modality_inputs,
            modality_mask=modality_mask,
            labels=labels if problem_type == "single_label_classification" else None,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            return_loss=labels is not None,  # without labels no loss is returned: its contrastive term is not needed
        )
        unimodal_logits, uncertainty = outputs.unimodal_logits, None
        if self.config.baseline == "late_fusion":
            logits = late_fusion_logits(unimodal_logits, outputs.modality_mask)  # (B, C)
        elif self.config.baseline == "tmc":
            view_alphas, alphas, uncertainty = tmc_fusion(unimodal_logits, outputs.modality_mask)
            # Log expected class probabilities of the Dirichlets: softmax gives back alpha / S.
            logits = (alphas / alphas.sum(dim=-1, keepdim=True)).log()
            unimodal_logits = (view_alphas / view_alphas.sum(dim=-1, keepdim=True)).log()
        else:
            logits = self.classifier(self.dropout(outputs.pooler_output))  # (B, C)

        loss = main_loss = aux_loss = None
        if labels is not None:
            if self.config.baseline == "tmc":
                main_loss = tmc_loss(view_alphas, alphas, labels, outputs.modality_mask, self.evidential_kl_weight)
            else:
                main_loss = task_loss(logits, labels, problem_type)
            loss = main_loss
            if outputs.contrastive_loss is not None:
                loss = loss + self.config.contrastive_weight * outputs.contrastive_loss
            if outputs.unimodal_logits is not None and not self.config.heads_are_the_classifier:
                aux_loss = self._auxiliary_loss(outputs.unimodal_logits, labels, outputs.modality_mask, problem_type)
                # Probes (aux_weight 0) learn from their loss at weight 1; it reaches no other parameter.
                loss = loss + (self.config.aux_weight or 1.0) * aux_loss
            if outputs.tuple_loss is not None:
                loss = loss + self.config.tuple_weight * outputs.tuple_loss
            if outputs.aib_loss is not None:
                loss = loss + outputs.aib_loss

        result = CLDMDFSequenceClassifierOutput(
            loss=loss,
            logits=logits,
            task_loss=main_loss,
            contrastive_loss=outputs.contrastive_loss,
            aux_loss=aux_loss,
            pooler_output=outputs.pooler_output,
            modality_weights=outputs.modality_weights,
            modality_mask=outputs.modality_mask,
            unimodal_logits=unimodal_logits,
            feature_attentions=outputs.feature_attentions,
            modality_attentions=outputs.modality_attentions,
            hidden_states=outputs.hidden_states,
            tuple_loss=outputs.tuple_loss,
            aib_loss=outputs.aib_loss,
            uncertainty=uncertainty,
        )
        return result if return_dict else result.to_tuple()

    @staticmethod
    def _auxiliary_loss(
        unimodal_logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, problem_type: str
    ) -> torch.Tensor:
        """Mean task loss of the unimodal heads over present (row, modality) entries: a masked mean, not an index of
        the present entries, whose data-dependent shape would break a torch.compile graph."""
        batch_size, num_modalities = mask.shape
        losses = task_loss(
            unimodal_logits.reshape(batch_size * num_modalities, -1),
            labels.repeat_interleave(num_modalities, dim=0),
            problem_type,
            reduction="none",
        ).view(batch_size, num_modalities)
        present = mask.to(losses.dtype)
        return (losses * present).sum() / present.sum().clamp(min=1.0)


class CLDMDFForPreTraining(CLDMDFPreTrainedModel):
    """
    Self-supervised CL-DMDF for unlabeled, incomplete data: in every row with at least two present modalities, one
    present modality is hidden and reconstructed from the fused embedding of the others (masked-modality modelling:
    the fusion must carry cross-modal information), plus the entity-centroid contrastive loss on what is visible.

    Reconstruction targets: the raw features of a dense modality (the processor standardises them), and the
    stop-gradient encoder token of a text/image modality (its raw input has no fixed-size form). The contrastive term
    keeps those tokens from collapsing.
    """

    def __init__(self, config: CLDMDFConfig):
        super().__init__(config)
        self.cldmdf = CLDMDFModel(config)
        decoders = {}
        for name in config.modality_names:
            spec = config.modalities[name]
            out_dim = spec["dim"] if spec["type"] == "dense" else config.hidden_size
            decoders[name] = nn.Sequential(
                nn.Linear(config.hidden_size, config.hidden_size), nn.GELU(), nn.Linear(config.hidden_size, out_dim)
            )
        self.decoders = nn.ModuleDict(decoders)
        self.post_init()

    @staticmethod
    def choose_hidden_modalities(modality_mask: torch.Tensor, generator: Optional[torch.Generator] = None):
        """One random present modality per row that has at least two present: `(B, M)` bool."""
        scores = torch.rand(modality_mask.shape, generator=generator, device=modality_mask.device)
        scores = scores.masked_fill(~modality_mask, -1.0)
        choice = F.one_hot(scores.argmax(dim=1), modality_mask.shape[1]).bool()
        return choice & (modality_mask.sum(dim=1, keepdim=True) >= 2)

    def forward(
        self,
        modality_inputs: ModalityInputs,
        modality_mask: Optional[torch.Tensor] = None,
        reconstruction_mask: Optional[torch.Tensor] = None,
        return_dict: Optional[bool] = None,
    ) -> Union[CLDMDFPreTrainingOutput, tuple]:
        r"""
        Args:
            modality_inputs, modality_mask, return_dict:
                See [`CLDMDFModel.forward`].
            reconstruction_mask (`torch.BoolTensor` of shape `(B, M)`, *optional*):
                Entries to hide and reconstruct; each must be present and leave its row another present modality.
                Drawn at random (one per row with two or more present modalities) when not given.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        model = self.cldmdf
        given_mask = model.check_inputs(modality_inputs, modality_mask)
        mask = drop_modalities(given_mask, self.config.modality_dropout) if model.training else given_mask
        if reconstruction_mask is None:
            hidden_entries = self.choose_hidden_modalities(mask)
        else:
            hidden_entries = reconstruction_mask.to(mask.device).bool()
            if hidden_entries.shape != mask.shape or (hidden_entries & ~mask).any():
                raise ValueError(
                    f"`reconstruction_mask` must have shape {tuple(mask.shape)} and mark only present modalities."
                )
            if (~(mask & ~hidden_entries).any(dim=1)).any():
                raise ValueError("`reconstruction_mask` hides every present modality of some row; keep one visible.")
        visible = mask & ~hidden_entries

        encoded = model.encode_modalities(modality_inputs, mask)  # targets need the hidden modalities' tokens
        tokens = torch.where(visible.unsqueeze(-1), encoded, model.missing_embeddings.unsqueeze(0).to(encoded.dtype))
        tokens, aib_loss = model.bottleneck(tokens, visible)
        outputs = model.fuse(tokens, visible)

        squared_errors = []
        for index, name in enumerate(model.modality_names):
            rows = hidden_entries[:, index]
            if not rows.any():
                continue
            prediction = self.decoders[name](outputs.pooler_output[rows])
            if self.config.modalities[name]["type"] == "dense":
                target = modality_inputs[name][rows]
            else:
                target = encoded[rows, index].detach()
            squared_errors.append(((prediction.float() - target.float()) ** 2).mean(dim=-1))
        if squared_errors:
            reconstruction_loss = torch.cat(squared_errors).mean()
        else:
            reconstruction_loss = outputs.pooler_output.sum() * 0.0

        loss = self.config.reconstruction_weight * reconstruction_loss
        if outputs.contrastive_loss is not None:
            loss = loss + self.config.contrastive_weight * outputs.contrastive_loss
        tuple_loss = None
        if model.tuple_projection is not None:  # the TupleInfoNCE objective sees the whole (incomplete) rows
            tuple_loss = model.tuple_loss(modality_inputs, given_mask)
            loss = loss + self.config.tuple_weight * tuple_loss
        if aib_loss is not None:
            loss = loss + aib_loss
        result = CLDMDFPreTrainingOutput(
            loss=loss,
            reconstruction_loss=reconstruction_loss,
            contrastive_loss=outputs.contrastive_loss,
            reconstruction_mask=hidden_entries,
            pooler_output=outputs.pooler_output,
            modality_weights=outputs.modality_weights,
            tuple_loss=tuple_loss,
            aib_loss=aib_loss,
        )
        return result if return_dict else result.to_tuple()
