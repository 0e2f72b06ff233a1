# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""The reference models and the training objectives in the training script: their flags, which model class and
config fields they call for, and `CompanionMethods`, which the training loop (`training/loop.py`) calls at three
points (`before_epoch`, `loss`, `after_epoch`) without knowing which objective runs (`training/objectives.py`:
TupleInfoNCE, CAL, TMC's KL annealing). Every value the objectives estimate lands in `results()`
(`all_results.json`) and the tracker."""

import argparse
from dataclasses import dataclass
from typing import Optional

import torch
from accelerate import Accelerator
from accelerate.logging import get_logger
from transformers.hf_argparser import HfArg

from modeling_cldmdf import BASELINE_MODELS, CLDMDFForSequenceClassification

from . import UserError
from .cal import DEFAULT_AIB_BETA
from .data import eval_dataloader, select
from .objectives import TrainingObjectives

logger = get_logger(__name__)


@dataclass
class MethodArguments:
    """The flags of the reference models and the training objectives, in the model group of `--help`
    (`training.arguments.ModelArguments`)."""

    baseline: Optional[str] = HfArg(
        default=None, help="Train a reference model instead of CL-DMDF.", metadata={"choices": list(BASELINE_MODELS)}
    )
    tuple_weight: Optional[float] = HfArg(default=None, help="TupleInfoNCE auxiliary loss weight; 0: off.")
    tuple_alphas: Optional[str] = HfArg(
        default=None, help='TupleInfoNCE disturbed-negative shares: "auto" or one per modality.'
    )
    cal: Optional[bool] = HfArg(  # `--cal` alone: True, as a `bool` field's flag
        default=None, help="Contribution-guided asymmetric learning.", metadata={"nargs": "?", "const": True}
    )
    aib_beta: Optional[float] = HfArg(default=None, help="CAL information-bottleneck scale β (1e-3).")
    cal_k_max: Optional[float] = HfArg(default=None, help="CAL's largest gradient acceleration (2).")
    cal_interval: Optional[int] = HfArg(default=None, help="Epochs between CAL estimates (1).")
    tmc_annealing_epochs: Optional[int] = HfArg(
        default=None, help="Epochs over which TMC's KL weight grows to 1 (10)."
    )
    statistics_max_samples: int = HfArg(
        default=2048, help="Validation rows used to estimate CAL contributions / automatic TupleInfoNCE ratios."
    )


def check_method_args(args: argparse.Namespace) -> None:
    """The objectives that need CL-DMDF's modality tokens are refused for a reference model, before any loading."""
    if args.baseline and ((args.tuple_weight or 0) > 0 or args.cal):
        raise UserError(
            f"--baseline {args.baseline} cannot use TupleInfoNCE or CAL (--tuple_weight, --cal): they work on "
            f"CL-DMDF's modality tokens"
        )
    if args.tmc_annealing_epochs is not None and args.tmc_annealing_epochs < 0:
        raise UserError(f"--tmc_annealing_epochs must be >= 0, got {args.tmc_annealing_epochs}")


def model_class(args: argparse.Namespace):
    """The class a run trains: CL-DMDF, or the reference model of --baseline."""
    return BASELINE_MODELS[args.baseline] if args.baseline else CLDMDFForSequenceClassification


def method_config(args: argparse.Namespace) -> dict:
    """The config fields an objective needs of the model: CAL reads the unimodal heads' confidence and weighs the
    token bottleneck's KL (none with `--aib_beta 0`)."""
    if not args.cal:
        return {}
    aib_beta = DEFAULT_AIB_BETA if args.aib_beta is None else args.aib_beta
    return {"use_auxiliary_heads": True, "token_bottleneck": aib_beta > 0}


def build_objectives(args: argparse.Namespace, model) -> TrainingObjectives:
    """The training objectives the flags ask for, for `model` (not yet prepared)."""
    tuple_alphas = args.tuple_alphas
    if isinstance(tuple_alphas, str) and tuple_alphas != "auto":
        try:
            tuple_alphas = [float(value) for value in tuple_alphas.split(",")]
        except ValueError:
            raise UserError(
                f'--tuple_alphas must be "auto" or comma-separated numbers, got {args.tuple_alphas!r}'
            ) from None
    given = {
        "tuple_weight": args.tuple_weight,
        "tuple_alphas": tuple_alphas,
        "cal": args.cal,
        "aib_beta": args.aib_beta,
        "cal_k_max": args.cal_k_max,
        "interval": args.cal_interval,
        "tmc_annealing_epochs": args.tmc_annealing_epochs,
    }
    try:
        return TrainingObjectives.build(model, **{key: value for key, value in given.items() if value is not None})
    except ValueError as error:
        raise UserError(f"training objectives: {error}") from error


def prepare_objectives(accelerator: Accelerator, objectives: TrainingObjectives) -> TrainingObjectives:
    """Objectives with parameters (TupleInfoNCE's projection) are prepared like a model: their gradients are synced
    across processes and `save_state` checkpoints them; the others only move to the device."""
    if any(p.requires_grad for p in objectives.parameters()):
        return accelerator.prepare(objectives)
    return objectives.to(accelerator.device)


class CompanionMethods:
    """What the objectives add to the training loop, which calls `before_epoch`, `loss` and `after_epoch`;
    `results()` holds every estimate made, as flat `all_results.json` entries.

    CAL needs each modality's contribution and TupleInfoNCE's automatic ratios the unimodal accuracies, both measured
    every `--cal_interval` epochs on up to --statistics_max_samples validation rows; TMC's KL term grows over its
    first `--tmc_annealing_epochs` epochs."""

    def __init__(
        self, accelerator: Accelerator, objectives, validation_split, args: argparse.Namespace, data, processor
    ):
        self.accelerator, self.tracking = accelerator, args.with_tracking
        self.objectives = objectives
        self.epoch = 0
        self.statistics_loader: Optional[torch.utils.data.DataLoader] = None
        if self.unwrapped.cal is not None or self.unwrapped.estimates_alphas:
            statistics_split = select(validation_split, args.statistics_max_samples)
            self.statistics_loader = accelerator.prepare(eval_dataloader(statistics_split, args, data, processor))

    @property
    def unwrapped(self) -> TrainingObjectives:
        return self.accelerator.unwrap_model(self.objectives)

    def before_epoch(self, model, epoch: int) -> None:
        self.epoch = epoch  # TMC's KL weight is a function of the epoch

    def loss(self, model, batch: dict, outputs) -> torch.Tensor:
        """The training loss of a batch from the model's `outputs` on it: the model's own loss plus what the
        objectives add."""
        loss, _ = self.objectives(self.accelerator.unwrap_model(model), batch, outputs, self.epoch)
        return loss

    def after_epoch(self, model, epoch: int, step: int) -> None:
        if self.unwrapped.due(epoch):
            estimates = self.unwrapped.update(model, self.statistics_loader, self.accelerator, epoch)
            logger.info(f"epoch {epoch}: modality estimates {estimates}")
            if self.tracking:
                self.accelerator.log(estimates, step=step)

    def results(self) -> dict:
        return dict(self.unwrapped.log)
