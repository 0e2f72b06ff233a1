# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""Checkpoints: `accelerator.save_state` plus the early-stopping state, every --checkpointing_steps steps or epoch
(pushed to a branch under --push_checkpoints), and the resume from one of them (a folder or `latest`) that continues
the run bit for bit: the seedable sampler and `skip_first_batches` put the data where it was."""

import argparse
import os
from pathlib import Path
from typing import NamedTuple, Optional

from accelerate import Accelerator

from . import UserError
from .budget import EarlyStopping
from .outputs import push_folder


class ResumePoint(NamedTuple):
    """Where a run starts: optimizer steps already done, the epoch to start in, and (for a step checkpoint) the
    batches of that epoch to skip."""

    completed_steps: int
    starting_epoch: int
    resume_step: Optional[int]


FRESH_START = ResumePoint(0, 0, None)


def epoch_batches(accelerator: Accelerator, train_dataloader, epoch: int, resume: ResumePoint):
    """The batches of `epoch`: the seeded order of that epoch, without those a step checkpoint had done."""
    if hasattr(train_dataloader, "set_epoch"):
        train_dataloader.set_epoch(epoch)
    if resume.resume_step is not None and epoch == resume.starting_epoch:
        return accelerator.skip_first_batches(train_dataloader, resume.resume_step)
    return train_dataloader


def checkpoint_dir(args: argparse.Namespace, name: str) -> str:
    return os.path.join(args.output_dir, "checkpoints", name)


def latest_checkpoint(args: argparse.Namespace) -> str:
    root = Path(args.output_dir, "checkpoints")
    candidates = [p for p in root.glob("*") if p.is_dir()] if root.exists() else []
    if not candidates:
        raise UserError(f"--resume_from_checkpoint latest: no checkpoint under {root}")
    return str(max(candidates, key=lambda p: p.stat().st_mtime))


def step_checkpoint_due(args: argparse.Namespace, completed_steps: int) -> bool:
    return str(args.checkpointing_steps).isdigit() and completed_steps % int(args.checkpointing_steps) == 0


def save_checkpoint(accelerator: Accelerator, stopper: EarlyStopping, args: argparse.Namespace, name: str) -> None:
    folder = checkpoint_dir(args, name)
    accelerator.save_state(folder)
    if accelerator.is_main_process:
        stopper.save(folder)
        if args.push_to_hub and args.push_checkpoints:
            push_folder(args, folder, revision=name, message=f"Checkpoint {name}")


def resume_from_checkpoint(
    accelerator: Accelerator, stopper: EarlyStopping, args: argparse.Namespace, steps_per_epoch: Optional[int]
) -> ResumePoint:
    """Loads --resume_from_checkpoint into the prepared objects and `stopper`; the start of a fresh run without it."""
    if not args.resume_from_checkpoint:
        return FRESH_START
    path = latest_checkpoint(args) if args.resume_from_checkpoint == "latest" else args.resume_from_checkpoint
    accelerator.print(f"Resumed from checkpoint: {path}")
    accelerator.load_state(path)
    stopper.load(path)
    name = Path(path).name
    if name.startswith("epoch_"):
        starting_epoch = int(name.split("_")[1]) + 1
        return ResumePoint(starting_epoch * steps_per_epoch, starting_epoch, None)
    completed_steps = int(name.split("_")[1])
    # A step checkpoint at an epoch's last step is saved before that epoch's end (the modality estimates of
    # CAL / TupleInfoNCE, the epoch checkpoint): resume inside that epoch, every batch skipped, so they run.
    starting_epoch = (completed_steps - 1) // steps_per_epoch
    resume_step = (completed_steps - starting_epoch * steps_per_epoch) * args.gradient_accumulation_steps
    return ResumePoint(completed_steps, starting_epoch, resume_step)
