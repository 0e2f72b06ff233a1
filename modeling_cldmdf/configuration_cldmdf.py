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

__all__ = [
    "CLDMDFConfig",
    "MODALITY_TYPES",
    "FUSION_MODES",
    "check_modality_spec",
    "normalize_modalities",
]

MODALITY_TYPES = ("dense", "text", "image")
FUSION_MODES = ("adaptive", "mean")
POOLING_MODES = ("mean", "cls", "pooler")
SINGLE_LABEL = "single_label_classification"
PROBLEM_TYPES = ("regression", SINGLE_LABEL, "multi_label_classification")


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
    elif kind == "text" and spec.get("encoder") == "bag_of_words":
        spec = _normalize_bag_of_words_spec(name, spec)
        unknown = set(spec) - {"type", "encoder", *BAG_OF_WORDS_DEFAULTS}
    elif kind == "image" and (spec.get("encoder") == "cnn" or "backbone" not in spec):
        # No backbone: the small CNN trained from scratch (`image_encoder_cldmdf.py`), which checks its own keys.
        from .image_processing_cldmdf import normalize_cnn_image_spec

        return normalize_cnn_image_spec(name, spec)
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


# The bag-of-words text encoder (`text_encoder_cldmdf.py`): `vocab_size` embedding rows (the cap of the vocabulary
# the processor fits on the training split), each `embedding_dim` wide; `bag_dropout` drops each term of a training
# text with that probability. The defaults were chosen on the validation split of the bundled reviews (BENCHMARKS.md).
BAG_OF_WORDS_DEFAULTS = {"vocab_size": 10000, "embedding_dim": 64, "bag_dropout": 0.3}


