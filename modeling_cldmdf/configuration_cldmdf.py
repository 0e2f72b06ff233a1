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
"""CL-DMDF model configuration.

This file travels to the Hub as remote code: it imports only `transformers` and the standard library.
"""

import copy
from collections.abc import Mapping
from typing import Any, Optional

from transformers import PreTrainedConfig

__all__ = ["CLDMDFConfig", "MODALITY_TYPES", "FUSION_MODES", "BASELINES", "check_modality_spec"]

MODALITY_TYPES = ("dense", "text", "image")
FUSION_MODES = ("adaptive", "mean")
POOLING_MODES = ("mean", "cls", "pooler")
SINGLE_LABEL = "single_label_classification"
PROBLEM_TYPES = ("regression", SINGLE_LABEL, "multi_label_classification")
CONTRASTIVE_SOURCES = ("encoder", "fusion")
BASELINES = ("early_fusion", "late_fusion", "tmc")


def check_modality_spec(name: Any, spec: Any) -> dict:
    """Checks what every reader of one `modalities` entry relies on and returns a deep copy of the spec.

    The name is a non-empty string not starting with '_', the spec a dict whose `type` is one of `MODALITY_TYPES`,
    and a dense spec has a positive int `dim`. `CLDMDFConfig` adds the checks and defaults of the backbone keys;
    `CLDMDFProcessor` adds the rules of its sub-folder names and accepts specs without a backbone.

    Raises:
        ValueError: a bad name, type or dense `dim`.
        TypeError: a spec that is not a dict.
    """
    if not isinstance(name, str) or not name or name.startswith("_"):
        raise ValueError(f"`modalities` keys must be non-empty strings not starting with '_', got {name!r}.")
    if not isinstance(spec, Mapping):
        raise TypeError(f"`modalities[{name!r}]` must be a dict like {{'type': 'dense', 'dim': 16}}, got {spec!r}.")
    spec = dict(copy.deepcopy(spec))
    kind = spec.get("type")
    if kind not in MODALITY_TYPES:
        raise ValueError(f"`modalities[{name!r}]['type']` must be one of {MODALITY_TYPES}, got {kind!r}.")
    if kind == "dense":
        dim = spec.get("dim")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(
                f"`modalities[{name!r}]['dim']` must be a positive int for a dense modality, got {dim!r}."
            )
    return spec


def _normalize_modality_spec(name: Any, spec: Any) -> dict:
    """Checks one `modalities` entry of the config and returns a clean copy (types validated, defaults filled in)."""
    spec = check_modality_spec(name, spec)
    kind = spec["type"]
    if kind == "dense":
        unknown = set(spec) - {"type", "dim"}
    else:
        backbone = spec.get("backbone")
        if isinstance(backbone, Mapping):
            if "model_type" not in backbone:
                raise ValueError(
                    f"`modalities[{name!r}]['backbone']` is a config dict without 'model_type'; pass a transformers "
                    f"config dict (e.g. `BertConfig(...).to_dict()`) or a checkpoint name/path."
                )
            spec["backbone"] = dict(backbone)
        elif not isinstance(backbone, str) or not backbone:
            raise ValueError(
                f"`modalities[{name!r}]['backbone']` must be a transformers config dict or a checkpoint name/path for "
                f"a {kind} modality, got {backbone!r}."
            )
        spec.setdefault("pooling", "mean")
        if spec["pooling"] not in POOLING_MODES:
            raise ValueError(
                f"`modalities[{name!r}]['pooling']` must be one of {POOLING_MODES}, got {spec['pooling']!r}."
            )
        spec.setdefault("freeze_backbone", False)
        if not isinstance(spec["freeze_backbone"], bool):
            raise ValueError(
                f"`modalities[{name!r}]['freeze_backbone']` must be a bool, got {spec['freeze_backbone']!r}."
            )
        unknown = set(spec) - {"type", "backbone", "pooling", "freeze_backbone", "pretrained_name"}
    if unknown:
        raise ValueError(
            f"`modalities[{name!r}]` has unknown keys {sorted(unknown)}; see `CLDMDFConfig` for the allowed keys."
        )
    return spec


