# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""The command line of `train_accelerate.py`: its flags by group, the checks that need nothing loaded, the parse
helpers of flags that hold lists, and `run_settings`, the arguments as a run resolved them (for trackers and the
model card). Nothing here changes the parsed arguments."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from cldmdf.evaluation.results import DEFAULT_EVAL_MISSING_RATES
from cldmdf.evaluation.results import parse_missing_rates as parse_rates
from modeling_cldmdf import CLDMDFConfig

from . import UserError
from .budget import (
    DEFAULT_EPOCHS,
    DEFAULT_LEARNING_RATE,
    DEFAULT_MIN_TRAIN_STEPS,
    DEFAULT_PATIENCE,
    EVALUATIONS_PER_BUDGET,
    Budget,
)
from .methods import add_method_arguments, check_method_args
from .pretraining import TASKS, check_pretraining_args

if TYPE_CHECKING:
    from .evaluation import EvaluationPlan

DEFAULT_DATASET = "bundled_datasets/uci_multifeature"
# Checkpoints kept besides the best one: resuming needs only the newest, two more survive one that is damaged, and the
# disk a run takes is bounded whatever its budget (`--checkpointing_steps epoch` over an adaptive budget wrote 167).
DEFAULT_SAVE_TOTAL_LIMIT = 3


def build_parser(description: str) -> argparse.ArgumentParser:
    """Every flag of the script, in the groups `--help` shows."""
    parser = argparse.ArgumentParser(description=description)
    add_data_arguments(parser.add_argument_group("data"))
    add_model_arguments(parser.add_argument_group("model"))
    add_training_arguments(parser.add_argument_group("training"))
    add_evaluation_arguments(parser.add_argument_group("evaluation"))
    add_prediction_arguments(parser.add_argument_group("prediction"))
    add_hub_arguments(parser.add_argument_group("hub"))
    return parser


def add_data_arguments(data) -> None:
    data.add_argument("--dataset_name", default=DEFAULT_DATASET, help="Hub repo id, Hub-layout folder or data file.")
    data.add_argument("--dataset_config_name", default=None)
    data.add_argument("--revision", default=None, help="Branch, tag or commit of the dataset repo.")
    data.add_argument("--streaming", action="store_true", help="Stream the dataset instead of downloading it.")
    data.add_argument("--label_column_name", default=None, help="Inferred from the features when not given.")
    data.add_argument("--max_train_samples", type=int, default=None)
    data.add_argument("--max_eval_samples", type=int, default=None)
    data.add_argument("--validation_fraction", type=float, default=0.1, help="When the dataset has no validation.")
    data.add_argument(
        "--modality_types",
        default=None,
        help='Declare column types, e.g. "vec=dense,notes=text": a string column declared dense is parsed from '
        '"[0.1, 0.2]" / "0.1,0.2" strings (vectors stored in a CSV), a number column declared text is read as text.',
    )
    data.add_argument(
        "--drop_rows_without_modalities",
        action="store_true",
        help="Drop rows with every modality missing (with a log line) instead of stopping before training.",
    )


def add_model_arguments(model) -> None:
    model.add_argument(
        "--task",
        choices=TASKS,
        default="classification",
        help="classification (labels), or pretraining: self-supervised CLDMDFForPreTraining on rows without labels.",
    )
    model.add_argument("--model_name_or_path", default=None, help="Start from a saved or Hub CL-DMDF checkpoint.")
    model.add_argument("--trust_remote_code", action="store_true")
    model.add_argument(
        "--config_overrides", default=None, help='Config fields, e.g. "hidden_size=64,fusion_mode=mean".'
    )
    model.add_argument("--hidden_size", type=int, default=None)
    model.add_argument("--num_fusion_layers", type=int, default=None)
    model.add_argument("--num_attention_heads", type=int, default=None)
    model.add_argument("--intermediate_size", type=int, default=None)
    model.add_argument("--hidden_dropout_prob", type=float, default=None)
    model.add_argument("--contrastive_weight", type=float, default=None)
    model.add_argument("--contrastive_temperature", type=float, default=None)
    model.add_argument("--modality_dropout", type=float, default=None, help="Training-time modality dropout.")
    model.add_argument("--fusion_mode", choices=["adaptive", "mean"], default=None)
    add_method_arguments(model)  # --baseline, --tuple_*, --cal*, --statistics_max_samples
    model.add_argument(
        "--text_backbone",
        default=None,
        help="Checkpoint for text modalities (a local path offline), or `minilm` for the all-MiniLM-L6-v2 of the "
        "[text] extra; default: none, each text column is a bag of words fitted on the training split.",
    )
    model.add_argument("--text_vocab_size", type=int, default=None, help="Bag of words: the vocabulary's cap.")
    model.add_argument("--text_embedding_dim", type=int, default=None, help="Bag of words: the embedding width.")
    model.add_argument(
        "--text_bag_dropout", type=float, default=None, help="Bag of words: drop each term of a training text."
    )
    model.add_argument(
        "--image_backbone",
        default=None,
        help="Checkpoint for image modalities (a local folder offline); default: a small CNN trained from scratch.",
    )
    model.add_argument(
        "--image_size",
        type=int,
        default=None,
        help="Side the CNN's images are resized to; default: the training images' largest side, at most 32.",
    )
    model.add_argument(
        "--image_shift", type=int, default=None, help="Random shift of the CNN's training images (pixels; 0: off)."
    )
    model.add_argument(
        "--image_flip", action="store_true", help="Random horizontal flips of the CNN's training images (photos)."
    )
    model.add_argument("--freeze_backbones", action="store_true", help="Train only the fusion on text/image inputs.")
    model.add_argument(
        "--cache_backbone_outputs",
        action="store_true",
        help="Compute frozen backbones' pooled outputs once (datasets map cache); implies --freeze_backbones.",
    )


