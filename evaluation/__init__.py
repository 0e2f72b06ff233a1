# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""Offline `evaluate` metrics for CL-DMDF: accuracy and macro-averaged F1.

`evaluate.load("accuracy")` downloads its script from the Hub. The modules here live in this package
(`evaluation/metrics/<name>/<name>.py`) and are loaded by absolute path, so they work with `HF_HUB_OFFLINE=1` /
`HF_EVALUATE_OFFLINE=1` and no network at all.

Multi-process use (`accelerate launch`): gather first (`accelerator.gather_for_metrics`), then compute on every
process with its own metric objects. The modules are created with `keep_in_memory=True` by default, so `compute()`
writes no Arrow cache file and takes no file lock in the metrics cache: processes sharing a working directory and
`HF_HOME` cannot collide. (With `keep_in_memory=False` and the defaults, each process would write
`default_experiment-1-0.arrow` under `HF_METRICS_CACHE` and a second process would wait up to 1 s for its lock
before falling back to a uuid-named file.) The one thing `evaluate.load` writes is a copy of the script under
`HF_MODULES_CACHE`, which `evaluate` guards with a file lock of its own.

`evaluation.prediction` runs a model over a dataloader (`predict`, gathered across processes) and scores the result
(`compute_metrics`), as `train_accelerate.py` does for validation and the robustness sweep.

Example:

```python
>>> from cldmdf.evaluation import load_metrics
>>> metrics = load_metrics()
>>> metrics.compute(predictions=[0, 1, 1, 2], references=[0, 1, 2, 2])
{'accuracy': 0.75, 'f1': 0.7777777777777777}

```
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # `evaluate` is imported when a metric is loaded: `evaluation.results` stays light
    import evaluate

__all__ = ["METRIC_NAMES", "METRICS_DIR", "load_metric", "load_metrics", "metric_path"]

METRICS_DIR = Path(__file__).resolve().parent / "metrics"
# Module folder name -> the result key its `compute()` returns.
METRIC_NAMES: dict[str, str] = {"accuracy": "accuracy", "macro_f1": "f1"}


def metric_path(name: str) -> str:
    """Absolute path of the folder holding the offline metric module `name`.

    Args:
        name (`str`):
            One of `METRIC_NAMES`: `"accuracy"` or `"macro_f1"`.

    Returns:
        `str`: `<package>/metrics/<name>`, a folder holding `<name>.py`.
    """
    if not isinstance(name, str) or name not in METRIC_NAMES:
        raise ValueError(f"`name` must be one of {sorted(METRIC_NAMES)}, got {name!r}")
    return os.fspath(METRICS_DIR / name)


def load_metric(name: str, *, keep_in_memory: bool = True, **load_kwargs: Any) -> evaluate.EvaluationModule:
    """Loads one offline metric with `evaluate.load(<absolute module folder>)`.

    Args:
        name (`str`):
            `"accuracy"` (returns `{"accuracy": float}`) or `"macro_f1"` (returns `{"f1": float}`).
        keep_in_memory (`bool`, *optional*, defaults to `True`):
            Keep added predictions in memory instead of an Arrow file in the metrics cache, so concurrent processes
            never share (or lock) a cache file. Set `False` only for more predictions than fit in memory, and then
            pass a distinct `experiment_id` per process.
        load_kwargs:
            Forwarded to `evaluate.load` (e.g. `experiment_id`, `cache_dir`).

    Returns:
        `evaluate.EvaluationModule`: the metric, ready for `add_batch` / `compute`.
    """
    import evaluate

    return evaluate.load(metric_path(name), keep_in_memory=keep_in_memory, **load_kwargs)


def load_metrics(*, keep_in_memory: bool = True, **load_kwargs: Any) -> evaluate.CombinedEvaluations:
    """Loads accuracy and macro-F1 combined: `compute()` returns `{"accuracy": float, "f1": float}`.

    `evaluate.combine` merges the modules' result dicts by *result key*, not module name (a prefix is only added
    when two modules return the same key), so the keys are `accuracy` and `f1`.

    Args:
        keep_in_memory (`bool`, *optional*, defaults to `True`):
            See [`load_metric`].
        load_kwargs:
            Forwarded to `evaluate.load` for both modules.

    Returns:
        `evaluate.CombinedEvaluations`: with `add_batch(predictions=..., references=...)` and `compute(...)`.
    """
    import evaluate

    modules = {
        key: load_metric(name, keep_in_memory=keep_in_memory, **load_kwargs) for name, key in METRIC_NAMES.items()
    }
    # A dict names each module by its result key, so even a (hypothetical) key clash would be prefixed readably.
    return evaluate.combine(modules)
