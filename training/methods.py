# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""Everything the training script does for the companion methods (TupleInfoNCE, CAL) and the baselines, in one place:
their flags and how they map to config fields, and `CompanionMethods`, which the training loop calls at three points
(`before_epoch`, `loss`, `after_epoch`) without knowing which method runs: TMC's KL weight annealing, the per-epoch
estimates of CAL's contributions and TupleInfoNCE's automatic ratios (`MethodState`), and the loss of a batch."""

import argparse

import torch
from accelerate import Accelerator
from accelerate.logging import get_logger

from modeling_cldmdf.baselines_cldmdf import tmc_kl_weight
from modeling_cldmdf.configuration_cldmdf import BASELINES
from modeling_cldmdf.method_estimates import MethodState

from . import UserError
from .data import eval_dataloader, select

logger = get_logger(__name__)

METHOD_FLAGS = {  # flag -> CLDMDFConfig field, for the method and baseline flags
    "baseline": str,
    "tuple_weight": float,
    "tuple_alphas": str,
    "cal": bool,
    "aib_beta": float,
    "cal_k_max": float,
    "cal_interval": int,
}


def add_method_arguments(model) -> None:
    """The flags of the baselines and companion methods, in the model group of `--help`."""
    model.add_argument("--baseline", choices=list(BASELINES), default=None, help="Train a reference method instead.")
    model.add_argument("--tuple_weight", type=float, default=None, help="TupleInfoNCE auxiliary loss weight; 0: off.")
    model.add_argument(
        "--tuple_alphas", default=None, help='TupleInfoNCE disturbed-negative shares: "auto" or one per modality.'
    )
    model.add_argument(
        "--cal", action="store_const", const=True, default=None, help="Contribution-guided asymmetric learning."
    )
    model.add_argument("--aib_beta", type=float, default=None, help="CAL information-bottleneck scale β.")
    model.add_argument("--cal_k_max", type=float, default=None, help="CAL's largest gradient acceleration.")
    model.add_argument("--cal_interval", type=int, default=None, help="Epochs between CAL contribution estimates.")
    model.add_argument(
        "--statistics_max_samples",
        type=int,
        default=2048,
        help="Validation rows used to estimate CAL contributions / automatic TupleInfoNCE ratios.",
    )


def method_config(args: argparse.Namespace) -> dict:
    """The config fields the method and baseline flags set (those given), `--tuple_alphas` parsed."""
    fields = {flag: getattr(args, flag) for flag in METHOD_FLAGS if getattr(args, flag) is not None}
    if isinstance(fields.get("tuple_alphas"), str) and fields["tuple_alphas"] != "auto":
        try:
            fields["tuple_alphas"] = [float(value) for value in fields["tuple_alphas"].split(",")]
        except ValueError:
            raise UserError(
                f'--tuple_alphas must be "auto" or comma-separated numbers, got {args.tuple_alphas!r}'
            ) from None
    return fields


class CompanionMethods:
    """What the methods and baselines add to the training loop, which calls `before_epoch`, `loss` and `after_epoch`;
    `results()` holds every estimate made, as flat `all_results.json` entries.

    CAL needs each modality's contribution and TupleInfoNCE's automatic ratios the unimodal accuracies, both measured
    every `cal_interval` epochs on up to --statistics_max_samples validation rows (`MethodState`); TMC's KL term
    grows over its first `tmc_annealing_epochs` epochs."""

    def __init__(self, accelerator: Accelerator, model, validation_split, args: argparse.Namespace, data, processor):
        self.accelerator, self.tracking = accelerator, args.with_tracking
        self.state = MethodState(accelerator.unwrap_model(model).config)
        self.statistics_loader = None
        if self.state.active:
            statistics_split = select(validation_split, args.statistics_max_samples)
            self.statistics_loader = accelerator.prepare(eval_dataloader(statistics_split, args, data, processor))

    def before_epoch(self, model, epoch: int) -> None:
        unwrapped = self.accelerator.unwrap_model(model)
        if unwrapped.config.baseline == "tmc":  # TMC's KL term grows over its first epochs
            unwrapped.set_evidential_kl_weight(tmc_kl_weight(epoch, unwrapped.config.tmc_annealing_epochs))

    def loss(self, model, batch: dict) -> torch.Tensor:
        """The training loss of a batch: the model computes every term of the configured method."""
        return model(**batch).loss

    def after_epoch(self, model, epoch: int, step: int) -> None:
        if self.state.due(epoch):
            estimates = self.state.update(model, self.statistics_loader, self.accelerator, epoch)
            logger.info(f"epoch {epoch}: modality estimates {estimates}")
            if self.tracking:
                self.accelerator.log(estimates, step=step)

    def results(self) -> dict:
        return dict(self.state.log)
