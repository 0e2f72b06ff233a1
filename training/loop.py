# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""The training loop, in one place: `fit` trains a prepared model over a budget of optimizer steps, as accelerate's
`complete_nlp_example.py` does (`outputs = model(**batch)`, the loss, `accelerator.backward`, the optimizer and
scheduler steps, then validation, early stopping and checkpoints); `refit_on_train_and_validation` is the second
call of it, from the initial weights on train + validation (`--refit`, `--no_refit`).

The refit: after early stopping has chosen how long to train, the model is trained again from its initial weights on
the train and validation rows together, for as many epochs as the best evaluation had seen (as the whole first fit,
with too few validation rows per class to choose a step: `refit_length`), and that model is the one evaluated and
saved. The references a user compares CL-DMDF with (scikit-learn's estimators, AutoGluon's
`refit_full`) are fitted on every labelled row; a run that keeps its validation rows out of the final model gives them
away. The number of optimizer steps is scaled by the number of rows, so that the refit sees the same number of epochs
as the best evaluation of the first fit had.
"""

import argparse
import math
import time
from typing import NamedTuple, Optional

from accelerate import Accelerator
from accelerate.logging import get_logger
from datasets import concatenate_datasets

from cldmdf.processing.loading import MultimodalDataset

from . import UserError
from .budget import Budget, EarlyStopping, create_optimizer_and_scheduler
from .checkpointing import FRESH_START, ResumePoint, epoch_batches, save_checkpoint, step_checkpoint_due
from .data import get_dataloaders, with_splits
from .evaluation import validate
from .methods import CompanionMethods
from .tracking import RunClock, TrainingProgress

logger = get_logger(__name__)


class Fitted(NamedTuple):
    """What a call of `fit` did."""

    completed_steps: int
    epochs: int
    samples: int
    runtime: float


class Validation(NamedTuple):
    """The early stopping of the first fit: `loader` (prepared) is evaluated every `budget.eval_steps` steps into
    `stopper`, whose state every checkpoint holds; `data` says the problem type."""

    loader: object
    stopper: EarlyStopping
    data: MultimodalDataset

    def evaluate(self, model, accelerator: Accelerator, args: argparse.Namespace, step: int, epoch: int) -> bool:
        """Evaluates `model`, logs it, records it in `stopper`: True when training should stop."""
        return validate(model, self.loader, accelerator, self.stopper, args, self.data, step, epoch)


def fit(
    accelerator: Accelerator,
    args: argparse.Namespace,
    model,
    methods: CompanionMethods,
    optimizer,
    lr_scheduler,
    train_dataloader,
    budget: Budget,
    *,
    resume: ResumePoint = FRESH_START,
    validation: Optional[Validation] = None,
    clock: Optional[RunClock] = None,
    prefix: str = "",
) -> Fitted:
    """Trains the prepared `model` (and `methods.objectives`) over `budget`, from `resume`.

    With `validation` (the first fit), the model is evaluated every `budget.eval_steps` optimizer steps and at the
    last, the run stops early when `validation.stopper` says so, and checkpoints are saved every
    --checkpointing_steps steps or epoch; without it (the refit), the loop only trains. `clock` logs the time of each
    epoch and the run's estimate; the training loss goes to the trackers as `{prefix}train_loss`.
    """
    progress = TrainingProgress(accelerator, args, budget, resume.completed_steps, prefix)
    completed_steps, samples, start = resume.completed_steps, 0, time.time()
    # Resumed from a checkpoint saved after early stopping had decided, or at the end of the budget: nothing to train
    # (but the end of a step checkpoint's epoch, which it was saved before).
    should_stop = validation is not None and validation.stopper.stopped(completed_steps)
    epochs = resume.starting_epoch
    for epoch in range(resume.starting_epoch, budget.num_train_epochs):
        finishing = resume.resume_step is not None and epoch == resume.starting_epoch
        if (should_stop or completed_steps >= budget.max_train_steps) and not finishing:
            break
        epochs = epoch + 1
        model.train()
        methods.before_epoch(model, epoch)
        for batch in epoch_batches(accelerator, train_dataloader, epoch, resume):
            if should_stop or completed_steps >= budget.max_train_steps:  # resumed after the stop or the last step
                break
            with accelerator.accumulate(model, methods.objectives):
                outputs = model(**batch)
                loss = methods.loss(model, batch, outputs)  # the model's loss plus what the objectives add
                progress.add(loss)
                accelerator.backward(loss)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
            samples += batch["modality_mask"].shape[0] * accelerator.num_processes
            if accelerator.sync_gradients:
                completed_steps += 1
                progress.step(completed_steps, lr_scheduler.get_last_lr()[0])
                if clock is not None:
                    clock.step(completed_steps)
                if validation is not None and budget.evaluation_due(completed_steps):
                    should_stop = validation.evaluate(model, accelerator, args, completed_steps, epoch)
                # After the validation, so that a run resumed from this checkpoint has its early-stopping state.
                if validation is not None and step_checkpoint_due(args, completed_steps):
                    save_checkpoint(accelerator, validation.stopper, args, f"step_{completed_steps}", completed_steps)
            if should_stop or completed_steps >= budget.max_train_steps:
                break
        methods.after_epoch(model, epoch, completed_steps)
        if clock is not None:
            clock.epoch_done(epoch)
        if validation is not None and args.checkpointing_steps == "epoch":
            save_checkpoint(accelerator, validation.stopper, args, f"epoch_{epoch}", completed_steps)
        if should_stop or completed_steps >= budget.max_train_steps:
            break
    return Fitted(completed_steps, epochs, samples, time.time() - start)


def steps_per_epoch(train_dataloader, args: argparse.Namespace) -> int:
    """Optimizer steps in an epoch of `train_dataloader`."""
    return math.ceil(len(train_dataloader) / args.gradient_accumulation_steps)


def should_refit(args: argparse.Namespace, evaluation_split: str) -> bool:
    """Whether the run refits: `--refit` / `--no_refit` as typed; by default whenever it can, with a log line when it
    cannot. It cannot when the final evaluation reads the validation split (it would score rows the model trained
    on) or when the data is streamed (a stream has no length to count epochs in)."""
    reason = None
    if evaluation_split == "validation":
        reason = "the final evaluation reads the validation split, which the refit would train on"
    elif args.streaming:
        reason = "--streaming: a stream has no length to scale the number of steps with"
    if reason is None:
        return args.refit is not False
    if args.refit:
        raise UserError(f"--refit cannot run: {reason}")
    if args.refit is None:
        logger.info(f"no refit on train + validation: {reason}")
    return False


def refit_data(data: MultimodalDataset) -> MultimodalDataset:
    """`data` with train + validation as its `train` split."""
    train, validation = data["train"], data["validation"]
    if validation.features != train.features:
        validation = validation.cast(train.features)
    return with_splits(data, {"train": concatenate_datasets([train, validation])})


# Below this many validation rows per class, the step of the best validation evaluation is mostly chance: on the
# development suite's `letter_10_per_class` (3 validation rows per class, 26 classes) the best step of a 1000-step
# run ranged from 40 to 1280 over seeds and candidates, and the earliest ones gave the worst refitted models; the
# refit for all the steps of the first fit was ahead on every seed (docs/results.md, "Few rows per class"). 4: the
# rule covers what was measured (3 per class); the suite's other settings have 16 or more and keep the best step.
MIN_VALIDATION_ROWS_PER_CLASS = 4


def refit_length(best_step: int, completed_steps: int, data: MultimodalDataset) -> int:
    """The steps of the first fit the refit repeats (before `refit_steps` scales them by the rows): those of the best
    evaluation, or all `completed_steps` for single-label classification with fewer than
    MIN_VALIDATION_ROWS_PER_CLASS validation rows per class, too few to pick a step."""
    if data.problem_type == "single_label_classification" and data.num_labels:
        rows = len(data["validation"])
        if rows < MIN_VALIDATION_ROWS_PER_CLASS * data.num_labels:
            logger.info(
                f"the refit trains for all {completed_steps} steps of the first fit, not the best evaluation's "
                f"{best_step}: {rows} validation rows for {data.num_labels} classes (fewer than "
                f"{MIN_VALIDATION_ROWS_PER_CLASS} per class) are too few to choose a step"
            )
            return completed_steps
    return best_step


def refit_steps(best_step: int, train_rows: int, refit_rows: int) -> int:
    """The optimizer steps of the refit: `best_step` scaled by the rows, i.e. the same number of epochs."""
    return math.ceil(best_step * refit_rows / train_rows)


def copy_weights(accelerator: Accelerator, *modules) -> list[dict]:
    """The unwrapped state dicts of `modules`, copied: the initial weights the refit starts from."""
    return [
        {key: value.detach().clone() for key, value in accelerator.unwrap_model(module).state_dict().items()}
        for module in modules
    ]


def refit_on_train_and_validation(
    accelerator, args, data, processor, model, objectives, initial_weights, best_step: int
) -> Fitted:
    """Trains `model` (and the objectives) again from their `initial_weights` on train + validation, for the epochs
    of the best evaluation (`best_step`, or the first fit's length: `refit_length`); no evaluation and no checkpoint
    in between."""
    refit = refit_data(data)
    for module, weights in zip((model, objectives), initial_weights):
        accelerator.unwrap_model(module).load_state_dict(weights)
    train_dataloader, _ = get_dataloaders(accelerator, args, refit, processor)
    per_epoch = steps_per_epoch(train_dataloader, args)
    max_steps = refit_steps(best_step, len(data["train"]), len(refit["train"]))
    budget = Budget(max_steps, math.ceil(max_steps / per_epoch), eval_steps=max_steps)
    optimizer, lr_scheduler = create_optimizer_and_scheduler(
        args, [model, objectives], budget, accelerator.num_processes
    )
    optimizer, train_dataloader, lr_scheduler = accelerator.prepare(optimizer, train_dataloader, lr_scheduler)
    methods = CompanionMethods(accelerator, objectives, refit["validation"], args, refit, processor)
    logger.info(
        f"Refit on train + validation ({len(refit['train'])} rows) from the initial weights: {max_steps} steps, the "
        f"{best_step} of the first fit (`refit_length`) scaled by the rows"
    )
    return fit(accelerator, args, model, methods, optimizer, lr_scheduler, train_dataloader, budget, prefix="refit_")
