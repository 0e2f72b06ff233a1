# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""The names of evaluation results: one place that turns (split, metric, condition) into the flat key of
`all_results.json` and back, and that parses missing rates.

A result is scored under a *condition*: the split as it is (missing rate η = 0), a seeded missing pattern at rate η,
one modality removed from every row (`without`), every modality on the rows such a removal was scored on
(`reference_for`, the score a removal is compared with), or one modality alone, every other one removed (`only`: the
row where only that modality arrived). Keys look like

- `test_accuracy`: the test split as it is;
- `test_accuracy_missing_0.3`: at η = 0.3 (η written as Python's `f"{η:g}"`);
- `test_accuracy_without_text`: the `text` modality removed;
- `test_accuracy_with_text`: every modality, on the rows the removal of `text` was scored on;
- `test_accuracy_only_image`: the `image` modality alone, on the rows that have it.

The training script, the model card and the benchmarks all name and read keys through `result_key` and
`parse_result_key`; nothing else formats them. This module imports nothing heavier than the standard library.

Example:

```python
>>> from cldmdf.evaluation.results import Condition, parse_result_key, result_key
>>> result_key("accuracy", Condition(missing_rate=0.3))
'test_accuracy_missing_0.3'
>>> parse_result_key("test_f1_without_image")
ResultKey(metric='f1', condition=Condition(missing_rate=0.0, without='image', reference_for=None), split='test')

```
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Optional, Union

__all__ = [
    "COMPLETE",
    "CONDITION_METRICS",
    "DEFAULT_EVAL_MISSING_RATES",
    "MODEL_INDEX_METRICS",
    "REGRESSION_METRICS",
    "Condition",
    "ResultKey",
    "format_rate",
    "parse_missing_rates",
    "parse_result_key",
    "result_key",
]

# Metrics that become `model-index` entries of a model card, with their display names.
MODEL_INDEX_METRICS: dict[str, str] = {
    "accuracy": "Accuracy",
    "f1": "Macro F1",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
    "mse": "MSE",
    "subset_accuracy": "Subset accuracy",  # multi-label: every label of the row right
    "micro_f1": "Micro F1",
}
# The metrics of a regression model (`evaluation.prediction.regression_metrics`).
REGRESSION_METRICS = ("rmse", "mae", "r2", "mse")
# Metrics scored per condition (the extra ones only appear in the card's tables).
CONDITION_METRICS: dict[str, str] = {**MODEL_INDEX_METRICS, "loss": "Loss", "rows": "Rows"}
# The missing rates of the final evaluation when `--eval_missing_rates` is not given.
DEFAULT_EVAL_MISSING_RATES = "0.0,0.1,0.3,0.5"


def format_rate(rate: float) -> str:
    """η as it appears in keys and tables: `0.3` -> `"0.3"`, `0.0` -> `"0"`."""
    return f"{float(rate):g}"


@dataclass(frozen=True)
class Condition:
    """What was done to the evaluation split before scoring it.

    Attributes:
        missing_rate (`float`, defaults to 0.0):
            η of a seeded evaluation-time missing pattern; 0 is the split as it is.
        without (`str`, *optional*):
            A modality removed from every row (scored on the rows that keep another modality).
        reference_for (`str`, *optional*):
            Every modality, scored on the rows the removal of this modality was scored on.
        only (`str`, *optional*):
            This modality alone, every other one removed (scored on the rows where it is present).
    """

    missing_rate: float = 0.0
    without: Optional[str] = None
    reference_for: Optional[str] = None
    only: Optional[str] = None

    def __post_init__(self):
        if not 0.0 <= self.missing_rate < 1.0:
            raise ValueError(f"a missing rate must be in [0, 1), got {self.missing_rate!r}")
        named = (self.without, self.reference_for, self.only)
        if sum(x is not None for x in named) + (self.missing_rate > 0) > 1:
            raise ValueError(f"a condition is one of a missing rate, `without`, `reference_for` or `only`, got {self}")
        object.__setattr__(self, "missing_rate", float(self.missing_rate))

    @property
    def suffix(self) -> str:
        """The part of a key after the metric: `""`, `"_missing_0.3"`, `"_without_text"`, `"_with_text"`,
        `"_only_text"`."""
        if self.without is not None:
            return f"_without_{self.without}"
        if self.only is not None:
            return f"_only_{self.only}"
        if self.reference_for is not None:
            return f"_with_{self.reference_for}"
        return f"_missing_{format_rate(self.missing_rate)}" if self.missing_rate else ""


COMPLETE = Condition()


@dataclass(frozen=True)
class ResultKey:
    """One parsed result name: `str(key)` is the flat key."""

    metric: str
    condition: Condition = COMPLETE
    split: str = "test"

    def __str__(self) -> str:
        return f"{self.split}_{self.metric}{self.condition.suffix}"


def result_key(metric: str, condition: Union[Condition, float] = COMPLETE, *, split: str = "test") -> str:
    """The flat results key of `metric` on `split` under `condition` (a `Condition`, or a bare missing rate).

    >>> result_key("f1", 0.5, split="validation")
    'validation_f1_missing_0.5'
    """
    if not isinstance(condition, Condition):
        condition = Condition(missing_rate=float(condition))
    return str(ResultKey(metric, condition, split))


def _key_pattern(split: str, metrics: Iterable[str]) -> re.Pattern:
    group = "|".join(re.escape(m) for m in sorted(metrics, key=len, reverse=True))
    return re.compile(
        rf"^{re.escape(split)}_(?P<metric>{group})"
        r"(?:_missing_(?P<rate>.+)|_without_(?P<without>.+)|_with_(?P<reference>.+)|_only_(?P<only>.+))?$"
    )


_PATTERNS: dict[tuple[str, tuple[str, ...]], re.Pattern] = {}


def parse_result_key(
    key: str, *, split: str = "test", metrics: Iterable[str] = tuple(CONDITION_METRICS)
) -> Optional[ResultKey]:
    """The `ResultKey` a flat key names, or `None` for a key that is not a per-condition metric of `split`
    (`train_runtime`, `eval_accuracy`, ...).

    Raises:
        ValueError: the key has the shape of a missing-rate key but its η is not a number in [0, 1).
    """
    metrics = tuple(metrics)
    pattern = _PATTERNS.setdefault((split, metrics), _key_pattern(split, metrics))
    match = pattern.match(key)
    if match is None:
        return None
    if match["rate"] is not None:
        try:
            rate = float(match["rate"])
        except ValueError:
            raise ValueError(f"results key {key!r}: the missing rate {match['rate']!r} is not a number") from None
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"results key {key!r}: the missing rate must be in [0, 1), got {rate!r}")
        return ResultKey(match["metric"], Condition(missing_rate=rate), split)
    condition = Condition(without=match["without"], reference_for=match["reference"], only=match["only"])
    return ResultKey(match["metric"], condition, split)


def parse_missing_rates(
    rates: Union[str, Iterable[float], None], *, flag: str = "--eval_missing_rates"
) -> list[float]:
    """Missing rates (comma-separated text, numbers, or `None` for `DEFAULT_EVAL_MISSING_RATES`) as sorted distinct
    rates in [0, 1), always with 0.

    Raises:
        ValueError: naming `flag`, for text that is not numbers or a rate outside [0, 1).

    >>> parse_missing_rates("0.5, 0.3")
    [0.0, 0.3, 0.5]
    """
    rates = DEFAULT_EVAL_MISSING_RATES if rates is None else rates
    values = [value for value in rates.split(",") if value.strip()] if isinstance(rates, str) else list(rates)
    try:
        parsed = [float(value) for value in values]
    except (TypeError, ValueError):
        raise ValueError(f"{flag} must be comma-separated numbers, got {rates!r}") from None
    bad = [rate for rate in parsed if not 0 <= rate < 1]
    if bad:
        raise ValueError(f"{flag} must be in [0, 1), got {bad}")
    return sorted(set(parsed) | {0.0})
