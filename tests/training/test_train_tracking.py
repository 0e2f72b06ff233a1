"""train_accelerate.py --with_tracking: TensorBoard gets the hyper-parameters and the training loss; without any
tracker package installed, one log line says so."""

import logging
import math
from pathlib import Path

import pytest

import cldmdf.train_accelerate as train_accelerate
from cldmdf.training.arguments import parse_missing_rates, validate_args
from cldmdf.training.budget import DEFAULT_LEARNING_RATE, training_budget
from cldmdf.training.evaluation import EvaluationPlan
from cldmdf.training.tracking import TRACKING_PROJECT, init_trackers, tracker_config

ROOT = Path(__file__).resolve().parents[2]
UCI = str(ROOT / "bundled_datasets" / "uci_multifeature")
TINY = [
    "--dataset_name", UCI, "--max_train_samples", "128", "--max_eval_samples", "32", "--hidden_size", "32",
    "--per_device_train_batch_size", "32", "--eval_missing_rates", "0,0.5", "--skip_modality_removal",
]  # fmt: skip


def test_tensorboard_gets_the_training_loss_and_the_hyperparameters(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    output = tmp_path / "out"
    tracking = ["--with_tracking", "--report_to", "tensorboard", "--logging_steps", "2", "--max_train_steps", "6"]
    results = train_accelerate.main(train_accelerate.parse_args([*TINY, *tracking, "--output_dir", str(output)]))
    runs = output / TRACKING_PROJECT  # kept through the final swap of the output folder
    assert list(runs.glob("events.out.tfevents.*"))

    scalars = EventAccumulator(str(runs)).Reload()
    losses = scalars.Scalars("train_loss")
    assert [event.step for event in losses] == [2, 4, 6]  # every --logging_steps steps
    assert all(math.isfinite(event.value) and event.value > 0 for event in losses)
    assert [event.step for event in scalars.Scalars("learning_rate")] == [2, 4, 6]
    # the refit on train + validation logs its own loss, over its own steps
    refit_steps = [event.step for event in scalars.Scalars("refit_train_loss")]
    assert refit_steps == list(range(2, results["refit_steps"] + 1, 2))
    assert scalars.Scalars("test_accuracy")[-1].value == pytest.approx(results["test_accuracy"])

    # add_hparams writes its own sub-run: lists as strings, None left out, the token never.
    (hparams_run,) = [folder for folder in runs.iterdir() if folder.is_dir() and list(folder.glob("events.*"))]
    content = EventAccumulator(str(hparams_run)).Reload().PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    hparams = dict(start.hparams)
    assert hparams["eval_missing_rates"].string_value == "0,0.5"
    assert hparams["learning_rate"].number_value == pytest.approx(DEFAULT_LEARNING_RATE)
    assert hparams["logging_steps"].number_value == 2 and hparams["with_tracking"].number_value == 1  # bool -> 1
    assert "model_name_or_path" not in hparams and "hub_token" not in hparams


def test_without_a_tracker_package_one_line_says_how_to_install_one(tmp_path, monkeypatch, caplog):
    import accelerate.tracking
    from accelerate import Accelerator

    monkeypatch.setattr(accelerate.tracking, "_available_trackers", [])  # as if tensorboard were not installed
    args = train_accelerate.parse_args([*TINY, "--with_tracking", "--output_dir", str(tmp_path)])
    accelerator = Accelerator(cpu=True, log_with="all", project_dir=str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="cldmdf.training.tracking"):
        init_trackers(accelerator, args.report_to, vars(args))
    assert "no tracker package is installed for --report_to 'all', so nothing is logged" in caplog.text
    assert "`pip install tensorboard`" in caplog.text


def test_tracker_config_holds_only_types_trackers_take():
    args = train_accelerate.parse_args([*TINY, "--hub_token", "secret", "--tuple_alphas", "0.1,0.2"])
    # The run's settings hold the resolved values: --eval_missing_rates as a list of floats, the step budget.
    evaluation = EvaluationPlan("test", parse_missing_rates(args.eval_missing_rates), explicit_missing_rates=True)
    budget = training_budget(args, steps_per_epoch=4)
    config = tracker_config(train_accelerate.run_settings(args, evaluation, budget, refit=True))
    assert all(type(value) in (bool, int, float, str) for value in config.values())
    assert config["eval_missing_rates"] == "0,0.5" and config["tuple_alphas"] == "0.1,0.2"
    assert "hub_token" not in config and "model_name_or_path" not in config
    assert config["refit"] is True  # the resolved value, where the flag's default is None


def test_logging_steps_must_be_positive():
    args = train_accelerate.parse_args([*TINY, "--logging_steps", "0"])
    with pytest.raises(train_accelerate.UserError, match="--logging_steps must be >= 1, got 0"):
        validate_args(args)