def add_training_arguments(train) -> None:
    train.add_argument("--output_dir", default="outputs/cldmdf-uci")
    train.add_argument("--per_device_train_batch_size", type=int, default=64)
    train.add_argument("--per_device_eval_batch_size", type=int, default=256)
    train.add_argument("--learning_rate", type=float, default=DEFAULT_LEARNING_RATE)
    train.add_argument("--weight_decay", type=float, default=0.01)
    train.add_argument(
        "--num_train_epochs",
        type=int,
        default=None,
        help=f"A fixed number of epochs; default: the step budget of --min_train_steps and {DEFAULT_EPOCHS} epochs.",
    )
    train.add_argument("--max_train_steps", type=int, default=None, help="Overrides --num_train_epochs.")
    train.add_argument(
        "--min_train_steps",
        type=int,
        default=DEFAULT_MIN_TRAIN_STEPS,
        help=f"Without --num_train_epochs / --max_train_steps the budget is max(this, {DEFAULT_EPOCHS} epochs) "
        "optimizer steps, so that small datasets get the updates they need.",
    )
    train.add_argument(
        "--eval_steps",
        type=int,
        default=None,
        help=f"Optimizer steps between validation evaluations; default: {EVALUATIONS_PER_BUDGET} evaluations over "
        "the budget.",
    )
    train.add_argument("--gradient_accumulation_steps", type=int, default=1)
    train.add_argument(
        "--lr_scheduler_type",
        default="cosine",
        choices=["linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup"],
    )
    train.add_argument("--num_warmup_steps", type=int, default=0)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--early_stopping_patience",
        type=int,
        default=DEFAULT_PATIENCE,
        help="Evaluations in which neither the validation loss nor the accuracy improved before stopping "
        "(never before --min_train_steps); 0: off.",
    )
    train.add_argument(
        "--metric_for_best_model",
        choices=["accuracy", "loss"],
        default="accuracy",
        help="What picks the best evaluation: validation accuracy (ties broken by the loss), or the loss alone.",
    )
    train.add_argument(
        "--refit",
        action="store_const",
        const=True,
        default=None,
        help="After early stopping, train again from the initial weights on train + validation for the epochs of the "
        "best evaluation, and keep that model (the default whenever the final evaluation is not on validation).",
    )
    train.add_argument("--no_refit", dest="refit", action="store_const", const=False, help="Keep the best evaluation.")
    train.add_argument(
        "--train_missing_rate",
        type=float,
        default=0.0,
        help="Incomplete training data: the share η of (row, modality) entries missing from the train and validation "
        "splits, a fixed pattern seeded by row id and --eval_seed (the test split's evaluation pattern, on other "
        "rows); 0: complete.",
    )
    train.add_argument("--checkpointing_steps", default=None, help='"epoch" or a number of steps.')
    train.add_argument(
        "--resume_from_checkpoint",
        default=None,
        help='A checkpoint folder, or "latest" (the newest complete one). An incomplete folder is refused.',
    )
    train.add_argument(
        "--save_total_limit",
        type=int,
        default=DEFAULT_SAVE_TOTAL_LIMIT,
        help=f"Checkpoints kept: the last N and the one right after the best evaluation (default "
        f"{DEFAULT_SAVE_TOTAL_LIMIT}, so that disk use stays bounded whatever the budget); 0: keep every checkpoint.",
    )
    train.add_argument("--with_tracking", action="store_true", help="Log to the trackers of --report_to.")
    train.add_argument(
        "--report_to", default="all", help='"all" (every installed tracker) or one, e.g. "tensorboard".'
    )
    train.add_argument(
        "--logging_steps", type=int, default=10, help="Steps between training-loss logs (progress bar, trackers)."
    )
    train.add_argument("--dataloader_num_workers", type=int, default=0)


def add_evaluation_arguments(evaluation) -> None:
    evaluation.add_argument(
        "--eval_missing_rates",
        default=None,
        help=f"Comma-separated η values; default: {DEFAULT_EVAL_MISSING_RATES}, those the dataset's M modalities "
        "allow (η < (M - 1) / M).",
    )
    evaluation.add_argument("--eval_seed", type=int, default=0, help="Seed of the evaluation missing patterns.")
    evaluation.add_argument("--skip_modality_removal", action="store_true", help="Skip the remove-one sweep.")
    evaluation.add_argument(
        "--evaluation_split",
        choices=["test", "validation"],
        default=None,
        help="Split of the final robustness sweep (default: test, or validation when the dataset has no test split); "
        "`validation` to choose settings without looking at the test set.",
    )


