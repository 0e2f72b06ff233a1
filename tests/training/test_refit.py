"""Refitting on train + validation (training/loop.py): when a run refits, for how many steps, on which rows, and
that the refit model is the one evaluated and saved."""

import logging
import math

import pytest
import torch
from accelerate import PartialState
from datasets import List, Value
from safetensors.torch import load_file
from test_train_accelerate import QUICK

import cldmdf.train_accelerate as train_accelerate
from cldmdf.training import UserError
from cldmdf.training.data import with_splits
from cldmdf.training.loop import (
    MIN_VALIDATION_ROWS_PER_CLASS,
    refit_data,
    refit_length,
    refit_steps,
    should_refit,
)

# 8 steps an epoch (256 rows, 32 a batch); evaluated every 4 steps; stops after 24 steps at most. 40 validation rows:
# 4 per class, enough for the refit to repeat the best evaluation's steps (`refit_length`).
SHORT = ["--max_eval_samples", "40", "--skip_modality_removal", "--max_train_steps", "24", "--eval_steps", "4"]


def test_refit_steps_keep_the_epochs_of_the_best_evaluation():
    assert refit_steps(980, train_rows=1440, refit_rows=1600) == 1089  # ceil(980 * 1600 / 1440)
    assert refit_steps(12, train_rows=100, refit_rows=260) == 32  # ceil(31.2)
    assert refit_steps(7, train_rows=50, refit_rows=50) == 7


def test_refit_repeats_the_whole_first_fit_below_four_validation_rows_per_class(tmp_path):
    PartialState()  # accelerate's logger needs it, as in a run
    data = train_accelerate.load_checked_data(
        train_accelerate.parse_args([*QUICK, "--max_eval_samples", "160", "--output_dir", str(tmp_path)])
    )
    assert data.problem_type == "single_label_classification" and data.num_labels == 10
    assert MIN_VALIDATION_ROWS_PER_CLASS == 4
    for rows, expected in ((160, 80), (40, 80), (39, 1000), (30, 1000)):  # 30 rows: 3 per class, as in letter
        small = with_splits(data, {"validation": data["validation"].select(range(rows))})
        assert refit_length(best_step=80, completed_steps=1000, data=small) == expected, rows


def test_refit_data_is_train_then_validation_and_leaves_the_other_splits(tmp_path):
    data = train_accelerate.load_checked_data(train_accelerate.parse_args([*QUICK, "--output_dir", str(tmp_path)]))
    refit = refit_data(data)
    train, validation = data["train"], data["validation"]
    assert len(refit["train"]) == len(train) + len(validation)
    assert list(refit["train"]["row_id"]) == list(train["row_id"]) + list(validation["row_id"])
    assert refit["test"] is data["test"] and refit["validation"] is validation
    assert data["train"] is train  # the run's data is left as it was


def test_refit_data_casts_a_validation_split_stored_with_other_feature_types(tmp_path):
    data = train_accelerate.load_checked_data(train_accelerate.parse_args([*QUICK, "--output_dir", str(tmp_path)]))
    # e.g. a validation file written with float64 vectors beside a float32 train file
    validation = data["validation"].cast_column("fou", List(Value("float64"), length=76))
    assert validation.features != data["train"].features
    refit = refit_data(with_splits(data, {"validation": validation}))
    assert refit["train"].features == data["train"].features
    assert len(refit["train"]) == len(data["train"]) + len(validation)


def _args(*extra: str):
    return train_accelerate.parse_args([*QUICK, "--output_dir", "unused", *extra])


def test_refit_is_the_default_and_skipped_with_a_log_line_when_it_cannot_run(caplog):
    PartialState()  # accelerate's logger needs it, as in a run
    assert should_refit(_args(), "test") is True
    assert should_refit(_args("--no_refit"), "test") is False
    with caplog.at_level(logging.INFO, logger="cldmdf.training.loop"):
        assert should_refit(_args(), "validation") is False
        assert should_refit(_args("--streaming", "--max_train_steps", "4"), "test") is False
    assert "no refit on train + validation: the final evaluation reads the validation split" in caplog.text
    assert "no refit on train + validation: --streaming" in caplog.text


@pytest.mark.parametrize(
    "extra, split, message",
    [
        ([], "validation", "--refit cannot run: the final evaluation reads the validation split"),
        (["--streaming", "--max_train_steps", "4"], "test", "--refit cannot run: --streaming"),
    ],
)
def test_an_explicit_refit_that_cannot_run_is_an_error(extra, split, message):
    with pytest.raises(UserError, match=message):
        should_refit(_args("--refit", *extra), split)


@pytest.fixture(scope="module")
def refit_and_best(tmp_path_factory):
    folder = tmp_path_factory.mktemp("refit")
    refit = train_accelerate.train(train_accelerate.parse_args([*QUICK, *SHORT, "--output_dir", str(folder / "a")]))
    best = train_accelerate.train(
        train_accelerate.parse_args([*QUICK, *SHORT, "--no_refit", "--output_dir", str(folder / "b")])
    )
    return refit, best


def test_a_default_run_refits_for_the_scaled_steps_of_its_best_evaluation(refit_and_best):
    refit, best = refit_and_best
    data = refit.data
    rows = len(data["train"]) + len(data["validation"])
    assert refit.results["refit_rows"] == rows == 256 + 40  # --max_train_samples, --max_eval_samples
    # the first fit is the --no_refit run, step for step
    for key in ("train_steps", "best_step", "best_validation_loss", "best_validation_accuracy"):
        assert refit.results[key] == best.results[key], key
    assert refit.results["refit_steps"] == math.ceil(refit.results["best_step"] * rows / 256)
    assert "refit_steps" not in best.results and refit.settings["refit"] and not best.settings["refit"]
    # the refit weights are not the best evaluation's
    refit_weights, best_weights = refit.model.state_dict(), best.model.state_dict()
    assert any(not torch.equal(refit_weights[key], best_weights[key]) for key in refit_weights)


def test_a_run_with_few_validation_rows_per_class_refits_for_all_its_steps(tmp_path):
    args = [*QUICK, *SHORT, "--max_eval_samples", "32", "--output_dir", str(tmp_path)]  # 3.2 per class
    run = train_accelerate.train(train_accelerate.parse_args(args))
    assert run.results["train_steps"] == 24
    assert run.results["refit_steps"] == math.ceil(24 * (256 + 32) / 256)


def test_the_refit_model_is_the_one_saved(refit_and_best, tmp_path):
    refit, _ = refit_and_best
    args = train_accelerate.parse_args([*QUICK, *SHORT, "--output_dir", str(tmp_path / "saved")])
    train_accelerate.save_final(refit, args)
    saved = load_file(tmp_path / "saved" / "model.safetensors")
    weights = refit.model.state_dict()
    assert all(torch.equal(saved[key], weights[key]) for key in saved)
