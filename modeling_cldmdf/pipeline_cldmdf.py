# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""The `cldmdf-classification` pipeline: rows with `None` for missing modalities in, labels and scores out.

This file travels to the Hub as remote code (imports: torch and public transformers APIs only). It is imported by
`modeling_cldmdf.py`, so `save_pretrained` copies it next to the weights, and a saved classifier's config lists it
under `custom_pipelines`: `pipeline(model=folder_or_repo, trust_remote_code=True)` then builds this pipeline with
the model and its processor.

>>> from transformers import pipeline  # doctest: +SKIP
>>> classifier = pipeline(model="user/cldmdf-uci", trust_remote_code=True)  # doctest: +SKIP
>>> classifier({"fou": [0.1] * 76, "kar": None, ...})  # doctest: +SKIP
[{'label': '3', 'score': 0.97, 'modality_weights': {...}}]
>>> classifier({"fou": [0.1] * 76, "kar": None, ...}, top_k=2)  # doctest: +SKIP
[{'label': '3', 'score': 0.97, 'modality_weights': {...}}, {'label': '5', 'score': 0.01, 'modality_weights': {...}}]
"""

from collections.abc import Mapping, Sequence
from typing import Any, Optional

import torch
from transformers import AutoModelForSequenceClassification
from transformers.pipelines import PIPELINE_REGISTRY, Pipeline

__all__ = [
    "CLDMDF_CUSTOM_PIPELINES",
    "CLDMDF_PIPELINE_TASK",
    "CLDMDFClassificationPipeline",
    "class_scores",
    "prediction_records",
    "rows_to_columns",
]

CLDMDF_PIPELINE_TASK = "cldmdf-classification"
# What a saved classifier's config lists under `custom_pipelines` (the format `Pipeline.save_pretrained` writes).
CLDMDF_CUSTOM_PIPELINES = {
    CLDMDF_PIPELINE_TASK: {
        "impl": "pipeline_cldmdf.CLDMDFClassificationPipeline",
        "pt": ["AutoModelForSequenceClassification"],
        "type": "multimodal",
    }
}


def rows_to_columns(rows: Sequence[Mapping[str, Any]], modality_names: Sequence[str]) -> dict[str, list]:
    """Rows (dicts, `None` or an absent key = missing modality; other keys ignored) -> the processor's columns.

    Raises:
        TypeError: a row that is not a dict.
        ValueError: no rows, or rows (positions named) with every modality missing.
    """
    if isinstance(rows, Mapping) or not isinstance(rows, Sequence):
        raise TypeError(f"`rows` must be a list of dicts modality name -> value, got {type(rows).__name__}")
    if not rows:
        raise ValueError("`rows` is empty; give at least one row")
    wrong = [i for i, row in enumerate(rows) if not isinstance(row, Mapping)]
    if wrong:
        raise TypeError(f"every row must be a dict modality name -> value; rows {wrong[:10]} are not")
    columns = {name: [row.get(name) for row in rows] for name in modality_names}
    empty = [i for i in range(len(rows)) if all(columns[name][i] is None for name in modality_names)]
    if empty:
        raise ValueError(
            f"rows {empty[:10]} have every modality missing (keys {sorted(map(str, rows[empty[0]]))}); every row "
            f"needs one of {list(modality_names)}"
        )
    return columns


def class_scores(config: Any, logits: torch.Tensor) -> torch.Tensor:
    """(batch, labels) float32 scores: softmax probabilities (single-label), sigmoid probabilities (multi-label) or
    the predicted values (regression)."""
    logits = logits.float()
    if config.problem_type == "multi_label_classification":
        return torch.sigmoid(logits)
    if config.problem_type == "regression":
        return logits
    return torch.softmax(logits, dim=-1)


def _label_name(config: Any, index: int) -> str:
    return str(config.id2label.get(index, f"LABEL_{index}"))


def prediction_records(
    config: Any, logits: torch.Tensor, modality_weights: Optional[torch.Tensor]
) -> list[dict[str, Any]]:
    """One dict per row, by problem type, plus `modality_weights` (modality name -> fusion weight, 0 for a missing
    modality):

    - single-label classification: `label` (the predicted class's name), `score` (its probability) and
      `probabilities` (class name -> probability, summing to 1);
    - multi-label classification: `label` (the list of classes scored > 0.5), `score` None, `probabilities`;
    - regression: `value` (the predicted number) for one target, `values` (target name -> predicted number) for
      several. No `label` or `score`: a regression model has no classes, and its output is no probability."""
    scores = class_scores(config, logits).cpu()  # (batch, labels)
    weights = None if modality_weights is None else modality_weights.float().cpu()  # (batch, modalities)
    names = [_label_name(config, i) for i in range(scores.shape[-1])]
    records = []
    for row in range(scores.shape[0]):
        values = scores[row].tolist()
        by_name = dict(zip(names, values))
        if config.problem_type == "regression":
            record = {"value": values[0]} if len(values) == 1 else {"values": by_name}
        elif config.problem_type == "multi_label_classification":
            chosen = [name for name, value in by_name.items() if value > 0.5]
            record = {"label": chosen, "score": None, "probabilities": by_name}
        else:
            best = int(scores[row].argmax())
            record = {"label": names[best], "score": values[best], "probabilities": by_name}
        if weights is not None:
            record["modality_weights"] = dict(zip(config.modality_names, weights[row].tolist()))
        records.append(record)
    return records


# `top_k` not given: transformers' text-classification pipeline then answers the top class only, one dict per input.
_TOP_ONE = ""


class CLDMDFClassificationPipeline(Pipeline):
    """Classifies rows whose modalities may be missing, with the answers of transformers' text-classification
    pipeline.

    Call it with one row (a dict modality name -> value, `None` or an absent key for a missing modality) or a list of
    rows. Without `top_k`, each row gives its top class, `{"label", "score", "modality_weights"}`: a list of one such
    dict for one row, one dict per row for a list of rows. With `top_k` (an int: the `top_k` best; `None`: every
    class), each row gives a list of such dicts sorted by score (a list of lists for a list of rows).
    `modality_weights` (modality name -> fusion weight, 0 for a missing one) is the same in every entry of a row.

    A regression model answers `{"value": <predicted number>, "modality_weights"}` per row (`{"values": {target:
    number}}` for several targets) in the same shapes as the top class, and takes no `top_k`: it has no classes to
    rank, and its output is no probability. Dense values are raw: the processor saved with the model standardises
    them.
    """

    _load_processor = True
    _load_tokenizer = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_video_processor = False

    def _sanitize_parameters(self, top_k: Optional[int] = _TOP_ONE, **kwargs):
        if kwargs:
            raise TypeError(f"CLDMDFClassificationPipeline got unexpected arguments {sorted(kwargs)}; it takes top_k")
        if top_k is _TOP_ONE:
            return {}, {}, {}
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"`top_k` must be a positive int or None, got {top_k!r}")
        if self.model.config.problem_type == "regression":
            raise ValueError(
                f"`top_k` ranks classes; this model is a regression model (it predicts a value per row), got "
                f"top_k={top_k!r}: leave it out"
            )
        return {}, {}, {"top_k": top_k, "ranked": True}

    def __call__(self, inputs, **kwargs):
        result = super().__call__(inputs, **kwargs)
        # As transformers' text-classification pipeline: one input and no `top_k` still gives a list.
        if isinstance(inputs, Mapping) and "top_k" not in kwargs:
            return [result]
        return result

    def preprocess(self, inputs: Mapping[str, Any]):
        if self.processor is None:
            raise ValueError("the CL-DMDF pipeline needs the model's processor (processor_config.json next to it)")
        return self.processor(rows_to_columns([inputs], self.processor.modality_names), return_tensors="pt")

    def _forward(self, model_inputs):
        outputs = self.model(**model_inputs)
        return {"logits": outputs.logits, "modality_weights": outputs.modality_weights}

    def postprocess(self, model_outputs, top_k: Optional[int] = None, ranked: bool = False):
        config = self.model.config
        record = prediction_records(config, model_outputs["logits"], model_outputs["modality_weights"])[0]
        weights = record.get("modality_weights")
        if config.problem_type == "regression":
            return record
        ranked_scores = sorted(record["probabilities"].items(), key=lambda item: item[1], reverse=True)
        answers = [{"label": label, "score": score, "modality_weights": weights} for label, score in ranked_scores]
        return answers[:top_k] if ranked else answers[0]


if CLDMDF_PIPELINE_TASK not in PIPELINE_REGISTRY.get_supported_tasks():
    PIPELINE_REGISTRY.register_pipeline(
        CLDMDF_PIPELINE_TASK,
        pipeline_class=CLDMDFClassificationPipeline,
        pt_model=AutoModelForSequenceClassification,
        type="multimodal",
    )