def add_prediction_arguments(prediction) -> None:
    prediction.add_argument(
        "--do_predict",
        action="store_true",
        help="Write predictions (predicted label, class probabilities, modality weights) into the output folder.",
    )
    prediction.add_argument(
        "--predict_file", default=None, help="Rows to predict: a parquet/csv/jsonl file with the modality columns."
    )
    prediction.add_argument("--predict_split", default=None, help="A split of the dataset to predict (default: test).")
    prediction.add_argument("--predictions_format", choices=["jsonl", "csv"], default="jsonl")


def add_hub_arguments(hub) -> None:
    hub.add_argument("--push_to_hub", action="store_true")
    hub.add_argument("--hub_model_id", default=None)
    hub.add_argument("--hub_token", default=None)
    hub.add_argument("--hub_private_repo", action="store_true")
    hub.add_argument("--push_checkpoints", action="store_true", help="Also push each checkpoint (to a branch).")


def validate_args(args: argparse.Namespace) -> None:
    """Checks what can be checked before loading anything; raises `UserError` with one clear sentence."""
    parse_missing_rates(args.eval_missing_rates)
    check_pretraining_args(args)
    check_method_args(args)
    if not 0 <= args.train_missing_rate < 1:
        raise UserError(f"--train_missing_rate must be in [0, 1), got {args.train_missing_rate}")
    for name in (
        "per_device_train_batch_size",
        "per_device_eval_batch_size",
        "gradient_accumulation_steps",
        "logging_steps",
    ):
        if getattr(args, name) < 1:
            raise UserError(f"--{name} must be >= 1, got {getattr(args, name)}")
    for name in ("num_train_epochs", "max_train_steps", "eval_steps"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise UserError(f"--{name} must be >= 1, got {getattr(args, name)}")
    for name in ("min_train_steps", "early_stopping_patience", "save_total_limit"):
        if getattr(args, name) < 0:
            raise UserError(f"--{name} must be >= 0, got {getattr(args, name)}")
    if args.modality_dropout is not None and not 0 <= args.modality_dropout < 1:
        raise UserError(f"--modality_dropout must be in [0, 1), got {args.modality_dropout}")
    if not 0 <= args.validation_fraction < 1:
        raise UserError(f"--validation_fraction must be in [0, 1), got {args.validation_fraction}")
    if args.checkpointing_steps not in (None, "epoch") and not str(args.checkpointing_steps).isdigit():
        raise UserError(
            f'--checkpointing_steps must be "epoch" or a number of steps, got {args.checkpointing_steps!r}'
        )
    if args.resume_from_checkpoint and args.resume_from_checkpoint != "latest":
        if not os.path.isdir(args.resume_from_checkpoint):
            raise UserError(f"--resume_from_checkpoint {args.resume_from_checkpoint!r} is not a checkpoint folder")
    # A Hub repo id ("user/dataset") contains one "/" too: only names that cannot be repo ids are checked here.
    looks_local = args.dataset_name.startswith((".", "~", os.path.sep)) or args.dataset_name.count("/") > 1
    if looks_local and not os.path.exists(args.dataset_name):
        raise UserError(f"--dataset_name {args.dataset_name!r}: no such file or folder")


def parse_missing_rates(text: Optional[str]) -> list[float]:
    """--eval_missing_rates (the defaults when not given) as sorted rates in [0, 1), always with 0
    (`evaluation.results.parse_missing_rates`, its error a `UserError`)."""
    try:
        return parse_rates(text, flag="--eval_missing_rates")
    except ValueError as error:
        raise UserError(str(error)) from None


def parse_config_overrides(text: str) -> dict:
    """`"a=1,b=mean,c=true"` -> `{"a": 1, "b": "mean", "c": True}` (JSON values where they parse)."""
    overrides = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f'--config_overrides items must look like "field=value", got {item!r}')
        try:
            overrides[key.strip()] = json.loads(value.strip())
        except json.JSONDecodeError:
            overrides[key.strip()] = value.strip()
    unknown = sorted(set(overrides) - set(CLDMDFConfig().to_dict()))
    if unknown:
        raise UserError(f"--config_overrides names unknown config fields {unknown}")
    return overrides


def hub_model_id(args: argparse.Namespace) -> Optional[str]:
    """The Hub repo to push to: --hub_model_id, or the output folder's name under --push_to_hub."""
    if args.push_to_hub and not args.hub_model_id:
        return Path(args.output_dir).name
    return args.hub_model_id


def run_settings(args: argparse.Namespace, evaluation: EvaluationPlan, budget: Budget, refit: bool) -> dict:
    """The arguments as the run used them, in the flags' order, for the trackers' hyper-parameters and the model
    card: what the user typed, with the values resolved from the data put in place of the defaults (the evaluation
    split and missing rates, the step budget, whether the run refits, the Hub repo id)."""
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
