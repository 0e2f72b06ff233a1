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
"""Configurations of the reference fusion methods CL-DMDF is compared with: early fusion, late fusion and TMC.

They share CL-DMDF's modality specs and encoders (so a comparison is about fusion), and nothing else. This file
travels to the Hub as remote code with `modeling_baselines.py`.
"""

import inspect
from typing import Optional

from transformers import PreTrainedConfig

from .configuration_cldmdf import (
    SINGLE_LABEL,
    CLDMDFConfig,
    _check_positive_int,
    _check_range,
    check_problem_type,
    normalize_modalities,
)

__all__ = ["FusionBaselineConfig", "EarlyFusionConfig", "LateFusionConfig", "TMCConfig", "BASELINE_CONFIGS"]


class FusionBaselineConfig(PreTrainedConfig):
    r"""
    The configuration shared by the reference fusion methods ([`EarlyFusionConfig`], [`LateFusionConfig`],
    [`TMCConfig`]): the modalities and CL-DMDF's modality encoders.

    Args:
        modalities (`dict[str, dict]`, *optional*):
            The modalities of an entity, name -> spec, exactly as in [`CLDMDFConfig`].
        hidden_size (`int`, *optional*, defaults to 128):
            Width of the modality encoders' outputs (late fusion, TMC) or of the fusion MLP (early fusion).
        hidden_dropout_prob (`float`, *optional*, defaults to 0.5):
            Dropout in the encoders (and the MLP of early fusion).
        classifier_dropout (`float`, *optional*):
            Dropout before a classifier; defaults to `hidden_dropout_prob`.
        dense_input_norm (`bool`, *optional*, defaults to `False`):
            Whether dense inputs pass a LayerNorm first, as in [`CLDMDFConfig`].
        layer_norm_eps (`float`, *optional*, defaults to 1e-5):
            Epsilon of every LayerNorm.
        initializer_range (`float`, *optional*, defaults to 0.02):
            Standard deviation of the normal initializer of linear layers.
        modality_dropout (`float`, *optional*, defaults to 0.3):
            Training-time probability of dropping each present modality of a row (one is always kept).
    """

    baseline = ""  # the `--baseline` name of the method, set by each subclass
    # Every output but `loss` and `logits`, left out of `Trainer`'s predictions (see `CLDMDFConfig`).
    keys_to_ignore_at_inference = [
        "modality_weights",
        "modality_mask",
        "unimodal_logits",
        "uncertainty",
        "evidential_loss",
        "kl_loss",
    ]

    def __init__(
        self,
        modalities: Optional[dict[str, dict]] = None,
        hidden_size: int = 128,
        hidden_dropout_prob: float = 0.5,
        classifier_dropout: Optional[float] = None,
        dense_input_norm: bool = False,
        layer_norm_eps: float = 1e-5,
        initializer_range: float = 0.02,
        modality_dropout: float = 0.3,
        **kwargs,
    ):
        self.modalities = normalize_modalities(modalities)
        _check_positive_int("hidden_size", hidden_size)
        for name, value in (("hidden_dropout_prob", hidden_dropout_prob), ("modality_dropout", modality_dropout)):
            _check_range(name, value, 0.0, 1.0, high_open=True)
        if classifier_dropout is not None:
            _check_range("classifier_dropout", classifier_dropout, 0.0, 1.0, high_open=True)
        _check_range("layer_norm_eps", layer_norm_eps, 0.0, 1.0, low_open=True)
        _check_range("initializer_range", initializer_range, 0.0, 10.0, low_open=True)
        if not isinstance(dense_input_norm, bool):
            raise ValueError(f"`dense_input_norm` must be a bool, got {dense_input_norm!r}.")
        self.hidden_size = hidden_size
        self.hidden_dropout_prob = hidden_dropout_prob
        self.classifier_dropout = classifier_dropout
        self.dense_input_norm = dense_input_norm
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.modality_dropout = modality_dropout
        super().__init__(**kwargs)
        check_problem_type(self)

    @classmethod
    def field_names(cls) -> set[str]:
        """The fields of the reference models' configs (their own `__init__` arguments, `modalities` included)."""
        return set(inspect.signature(FusionBaselineConfig.__init__).parameters) - {"self", "kwargs"}

    modality_names = CLDMDFConfig.modality_names
    num_modalities = CLDMDFConfig.num_modalities
    modality_spec = CLDMDFConfig.modality_spec


class EarlyFusionConfig(FusionBaselineConfig):
    r"""
    Early fusion ([`EarlyFusionForSequenceClassification`]): the zero-filled features of every modality (raw dense
    values; the pooled, projected backbone output of text and image modalities) concatenated with the mask
    indicators, then an MLP of width `hidden_size` and a linear classifier. Arguments: see [`FusionBaselineConfig`].
    """

    model_type = "cldmdf_early_fusion"
    baseline = "early_fusion"

    def __init__(self, **kwargs):  # transformers turns a config class without its own `__init__` into a dataclass
        super().__init__(**kwargs)


class LateFusionConfig(FusionBaselineConfig):
    r"""
    Late fusion ([`LateFusionForSequenceClassification`]): one classifier per modality on its encoder output, logits
    averaged over the present modalities. Arguments: see [`FusionBaselineConfig`].
    """

    model_type = "cldmdf_late_fusion"
    baseline = "late_fusion"

    def __init__(self, **kwargs):  # transformers turns a config class without its own `__init__` into a dataclass
        super().__init__(**kwargs)


class TMCConfig(FusionBaselineConfig):
    r"""
    TMC, trusted multi-view classification (Han et al., ICLR 2021; [`TMCForSequenceClassification`]): one evidence
    head per modality, Dirichlet opinions combined over the present modalities by the reduced Dempster-Shafer rule.
    Single-label classification with at least 2 labels only. Arguments: see [`FusionBaselineConfig`].
    """

    model_type = "cldmdf_tmc"
    baseline = "tmc"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.num_labels < 2 or self.problem_type not in (None, SINGLE_LABEL):
            raise ValueError(
                f"TMC is for single-label classification with at least 2 labels (Dirichlet evidence over classes), "
                f"got num_labels={self.num_labels}, problem_type={self.problem_type!r}."
            )


BASELINE_CONFIGS = {config.baseline: config for config in (EarlyFusionConfig, LateFusionConfig, TMCConfig)}
