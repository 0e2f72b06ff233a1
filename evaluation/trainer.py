# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""`compute_metrics` for `transformers.Trainer`: accuracy and macro-F1 (classification) or MSE (regression) of a
CL-DMDF classification head's logits, through the offline `evaluate` modules of this package.

```python
from transformers import Trainer, TrainingArguments

from cldmdf.evaluation.trainer import trainer_compute_metrics
from cldmdf.processing.collator import CLDMDFDataCollator

trainer = Trainer(
    model=model,
    args=TrainingArguments(output_dir="out", remove_unused_columns=False),
    train_dataset=data["train"],
    eval_dataset=data["validation"],
    data_collator=CLDMDFDataCollator(processor),
    compute_metrics=trainer_compute_metrics,
)
trainer.evaluate()  # {"eval_loss": ..., "eval_accuracy": ..., "eval_f1": ...}
```

`CLDMDFConfig.keys_to_ignore_at_inference` makes the Trainer's evaluation predictions the logits alone; when other
outputs are kept (`trainer.evaluate(ignore_keys=[])`), the logits come first and are the ones scored.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import load_metrics

__all__ = ["trainer_compute_metrics"]


def trainer_compute_metrics(eval_prediction: Any) -> dict[str, float]:
    """Scores a `transformers.EvalPrediction` of a CL-DMDF classification head.

    Args:
        eval_prediction (`transformers.EvalPrediction`):
            `predictions`: the logits `(N, num_labels)` (or a tuple whose first item they are); `label_ids`: `(N,)`
            class ids, or `(N,)` floats for regression (`num_labels == 1`).

    Returns:
        `dict[str, float]`: `{"accuracy", "f1"}` (macro) for single-label classification, `{"mse"}` for regression;
        the Trainer prefixes them with `eval_`.
    """
    logits = eval_prediction.predictions
    if isinstance(logits, (tuple, list)):
        logits = logits[0]  # the model's outputs in order: logits first (the loss is never a prediction)
    logits, labels = np.asarray(logits), np.asarray(eval_prediction.label_ids)
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(
            f"`eval_prediction` must hold logits of shape (N, num_labels) and labels of shape (N,), got logits "
            f"{logits.shape} and labels {labels.shape} (multi-label classification has no metric here)"
        )
    if logits.shape[1] == 1:  # regression
        return {"mse": float(np.mean((logits[:, 0].astype(np.float64) - labels.astype(np.float64)) ** 2))}
    return load_metrics().compute(predictions=logits.argmax(-1), references=labels)
