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
"""The modality encoders of CL-DMDF: one per modality, each mapping its inputs to a `hidden_size` token.

A dense modality gets an MLP (`CLDMDFDenseEncoder`), a bag-of-words text modality an `EmbeddingBag`
(`text_encoder_cldmdf.py`), an image modality without a backbone the small CNN (`image_encoder_cldmdf.py`), a text or
image modality with a backbone any transformers model, pooled and projected (`CLDMDFBackboneEncoder`);
`build_encoder` picks the one a spec asks for. Also here: the dropout every CL-DMDF module uses (`CLDMDFDropout`) and
the variational bottleneck that can follow each encoder (`CLDMDFTokenBottleneck`).

Shapes: B rows, D `hidden_size`. This file travels to the Hub as remote code with `modeling_cldmdf.py` (which imports
it): it imports only torch, public transformers APIs and its siblings.
"""

from collections.abc import Mapping
from typing import Any, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel

from .configuration_cldmdf import CLDMDFConfig
from .image_encoder_cldmdf import CLDMDFImageCNNEncoder, is_cnn_image_spec
from .text_encoder_cldmdf import CLDMDFBagOfWordsEncoder
from .vocabulary_cldmdf import is_bag_of_words

__all__ = [
    "CLDMDFBackboneEncoder",
    "CLDMDFDenseEncoder",
    "CLDMDFDropout",
    "CLDMDFTokenBottleneck",
    "build_backbone",
    "build_encoder",
]


class CLDMDFDropout(nn.Dropout):
    """
    `nn.Dropout` (same keep probability `1 - p`, same `1 / (1 - p)` scaling, a module without state) whose mask is
    drawn more cheaply on CPU: a uniform `torch.rand` compared with `p`, where `nn.Dropout` calls `bernoulli_`, whose
    CPU kernel costs about 4x as much for the `(B, M, intermediate_size)` tensors a training step drops (12 % of a
    UCI step). The mask is another function of the seed than `nn.Dropout`'s; other devices keep torch's kernel.
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return input
        if input.device.type != "cpu" or self.p == 1.0 or self.inplace:
            return super().forward(input)
        # float32 uniforms for every dtype: a bf16 uniform has 8 bits, too coarse to compare with p
        keep = torch.rand(input.shape, device=input.device).ge_(self.p)  # (...) 1.0 kept, 0.0 dropped
        return input * keep.to(input.dtype).mul_(1.0 / (1.0 - self.p))


class CLDMDFDenseEncoder(nn.Module):
    """`dense` modality: [LayerNorm ->] Linear -> GELU -> Dropout -> Linear to `hidden_size`."""

    def __init__(self, input_dim: int, config: CLDMDFConfig):
        super().__init__()
        self.norm = nn.LayerNorm(input_dim, eps=config.layer_norm_eps) if config.dense_input_norm else nn.Identity()
        self.fc1 = nn.Linear(input_dim, config.hidden_size)
        self.dropout = CLDMDFDropout(config.hidden_dropout_prob)
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


def build_backbone(spec: dict) -> PreTrainedModel:
    """Builds a text/image backbone from a config dict, or loads it by checkpoint name and records its config."""
    backbone = spec["backbone"]
    if isinstance(backbone, str):
        model = AutoModel.from_pretrained(backbone)
        # Keep the resolved config so a saved model rebuilds the backbone offline, weights coming from its own file.
        spec["pretrained_name"] = backbone
        spec["backbone"] = model.config.to_dict()
        return model
    return AutoModel.from_config(AutoConfig.for_model(**backbone))


def build_encoder(spec: dict, config) -> nn.Module:
    """The encoder of one modality spec: a dense MLP, a bag of words, the small CNN of an image spec without a
    backbone, or a transformers backbone with a projection."""
    if spec["type"] == "dense":
        return CLDMDFDenseEncoder(spec["dim"], config)
    if is_bag_of_words(spec):
        return CLDMDFBagOfWordsEncoder(spec, config)
    if is_cnn_image_spec(spec):
        return CLDMDFImageCNNEncoder(spec, config)
    return CLDMDFBackboneEncoder(spec, build_backbone(spec), config)


class CLDMDFTokenBottleneck(nn.Module):
    """
    A variational bottleneck on one modality's token (`config.token_bottleneck`; CAL's asymmetric information
    bottleneck, docs/methods.md section 3): `μ(h)`, `log σ²(h)`; `h~ = μ + σ ε` in training, `μ` in evaluation; returns
    `KL(N(μ, σ²) || N(0, I))` per row (summed over features). The variance starts small (`log σ²` bias at -6) so a
    fresh bottleneck barely perturbs the tokens.
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
        kl = 0.5 * (mean.float().pow(2) + log_variance.exp() - log_variance - 1.0).sum(dim=-1)  # (B,)
        if self.training:
            return mean + (0.5 * log_variance).exp().to(mean.dtype) * torch.randn_like(mean), kl
        return mean, kl