def _normalize_bag_of_words_spec(name: str, spec: dict) -> dict:
    """A bag-of-words text spec with its defaults filled in, checked: no backbone, positive int sizes, a dropout
    probability in [0, 1)."""
    if "backbone" in spec:
        raise ValueError(
            f"`modalities[{name!r}]` is a bag-of-words text modality (`encoder='bag_of_words'`) and has a `backbone`; "
            f"give one or the other"
        )
    spec = {**BAG_OF_WORDS_DEFAULTS, **spec}
    for key in ("vocab_size", "embedding_dim"):
        value = spec[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`modalities[{name!r}][{key!r}]` must be a positive int, got {value!r}.")
    _check_range(f"modalities[{name!r}]['bag_dropout']", spec["bag_dropout"], 0.0, 1.0, high_open=True)
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
    specified arguments, defining the modalities and the fusion architecture. It holds the architecture and the
    weights of the losses the model computes itself; the training recipe (budget, TupleInfoNCE, CAL) lives in the
    training script.

    Configuration objects inherit from [`PreTrainedConfig`] and can be used to control the model outputs. Read the
    documentation from [`PreTrainedConfig`] for more information.

    Args:
        modalities (`dict[str, dict]`, *optional*):
            The modalities of an entity, name -> spec. Names are used in sorted order everywhere (masks, weights,
            attentions). A spec is one of:
            - `{"type": "dense", "dim": int}`: a fixed-length float vector (tabular or pre-extracted features);
            - `{"type": "text", "backbone": <transformers config dict or checkpoint name/path>}`;
            - `{"type": "text", "encoder": "bag_of_words"}`: a bag of TF-IDF-weighted word 1- and 2-grams (the
              vocabulary the processor fits on the training split) summed by an `nn.EmbeddingBag`; also accepts
              `"vocab_size"` (its rows, the cap of the vocabulary; defaults to 10000), `"embedding_dim"` (defaults to
              64) and `"bag_dropout"` (the probability of dropping each term of a training text; defaults to 0.3);
            - `{"type": "image", "backbone": <transformers config dict or checkpoint name/path>}`;
            - `{"type": "image"}` (no backbone): a small CNN trained from scratch, with the keys `image_size`,
              `num_channels`, `cnn_channels`, `augment_shift`, `augment_flip` (see `image_processing_cldmdf.py`).
            Text specs and image specs with a backbone also accept `"pooling"` (`"mean"` over valid positions,
            `"cls"` for the first token, `"pooler"` for the backbone's `pooler_output`; defaults to `"mean"`) and
            `"freeze_backbone"` (defaults to `False`). A checkpoint name is resolved to its config dict when the
            model is first built, so a saved model reloads offline. Defaults to two dense modalities
            `{"a": 16, "b": 16}` (for quick experiments).
        hidden_size (`int`, *optional*, defaults to 128):
            Dimension D of the modality tokens and of the fused entity embedding.
        num_fusion_layers (`int`, *optional*, defaults to 2):
            Number of stacked dual-attention (feature attention, then modality attention) layers; 0 leaves encoders
            and adaptive fusion only.
        num_attention_heads (`int`, *optional*, defaults to 4):
            Heads of the modality attention; must divide `hidden_size`.
        intermediate_size (`int`, *optional*, defaults to 256):
            Width of the feed-forward block of each modality-attention layer.
        feature_attention_hidden_size (`int`, *optional*, defaults to 64):
            Width of the feature-attention scorer `sigmoid(W2 gelu(W1 [h; c]))`.
        hidden_dropout_prob (`float`, *optional*, defaults to 0.5):
            Dropout in the modality encoders, the feed-forward blocks and before the classifier (chosen by
            cross-validation on UCI Multiple Features, see BENCHMARKS.md).
        attention_dropout_prob (`float`, *optional*, defaults to 0.0):
            Dropout on the modality-attention probabilities.
        classifier_dropout (`float`, *optional*):
            Dropout before the classifier; defaults to `hidden_dropout_prob`.
        dense_input_norm (`bool`, *optional*, defaults to `False`):
            Whether a dense encoder starts with a LayerNorm over its input features. Off by default: the processor
            already standardises each feature with training statistics, and a LayerNorm across the features of a row
            removes what a narrow tabular view says by its overall level (see BENCHMARKS.md). Checkpoints saved
            before this field existed load with `True`, the encoder they were trained with.
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
            everywhere); `False` gives the strict present-only context of docs/methods.md, where `e_m` cannot learn.
        fusion_mode (`str`, *optional*, defaults to `"adaptive"`):
            `"adaptive"`: per-row softmax of gate logits over present modalities; `"mean"`: uniform weights over
            present modalities (ablation).
        use_auxiliary_heads (`bool`, *optional*, defaults to `False`):
            Adds one unimodal classifier per modality on its encoder token (`unimodal_logits`).
        aux_weight (`float`, *optional*, defaults to 0.0):
            Weight of the mean unimodal task loss of the auxiliary heads (a positive weight enables them). With 0, the
            heads are *probes*: trained on detached tokens, so they give trained confidences without changing any
            other parameter's gradient.
        fusion_use_confidence (`bool`, *optional*, defaults to `False`):
            Adds `conf[b, m]`, the max softmax probability of the unimodal head of modality m, to the gate logits.
            Enables the auxiliary heads.
        token_bottleneck (`bool`, *optional*, defaults to `False`):
            Passes each present modality token through a variational bottleneck (`μ(h)`, `log σ²(h)`; a sample in
            training, `μ` in evaluation) and returns its KL divergence per row and modality (`bottleneck_kl`). CAL's
            asymmetric information bottleneck weights those divergences (`training/objectives.py`).
        projection_dim (`int`, *optional*, defaults to 64):
            Output dimension of the 2-layer projection head of the entity-centroid contrastive loss.
        contrastive_weight (`float`, *optional*, defaults to 0.1):
            Weight λ_ec of the entity-centroid contrastive loss in the total loss (0 disables it).
        contrastive_temperature (`float`, *optional*, defaults to 0.1):
            Temperature τ of the entity-centroid InfoNCE.
        modality_dropout (`float`, *optional*, defaults to 0.3):
            Training-time probability of dropping each present modality of a row (one is always kept). Ignored in
            evaluation mode and for precomputed `modality_embeddings`.
        reconstruction_weight (`float`, *optional*, defaults to 1.0):
            Weight of the masked-modality reconstruction loss of [`CLDMDFForPreTraining`].
        alone_weight (`float`, *optional*, defaults to 1.0):
            Weight of the *alone* loss of [`CLDMDFForSequenceClassification`] in training: each row is fused a
            second time with one of its present modalities alone (chosen at random), through the same fusion and
            classifier, and scored against its label. It trains the case a missing-modality model exists for, the row
            where only one modality arrived, so that no modality is left to lean on the others (chosen on the
            development suite's validation splits: each modality alone gained a point on average at the same fused
            accuracy, for about a third more training time). 0 disables it.
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
    # transformers' common name for the depth of the stack (what its model tests and tools read).
    attribute_map = {"num_hidden_layers": "num_fusion_layers"}
    # What `transformers.Trainer` leaves out of evaluation predictions (it reads this from `model.config`): every
    # output of `CLDMDFForSequenceClassification` but `loss` and `logits`, so `EvalPrediction.predictions` are the
    # logits, as `compute_metrics` functions expect. `trainer.evaluate(ignore_keys=[...])` keeps others.
    keys_to_ignore_at_inference = [
        "task_loss",
        "contrastive_loss",
        "aux_loss",
        "alone_loss",
        "pooler_output",
        "modality_weights",
        "modality_mask",
        "unimodal_logits",
        "feature_attentions",
        "modality_attentions",
        "hidden_states",
        "attentions",
        "bottleneck_kl",
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
        classifier_dropout: Optional[float] = None,
        dense_input_norm: bool = False,
        layer_norm_eps: float = 1e-5,
        initializer_range: float = 0.02,
        use_feature_attention: bool = True,
        use_modality_attention: bool = True,
        context_sees_missing: bool = True,
        fusion_mode: str = "adaptive",
        use_auxiliary_heads: bool = False,
        aux_weight: float = 0.0,
        fusion_use_confidence: bool = False,
        token_bottleneck: bool = False,
        projection_dim: int = 64,
        contrastive_weight: float = 0.1,
        contrastive_temperature: float = 0.1,
        modality_dropout: float = 0.3,
        reconstruction_weight: float = 1.0,
        alone_weight: float = 1.0,
        **kwargs,
    ):
        self.modalities = normalize_modalities(modalities)
        for name, value in (
            ("hidden_size", hidden_size),
            ("num_attention_heads", num_attention_heads),
            ("intermediate_size", intermediate_size),
            ("feature_attention_hidden_size", feature_attention_hidden_size),
            ("projection_dim", projection_dim),
        ):
            _check_positive_int(name, value)
        if num_fusion_layers != 0:  # zero fusion layers is a valid ablation: encoders + fusion only
            _check_positive_int("num_fusion_layers", num_fusion_layers)
        if hidden_size % num_attention_heads != 0:
            raise ValueError(
                f"`hidden_size` ({hidden_size}) must be divisible by `num_attention_heads` ({num_attention_heads})."
            )
        for name, value in (
            ("hidden_dropout_prob", hidden_dropout_prob),
            ("attention_dropout_prob", attention_dropout_prob),
            ("modality_dropout", modality_dropout),
        ):
            _check_range(name, value, 0.0, 1.0, high_open=True)
        if classifier_dropout is not None:
            _check_range("classifier_dropout", classifier_dropout, 0.0, 1.0, high_open=True)
        _check_range("layer_norm_eps", layer_norm_eps, 0.0, 1.0, low_open=True)
        _check_range("initializer_range", initializer_range, 0.0, 10.0, low_open=True)
        _check_range("contrastive_temperature", contrastive_temperature, 0.0, 100.0, low_open=True)
        for name, value in (
            ("contrastive_weight", contrastive_weight),
            ("aux_weight", aux_weight),
            ("reconstruction_weight", reconstruction_weight),
            ("alone_weight", alone_weight),
        ):
            _check_range(name, value, 0.0, float("inf"))
        if fusion_mode not in FUSION_MODES:
            raise ValueError(f"`fusion_mode` must be one of {FUSION_MODES}, got {fusion_mode!r}.")
        for name, value in (
            ("dense_input_norm", dense_input_norm),
            ("use_feature_attention", use_feature_attention),
            ("use_modality_attention", use_modality_attention),
            ("context_sees_missing", context_sees_missing),
            ("use_auxiliary_heads", use_auxiliary_heads),
            ("fusion_use_confidence", fusion_use_confidence),
            ("token_bottleneck", token_bottleneck),
        ):
            if not isinstance(value, bool):
                raise ValueError(f"`{name}` must be a bool, got {value!r}.")

        self.hidden_size = hidden_size
        self.num_fusion_layers = num_fusion_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.feature_attention_hidden_size = feature_attention_hidden_size
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_dropout_prob = attention_dropout_prob
        self.classifier_dropout = classifier_dropout
        self.dense_input_norm = dense_input_norm
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.use_feature_attention = use_feature_attention
        self.use_modality_attention = use_modality_attention
        self.context_sees_missing = context_sees_missing
        self.fusion_mode = fusion_mode
        self.use_auxiliary_heads = use_auxiliary_heads
        self.aux_weight = aux_weight
        self.fusion_use_confidence = fusion_use_confidence
        self.token_bottleneck = token_bottleneck
        self.projection_dim = projection_dim
        self.contrastive_weight = contrastive_weight
        self.contrastive_temperature = contrastive_temperature
        self.modality_dropout = modality_dropout
        self.reconstruction_weight = reconstruction_weight
        self.alone_weight = alone_weight
        super().__init__(**kwargs)
        check_problem_type(self)

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
        """Unimodal heads exist when asked for, trained with a positive `aux_weight`, or read by the confidence
        gate."""
        return self.use_auxiliary_heads or self.aux_weight > 0 or self.fusion_use_confidence

    def to_diff_dict(self) -> dict[str, Any]:
        # `modalities` must always be written out: its default depends on nothing the reader can see.
        output = super().to_diff_dict()
        output["modalities"] = copy.deepcopy(self.modalities)
        return output


def normalize_modalities(modalities: Optional[Mapping[str, Any]]) -> dict[str, dict]:
    """The `modalities` argument of a config, checked, with defaults filled in and names sorted."""
    if modalities is None:
        modalities = {"a": {"type": "dense", "dim": 16}, "b": {"type": "dense", "dim": 16}}
    if not isinstance(modalities, Mapping) or len(modalities) == 0:
        raise ValueError(f"`modalities` must be a non-empty dict name -> spec, got {modalities!r}.")
    return {name: _normalize_modality_spec(name, modalities[name]) for name in sorted(modalities)}


def check_problem_type(config: PreTrainedConfig) -> None:
    if config.problem_type is not None and config.problem_type not in PROBLEM_TYPES:
        raise ValueError(f"`problem_type` must be one of {PROBLEM_TYPES} or None, got {config.problem_type!r}.")
