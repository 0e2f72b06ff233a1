# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""Macro-averaged F1 as an offline `evaluate` module (numpy only, no scikit-learn).

The classes averaged over are those that occur in the references or in the predictions, as scikit-learn's
`f1_score(average="macro", zero_division=0)` does. For each class c, F1_c = 2 TP / (2 TP + FP + FN): equal to the
harmonic mean of precision and recall, and 0 when c is never predicted or never true (zero_division=0).
"""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
Macro F1 is the unweighted mean over classes of the per-class F1 score, F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c).
The classes are those present in the references or the predictions; a class that is predicted but never true (or
true but never predicted) counts with F1 = 0.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int`): Predicted class ids, one per example.
    references (`list` of `int`): Ground-truth class ids, one per example.

Returns:
    f1 (`float`): Macro-averaged F1 in [0, 1].

Examples:
    >>> f1 = evaluate.load("evaluation/metrics/macro_f1")
    >>> f1.compute(references=[0, 0, 1, 1], predictions=[0, 1, 1, 1])
    {'f1': 0.7333333333333334}
"""

_CITATION = ""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MacroF1(evaluate.Metric):
    """Macro-averaged F1 over the classes seen in references or predictions."""

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
        classes, inverse = np.unique(np.concatenate([references, predictions]), return_inverse=True)  # (C,), (2N,)
        true_idx, pred_idx = inverse[: references.size], inverse[references.size :]  # (N,), (N,)
        num_classes = classes.size
        true_positives = np.bincount(true_idx[true_idx == pred_idx], minlength=num_classes)  # (C,)
        true_counts = np.bincount(true_idx, minlength=num_classes)  # (C,) = TP + FN
        pred_counts = np.bincount(pred_idx, minlength=num_classes)  # (C,) = TP + FP
        # Every class in the union was true or predicted at least once, so the denominator is never 0.
        per_class = 2.0 * true_positives / (true_counts + pred_counts)  # (C,)
        return {"f1": float(per_class.mean())}
