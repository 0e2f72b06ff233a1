"""Checkpoints: saved atomically, an incomplete one never resumed silently, --save_total_limit bounds them (the best
kept), and a real interrupt (SIGINT mid-epoch in a subprocess) then the README's resume gives the uninterrupted run."""

import json
import logging
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from shared_run import script_env
from test_train_accelerate import EARLY_STOPPING, QUICK, ROOT, assert_same_run, run

import cldmdf.train_accelerate as train_accelerate
from cldmdf.training import UserError
from cldmdf.training.budget import EarlyStopping
from cldmdf.training.checkpointing import MANIFEST, latest_checkpoint, missing_files

LIMITED = [*EARLY_STOPPING, "--checkpointing_steps", "epoch", "--save_total_limit", "1"]


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    folder = tmp_path_factory.mktemp("limited")
    results = run(folder, *LIMITED, name="straight")
    return folder / "straight", results


def test_save_total_limit_keeps_the_last_checkpoints_and_the_best(limited):
    folder, results = limited
    kept = sorted(p.name for p in (folder / "checkpoints").iterdir())
    trained, best = results["epochs_trained"], results["best_epoch"]
    expected = {f"epoch_{trained - 1}", f"epoch_{best}"}
    assert set(kept) == expected, kept
    best_manifest = json.loads((folder / "checkpoints" / f"epoch_{best}" / MANIFEST).read_text())
    assert best_manifest["completed_steps"] >= results["best_step"]
    assert all(not missing_files(folder / "checkpoints" / name) for name in kept)


def test_a_run_resumed_from_a_kept_checkpoint_is_the_straight_run(limited, tmp_path):
    folder, results = limited
    checkpoint = folder / "checkpoints" / f"epoch_{results['best_epoch']}"
    run(tmp_path, *LIMITED, "--resume_from_checkpoint", str(checkpoint), name="resumed")
    assert_same_run(folder, tmp_path / "resumed")


# Resumed from the last checkpoint of a run that had already ended, each way a run ends. Each scenario holds by
# construction: with a learning rate of 0 nothing improves after the first evaluation, so patience 1 stops the run at
# the second; patience 0 never stops, so the run uses its whole budget (its best evaluation may be the last).
ENDED = {
    "stopped_early": ["--learning_rate", "0", "--early_stopping_patience", "1", "--num_train_epochs", "6"],
    "budget_used_up": ["--early_stopping_patience", "0", "--num_train_epochs", "4"],
}


@pytest.mark.parametrize("ending", list(ENDED))
@pytest.mark.parametrize("checkpointing", ["epoch", "8"])
def test_a_run_resumed_from_its_last_checkpoint_after_it_ended_is_the_straight_run(tmp_path, ending, checkpointing):
    """No extra epoch, the same counts, the same weights: the resumed run knows that early stopping had decided (or
    that the budget is spent). `8` is the steps of an epoch: step checkpoints at each epoch's end."""
    flags = [*EARLY_STOPPING, *ENDED[ending], "--eval_steps", "8", "--checkpointing_steps", checkpointing]
    straight = run(tmp_path, *flags, "--save_total_limit", "0", name="straight")
    stopped_early = straight["epochs_trained"] < int(ENDED[ending][-1])
    assert stopped_early == (ending == "stopped_early"), f"the scenario does not hold: {straight}"
    last = max((tmp_path / "straight" / "checkpoints").iterdir(), key=lambda path: path.stat().st_mtime)
    resumed = run(tmp_path, *flags, "--save_total_limit", "0", "--resume_from_checkpoint", str(last), name="resumed")
    assert resumed["epochs_trained"] == straight["epochs_trained"]
    assert_same_run(tmp_path / "straight", tmp_path / "resumed")


def test_a_resume_with_a_flag_that_changes_training_is_refused_naming_it_and_both_values(limited, tmp_path):
    folder, results = limited
    checkpoint = folder / "checkpoints" / f"epoch_{results['best_epoch']}"
    changed = [*LIMITED, "--learning_rate", "1e-2", "--resume_from_checkpoint", str(checkpoint)]
    with pytest.raises(
        UserError, match=r"other arguments: --learning_rate 0\.1 -> 0\.01 \(checkpoint -> this command\)"
    ):
        run(tmp_path, *changed, name="changed")
    assert not (tmp_path / "changed" / "model.safetensors").exists()
    # What is written, logged or evaluated after training may change.
    free = [
        *LIMITED,
        "--eval_missing_rates",
        "0",
        "--save_total_limit",
        "0",
        "--resume_from_checkpoint",
        str(checkpoint),
    ]
    run(tmp_path, *free, name="free")


