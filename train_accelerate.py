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

The shape follows accelerate's `complete_nlp_example.py` and transformers' `run_*_no_trainer.py` scripts:
`parse_args()` -> `get_dataloaders(accelerator, args, ...)` -> `train(args)` -> `main(args)`, one
`accelerator.prepare(...)`, `accumulate`, `gather_for_metrics`, `save_state`/`load_state` + `skip_first_batches`, and
the final `unwrap_model(model).save_pretrained(...)` on the main process. After training, the best model (by
validation accuracy, or loss for regression) is evaluated on the test split (`--evaluation_split validation` to tune
settings without seeing it) at each `--eval_missing_rates` and with each modality removed; the results go to
`all_results.json` and the model card. The helpers live in the `training` package, one module per responsibility.
"""

import argparse
import json
import math
import sys
import time
from typing import Optional

from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.utils import DataLoaderConfiguration, DistributedDataParallelKwargs, set_seed

from training import UserError
from training.arguments import build_parser, run_settings, validate_args
from training.budget import EarlyStopping, create_optimizer_and_scheduler, training_budget
from training.checkpointing import epoch_batches, resume_from_checkpoint, save_checkpoint, step_checkpoint_due
from training.data import eval_dataloader, get_dataloaders, load_checked_data
from training.evaluation import evaluate_best_model, plan_evaluation, validate
from training.methods import CompanionMethods, build_objectives, prepare_objectives
from training.model import build_model, build_processor, cache_backbone_outputs
from training.outputs import TrainingRun, push_folder, save_final
from training.tracking import TrainingProgress, init_trackers, log_training_start, setup_logging

logger = get_logger(__name__)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """The command line (`training.arguments` defines the flags), and the command itself for the model card."""
    args = build_parser(__doc__.split("\n\n")[0].strip()).parse_args(argv)
    args.command = " ".join(["python", "train_accelerate.py", *(sys.argv[1:] if argv is None else argv)])
    return args


def create_accelerator(args: argparse.Namespace) -> Accelerator:
    return Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        log_with=args.report_to if args.with_tracking else None,
        project_dir=args.output_dir,
        # A seedable sampler makes each epoch's order a function of (seed, epoch): resuming mid-epoch is exact.
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
        # Some parameters legitimately get no gradient in a step: the missing embedding of a modality present in
        # every row of the batch, a backbone's unused pooler, the projection head when contrastive_weight is 0.
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )


def train(args: argparse.Namespace) -> TrainingRun:
    """Trains and evaluates; returns the run without saving anything but checkpoints (the seam multi-process tests
    use to inspect every rank)."""
    validate_args(args)
    accelerator = create_accelerator(args)
    setup_logging(accelerator)
    set_seed(args.seed)
    data = load_checked_data(args)
    evaluation = plan_evaluation(args, data)
    model = build_model(args, data)
    objectives = build_objectives(args, model)  # TupleInfoNCE, CAL, TMC's annealing: what the flags ask for
    processor = build_processor(args, model, data)
    data = cache_backbone_outputs(model, processor, data, args)  # only under --cache_backbone_outputs
    train_dataloader, eval_splits = get_dataloaders(accelerator, args, data, processor)
    validation_loader = eval_dataloader(eval_splits["validation"], args, data, processor, args.train_missing_rate)
    steps_per_epoch = None if args.streaming else math.ceil(len(train_dataloader) / args.gradient_accumulation_steps)
    budget = training_budget(args, steps_per_epoch)
    optimizer, lr_scheduler = create_optimizer_and_scheduler(
        args, [model, objectives], budget, accelerator.num_processes
    )
    model, optimizer, train_dataloader, validation_loader, lr_scheduler = accelerator.prepare(
        model, optimizer, train_dataloader, validation_loader, lr_scheduler
    )
    objectives = prepare_objectives(accelerator, objectives)
    stopper = EarlyStopping(args.early_stopping_patience, min_steps=min(args.min_train_steps, budget.max_train_steps))
    methods = CompanionMethods(accelerator, objectives, eval_splits["validation"], args, data, processor)
    settings = run_settings(args, evaluation, budget)
    if args.with_tracking:
        init_trackers(accelerator, args.report_to, settings)
    resume = resume_from_checkpoint(accelerator, stopper, args, steps_per_epoch)
    log_training_start(accelerator, args, data, budget)

    progress = TrainingProgress(accelerator, args, budget, resume.completed_steps)
    completed_steps, samples, should_stop = resume.completed_steps, 0, False
    epoch, start = resume.starting_epoch, time.time()
    for epoch in range(resume.starting_epoch, budget.num_train_epochs):
        model.train()
        methods.before_epoch(model, epoch)
        for batch in epoch_batches(accelerator, train_dataloader, epoch, resume):
            if completed_steps >= budget.max_train_steps:  # resumed from the final step's checkpoint: nothing left
                break
            with accelerator.accumulate(model, objectives):
                loss = methods.loss(model, batch)
                progress.add(loss)
                accelerator.backward(loss)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
            samples += batch["modality_mask"].shape[0] * accelerator.num_processes
            if accelerator.sync_gradients:
                completed_steps += 1
                progress.step(completed_steps, lr_scheduler.get_last_lr()[0])
                if budget.evaluation_due(completed_steps):
                    should_stop = validate(
                        model, validation_loader, accelerator, stopper, args, data, completed_steps, epoch
                    )
                # After the evaluation of this step, so that a resumed run has its early-stopping state.
                if step_checkpoint_due(args, completed_steps):
                    save_checkpoint(accelerator, stopper, args, f"step_{completed_steps}")
            if should_stop or completed_steps >= budget.max_train_steps:
                break
        methods.after_epoch(model, epoch, completed_steps)
        if args.checkpointing_steps == "epoch":
            save_checkpoint(accelerator, stopper, args, f"epoch_{epoch}")
        if should_stop or completed_steps >= budget.max_train_steps:
            break
    train_runtime = time.time() - start

    results = evaluate_best_model(model, accelerator, args, data, processor, evaluation, stopper)
    samples_per_second = round(samples / max(train_runtime, 1e-9), 3)
    results.update(epochs_trained=epoch + 1, train_runtime=round(train_runtime, 3))
    results.update(train_samples_per_second=samples_per_second, train_steps=completed_steps, seed=args.seed)
    results.update(methods.results())
    if args.with_tracking:
        accelerator.log({k: v for k, v in results.items() if isinstance(v, (int, float))}, step=completed_steps)
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
    args = parse_args(argv)
    try:
        main(args)
    except UserError as error:
        print(f"train_accelerate.py: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(cli())
