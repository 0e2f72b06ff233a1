#!/usr/bin/env python
# Copyright 2026 The CL-DMDF contributors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""
Fine-tune CL-DMDF on a multimodal dataset with missing modalities, with 🤗 Accelerate.

    python train_accelerate.py                                   # the bundled UCI Multiple Features dataset
    accelerate launch train_accelerate.py --dataset_name user/dataset --output_dir out
    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 train_accelerate.py   # 2 CPU processes
    cldmdf-train --dataset_name user/dataset --output_dir out    # the same script, installed with the package

The shape follows accelerate's `complete_nlp_example.py` and transformers' `run_*_no_trainer.py` scripts:
`parse_args()` -> `get_dataloaders(accelerator, args, ...)` -> `train(args)` -> `main(args)`, one
`accelerator.prepare(...)`, `accumulate`, `gather_for_metrics`, `save_state`/`load_state` + `skip_first_batches`, and
the final `unwrap_model(model).save_pretrained(...)` on the main process. Early stopping on the validation split
chooses how long to train (by validation accuracy, or loss for regression); the model is then refit from its initial
weights on train + validation for that many epochs (`--no_refit`: keep the best evaluation's weights) and evaluated
on the test split (`--evaluation_split validation` to tune settings without seeing it) at each
`--eval_missing_rates` and with each modality removed; the results go to `all_results.json` and the model card.
The parts live in the `training` package (installed as `cldmdf.training`, this file as `cldmdf.train_accelerate`), one
module per responsibility; the training loop and the refit are in `training/loop.py`.
"""

import argparse
import json
import os
import sys
from typing import Optional

from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.utils import DataLoaderConfiguration, DistributedDataParallelKwargs, set_seed

from cldmdf.training import UserError, loop
from cldmdf.training.arguments import build_parser, hub_model_id, validate_args
from cldmdf.training.budget import Budget, EarlyStopping, create_optimizer_and_scheduler, training_budget
from cldmdf.training.checkpointing import complete_checkpoints, resume_from_checkpoint
from cldmdf.training.command import run_command
from cldmdf.training.data import eval_dataloader, get_dataloaders, load_checked_data
from cldmdf.training.evaluation import EvaluationPlan, evaluate_model, plan_evaluation
from cldmdf.training.methods import CompanionMethods, build_objectives, prepare_objectives
from cldmdf.training.model import build_model, build_processor, cache_backbone_outputs
from cldmdf.training.outputs import TrainingRun, push_folder, save_final
from cldmdf.training.tracking import RunClock, init_trackers, log_training_start, setup_logging

logger = get_logger(__name__)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """The command line (`training.arguments` defines the flags), and the command itself for the model card."""
    args = build_parser(__doc__.split("\n\n")[0].strip()).parse_args(argv)
    args.command = run_command(sys.argv[1:], program=sys.argv[0]) if argv is None else run_command(argv)
    return args


def create_accelerator(args: argparse.Namespace) -> Accelerator:
    return Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        log_with=args.report_to if args.with_tracking else None,
        project_dir=args.output_dir,
        # A seedable sampler makes each epoch's order a function of (--seed, epoch): resuming mid-epoch is exact.
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=args.seed),
        # Some parameters legitimately get no gradient in a step: the missing embedding of a modality present in
        # every row of the batch, a backbone's unused pooler, the projection head when contrastive_weight is 0.
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )


def run_settings(args: argparse.Namespace, evaluation: EvaluationPlan, budget: Budget, refit: bool) -> dict:
    """The arguments as the run used them, in the flags' order, for the trackers' hyper-parameters and the model
    card: what the user typed, with the values `train` resolved from the data put in place of the defaults (the
    evaluation split and missing rates, the step budget, whether the run refits, the Hub repo id)."""
    return {
        **vars(args),
        "eval_missing_rates": evaluation.missing_rates,
        "evaluation_split": evaluation.split,
        "max_train_steps": budget.max_train_steps,
        "num_train_epochs": budget.num_train_epochs,
        "eval_steps": budget.eval_steps,
        "refit": refit,
        "hub_model_id": hub_model_id(args),
        "explicit_missing_rates": evaluation.explicit_missing_rates,
    }


def train(args: argparse.Namespace) -> TrainingRun:
    """Trains and evaluates; returns the run without saving anything but checkpoints (the seam multi-process tests
    use to inspect every rank)."""
    validate_args(args)
    accelerator = create_accelerator(args)
    setup_logging(accelerator)
    set_seed(args.seed)

    # The data, what the final evaluation measures, the model, its training objectives and its processor.
    data = load_checked_data(args)
    evaluation = plan_evaluation(args, data)
    refit = loop.should_refit(args, evaluation.split)
    model = build_model(args, data)
    objectives = build_objectives(args, model)  # TupleInfoNCE, CAL, TMC's annealing: what the flags ask for
    processor = build_processor(args, model, data)
    data = cache_backbone_outputs(model, processor, data, args)  # only under --cache_backbone_outputs
    train_dataloader, eval_splits = get_dataloaders(accelerator, args, data, processor)
    validation_loader = eval_dataloader(eval_splits["validation"], args, data, processor, args.train_missing_rate)

    # The budget in optimizer steps, the optimizer and schedule over it, everything prepared.
    per_epoch = None if args.streaming else loop.steps_per_epoch(train_dataloader, args)
    budget = training_budget(args, per_epoch)
    optimizer, lr_scheduler = create_optimizer_and_scheduler(
        args, [model, objectives], budget, accelerator.num_processes
    )
    model, optimizer, train_dataloader, validation_loader, lr_scheduler = accelerator.prepare(
        model, optimizer, train_dataloader, validation_loader, lr_scheduler
    )
    objectives = prepare_objectives(accelerator, objectives)
    # Before a checkpoint is resumed; unwrapped, so that the keys are those the refit loads.
    initial_weights = loop.copy_weights(accelerator, model, objectives) if refit else None
    min_steps = min(args.min_train_steps, budget.max_train_steps)
    stopper = EarlyStopping(args.early_stopping_patience, min_steps, metric=args.metric_for_best_model)
    methods = CompanionMethods(accelerator, objectives, eval_splits["validation"], args, data, processor)
    settings = run_settings(args, evaluation, budget, refit)
    if args.with_tracking:
        init_trackers(accelerator, args.report_to, settings)
    resume = resume_from_checkpoint(accelerator, stopper, args, per_epoch)
    refit_rows = len(data["train"]) + len(data["validation"]) if refit else None  # no refit, no length: streamed
    refit_bound = loop.refit_steps(budget.max_train_steps, len(data["train"]), refit_rows) if refit else None
    log_training_start(accelerator, args, data, budget, refit_bound)
    clock = RunClock(accelerator, budget, resume.completed_steps, refit_bound)

    # The first fit, with early stopping on the validation split; then the refit on train + validation from the
    # initial weights for the epochs of the best evaluation, or (--no_refit) the best evaluation's weights.
    fitted = loop.fit(
        accelerator,
        args,
        model,
        methods,
        optimizer,
        lr_scheduler,
        train_dataloader,
        budget,
        resume=resume,
        validation=loop.Validation(validation_loader, stopper, data),
        clock=clock,
    )
    results = {"train_steps": fitted.completed_steps, "epochs_trained": fitted.epochs}
    if refit and stopper.best_step:
        refitted = loop.refit_on_train_and_validation(
            accelerator,
            args,
            data,
            processor,
            model,
            objectives,
            initial_weights,
            loop.refit_length(stopper.best_step, fitted.completed_steps, data),
        )
        results.update(refit_steps=refitted.completed_steps, refit_rows=refit_rows)
        results.update(refit_runtime=round(refitted.runtime, 3))
        fitted = fitted._replace(samples=fitted.samples + refitted.samples, runtime=fitted.runtime + refitted.runtime)
    elif stopper.best_state is not None:
        accelerator.unwrap_model(model).load_state_dict(stopper.best_state)

    # The final robustness sweep, and what the run measured.
    results.update(evaluate_model(model, accelerator, args, data, processor, evaluation), **stopper.summary())
    results.update(train_runtime=round(fitted.runtime, 3), seed=args.seed)
    results.update(train_samples_per_second=round(fitted.samples / max(fitted.runtime, 1e-9), 3))
    results.update(methods.results(), **clock.results())
    if args.with_tracking:
        accelerator.log({k: v for k, v in results.items() if isinstance(v, (int, float))}, step=fitted.completed_steps)
        accelerator.end_training()
    return TrainingRun(accelerator, model, processor, data, results, settings)


def main(args: argparse.Namespace) -> dict:
    """Trains, then saves the output folder (and pushes it) on the main process; returns the results."""
    run = train(args)
    run.accelerator.wait_for_everyone()
    if run.accelerator.is_main_process:
        save_final(run, args)
        if args.push_to_hub:
            push_folder(args, args.output_dir, message=f"CL-DMDF trained on {args.dataset_name}")
        logger.info(json.dumps(run.results, indent=2))
    run.accelerator.wait_for_everyone()
    return run.results


def cli(argv: Optional[list[str]] = None) -> int:
    """`python train_accelerate.py` and `cldmdf-train`: the script as `accelerate launch` runs it."""
    use_launcher_threads()
    args = parse_args(argv)
    try:
        main(args)
    except UserError as error:
        # Every process finds the same problem: one message, from the first (no traceback: a user error).
        if int(os.environ.get("RANK", "0")) == 0:
            print(f"train_accelerate.py: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: what survives and how to go on, not a traceback
        if int(os.environ.get("RANK", "0")) == 0:
            print(f"train_accelerate.py: interrupted. {interrupted_note(args)}", file=sys.stderr)
        return 130
    return 0


def interrupted_note(args: argparse.Namespace) -> str:
    """What an interrupted run leaves: the checkpoint to resume from, or that nothing was saved."""
    complete = complete_checkpoints(args)
    if complete:
        return (
            f"The newest complete checkpoint is {complete[-1]}: the same command with --resume_from_checkpoint latest "
            f"goes on from it."
        )
    return f"No checkpoint was saved under {args.output_dir} (--checkpointing_steps N or epoch saves them)."


def use_launcher_threads() -> None:
    """One torch thread per process unless OMP_NUM_THREADS says otherwise, as `accelerate launch` sets it: started
    without the launcher (`cldmdf-train`, `python train_accelerate.py`), the script runs as fast and computes the same
    weights as under it (a CPU reduction's order depends on the number of threads)."""
    if "OMP_NUM_THREADS" not in os.environ:
        import torch

        os.environ["OMP_NUM_THREADS"] = "1"  # read by the processes this one starts (dataloader workers)
        torch.set_num_threads(1)


if __name__ == "__main__":
    sys.exit(cli())
