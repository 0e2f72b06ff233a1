# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""Accuracy as an offline `evaluate` module: the fraction of predictions equal to their reference.

`evaluate.load("accuracy")` fetches its script from the Hub; this file is loaded from disk instead
(`evaluate.load("<path>/accuracy")`), so it works with `HF_HUB_OFFLINE=1` and no network. numpy only.
"""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
Accuracy is the proportion of correct predictions among all predictions:
Accuracy = (number of predictions equal to their reference) / (number of predictions).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int`): Predicted class ids, one per example.
    references (`list` of `int`): Ground-truth class ids, one per example.

Returns:
    accuracy (`float`): In [0, 1]; 1.0 means every prediction is correct.

Examples:
    >>> accuracy = evaluate.load("evaluation/metrics/accuracy")
    >>> accuracy.compute(references=[0, 1, 2, 0], predictions=[0, 2, 2, 0])
    {'accuracy': 0.75}
"""

_CITATION = ""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Accuracy(evaluate.Metric):
    """Single-label classification accuracy."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references) -> dict[str, float]:  # noqa: ANN001 - lists or arrays of int
        predictions = np.asarray(predictions, dtype=np.int64)  # (N,)
        references = np.asarray(references, dtype=np.int64)  # (N,)
        if predictions.size == 0:
            raise ValueError(f"`predictions` must hold at least one example, got {predictions.size}")
        return {"accuracy": float(np.mean(predictions == references))}
