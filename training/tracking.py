# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""What a run reports while it trains: the logging set-up of the transformers example scripts, the trackers of
--report_to (`init_trackers`, with the run's settings as hyper-parameters), and the progress bar with the training
loss."""

import logging
import math
import os
import resource
import sys
import time
from collections.abc import Mapping
from typing import Optional

import datasets
import torch
import transformers
from accelerate import Accelerator
from accelerate.logging import get_logger
from tqdm.auto import tqdm

logger = get_logger(__name__)

TRACKING_PROJECT = "cldmdf"  # the trackers' project; TensorBoard writes under output_dir/cldmdf/


def setup_logging(accelerator: Accelerator) -> None:
    """As in the transformers example scripts: INFO logs on the main process only, libraries quiet elsewhere."""
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    if accelerator.is_local_main_process:
        datasets.utils.logging.set_verbosity_warning()
        transformers.utils.logging.set_verbosity_warning()
    else:
        datasets.utils.logging.set_verbosity_error()
        transformers.utils.logging.set_verbosity_error()


def tracker_config(settings: Mapping) -> dict:
    """The run's settings (`train_accelerate.run_settings`) as trackers' hyper-parameters, which take only int, float,
    str and bool (TensorBoard raises on anything else): lists become comma-separated strings, None values are left out,
    the Hub token never goes."""
    config = {}
    for key, value in settings.items():
        if key == "hub_token" or value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(f"{item:g}" if isinstance(item, float) else str(item) for item in value)
        elif not isinstance(value, (bool, int, float, str)):
            value = str(value)
        config[key] = value
    return config


def init_trackers(accelerator: Accelerator, report_to: str, settings: Mapping) -> None:
    """Starts the trackers of --report_to, or says in one line that none is installed (accelerate only warns once
    per missing package, and then logs nothing)."""
    accelerator.init_trackers(TRACKING_PROJECT, config=tracker_config(settings))
    if not accelerator.trackers:
        logger.warning(
            f"--with_tracking: no tracker package is installed for --report_to {report_to!r}, so nothing is "
            f'logged; install one, e.g. `pip install tensorboard` (or `pip install -e ".[tracking]"`)'
        )


def log_training_start(accelerator: Accelerator, args, data, budget, refit_upper_bound: Optional[int] = None) -> None:
    """The whole plan: both phases' steps (the refit's is bounded by the first fit's length scaled by the rows, as
    early stopping may end the first fit sooner), the evaluations, the batch."""
    total_batch = args.per_device_train_batch_size * accelerator.num_processes * args.gradient_accumulation_steps
    evaluations = math.ceil(budget.max_train_steps / budget.eval_steps)
    logger.info(f"  Modalities = {data.modality_names}, labels = {data.num_labels} ({data.problem_type})")
    logger.info(f"  Num epochs = {budget.num_train_epochs}, total batch size = {total_batch}")
    threads = os.environ.get("OMP_NUM_THREADS")
    source = f"OMP_NUM_THREADS={threads}" if threads else "torch's default; set OMP_NUM_THREADS to choose"
    logger.info(f"  Processes = {accelerator.num_processes}, torch threads per process = {torch.get_num_threads()} "
                f"({source})")  # fmt: skip
    logger.info(
        f"  Total optimization steps = {budget.max_train_steps} (at most; early stopping may end sooner), evaluation "
        f"every {budget.eval_steps} steps (at most {evaluations} evaluations)"
    )
    if refit_upper_bound is not None:
        logger.info(f"  Then the refit on train + validation: at most {refit_upper_bound} steps, no evaluation")


def peak_memory_mb(accelerator: Accelerator) -> float:
    """Peak memory of this process so far, in MiB: the CUDA allocator's peak on a GPU, the resident set size (RSS)
    of the process elsewhere (`ru_maxrss`: KiB on Linux, bytes on macOS)."""
    if accelerator.device.type == "cuda":
        return torch.cuda.max_memory_allocated(accelerator.device) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


class RunClock:
    """Time per epoch and peak memory in the log, and the estimated time of the run once a few steps are timed
    (the first fit's remaining steps at the rate so far, plus the refit's upper bound at the same rate)."""

    ESTIMATE_AFTER_STEPS = 20

    def __init__(self, accelerator: Accelerator, budget, start_step: int, refit_upper_bound: Optional[int] = None):
        self.accelerator, self.budget, self.refit = accelerator, budget, refit_upper_bound or 0
        self.start_step, self.start = start_step, time.time()
        self.epoch_start, self.epoch_seconds = self.start, []

    def step(self, completed_steps: int) -> None:
        if completed_steps - self.start_step != self.ESTIMATE_AFTER_STEPS:
            return
        per_step = (time.time() - self.start) / self.ESTIMATE_AFTER_STEPS
        left = (self.budget.max_train_steps - completed_steps) * per_step
        refit = f" + at most {self.refit * per_step:.0f} s of refit" if self.refit else ""
        logger.info(
            f"  Estimated time: {per_step:.3f} s a step (evaluations included), at most {left:.0f} s more of the "
            f"first fit{refit}"
        )

    def epoch_done(self, epoch: int) -> None:
        now = time.time()
        self.epoch_seconds.append(now - self.epoch_start)
        self.epoch_start = now
        logger.info(
            f"  Epoch {epoch}: {self.epoch_seconds[-1]:.2f} s, peak memory {peak_memory_mb(self.accelerator):.0f} MiB"
        )

    def results(self) -> dict:
        """`train_seconds_per_epoch` (the mean over the epochs of the first fit this process ran) and
        `peak_memory_mb`, for `all_results.json`."""
        mean = sum(self.epoch_seconds) / len(self.epoch_seconds) if self.epoch_seconds else None
        return {
            "train_seconds_per_epoch": None if mean is None else round(mean, 3),
            "peak_memory_mb": round(peak_memory_mb(self.accelerator), 1),
        }


class TrainingProgress:
    """The progress bar over the budget's optimizer steps (from those a resumed run had done), with the mean training
    loss of the last --logging_steps steps on it and, with --with_tracking, logged as `train_loss` (with
    `learning_rate`; `refit_train_loss`... for the refit on train + validation). Losses add up on the device; one sync
    per --logging_steps steps reads them."""

    def __init__(self, accelerator: Accelerator, args, budget, completed_steps: int, prefix: str = ""):
        self.bar = tqdm(range(budget.max_train_steps), disable=not accelerator.is_local_main_process)
        self.bar.update(completed_steps)
        self.every, self.accelerator, self.tracking = args.logging_steps, accelerator, args.with_tracking
        self.total, self.count = None, 0
        self.prefix = prefix

    def add(self, loss: torch.Tensor) -> None:
        loss = loss.detach().float()
        self.total = loss if self.total is None else self.total + loss
        self.count += 1

    def step(self, completed_steps: int, learning_rate: float) -> None:
        """One optimizer step done: `completed_steps` in all."""
        self.bar.update(1)
        if completed_steps % self.every or not self.count:
            return
        mean = self.total.item() / self.count
        self.total, self.count = None, 0
        self.bar.set_postfix(loss=f"{mean:.4f}")
        if self.tracking:
            self.accelerator.log(
                {f"{self.prefix}train_loss": mean, f"{self.prefix}learning_rate": learning_rate}, step=completed_steps
            )
