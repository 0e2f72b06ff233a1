# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""Checkpoints: `accelerator.save_state` plus the early-stopping state, every --checkpointing_steps steps or epoch
(pushed to a branch under --push_checkpoints), and the resume from one of them (a folder or `latest`) that continues
the run bit for bit: the seedable sampler and `skip_first_batches` put the data where it was."""

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import NamedTuple, Optional

from accelerate import Accelerator
from accelerate.logging import get_logger

from . import UserError
from .budget import EarlyStopping
from .outputs import push_folder

logger = get_logger(__name__)

# Written last into a checkpoint: the files it holds and their sizes, and the optimizer steps done. A checkpoint is
# saved under a temporary name and renamed once this is written, so a folder `step_N` / `epoch_N` is complete; the
# manifest also tells a checkpoint whose files were removed since. (accelerate logs a "sampler state saved" line per
# dataloader but writes the file only for iterable datasets: a map-style dataset's seedable sampler is a function of
# (seed, epoch), which `set_epoch` restores, so there is nothing to save.)
MANIFEST = "checkpoint_manifest.json"
# The arguments of the run that saved a checkpoint: a resume with other values of any of them would continue another
# run than the one interrupted, and is refused.
TRAINING_ARGS = "training_args.json"
# The arguments a resume may change: where things are written, logged or pushed, and what is evaluated or predicted
# after training; none of them changes the weights a run trains.
FREE_ON_RESUME = frozenset(
    {
        "command",
        "output_dir",
        "resume_from_checkpoint",
        "checkpointing_steps",
        "save_total_limit",
        "with_tracking",
        "report_to",
        "logging_steps",
        "dataloader_num_workers",
        "per_device_eval_batch_size",
        "eval_missing_rates",
        "skip_modality_removal",
        "evaluation_split",
        "do_predict",
        "predict_file",
        "predict_split",
        "predictions_format",
        "push_to_hub",
        "hub_model_id",
        "hub_token",
        "hub_private_repo",
        "push_checkpoints",
        "trust_remote_code",
    }
)


def training_args(args: argparse.Namespace) -> dict:
    """The arguments that define what a run trains, as JSON values (what `TRAINING_ARGS` holds)."""
    kept = {key: value for key, value in vars(args).items() if key not in FREE_ON_RESUME}
    return json.loads(json.dumps(kept, sort_keys=True, default=str))


def check_same_run(args: argparse.Namespace, folder: Path) -> None:
    """Refuses to resume `folder` with arguments that change training, naming each and both values."""
    path = folder / TRAINING_ARGS
    if not path.is_file():
        raise UserError(f"--resume_from_checkpoint {str(folder)!r} has no {TRAINING_ARGS}: it was saved by an earlier "
                        f"version that did not record its arguments; start the run again")  # fmt: skip
    saved, given = json.loads(path.read_text()), training_args(args)
    changed = [f"--{key} {saved.get(key)!r} -> {given.get(key)!r}" for key in sorted(set(saved) | set(given))
               if saved.get(key) != given.get(key)]  # fmt: skip
    if changed:
        raise UserError(
            f"--resume_from_checkpoint {str(folder)!r} was saved by a run with other arguments: {'; '.join(changed)} "
            f"(checkpoint -> this command). A resume continues the same run; rerun with the checkpoint's values, or "
            f"start a new run in another --output_dir"
        )


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


def saved_checkpoints(args: argparse.Namespace) -> list[Path]:
    """The checkpoint folders of the run, oldest first (temporary folders of a save in progress left out)."""
    root = Path(args.output_dir, "checkpoints")
    folders = [p for p in root.glob("*") if p.is_dir() and not p.name.startswith(".")] if root.exists() else []
    return sorted(folders, key=lambda p: p.stat().st_mtime)


def missing_files(folder: Path) -> list[str]:
    """What `folder` lacks to be resumed: its manifest, or files the manifest lists that are absent or of another
    size; [] for a complete checkpoint."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return [MANIFEST]
    listed = json.loads(manifest.read_text())["files"]
    return sorted(
        name
        for name, size in listed.items()
        if not (folder / name).is_file() or (folder / name).stat().st_size != size
    )


def complete_checkpoints(args: argparse.Namespace) -> list[Path]:
    """The checkpoint folders of the run that can be resumed (nothing missing), oldest first."""
    return [folder for folder in saved_checkpoints(args) if not missing_files(folder)]