def test_an_incomplete_checkpoint_is_refused_and_latest_takes_the_newest_complete_one(limited, tmp_path, caplog):
    folder, results = limited
    copy = tmp_path / "copy"
    shutil.copytree(folder / "checkpoints", copy / "checkpoints")
    newest = max((copy / "checkpoints").iterdir(), key=lambda p: p.stat().st_mtime)
    (newest / "optimizer.bin").unlink()
    with pytest.raises(UserError, match=rf"--resume_from_checkpoint '{newest}' is incomplete: \['optimizer.bin'\]"):
        run(tmp_path, *LIMITED, "--resume_from_checkpoint", str(newest), name="copy")
    args = train_accelerate.parse_args([*QUICK, "--output_dir", str(copy), "--resume_from_checkpoint", "latest"])
    with caplog.at_level(logging.WARNING):
        chosen = latest_checkpoint(args)
    assert Path(chosen).name != newest.name and not missing_files(Path(chosen))
    assert f"skipped the newer but incomplete checkpoints ['{newest.name}']" in caplog.text


def test_a_save_interrupted_midway_leaves_no_checkpoint_that_looks_complete(tmp_path, monkeypatch):
    def interrupted(self, folder):
        raise KeyboardInterrupt  # after accelerate's files, before the early-stopping state and the manifest

    monkeypatch.setattr(EarlyStopping, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, "--max_train_steps", "2", "--checkpointing_steps", "1", "--skip_modality_removal")
    root = tmp_path / "out" / "checkpoints"
    assert [p.name for p in root.iterdir()] == [".saving-step_1"]  # never renamed to step_1
    args = train_accelerate.parse_args([*QUICK, "--output_dir", str(tmp_path / "out")])
    with pytest.raises(UserError, match="no complete checkpoint"):
        latest_checkpoint(args)


TINY_RUN = [
    "--dataset_name",
    str(ROOT / "bundled_datasets" / "uci_multifeature"),
    "--max_train_samples",
    "256",
    "--max_eval_samples",
    "32",
    "--hidden_size",
    "16",
    "--per_device_train_batch_size",
    "8",
    "--eval_missing_rates",
    "0",
    "--skip_modality_removal",
    "--num_train_epochs",
    "6",
    "--eval_steps",
    "16",
    "--min_train_steps",
    "0",
    "--checkpointing_steps",
    "epoch",
]  # fmt: skip  32 steps an epoch


@pytest.mark.slow  # three subprocess runs of the script: about 50 s on 2 shared cores
def test_sigint_mid_epoch_then_the_readme_resume_is_the_uninterrupted_run(tmp_path):
    env = script_env()
    command = [sys.executable, str(ROOT / "train_accelerate.py"), *TINY_RUN]
    straight = subprocess.run([*command, "--output_dir", str(tmp_path / "straight")], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
    assert straight.returncode == 0, straight.stderr[-3000:]
    output = tmp_path / "interrupted"
    log = open(tmp_path / "interrupted.log", "w")
    process = subprocess.Popen([*command, "--output_dir", str(output)], cwd=ROOT, env=env, stdout=log, stderr=log)
    deadline = time.time() + 300
    while not (output / "checkpoints" / "epoch_1").is_dir() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # well into the third epoch (about 0.1 s a step here), before its end
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130  # the shell's code for an interrupted command
    log.close()
    interrupted = (tmp_path / "interrupted.log").read_text()
    # One line saying what survives and how to go on, no traceback
    assert "Traceback" not in interrupted and "KeyboardInterrupt" not in interrupted
    assert "train_accelerate.py: interrupted. The newest complete checkpoint is " in interrupted
    assert "--resume_from_checkpoint latest" in interrupted
    assert not (output / "model.safetensors").exists()  # interrupted before the end
    saved = sorted(p.name for p in (output / "checkpoints").iterdir() if not p.name.startswith("."))
    assert "epoch_1" in saved and "epoch_5" not in saved
    resumed = subprocess.run([*command, "--output_dir", str(output), "--resume_from_checkpoint", "latest"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resumed from checkpoint" in resumed.stdout
    assert_same_run(tmp_path / "straight", output)


def test_the_plan_time_per_epoch_and_peak_memory_are_reported(limited, caplog):
    folder, results = limited
    saved = json.loads((folder / "all_results.json").read_text())
    assert saved["train_seconds_per_epoch"] == results["train_seconds_per_epoch"]
    # 8 steps an epoch of a tiny model: well under a minute each, and more than nothing
    assert 0 < results["train_seconds_per_epoch"] < 60
    assert results["train_seconds_per_epoch"] * results["epochs_trained"] <= results["train_runtime"] * 1.05 + 0.1
    import resource

    # this process has run at least the model, torch and datasets: over 100 MiB, and not above its own peak now
    assert 100 < results["peak_memory_mb"] <= resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 + 1


def test_the_plan_names_both_phases_and_an_estimate(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        results = run(tmp_path, "--max_train_steps", "24", "--skip_modality_removal", "--max_eval_samples", "32")
    text = caplog.text
    assert "Total optimization steps = 24 (at most; early stopping may end sooner)" in text
    # 256 training rows + 32 validation rows: the refit runs at most 24 * 288 / 256 = 27 steps
    assert "Then the refit on train + validation: at most 27 steps" in text
    assert results["refit_steps"] <= 27
    assert "Estimated time: " in text and "s of refit" in text
    assert text.count("  Epoch ") == results["epochs_trained"]
