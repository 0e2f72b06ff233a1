# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""Refitting on train + validation: after early stopping has chosen how long to train, the model is trained again
from its initial weights on the train and validation rows together, for as many epochs as the best evaluation had
seen, and that model is the one evaluated and saved (`--refit`, `--no_refit`).

The references a user compares CL-DMDF with (scikit-learn's estimators, AutoGluon's `refit_full`) are fitted on
every labelled row; a run that keeps its validation rows out of the final model gives them away. The number of
optimizer steps is scaled by the number of rows, so that the refit sees the same number of epochs as the best
evaluation of the first fit had.
"""

import argparse
import math

from accelerate.logging import get_logger
from datasets import concatenate_datasets

from processing.loading import MultimodalDataset

from . import UserError
from .data import with_splits

logger = get_logger(__name__)


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


def refit_steps(best_step: int, train_rows: int, refit_rows: int) -> int:
    """The optimizer steps of the refit: `best_step` scaled by the rows, i.e. the same number of epochs."""
    return math.ceil(best_step * refit_rows / train_rows)
