# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""`evaluation.results`: result keys round-trip, and missing rates parse in one place."""

import subprocess
import sys

import pytest

from cldmdf.evaluation.results import Condition, ResultKey, parse_missing_rates, parse_result_key, result_key


@pytest.mark.parametrize(
    "key, expected",
    [
        ("test_accuracy", ResultKey("accuracy")),
        ("test_accuracy_missing_0.3", ResultKey("accuracy", Condition(missing_rate=0.3))),
        ("test_f1_missing_0.05", ResultKey("f1", Condition(missing_rate=0.05))),
        ("test_rows_without_text", ResultKey("rows", Condition(without="text"))),
        ("test_loss_with_image_2", ResultKey("loss", Condition(reference_for="image_2"))),
        ("test_r2", ResultKey("r2")),
        ("test_mse_missing_0.5", ResultKey("mse", Condition(missing_rate=0.5))),
    ],
)
def test_keys_round_trip(key, expected):
    parsed = parse_result_key(key)
    assert parsed == expected
    assert str(parsed) == key
    assert result_key(parsed.metric, parsed.condition) == key


@pytest.mark.parametrize("key", ["train_runtime", "eval_accuracy", "test_samples_per_second", "epoch", "test_"])
def test_other_keys_are_not_results(key):
    assert parse_result_key(key) is None


def test_split_and_bare_rate():
    assert result_key("f1", 0.5, split="validation") == "validation_f1_missing_0.5"
    assert result_key("accuracy", 0.0) == "test_accuracy"
    assert parse_result_key("validation_f1_missing_0.5", split="validation").condition.missing_rate == 0.5
    assert parse_result_key("validation_f1_missing_0.5") is None


@pytest.mark.parametrize(
    "key", ["test_accuracy_missing_abc", "test_accuracy_missing_1.5", "test_accuracy_missing_0.3_x"]
)
def test_bad_rate_in_key(key):
    with pytest.raises(ValueError, match="missing rate"):
        parse_result_key(key)


def test_condition_is_one_thing():
    with pytest.raises(ValueError, match="one of"):
        Condition(missing_rate=0.3, without="text")
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Condition(missing_rate=1.0)


def test_parse_missing_rates():
    assert parse_missing_rates("0.5, 0.3,0.3") == [0.0, 0.3, 0.5]
    assert parse_missing_rates([0.1]) == [0.0, 0.1]
    assert parse_missing_rates(None) == [0.0, 0.1, 0.3, 0.5]
    with pytest.raises(ValueError, match="--rates must be comma-separated numbers"):
        parse_missing_rates("0.1,x", flag="--rates")
    with pytest.raises(ValueError, match=r"--eval_missing_rates must be in \[0, 1\), got \[1.0\]"):
        parse_missing_rates("1.0")


def test_results_module_is_light():
    """The report scripts read results without importing torch or evaluate."""
    code = "import sys, evaluation.results; print(sorted({'torch', 'evaluate'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