def _check_range(name: str, value: Any, low: float, high: float, low_open: bool = False, high_open: bool = False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"`{name}` must be a number, got {value!r}.")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise ValueError(f"`{name}` must be in {lo}{low}, {high}{hi}, got {value!r}.")


def _check_positive_int(name: str, value: Any):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}.")


class CLDMDFConfig(PreTrainedConfig):
    r"""
    This is the configuration class to store the configuration of a [`CLDMDFModel`]. It is used to instantiate a
    CL-DMDF model (Contrastive-Learning Dynamic Multimodal Data Fusion, Li et al., AAAI 2026) according to the
    specified arguments, defining the modalities and the fusion architecture.

    Configuration objects inherit from [`PreTrainedConfig`] and can be used to control the model outputs. Read the
    documentation from [`PreTrainedConfig`] for more information.

    Args:
        modalities (`dict[str, dict]`, *optional*):
            The modalities of an entity, name -> spec. Names are used in sorted order everywhere (masks, weights,
            attentions). A spec is one of:
            - `{"type": "dense", "dim": int}`: a fixed-length float vector (tabular or pre-extracted features);
            - `{"type": "text", "backbone": <transformers config dict or checkpoint name/path>}`;
            - `{"type": "image", "backbone": <transformers config dict or checkpoint name/path>}`.
            Text and image specs also accept `"pooling"` (`"mean"` over valid positions, `"cls"` for the first token,
            `"pooler"` for the backbone's `pooler_output`; defaults to `"mean"`) and `"freeze_backbone"` (defaults to
            `False`). A checkpoint name is resolved to its config dict when the model is first built, so a saved
            model reloads offline. Defaults to two dense modalities `{"a": 16, "b": 16}` (for quick experiments).
        hidden_size (`int`, *optional*, defaults to 128):
            Dimension D of the modality tokens and of the fused entity embedding.
        num_fusion_layers (`int`, *optional*, defaults to 2):
            Number of stacked dual-attention (feature attention, then modality attention) layers.
        num_attention_heads (`int`, *optional*, defaults to 4):
            Heads of the modality attention; must divide `hidden_size`.
        intermediate_size (`int`, *optional*, defaults to 256):
            Width of the feed-forward block of each modality-attention layer.
        feature_attention_hidden_size (`int`, *optional*, defaults to 64):
            Width of the feature-attention scorer `sigmoid(W2 gelu(W1 [h; c]))`.
        hidden_dropout_prob (`float`, *optional*, defaults to 0.5):
            Dropout in the modality encoders, the feed-forward blocks and before the classifier. 0.5 had the highest
            accuracy averaged over missing rates 0-0.5 in 5-fold cross-validation on UCI Multiple Features (3 seeds;
            CL-DMDF 98.07 ± 0.18 % against 97.81 ± 0.05 % with 0.3 and 97.66 ± 0.19 % with 0.1; early and late
            fusion did as well or better with it too): `benchmarks/results/cv_uci*.json`.
        attention_dropout_prob (`float`, *optional*, defaults to 0.0):
            Dropout on the modality-attention probabilities.
        dense_input_norm (`bool`, *optional*, defaults to `False`):
            Whether a dense encoder starts with a LayerNorm over its input features. Off by default: the processor
            already standardises each feature with training statistics, and a LayerNorm across the features of a row
            removes what a narrow tabular view says by its overall level (a tumour whose radius, perimeter and area
            are all large). On the development suite's breast-cancer setting (three views of 10 features) it cost 9
            points of validation accuracy. Checkpoints saved before this field existed load with `True`, the encoder
            they were trained with.
        layer_norm_eps (`float`, *optional*, defaults to 1e-5):
            Epsilon of every LayerNorm.
        initializer_range (`float`, *optional*, defaults to 0.02):
            Standard deviation of the normal initializer of linear layers and missing-modality embeddings.
        use_feature_attention (`bool`, *optional*, defaults to `True`):
            Whether each fusion layer re-weights features of each token (ablation switch).
        use_modality_attention (`bool`, *optional*, defaults to `True`):
            Whether each fusion layer runs self-attention across modality tokens (ablation switch).
        context_sees_missing (`bool`, *optional*, defaults to `True`):
            Whether the global context of a row also sees *which* modalities are missing: `c[b]` = mean of the
            present tokens + mean of the learned missing embeddings `e_m` of the absent modalities (nothing is added
            for complete rows). This is how the missing embeddings reach any output (missing tokens are masked as keys
            everywhere); `False` gives the strict present-only context of METHODS.md, where `e_m` cannot learn.
        fusion_mode (`str`, *optional*, defaults to `"adaptive"`):
            `"adaptive"`: per-row softmax of gate logits over present modalities; `"mean"`: uniform weights over
            present modalities (ablation).
        fusion_use_confidence (`bool`, *optional*, defaults to `False`):
            Adds `fusion_confidence_scale * conf[b, m]` to the gate logits, where `conf` is the max softmax
            probability of the auxiliary unimodal head of modality m. Enables the auxiliary heads.
        fusion_confidence_scale (`float`, *optional*, defaults to 1.0):
            The scale γ of the confidence term.
        use_auxiliary_heads (`bool`, *optional*, defaults to `False`):
            Adds one unimodal classifier per modality on its encoder token; their loss is added with `aux_weight`.
        aux_weight (`float`, *optional*, defaults to 0.0):
            Weight of the mean unimodal task loss of the auxiliary heads. With 0, heads that exist (asked for, or
            needed by the confidence gate or CAL) are *probes*: trained on detached tokens, so they give trained
            confidences without changing any other parameter's gradient.
        contrastive_weight (`float`, *optional*, defaults to 0.1):
            Weight λ_ec of the entity-centroid contrastive loss in the total loss (0 disables it).
        contrastive_temperature (`float`, *optional*, defaults to 0.1):
            Temperature τ of the entity-centroid InfoNCE.
        projection_dim (`int`, *optional*, defaults to 64):
            Output dimension of the 2-layer projection head used by the contrastive losses.
        centroid_leave_one_out (`bool`, *optional*, defaults to `True`):
            Whether the centroid seen from modality m leaves m out (each modality learns to agree with the consensus
            of the others; rows with one present modality then give no term).
        supervised_centroids (`bool`, *optional*, defaults to `False`):
            Whether the positives of an anchor are the centroids of all entities with the same label (needs
            single-label classification labels).
        contrastive_source (`str`, *optional*, defaults to `"encoder"`):
            Which tokens are projected for the contrastive loss: `"encoder"` (the unimodal encoder outputs, before
            any cross-modal mixing) or `"fusion"` (the tokens after the fusion layers).
        modality_dropout (`float`, *optional*, defaults to 0.3):
            Training-time probability of dropping each present modality of a row (one is always kept). Ignored in
            evaluation mode.
        reconstruction_weight (`float`, *optional*, defaults to 1.0):
            Weight of the masked-modality reconstruction loss of [`CLDMDFForPreTraining`].
        baseline (`str`, *optional*):
            Replaces CL-DMDF's dual attention and adaptive fusion by a reference method, for comparisons on the same
            data path: `"early_fusion"` (zero-filled modality features concatenated with the mask indicators, then an
            MLP of width `hidden_size`), `"late_fusion"` (one classifier per modality on its encoder token, logits
            averaged over the present modalities) or `"tmc"` (trusted multi-view classification, Han et al., ICLR
            2021: the same per-modality heads give Dirichlet evidence, combined over the present modalities by
            Dempster's rule and trained with the evidential loss; single-label classification only). `None`
            (default) is CL-DMDF.
        tmc_annealing_epochs (`int`, *optional*, defaults to 10):
            With `baseline="tmc"`: the weight of the KL term of the evidential loss grows as `min(1, epoch /
            tmc_annealing_epochs)` (epochs counted from 1; set by the training script). 0: full weight from the
            start. TMC's code anneals over 50 of its 500 epochs; `train_accelerate.py` trains at most 30 by default.
        tuple_weight (`float`, *optional*, defaults to 0.0):
            Weight of the TupleInfoNCE loss (Liu et al., ICCV 2021), computed in training mode on two augmented views
            of each batch; 0 disables it. [`CLDMDFForPreTraining`] adds it to its objective (with
            `reconstruction_weight=0` and `contrastive_weight=0` it is pure TupleInfoNCE pre-training). Not available
            with `baseline="early_fusion"` (no modality tokens to swap).
        tuple_temperature (`float`, *optional*, defaults to 0.1):
            Temperature of TupleInfoNCE.
        tuple_alphas (`list[float]` or `"auto"`, *optional*):
            Share α_k of the negatives that are disturbed in modality k (sorted names); `sum α_k < 1`. Defaults to
            `0.5 / M` each. `"auto"` recomputes them each epoch from the modalities' weakness (training script).
        tuple_alpha_total (`float`, *optional*, defaults to 0.5):
            `sum α_k` used by `tuple_alphas="auto"`.
        tuple_modality_dropout (`float`, *optional*, defaults to 0.2):
            Modality dropout of the two augmented views of TupleInfoNCE.
        tuple_feature_noise (`float`, *optional*, defaults to 0.1):
            Std of the Gaussian noise added to dense features in the augmented views.
        tuple_feature_dropout (`float`, *optional*, defaults to 0.1):
            Feature dropout on dense features in the augmented views.
        cal (`bool`, *optional*, defaults to `False`):
            Contribution-guided asymmetric learning (Xu et al., 2025): per-modality contributions W^m scale the
            gradient reaching each modality encoder (by `clamp(W^m, 1, cal_k_max)`) and set the weights of the
            asymmetric information bottleneck. The contributions are estimated by the training script (every
            `cal_interval` epochs; until then all are 1, which is symmetric training). Not available with
            `baseline="early_fusion"` (no modality encoders for dense inputs).
        cal_lambda (`float`, *optional*, defaults to 0.5):
            Mix λ of information quantity (Shapley value) and confidence in the contribution score.
        cal_temperature (`float`, *optional*, defaults to 1.0):
            Softmax temperature of the contributions.
        cal_k_max (`float`, *optional*, defaults to 2.0):
            Upper bound of the gradient acceleration.
        cal_potential_weight (`float`, *optional*, defaults to 1.0):
            Weight of the confidence increase ("dynamic potential") in D(m).
        cal_interval (`int`, *optional*, defaults to 1):
            Epochs between contribution estimates.
        aib_beta (`float`, *optional*, defaults to 1e-3):
            Scale β of the asymmetric information bottleneck (used when `cal` is on; 0 disables the bottleneck loss).
        classifier_dropout (`float`, *optional*):
            Dropout before the classifier; defaults to `hidden_dropout_prob`.
        num_labels (`int`, *optional*, defaults to 2):
            Number of labels of the classification head (1 for regression).
        problem_type (`str`, *optional*):
            `"regression"`, `"single_label_classification"` or `"multi_label_classification"`; inferred from
            `num_labels` and the labels' dtype when not set, as in transformers.

    Example:

    ```python
    >>> from modeling_cldmdf import CLDMDFConfig, CLDMDFForSequenceClassification

    >>> modalities = {"audio": {"type": "dense", "dim": 40}, "video": {"type": "dense", "dim": 64}}
    >>> config = CLDMDFConfig(modalities=modalities, hidden_size=64, num_labels=3)
    >>> model = CLDMDFForSequenceClassification(config)
    >>> config.modality_names
    ['audio', 'video']
    ```
    """

    model_type = "cldmdf"
    # What `transformers.Trainer` leaves out of evaluation predictions (it reads this from `model.config`): every
    # output of `CLDMDFForSequenceClassification` but `loss` and `logits`, so `EvalPrediction.predictions` are the
    # logits, as `compute_metrics` functions expect. `trainer.evaluate(ignore_keys=[...])` keeps others.
    keys_to_ignore_at_inference = [
        "task_loss",
        "contrastive_loss",
        "aux_loss",
        "pooler_output",
        "modality_weights",
        "modality_mask",
        "unimodal_logits",
        "feature_attentions",
        "modality_attentions",
        "hidden_states",
        "tuple_loss",
        "aib_loss",
        "uncertainty",
    ]

    def __init__(
        self,
        modalities: Optional[dict[str, dict]] = None,
        hidden_size: int = 128,
        num_fusion_layers: int = 2,
        num_attention_heads: int = 4,
        intermediate_size: int = 256,
        feature_attention_hidden_size: int = 64,
        hidden_dropout_prob: float = 0.5,
        attention_dropout_prob: float = 0.0,
        dense_input_norm: bool = False,
        layer_norm_eps: float = 1e-5,
        initializer_range: float = 0.02,
        use_feature_attention: bool = True,
        use_modality_attention: bool = True,
        context_sees_missing: bool = True,
        fusion_mode: str = "adaptive",
        fusion_use_confidence: bool = False,
        fusion_confidence_scale: float = 1.0,
        use_auxiliary_heads: bool = False,
        aux_weight: float = 0.0,
        contrastive_weight: float = 0.1,
        contrastive_temperature: float = 0.1,
        projection_dim: int = 64,
        centroid_leave_one_out: bool = True,
        supervised_centroids: bool = False,
        contrastive_source: str = "encoder",
        modality_dropout: float = 0.3,
        reconstruction_weight: float = 1.0,
        baseline: Optional[str] = None,
        tmc_annealing_epochs: int = 10,
        tuple_weight: float = 0.0,
        tuple_temperature: float = 0.1,
        tuple_alphas: Optional[Any] = None,
        tuple_alpha_total: float = 0.5,
        tuple_modality_dropout: float = 0.2,
        tuple_feature_noise: float = 0.1,
        tuple_feature_dropout: float = 0.1,
        cal: bool = False,
        cal_lambda: float = 0.5,
        cal_temperature: float = 1.0,
        cal_k_max: float = 2.0,
        cal_potential_weight: float = 1.0,
        cal_interval: int = 1,
        aib_beta: float = 1e-3,
        classifier_dropout: Optional[float] = None,
        **kwargs,
    ):
        if modalities is None:
            modalities = {"a": {"type": "dense", "dim": 16}, "b": {"type": "dense", "dim": 16}}
        if not isinstance(modalities, Mapping) or len(modalities) == 0:
            raise ValueError(f"`modalities` must be a non-empty dict name -> spec, got {modalities!r}.")
        self.modalities = {name: _normalize_modality_spec(name, modalities[name]) for name in sorted(modalities)}

        for name, value in (
            ("hidden_size", hidden_size),
            ("num_fusion_layers", num_fusion_layers),
            ("num_attention_heads", num_attention_heads),
            ("intermediate_size", intermediate_size),
            ("feature_attention_hidden_size", feature_attention_hidden_size),
            ("projection_dim", projection_dim),
        ):
            if name == "num_fusion_layers" and value == 0:
                continue  # zero fusion layers is a valid ablation: encoders + fusion only
            _check_positive_int(name, value)
        if hidden_size % num_attention_heads != 0:
            raise ValueError(
                f"`hidden_size` ({hidden_size}) must be divisible by `num_attention_heads` ({num_attention_heads})."
            )
        for name, value in (
            ("hidden_dropout_prob", hidden_dropout_prob),
            ("attention_dropout_prob", attention_dropout_prob),
        ):
            _check_range(name, value, 0.0, 1.0, high_open=True)
        if classifier_dropout is not None:
            _check_range("classifier_dropout", classifier_dropout, 0.0, 1.0, high_open=True)
        _check_range("modality_dropout", modality_dropout, 0.0, 1.0, high_open=True)
        _check_range("layer_norm_eps", layer_norm_eps, 0.0, 1.0, low_open=True)
        _check_range("initializer_range", initializer_range, 0.0, 10.0, low_open=True)
        _check_range("contrastive_temperature", contrastive_temperature, 0.0, 100.0, low_open=True)
        for name, value in (
            ("contrastive_weight", contrastive_weight),
            ("aux_weight", aux_weight),
            ("reconstruction_weight", reconstruction_weight),
            ("fusion_confidence_scale", fusion_confidence_scale),
        ):
            _check_range(name, value, 0.0, float("inf"))
        if fusion_mode not in FUSION_MODES:
            raise ValueError(f"`fusion_mode` must be one of {FUSION_MODES}, got {fusion_mode!r}.")
        if contrastive_source not in CONTRASTIVE_SOURCES:
            raise ValueError(f"`contrastive_source` must be one of {CONTRASTIVE_SOURCES}, got {contrastive_source!r}.")
        if baseline is not None and baseline not in BASELINES:
            raise ValueError(f"`baseline` must be None (CL-DMDF) or one of {BASELINES}, got {baseline!r}.")
        for name, value in (
            ("tuple_weight", tuple_weight),
            ("tuple_alpha_total", tuple_alpha_total),
            ("tuple_feature_noise", tuple_feature_noise),
            ("aib_beta", aib_beta),
            ("cal_potential_weight", cal_potential_weight),
        ):
            _check_range(name, value, 0.0, float("inf"))
        _check_range("tuple_temperature", tuple_temperature, 0.0, 100.0, low_open=True)
        _check_range("cal_temperature", cal_temperature, 0.0, 100.0, low_open=True)
        _check_range("cal_lambda", cal_lambda, 0.0, 1.0)
        _check_range("cal_k_max", cal_k_max, 1.0, float("inf"))
        _check_range("tuple_modality_dropout", tuple_modality_dropout, 0.0, 1.0, high_open=True)
        _check_range("tuple_feature_dropout", tuple_feature_dropout, 0.0, 1.0, high_open=True)
        _check_positive_int("cal_interval", cal_interval)
        num_modalities = len(self.modalities)
        if tuple_alphas is None:
            tuple_alphas = [0.5 / num_modalities] * num_modalities
        if tuple_alphas != "auto":
            if (
                not isinstance(tuple_alphas, (list, tuple))
                or len(tuple_alphas) != num_modalities
                or any(isinstance(a, bool) or not isinstance(a, (int, float)) or a < 0 for a in tuple_alphas)
                or sum(tuple_alphas) >= 1
            ):
                raise ValueError(
                    f"`tuple_alphas` must be 'auto' or {num_modalities} non-negative numbers (one per modality, "
                    f"sorted names) summing to less than 1, got {tuple_alphas!r}."
                )
            tuple_alphas = [float(a) for a in tuple_alphas]
        _check_range("tuple_alpha_total", tuple_alpha_total, 0.0, 1.0, high_open=True)
        for name, value in (
            ("cal", cal),
            ("use_feature_attention", use_feature_attention),
            ("use_modality_attention", use_modality_attention),
            ("context_sees_missing", context_sees_missing),
            ("fusion_use_confidence", fusion_use_confidence),
            ("use_auxiliary_heads", use_auxiliary_heads),
            ("centroid_leave_one_out", centroid_leave_one_out),
            ("supervised_centroids", supervised_centroids),
        ):
            if not isinstance(value, bool):
                raise ValueError(f"`{name}` must be a bool, got {value!r}.")
        if baseline == "early_fusion" and (tuple_weight > 0 or cal):
            raise ValueError(
                f"`baseline='early_fusion'` has no per-modality tokens, so it cannot use TupleInfoNCE or CAL (got "
                f"tuple_weight={tuple_weight!r}, cal={cal!r}); allowed with CL-DMDF or `baseline='late_fusion'`."
            )
        if baseline == "tmc" and (tuple_weight > 0 or cal):
            raise ValueError(
                f"`baseline='tmc'` is the published method with its own evidential loss, so it takes no "
                f"TupleInfoNCE or CAL (got tuple_weight={tuple_weight!r}, cal={cal!r}); allowed with CL-DMDF or "
                "`baseline='late_fusion'`."
            )
        if (
            isinstance(tmc_annealing_epochs, bool)
            or not isinstance(tmc_annealing_epochs, int)
            or tmc_annealing_epochs < 0
        ):
            raise ValueError(f"`tmc_annealing_epochs` must be a non-negative int, got {tmc_annealing_epochs!r}.")

        self.hidden_size = hidden_size
        self.num_fusion_layers = num_fusion_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.feature_attention_hidden_size = feature_attention_hidden_size
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_dropout_prob = attention_dropout_prob
        self.dense_input_norm = bool(dense_input_norm)
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.use_feature_attention = use_feature_attention
        self.use_modality_attention = use_modality_attention
        self.context_sees_missing = context_sees_missing
        self.fusion_mode = fusion_mode
        self.fusion_use_confidence = fusion_use_confidence
        self.fusion_confidence_scale = fusion_confidence_scale
        self.use_auxiliary_heads = use_auxiliary_heads
        self.aux_weight = aux_weight
        self.contrastive_weight = contrastive_weight
        self.contrastive_temperature = contrastive_temperature
        self.projection_dim = projection_dim
        self.centroid_leave_one_out = centroid_leave_one_out
        self.supervised_centroids = supervised_centroids
        self.contrastive_source = contrastive_source
        self.modality_dropout = modality_dropout
        self.reconstruction_weight = reconstruction_weight
        self.baseline = baseline
        self.tmc_annealing_epochs = tmc_annealing_epochs
        self.tuple_weight = tuple_weight
        self.tuple_temperature = tuple_temperature
        self.tuple_alphas = tuple_alphas
        self.tuple_alpha_total = tuple_alpha_total
        self.tuple_modality_dropout = tuple_modality_dropout
        self.tuple_feature_noise = tuple_feature_noise
        self.tuple_feature_dropout = tuple_feature_dropout
        self.cal = cal
        self.cal_lambda = cal_lambda
        self.cal_temperature = cal_temperature
        self.cal_k_max = cal_k_max
        self.cal_potential_weight = cal_potential_weight
        self.cal_interval = cal_interval
        self.aib_beta = aib_beta
        self.classifier_dropout = classifier_dropout
        super().__init__(**kwargs)
        if self.problem_type is not None and self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"`problem_type` must be one of {PROBLEM_TYPES} or None, got {self.problem_type!r}.")
        if self.baseline == "tmc" and (self.num_labels < 2 or self.problem_type not in (None, SINGLE_LABEL)):
            raise ValueError(
                f"`baseline='tmc'` is for single-label classification with at least 2 labels (Dirichlet evidence over "
                f"classes), got num_labels={self.num_labels}, problem_type={self.problem_type!r}."
            )

    @property
    def modality_names(self) -> list[str]:
        """The modality names in the order used by masks, weights and attentions (sorted)."""
        return list(self.modalities)

    @property
    def num_modalities(self) -> int:
        return len(self.modalities)

    def modality_spec(self, name: str) -> dict:
        """The spec of modality `name`; raises a `ValueError` listing the known names when it is unknown."""
        if name not in self.modalities:
            raise ValueError(f"Unknown modality {name!r}; this model knows {self.modality_names}.")
        return self.modalities[name]

    @property
    def uses_auxiliary_heads(self) -> bool:
        """Unimodal heads exist when asked for, or needed by the confidence gate, late fusion, TMC or CAL's
        confidence."""
        return self.use_auxiliary_heads or self.fusion_use_confidence or self.heads_are_the_classifier or self.cal

    @property
    def auxiliary_heads_are_probes(self) -> bool:
        """Heads trained on detached tokens: `aux_weight` 0 and not late fusion or TMC (whose heads are the
        classifier)."""
        return self.aux_weight == 0 and not self.heads_are_the_classifier

    @property
    def heads_are_the_classifier(self) -> bool:
        """Late fusion and TMC classify with the unimodal heads alone."""
        return self.baseline in ("late_fusion", "tmc")

    def to_diff_dict(self) -> dict[str, Any]:
        # `modalities` must always be written out: its default depends on nothing the reader can see; and
        # `dense_input_norm` too, since a config without it is read as one saved before it existed (see from_dict).
        output = super().to_diff_dict()
        output["modalities"] = copy.deepcopy(self.modalities)
        output["dense_input_norm"] = self.dense_input_norm
        return output

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs) -> "CLDMDFConfig":
        # A saved config without `dense_input_norm` predates the field: its dense encoders had the input LayerNorm.
        if "modalities" in config_dict and "dense_input_norm" not in config_dict:
            config_dict = {**config_dict, "dense_input_norm": True}
        return super().from_dict(config_dict, **kwargs)