def latest_checkpoint(args: argparse.Namespace) -> str:
    """The newest complete checkpoint; incomplete ones (files removed, or a save interrupted by code before saves
    were atomic) are skipped with a warning naming them."""
    root = Path(args.output_dir, "checkpoints")
    candidates = saved_checkpoints(args)
    complete = complete_checkpoints(args)
    skipped = [p.name for p in candidates if complete and p.stat().st_mtime > complete[-1].stat().st_mtime]
    if not complete:
        found = f" ({[p.name for p in candidates]} are incomplete)" if candidates else ""
        raise UserError(f"--resume_from_checkpoint latest: no complete checkpoint under {root}{found}")
    if skipped:
        logger.warning(
            f"--resume_from_checkpoint latest: skipped the newer but incomplete checkpoints {skipped} (files "
            f"missing); resuming from {complete[-1].name}, the newest complete one"
        )
    return str(complete[-1])


def step_checkpoint_due(args: argparse.Namespace, completed_steps: int) -> bool:
    return str(args.checkpointing_steps).isdigit() and completed_steps % int(args.checkpointing_steps) == 0


def save_checkpoint(
    accelerator: Accelerator, stopper: EarlyStopping, args: argparse.Namespace, name: str, completed_steps: int
) -> None:
    """Saves the state under a temporary name, writes the manifest last and renames the folder: an interrupt never
    leaves a half checkpoint that looks complete. Then keeps the last --save_total_limit checkpoints and the best."""
    folder = Path(checkpoint_dir(args, name))
    staging = folder.with_name(f".saving-{name}")
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)  # left by a save that was interrupted
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging))
    accelerator.wait_for_everyone()  # every process's files (its random states) written before the manifest lists them
    if accelerator.is_main_process:
        stopper.save(str(staging))
        (staging / TRAINING_ARGS).write_text(json.dumps(training_args(args), indent=2, sort_keys=True))
        files = {p.name: p.stat().st_size for p in staging.iterdir() if p.is_file()}
        manifest = {"completed_steps": completed_steps, "files": files}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        replaced = folder.with_name(f".replaced-{name}")
        if folder.exists():  # the same name saved again (a run resumed from an earlier checkpoint)
            folder.rename(replaced)
        staging.rename(folder)
        shutil.rmtree(replaced, ignore_errors=True)
        prune_checkpoints(args, stopper.best_step)
        if args.push_to_hub and args.push_checkpoints:
            push_folder(args, str(folder), revision=name, message=f"Checkpoint {name}")
    accelerator.wait_for_everyone()


def checkpoint_steps(folder: Path) -> Optional[int]:
    manifest = folder / MANIFEST
    return json.loads(manifest.read_text()).get("completed_steps") if manifest.is_file() else None


def prune_checkpoints(args: argparse.Namespace, best_step: Optional[int]) -> None:
    """Keeps the last --save_total_limit checkpoints and the best one: the first saved at or after the best
    evaluation (it holds the best weights and resumes from right after them); 0 keeps every checkpoint."""
    limit = args.save_total_limit
    saved = saved_checkpoints(args)
    if not limit or len(saved) <= limit:
        return
    kept = saved[-limit:]
    after_best = [p for p in saved if best_step is not None and (checkpoint_steps(p) or -1) >= best_step]
    best = min(after_best, key=checkpoint_steps) if after_best else None
    if best is not None and best not in kept:
        kept.insert(0, best)
    removed = [p for p in saved if p not in kept]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    best_text = f" and {best.name}, the first saved after the best evaluation (step {best_step})" if best else ""
    logger.info(
        f"Checkpoints kept: {[p.name for p in kept]}, the last {limit} (--save_total_limit){best_text}; removed "
        f"{[p.name for p in removed]}"
    )


def resume_from_checkpoint(
    accelerator: Accelerator, stopper: EarlyStopping, args: argparse.Namespace, steps_per_epoch: Optional[int]
) -> ResumePoint:
    """Loads --resume_from_checkpoint into the prepared objects and `stopper`; the start of a fresh run without it."""
    if not args.resume_from_checkpoint:
        return FRESH_START
    path = latest_checkpoint(args) if args.resume_from_checkpoint == "latest" else args.resume_from_checkpoint
    missing = missing_files(Path(path))
    if missing:
        # Refused rather than replaced by another: the user named this one, and resuming without its optimizer,
        # random or early-stopping state would silently train another run than the one interrupted.
        raise UserError(
            f"--resume_from_checkpoint {path!r} is incomplete: {missing} are missing (a save interrupted before "
            f"saves were atomic, or files removed); pass another checkpoint folder, or `latest` for the newest "
            f"complete one"
        )
    check_same_run(args, Path(path))
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
