# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""The wheel: one installed namespace (`cldmdf`) beside the remote-code package, and the training console script."""

import configparser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]
# What the build reads: the project file, the long description and every folder the wheel installs.
BUILD_INPUTS = ["pyproject.toml", "README.md", "train_accelerate.py"]
PACKAGE_FOLDERS = ["processing", "training", "evaluation", "export", "model_cards", "modeling_cldmdf"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """A wheel built from a copy of the repository's tracked build inputs (the checkout gets no build/ folder)."""
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(
        ["git", "ls-files", *BUILD_INPUTS, *PACKAGE_FOLDERS], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in tracked:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), "."],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("cldmdf-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_installs_one_namespace_and_the_remote_code(wheel):
    names = wheel.namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"cldmdf", "modeling_cldmdf"}
    for folder, file in [
        ("cldmdf", "train_accelerate.py"),
        ("cldmdf/training", "loop.py"),
        ("cldmdf/processing", "loading.py"),
        ("cldmdf/evaluation", "results.py"),
        ("cldmdf/evaluation/metrics/accuracy", "accuracy.py"),
        ("cldmdf/model_cards", "template.md"),  # package data
        ("cldmdf/export", "onnx.py"),
        ("modeling_cldmdf", "modeling_cldmdf.py"),
    ]:
        assert f"{folder}/{file}" in names
    # nothing of the repository that is not the library: tests, benchmarks, scripts, data
    assert not [name for name in names if name.startswith(("cldmdf/tests", "cldmdf/benchmarks", "cldmdf/scripts"))]


def test_the_wheel_declares_the_training_and_export_console_scripts(wheel):
    (entry_points,) = [name for name in wheel.namelist() if name.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(entry_points).decode())
    assert parser["console_scripts"]["cldmdf-train"] == "cldmdf.train_accelerate:cli"
    assert parser["console_scripts"]["cldmdf-export"] == "cldmdf.export.onnx:main"


def test_the_installed_console_script_runs_the_training_script():
    script = Path(sys.executable).parent / "cldmdf-train"
    if not script.exists():
        pytest.skip("the package is not installed in this interpreter's environment")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, cwd="/", check=True)
    assert "--dataset_name" in done.stdout and "Fine-tune CL-DMDF" in done.stdout


def test_cldmdf_train_and_accelerate_launch_train_the_same_weights_with_the_same_threads(tmp_path):
    """Without OMP_NUM_THREADS, `cldmdf-train` runs one torch thread per process as `accelerate launch` sets it: the
    same speed and byte-identical weights (a CPU reduction's order depends on the number of threads)."""
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "cldmdf-train").exists():
        pytest.skip("the package is not installed in this interpreter's environment")
    root = Path(__file__).resolve().parents[2]
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    flags = ["--dataset_name", str(root / "bundled_datasets" / "uci_multifeature"), "--max_train_samples", "128",
             "--max_eval_samples", "64", "--hidden_size", "16", "--max_train_steps", "6", "--eval_missing_rates", "0",
             "--skip_modality_removal", "--no_refit"]  # fmt: skip
    launch = [str(bin_dir / "accelerate"), "launch", "--num_processes", "1", "--mixed_precision", "no",
              "--dynamo_backend", "no", str(root / "train_accelerate.py")]  # fmt: skip
    logs = {}
    for name, command in (("installed", [str(bin_dir / "cldmdf-train")]), ("launched", launch)):
        done = subprocess.run([*command, *flags, "--output_dir", str(tmp_path / name)], env=env, cwd=root,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        logs[name] = done.stderr
    for name, log in logs.items():
        assert "torch threads per process = 1 (OMP_NUM_THREADS=1)" in log, name
    installed, launched = (load_file(tmp_path / name / "model.safetensors") for name in ("installed", "launched"))
    assert installed.keys() == launched.keys()
    assert all(torch.equal(installed[key], launched[key]) for key in installed)
