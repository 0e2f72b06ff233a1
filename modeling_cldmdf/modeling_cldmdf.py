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
2026). The paper's text is not public; this is the reading written down in docs/methods.md:
modality encoders -> learned missing-modality embeddings -> stacked dual (feature x modality) attention -> adaptive
per-row fusion over present modalities, trained with an entity-centroid InfoNCE.

The forward pass of [`CLDMDFModel`] reads top to bottom in the order the data flows; the heads call it. Its building
blocks live beside this file: the modality encoders in `encoders_cldmdf.py`, the dual attention and the adaptive
fusion in `fusion_cldmdf.py`. Training recipes (TupleInfoNCE, CAL, the budget) live on the training side
(`training/`), reference fusion methods in `modeling_baselines.py`.

Shapes: B rows, M modalities (sorted names), D `hidden_size`, P `projection_dim`, C labels, L fusion layers.
This file travels to the Hub as remote code: it imports only torch, public transformers APIs and its siblings.
"""

import os
import shutil
from typing import Optional, Union

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.utils import logging

from .configuration_cldmdf import CLDMDFConfig

# The building blocks; those this file does not use are imported too, so that they stay importable from here.
from .encoders_cldmdf import (  # noqa: F401
    CLDMDFBackboneEncoder,
    CLDMDFDenseEncoder,
    CLDMDFDropout,
    CLDMDFTokenBottleneck,
    build_backbone,
    build_encoder,
)
from .fusion_cldmdf import (  # noqa: F401
    CLDMDFAdaptiveFusion,
    CLDMDFFeatureAttention,
    CLDMDFFusionLayer,
    CLDMDFModalityAttention,
    absence_summary,
    row_context,
    token_and_context_linear,
)
from .inputs_cldmdf import (
    ModalityInputs,
    check_inputs,
    check_labels,
    drop_modalities,
    input_batch_size,
    keep_one_modality,
)
from .losses_cldmdf import entity_centroid_loss, task_loss
from .modeling_outputs_cldmdf import CLDMDFModelOutput, CLDMDFPreTrainingOutput, CLDMDFSequenceClassifierOutput

# Imported here so that `save_pretrained` copies the pipeline file too (remote code follows relative imports).
from .pipeline_cldmdf import CLDMDF_CUSTOM_PIPELINES
from .text_encoder_cldmdf import CLDMDFBagOfWordsEncoder

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

# The processor's class in `auto_map`, and the files it needs (itself and its sibling imports), copied next to the
# weights on save when they sit beside this file (always in the package; in remote code when they were fetched).
PROCESSOR_AUTO_CLASS = "processing_cldmdf.CLDMDFProcessor"
PROCESSOR_FILES = (
    "processing_cldmdf.py",
    "columns_cldmdf.py",
    "configuration_cldmdf.py",
    "feature_extraction_cldmdf.py",
    "image_processing_cldmdf.py",
    "sub_processors_cldmdf.py",
    "vocabulary_cldmdf.py",
)
_HERE = os.path.dirname(os.path.abspath(__file__))
# The seed of the entries `CLDMDFForPreTraining` hides in evaluation mode when no `reconstruction_mask` is given.
EVALUATION_SEED = 0

# --------------------------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------------------------


class CLDMDFPreTrainedModel(PreTrainedModel):
    config_class = CLDMDFConfig
    config: CLDMDFConfig
    base_model_prefix = "cldmdf"
    # The (B, M) tensor every head takes (a row's modalities are its tokens): `transformers.Trainer` counts
    # `inputs[main_input_name].numel()` for its FLOPs and tokens seen, which `modality_inputs`, a dict, would break.
    main_input_name = "modality_mask"
    supports_gradient_checkpointing = True
    _supports_sdpa = True  # the modality attention: `attn_implementation="eager"` or `"sdpa"`
    _no_split_modules = ["CLDMDFFusionLayer"]
    # Written into the saved config's `custom_pipelines` (the classifier's pipeline; none for the other heads).
    _custom_pipelines: Optional[dict] = None
    _auto_map = CLDMDF_AUTO_MAP

    @torch.no_grad()
    def _init_weights(self, module: nn.Module):
        super()._init_weights(module)
        if isinstance(module, CLDMDFModel):
            init.normal_(module.missing_embeddings, mean=0.0, std=self.config.initializer_range)
        if isinstance(module, nn.Conv2d) and getattr(module, "he_init", False):
            # The CNN image encoder's convolutions feed ReLUs: He initialisation, not the 0.02 normal of transformers.
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if isinstance(module, CLDMDFBagOfWordsEncoder):  # transformers leaves an nn.EmbeddingBag at torch's N(0, 1)
            init.normal_(module.bag.weight, mean=0.0, std=self.config.initializer_range)
            init.zeros_(module.bias)
        if isinstance(module, CLDMDFTokenBottleneck):
            # A fresh bottleneck starts nearly deterministic (σ ≈ 0.05) so it does not drown the tokens in noise.
            init.constant_(module.log_variance_bias, module.initial_log_variance)

    def modality_mask_of(self, modality_inputs: ModalityInputs, modality_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """The `(B, M)` bool mask a forward fuses under: the inputs checked (`check_inputs`; every given modality
        present when no mask is given), then, in training mode, each present entry dropped with
        `config.modality_dropout` (one kept per row)."""
        mask = check_inputs(self.config, modality_inputs, modality_mask, self.device)
        return drop_modalities(mask, self.config.modality_dropout) if self.training else mask

    def floating_point_ops(self, inputs: dict, exclude_embeddings: bool = True) -> int:
        """
        Forward + backward FLOPs of a training batch, for `Trainer`'s `total_flos`: 6 x rows x the parameter uses of
        one row (`parameter_uses_per_row`). A layer that reads the inputs themselves computes no gradient for them:
        4 FLOPs a multiply-add there, not 6. Within a few % of `torch.utils.flop_counter` for dense modalities; it
        leaves out the attention scores (`M^2` per head) and the sequence length of text and image backbones (counted
        once a row, as if pooled).
        """
        mask = inputs.get("modality_mask")
        rows = mask.shape[0] if mask is not None else input_batch_size(self.config, inputs["modality_inputs"])
        input_layers = sum(weight.numel() for weight in self.input_layer_weights())
        return rows * (6 * self.parameter_uses_per_row() - 2 * input_layers)

    def input_layer_weights(self) -> list[nn.Parameter]:
        """The weights of the linear layers that read a dense input directly (no input LayerNorm before them)."""
        if self.config.dense_input_norm:
            return []
        encoders = getattr(self, self.base_model_prefix, self).encoders.values()
        return [encoder.fc1.weight for encoder in encoders if isinstance(encoder, CLDMDFDenseEncoder)]

    def parameter_uses_per_row(self) -> int:
        """Multiply-adds per row: the fusion layers, the fusion gate and the contrastive projection run once per
        modality token (M times a row), except the context half of the layers that read `[token; row context]`
        (`token_and_context_linear`: once a row); the missing embeddings do none, everything else runs once. A
        classifier trained with `alone_weight` runs the fusion and the classifier a second time (the alone pass)."""
        base = getattr(self, self.base_model_prefix, self)
        num_modalities = self.config.num_modalities
        contrastive = self.config.contrastive_weight > 0
        passes = 2 if self.config.alone_weight > 0 and hasattr(self, "classifier") else 1
        per_token = (base.layers, base.fusion)
        uses = {id(p): passes * num_modalities for module in per_token for p in module.parameters()}
        uses.update({id(p): num_modalities if contrastive else 0 for p in base.projection.parameters()})
        uses.update({id(p): passes for p in getattr(self, "classifier", nn.Identity()).parameters()})
        uses[id(base.missing_embeddings)] = 0
        total = sum(uses.get(id(p), 1) * p.numel() for p in self.parameters())
        context_halves = [layer.feature_attention.fc1 for layer in base.layers if layer.feature_attention is not None]
        if base.fusion.mode != "mean":
            context_halves.append(base.fusion.gate)
        context_weights = sum(linear.weight[:, self.config.hidden_size :].numel() for linear in context_halves)
        return total - passes * (num_modalities - 1) * context_weights

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
        self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}), **self._auto_map}
        # The processor's class too, with its file: in a folder whose processor_config.json is missing,
        # `AutoProcessor.from_pretrained(folder, trust_remote_code=True)` then reaches the processor's own
        # `from_pretrained`, which says that the file is missing and where, instead of transformers' generic
        # "Unrecognized processing class".
        processor_files = [os.path.join(_HERE, name) for name in PROCESSOR_FILES]
        if all(os.path.isfile(path) for path in processor_files):
            self.config.auto_map.setdefault("AutoProcessor", PROCESSOR_AUTO_CLASS)
        if self._custom_pipelines:  # `pipeline(model=folder, trust_remote_code=True)` finds its pipeline there
            self.config.custom_pipelines = dict(self._custom_pipelines)
        saved = super().save_pretrained(save_directory, *args, **kwargs)
        if "AutoProcessor" in self.config.auto_map and os.path.isdir(save_directory):
            for path in processor_files:
                target = os.path.join(save_directory, os.path.basename(path))
                if not os.path.exists(target):
                    shutil.copyfile(path, target)
        return saved


class CLDMDFModel(CLDMDFPreTrainedModel):
    """
    The bare CL-DMDF model: modality encoders, learned missing embeddings, stacked dual attention and adaptive
    fusion. Returns the fused entity embedding, the tokens, fusion weights, attention scores and the entity-centroid
    contrastive loss.
    """

    def __init__(self, config: CLDMDFConfig):
        super().__init__(config)
        self.modality_names = config.modality_names
        self.encoders = nn.ModuleDict(
            {name: build_encoder(config.modalities[name], config) for name in self.modality_names}
        )
        self.missing_embeddings = nn.Parameter(torch.zeros(config.num_modalities, config.hidden_size))
        self.bottlenecks = None
        if config.token_bottleneck:
            self.bottlenecks = nn.ModuleDict(
                {name: CLDMDFTokenBottleneck(config.hidden_size) for name in self.modality_names}
            )
        self.unimodal_heads = None
        if config.uses_auxiliary_heads:
            self.unimodal_heads = nn.ModuleDict(
                {name: nn.Linear(config.hidden_size, config.num_labels) for name in self.modality_names}
            )
        self.layers = nn.ModuleList(CLDMDFFusionLayer(config) for _ in range(config.num_fusion_layers))
        self.fusion = CLDMDFAdaptiveFusion(config)
        self.projection = nn.Sequential(
            nn.Linear(config.hidden_size, config.hidden_size),
            nn.GELU(),
            nn.Linear(config.hidden_size, config.projection_dim),
        )
        self.post_init()

    def embed_modalities(
        self, modality_inputs: ModalityInputs, modality_mask: torch.Tensor
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """
        The modality tokens `(B, M, D)`: each encoder's output where its modality is present, its learned missing
        embedding elsewhere; then the token bottleneck (`config.token_bottleneck`), whose KL `(B, M)` comes second
        (None without it). What [`CLDMDFModel.forward`] fuses; also its `modality_embeddings` argument.
        """
        if self.bottlenecks is None and self._all_dense_given(modality_inputs):
            return self._embed_dense(modality_inputs, modality_mask), None
        batch_size = modality_mask.shape[0]
        tokens = []
        for index, name in enumerate(self.modality_names):
            present = modality_mask[:, index]  # (B,)
            missing = self.missing_embeddings[index].expand(batch_size, -1)  # (B, D)
            if name not in modality_inputs:
                tokens.append(missing)
                continue
            encoded = self.encoders[name](modality_inputs[name], present)  # (B, D)
            tokens.append(torch.where(present.unsqueeze(-1), encoded, missing.to(encoded.dtype)))
        if self.bottlenecks is None:
            return torch.stack(tokens, dim=1), None
        compressed, divergences = [], []
        for index, name in enumerate(self.modality_names):
            present = modality_mask[:, index]
            token, kl = self.bottlenecks[name](tokens[index])
            compressed.append(torch.where(present.unsqueeze(-1), token, tokens[index]))
            divergences.append(kl * present)
        return torch.stack(compressed, dim=1), torch.stack(divergences, dim=1)

    def _all_dense_given(self, modality_inputs: ModalityInputs) -> bool:
        """Every modality dense and given, and no encoder hooked: the batched path does not call the encoders'
        `forward`, so forward hooks on them (CAL's gradient scaling, a user's probe) need the loop over encoders."""
        return all(
            name in modality_inputs
            and isinstance(self.encoders[name], CLDMDFDenseEncoder)
            and not (self.encoders[name]._forward_hooks or self.encoders[name]._forward_pre_hooks)
            for name in self.modality_names
        )

    def _embed_dense(self, modality_inputs: ModalityInputs, modality_mask: torch.Tensor) -> torch.Tensor:
        """`embed_modalities` when every modality is dense and given: each encoder's first layer on its own input,
        then the activation, the dropout and the second layers of all M encoders at once (one batched matmul over
        their stacked weights), where the loop over encoders runs M times as many small operations (a quarter of the
        encoders' time on UCI's six). The same layers and weights: in eval mode the same numbers bit for bit on CPU;
        in training the dropout mask is drawn for the M tokens at once."""
        encoders = [self.encoders[name] for name in self.modality_names]
        first = []
        for index, (name, encoder) in enumerate(zip(self.modality_names, encoders)):
            values = modality_inputs[name]
            # Missing rows are zero-filled first so that NaN/inf placeholders can reach no gradient.
            values = torch.where(modality_mask[:, index].unsqueeze(-1), values, torch.zeros_like(values))
            first.append(encoder.fc1(encoder.norm(values)))
        hidden = encoders[0].dropout(F.gelu(torch.stack(first)))  # (M, B, D)
        weight = torch.stack([encoder.fc2.weight for encoder in encoders]).transpose(1, 2)  # (M, D, D)
        bias = torch.stack([encoder.fc2.bias for encoder in encoders]).unsqueeze(1)  # (M, 1, D)
        encoded = torch.baddbmm(bias, hidden, weight).transpose(0, 1)  # (B, M, D)
        missing = self.missing_embeddings.unsqueeze(0).to(encoded.dtype)  # (1, M, D)
        return torch.where(modality_mask.unsqueeze(-1), encoded, missing)

    def forward(
        self,
        modality_inputs: Optional[ModalityInputs] = None,
        modality_mask: Optional[torch.Tensor] = None,
        modality_embeddings: Optional[torch.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
        return_loss: bool = False,
    ) -> Union[CLDMDFModelOutput, tuple]:
        r"""
        Args:
            modality_inputs (`dict[str, torch.Tensor | dict[str, torch.Tensor]]`):
                One entry per modality name: dense `(B, dim)` floats; text `{"input_ids": (B, L), "attention_mask":
                (B, L)}`; image `(B, 3, H, W)` pixel values. Values under a False mask are ignored (any value, NaN
                included). A modality absent from the dict is missing in every row.
            modality_mask (`torch.BoolTensor` of shape `(B, M)`, *optional*):
                True where the modality (sorted name order) is present. Defaults to "present" for every given modality.
                In training mode each present entry is dropped with `config.modality_dropout` first.
            modality_embeddings (`torch.FloatTensor` of shape `(B, M, D)`, *optional*):
                Tokens from [`CLDMDFModel.embed_modalities`] to fuse instead of `modality_inputs` (like
                `inputs_embeds` in transformers; TupleInfoNCE fuses tuples with a modality swapped in from another
                row). They are fused under `modality_mask` exactly as given: no modality dropout.
            output_attentions (`bool`, *optional*):
                Return `feature_attentions` and `modality_attentions`.
            output_hidden_states (`bool`, *optional*):
                Return the tokens after the encoders and each fusion layer.
            return_dict (`bool`, *optional*):
                Return a [`CLDMDFModelOutput`] instead of a plain tuple.
            return_loss (`bool`, *optional*, defaults to `False`):
                Compute the entity-centroid contrastive loss (`loss`, `contrastive_loss`), as `CLIPModel` does when
                asked. The classification head asks for it only with labels, the pre-training head always: plain
                inference skips its `(B, B)` similarities per modality, and the first output is `last_hidden_state`.
        """
        config = self.config
        output_attentions = output_attentions if output_attentions is not None else config.output_attentions
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else config.return_dict

        # 1. Which modalities each row has: (B, M) bool, minus training-time modality dropout.
        bottleneck_kl = None
        if modality_embeddings is None:
            mask = self.modality_mask_of(modality_inputs, modality_mask)
            # 2. Modality tokens: encoders where present, learned missing embeddings elsewhere. (B, M, D)
            tokens, bottleneck_kl = self.embed_modalities(modality_inputs, mask)
        elif modality_mask is None:
            raise ValueError("`modality_embeddings` need the `modality_mask` they are to be fused under.")
        else:
            tokens, mask = modality_embeddings, modality_mask.to(modality_embeddings.device).bool()

        # 3. Unimodal heads on the tokens (probes on detached tokens when aux_weight is 0). (B, M, C)
        unimodal_logits = confidence = None
        if self.unimodal_heads is not None:
            head_inputs = tokens.detach() if config.aux_weight == 0 else tokens
            unimodal_logits = torch.stack(
                [self.unimodal_heads[name](head_inputs[:, i]) for i, name in enumerate(self.modality_names)], dim=1
            )
            if config.fusion_use_confidence:  # a modality's own confidence; detached so the gate cannot inflate it
                confidence = unimodal_logits.detach().float().softmax(dim=-1).amax(dim=-1)  # (B, M)

        # 4. Dual attention: feature re-weighting and cross-modal self-attention, L times. (B, M, D)
        absence = absence_summary(mask, self.missing_embeddings) if config.context_sees_missing else None  # (B, D)
        hidden = tokens
        all_hidden = [hidden] if output_hidden_states else None
        feature_scores, modality_scores = [], []
        for layer in self.layers:
            hidden, feature, modality = layer(hidden, mask, absence, output_attentions=output_attentions)
            feature_scores += [feature] if feature is not None else []
            modality_scores += [modality] if modality is not None else []
            if output_hidden_states:
                all_hidden.append(hidden)

        # 5. Adaptive fusion over the present modalities of each row. (B, D), weights (B, M)
        fused, weights = self.fusion(hidden, mask, absence, confidence)

        # 6. Entity-centroid contrastive loss on the projected encoder tokens. ()
        contrastive_loss = num_anchors = None
        if return_loss and config.contrastive_weight > 0:
            contrastive_loss, num_anchors = entity_centroid_loss(
                self.projection(tokens), mask, config.contrastive_temperature
            )

        outputs = CLDMDFModelOutput(
            loss=contrastive_loss,
            last_hidden_state=hidden,
            pooler_output=fused,
            modality_weights=weights,
            modality_mask=mask,
            modality_embeddings=tokens,
            contrastive_loss=contrastive_loss,
            num_contrastive_anchors=num_anchors,
            unimodal_logits=unimodal_logits,
            feature_attentions=torch.stack(feature_scores) if output_attentions and feature_scores else None,
            modality_attentions=torch.stack(modality_scores) if output_attentions and modality_scores else None,
            hidden_states=tuple(all_hidden) if output_hidden_states else None,
            attentions=tuple(modality_scores) if output_attentions and modality_scores else None,
            bottleneck_kl=bottleneck_kl,
        )
        return outputs if return_dict else outputs.to_tuple()


class CLDMDFForSequenceClassification(CLDMDFPreTrainedModel):
    """CL-DMDF with a linear head on the fused entity embedding (classification, multi-label or regression)."""

    _custom_pipelines = CLDMDF_CUSTOM_PIPELINES

    def __init__(self, config: CLDMDFConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.cldmdf = CLDMDFModel(config)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = CLDMDFDropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

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
            problem_type = check_labels(labels, self.config, input_batch_size(self.config, modality_inputs))
            if self.config.problem_type is None:
                self.config.problem_type = problem_type
        outputs = self.cldmdf(
            modality_inputs,
            modality_mask=modality_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            return_loss=labels is not None,  # without labels no loss is returned: its contrastive term is not needed
        )
        logits = self.classifier(self.dropout(outputs.pooler_output))  # (B, C)

        loss = main_loss = aux_loss = alone_loss = None
        if labels is not None:
            main_loss = task_loss(logits, labels, problem_type)
            loss = main_loss
            if self.training and self.config.alone_weight > 0:
                # The row where only one modality arrived: each row fused again with one present modality alone.
                alone = self.cldmdf(
                    modality_embeddings=outputs.modality_embeddings,
                    modality_mask=keep_one_modality(outputs.modality_mask),
                    return_dict=True,
                    return_loss=False,
                )
                alone_logits = self.classifier(self.dropout(alone.pooler_output))  # (B, C)
                alone_loss = task_loss(alone_logits, labels, problem_type)
                loss = loss + self.config.alone_weight * alone_loss
            if outputs.contrastive_loss is not None:
                loss = loss + self.config.contrastive_weight * outputs.contrastive_loss
            if outputs.unimodal_logits is not None:
                # One task loss per (row, modality), averaged over the present entries.
                batch_size, num_modalities = outputs.modality_mask.shape
                per_entry = task_loss(
                    outputs.unimodal_logits.flatten(0, 1),
                    labels.repeat_interleave(num_modalities, dim=0),
                    problem_type,
                    reduction="none",
                ).view(batch_size, num_modalities)
                aux_loss = masked_mean(per_entry, outputs.modality_mask)
                # Probes (aux_weight 0) learn from their loss at weight 1; it reaches no other parameter.
                loss = loss + (self.config.aux_weight or 1.0) * aux_loss

        result = CLDMDFSequenceClassifierOutput(
            loss=loss,
            logits=logits,
            task_loss=main_loss,
            contrastive_loss=outputs.contrastive_loss,
            aux_loss=aux_loss,
            alone_loss=alone_loss,
            pooler_output=outputs.pooler_output,
            modality_weights=outputs.modality_weights,
            modality_mask=outputs.modality_mask,
            unimodal_logits=outputs.unimodal_logits,
            feature_attentions=outputs.feature_attentions,
            modality_attentions=outputs.modality_attentions,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            bottleneck_kl=outputs.bottleneck_kl,
        )
        return result if return_dict else result.to_tuple()


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
        return keep_one_modality(modality_mask, generator) & (modality_mask.sum(dim=1, keepdim=True) >= 2)

    def forward(
        self,
        modality_inputs: ModalityInputs,
        modality_mask: Optional[torch.Tensor] = None,
        reconstruction_mask: Optional[torch.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
    ) -> Union[CLDMDFPreTrainingOutput, tuple]:
        r"""
        Args:
            modality_inputs, modality_mask, output_attentions, output_hidden_states, return_dict:
                See [`CLDMDFModel.forward`].
            reconstruction_mask (`torch.BoolTensor` of shape `(B, M)`, *optional*):
                Entries to hide and reconstruct; each must be present and leave its row another present modality.
                When not given, one per row with two or more present modalities: drawn at random in training mode,
                and in evaluation mode from a generator seeded with `EVALUATION_SEED`, so that the evaluation loss
                of a batch is the same number every time.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        model = self.cldmdf
        mask = self.modality_mask_of(modality_inputs, modality_mask)  # (B, M)
        hidden_entries = self._hidden_entries(mask, reconstruction_mask)  # (B, M)
        visible = mask & ~hidden_entries

        # The encoder tokens of every present modality (the hidden ones are targets), the visible ones fused.
        encoded, bottleneck_kl = model.embed_modalities(modality_inputs, mask)  # (B, M, D)
        tokens = torch.where(visible.unsqueeze(-1), encoded, model.missing_embeddings.unsqueeze(0).to(encoded.dtype))
        outputs = model(
            modality_embeddings=tokens,
            modality_mask=visible,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            return_loss=True,
        )

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
        result = CLDMDFPreTrainingOutput(
            loss=loss,
            reconstruction_loss=reconstruction_loss,
            contrastive_loss=outputs.contrastive_loss,
            reconstruction_mask=hidden_entries,
            pooler_output=outputs.pooler_output,
            modality_weights=outputs.modality_weights,
            modality_mask=visible,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            bottleneck_kl=None if bottleneck_kl is None else bottleneck_kl * visible,
        )
        return result if return_dict else result.to_tuple()

    def _hidden_entries(self, mask: torch.Tensor, reconstruction_mask: Optional[torch.Tensor]) -> torch.Tensor:
        if reconstruction_mask is None:
            generator = None
            if not self.training:  # the same entries for the same batch: an evaluation loss is reproducible
                generator = torch.Generator(mask.device).manual_seed(EVALUATION_SEED)
            return self.choose_hidden_modalities(mask, generator)
        hidden_entries = reconstruction_mask.to(mask.device).bool()
        if hidden_entries.shape != mask.shape or (hidden_entries & ~mask).any():
            raise ValueError(
                f"`reconstruction_mask` must have shape {tuple(mask.shape)} and mark only present modalities."
            )
        if (~(mask & ~hidden_entries).any(dim=1)).any():
            raise ValueError("`reconstruction_mask` hides every present modality of some row; keep one visible.")
        return hidden_entries


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `(B, M)` values over the True entries of `mask`: a masked mean, not an index of the present entries,
    whose data-dependent shape would break a torch.compile graph."""
    present = mask.to(values.dtype)
    return (values * present).sum() / present.sum().clamp(min=1.0)
