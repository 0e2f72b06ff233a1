# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""Parses the flat `all_results.json` dict of `train_accelerate.py` into robustness conditions.

Keys understood (named by `evaluation.results.result_key` and read back with its `parse_result_key`; η is written as
Python's `f"{eta:g}"`, e.g. `0.1`, `0.3`, `0.5`):

- `test_<metric>`: the test split as it is (missing rate η = 0);
- `test_<metric>_missing_<η>`: a seeded evaluation-time missing pattern at rate η;
- `test_<metric>_without_<modality>`: one modality removed from every row, scored on the rows that keep another
  modality (`test_rows_without_<modality>` of them);
- `test_<metric>_with_<modality>`: every modality, scored on those same rows: the reference a removal is compared
  with (on data with real missingness these rows are not the whole split);
- `test_<metric>_only_<modality>`: that modality alone, every other one removed, on the rows that have it;

for `<metric>` in `CONDITION_METRICS`. Every other key (`train_runtime`, `eval_accuracy`, `epoch`, ...) is kept as
is in `RobustnessResults.other`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cldmdf.evaluation.results import CONDITION_METRICS, MODEL_INDEX_METRICS, REGRESSION_METRICS, parse_result_key

__all__ = [
    "CONDITION_METRICS",
    "MODEL_INDEX_METRICS",
    "REGRESSION_METRICS",
    "RobustnessResults",
    "parse_results",
]


@dataclass
class RobustnessResults:
    """Test metrics by evaluation condition, plus every other result.

    Attributes:
        missing_rates (`dict[float, dict[str, float]]`):
            η -> metric -> value; η = 0.0 holds the plain `test_<metric>` keys. Sorted by η.
        removed_modalities (`dict[str, dict[str, float]]`):
            Modality name -> metric -> value, for `test_<metric>_without_<modality>`. Sorted by name.
        removal_references (`dict[str, dict[str, float]]`):
            Modality name -> metric -> value, for `test_<metric>_with_<modality>`: every modality, on the rows the
            removal of that modality was scored on. Sorted by name.
        alone_modalities (`dict[str, dict[str, float]]`):
            Modality name -> metric -> value, for `test_<metric>_only_<modality>`: that modality alone. Sorted by name.
        other (`dict[str, Any]`):
            Every key not parsed above, in the input order.
    """

    missing_rates: dict[float, dict[str, float]] = field(default_factory=dict)
    removed_modalities: dict[str, dict[str, float]] = field(default_factory=dict)
    removal_references: dict[str, dict[str, float]] = field(default_factory=dict)
    alone_modalities: dict[str, dict[str, float]] = field(default_factory=dict)
    other: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> dict[str, float]:
        """Metrics on the test split as it is (η = 0); empty when the results have none."""
        return self.missing_rates.get(0.0, {})

    def removal_reference(self, modality: str, metric: str) -> float | None:
        """The all-modalities score on the rows the removal of `modality` was scored on: its `with_` key, else the
        complete split's score when the removal kept every row of it, else `None` (no score on the same rows)."""
        reference = self.removal_references.get(modality, {}).get(metric)
        if reference is not None:
            return reference
        rows, all_rows = self.removed_modalities.get(modality, {}).get("rows"), self.complete.get("rows")
        if rows is not None and rows == all_rows:
            return self.complete.get(metric)
        return None

    def has_condition_metric(self, metrics: Iterable[str] = tuple(MODEL_INDEX_METRICS)) -> bool:
        """Whether any condition holds one of `metrics`."""
        wanted = set(metrics)
        groups = [*self.missing_rates.values(), *self.removed_modalities.values()]
        return any(wanted & set(group) for group in groups)


def _metric_value(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`results[{key!r}]` must be a real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"`results[{key!r}]` must be finite, got {value!r}")
    return value


def _store(table: dict, condition: Any, metric: str, key: str, value: float) -> None:
    group = table.setdefault(condition, {})
    if metric in group and group[metric] != value:
        # `test_accuracy` and `test_accuracy_missing_0` describe the same condition: they must agree.
        raise ValueError(
            f"`results` key {key!r} = {value!r} contradicts another key for the same condition "
            f"({metric} = {group[metric]!r})"
        )
    group[metric] = value


def parse_results(results: Mapping[str, Any], modality_names: Iterable[str] | None = None) -> RobustnessResults:
    """Splits the flat results dict into missing-rate conditions, removed-modality conditions and the rest.

    Args:
        results (`Mapping[str, Any]`):
            The flat dict the training script writes to `all_results.json`.
        modality_names (`Iterable[str]`, *optional*):
            The model's modalities. When given, a `test_<metric>_without_<modality>` key naming another modality is an
            error (it would silently describe a model that does not exist).

    Returns:
        [`RobustnessResults`]: the parsed conditions, sorted by missing rate and modality name.

    Example:

    ```python
    >>> parsed = parse_results({"test_accuracy": 0.9, "test_accuracy_missing_0.3": 0.8, "epoch": 3})
    >>> parsed.missing_rates, parsed.other
    ({0.0: {'accuracy': 0.9}, 0.3: {'accuracy': 0.8}}, {'epoch': 3})

    ```
    """
    if not isinstance(results, Mapping):
        raise TypeError(f"`results` must be a mapping of result name -> value, got {type(results).__name__}")
    known = None if modality_names is None else sorted(modality_names)
    missing: dict[float, dict[str, float]] = {}
    removed: dict[str, dict[str, float]] = {}
    references: dict[str, dict[str, float]] = {}
    alone: dict[str, dict[str, float]] = {}
    other: dict[str, Any] = {}
    for key, value in results.items():
        if not isinstance(key, str):
            raise TypeError(f"`results` keys must be strings, got {key!r} of type {type(key).__name__}")
        parsed = parse_result_key(key)
        if parsed is None:
            other[key] = value
            continue
        condition = parsed.condition
        if condition.without is not None:
            table, group = removed, condition.without
        elif condition.reference_for is not None:
            table, group = references, condition.reference_for
        elif condition.only is not None:
            table, group = alone, condition.only
        else:
            table, group = missing, condition.missing_rate
        if known is not None and table is not missing and group not in known:
            raise ValueError(f"`results` key {key!r} names modality {group!r}, which is not one of {known}")
        _store(table, group, parsed.metric, key, _metric_value(key, value))
    return RobustnessResults(
        missing_rates=dict(sorted(missing.items())),
        removed_modalities=dict(sorted(removed.items())),
        removal_references=dict(sorted(references.items())),
        alone_modalities=dict(sorted(alone.items())),
        other=other,
    )
