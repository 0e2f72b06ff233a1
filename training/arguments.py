# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""The command line of `train_accelerate.py`: its flags, each declared once as a field of the dataclass of its group
(read by transformers' `HfArgumentParser`, which `build_parser` returns), the checks that need nothing loaded, and the
parse helpers of flags that hold lists. Nothing here changes the parsed arguments."""

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from transformers import HfArgumentParser
from transformers.hf_argparser import HfArg

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
)
from .methods import MethodArguments, check_method_args
from .pretraining import TASKS, check_pretraining_args

DEFAULT_DATASET = "bundled_datasets/uci_multifeature"
# Checkpoints kept besides the best one: resuming needs only the newest, two more survive one that is damaged, and the
# disk a run takes is bounded whatever its budget (`--checkpointing_steps epoch` over an adaptive budget wrote 167).
DEFAULT_SAVE_TOTAL_LIMIT = 3


@dataclass
class DataArguments:
    """The data group of `--help`: the dataset, its splits and its columns."""

    _argument_group_name = "data"

    dataset_name: str = HfArg(default=DEFAULT_DATASET, help="Hub repo id, Hub-layout folder or data file.")
    dataset_config_name: Optional[str] = None
    revision: Optional[str] = HfArg(default=None, help="Branch, tag or commit of the dataset repo.")
    streaming: bool = HfArg(default=False, help="Stream the dataset instead of downloading it.")
    label_column_name: Optional[str] = HfArg(default=None, help="Inferred from the features when not given.")
    max_train_samples: Optional[int] = None
    max_eval_samples: Optional[int] = None
    validation_fraction: float = HfArg(default=0.1, help="When the dataset has no validation.")
    modality_types: Optional[str] = HfArg(
        default=None,
        help='Declare column types, e.g. "vec=dense,notes=text": a string column declared dense is parsed from '
        '"[0.1, 0.2]" / "0.1,0.2" strings (vectors stored in a CSV), a number column declared text is read as text.',
    )
    drop_rows_without_modalities: bool = HfArg(
        default=False,
        help="Drop rows with every modality missing (with a log line) instead of stopping before training.",
    )


@dataclass
class ConfigArguments:
    """The model group's first flags: the task, the checkpoint to start from, and the config fields (those named
    like a `CLDMDFConfig` field set it: `training.model.MODEL_FLAGS`)."""

    task: str = HfArg(
        default="classification",
        help="classification (labels), or pretraining: self-supervised CLDMDFForPreTraining on rows without labels.",
        metadata={"choices": TASKS},
    )
    model_name_or_path: Optional[str] = HfArg(default=None, help="Start from a saved or Hub CL-DMDF checkpoint.")
    trust_remote_code: bool = False
    config_overrides: Optional[str] = HfArg(
        default=None, help='Config fields, e.g. "hidden_size=64,fusion_mode=mean".'
    )
    hidden_size: Optional[int] = None
    num_fusion_layers: Optional[int] = None
    num_attention_heads: Optional[int] = None
    intermediate_size: Optional[int] = None
    hidden_dropout_prob: Optional[float] = None
    contrastive_weight: Optional[float] = None
    contrastive_temperature: Optional[float] = None
    modality_dropout: Optional[float] = HfArg(default=None, help="Training-time modality dropout.")
    fusion_mode: Optional[str] = HfArg(default=None, metadata={"choices": ["adaptive", "mean"]})


@dataclass
class ModelArguments(MethodArguments, ConfigArguments):
    """The model group of `--help`: `ConfigArguments`, the methods' flags (`MethodArguments`), then the backbones'."""

    _argument_group_name = "model"

    text_backbone: Optional[str] = HfArg(
        default=None,
        help="Checkpoint for text modalities (a local path offline), or `minilm` for the all-MiniLM-L6-v2 of the "
        "[text] extra; default: none, each text column is a bag of words fitted on the training split.",
    )
    text_vocab_size: Optional[int] = HfArg(default=None, help="Bag of words: the vocabulary's cap.")
    text_embedding_dim: Optional[int] = HfArg(default=None, help="Bag of words: the embedding width.")
    text_bag_dropout: Optional[float] = HfArg(default=None, help="Bag of words: drop each term of a training text.")
    image_backbone: Optional[str] = HfArg(
        default=None,
        help="Checkpoint for image modalities (a local folder offline); default: a small CNN trained from scratch.",
    )
    image_size: Optional[int] = HfArg(
        default=None,
        help="Side the CNN's images are resized to; default: the training images' largest side, at most 32.",
    )
    image_shift: Optional[int] = HfArg(
        default=None, help="Random shift of the CNN's training images (pixels; 0: off)."
    )
    image_flip: bool = HfArg(default=False, help="Random horizontal flips of the CNN's training images (photos).")
    freeze_backbones: bool = HfArg(default=False, help="Train only the fusion on text/image inputs.")
    cache_backbone_outputs: bool = HfArg(
        default=False,
        help="Compute frozen backbones' pooled outputs once (datasets map cache); implies --freeze_backbones.",
    )


@dataclass
class TrainArguments:
    """The training group of `--help`: the budget, the optimizer, early stopping, checkpoints and tracking."""

    _argument_group_name = "training"

    output_dir: str = "outputs/cldmdf-uci"
    per_device_train_batch_size: int = 64
    per_device_eval_batch_size: int = 256
    learning_rate: float = DEFAULT_LEARNING_RATE
    weight_decay: float = 0.01
    num_train_epochs: Optional[int] = HfArg(
        default=None,
        help=f"A fixed number of epochs; default: the step budget of --min_train_steps and {DEFAULT_EPOCHS} epochs.",
    )
    max_train_steps: Optional[int] = HfArg(default=None, help="Overrides --num_train_epochs.")
    min_train_steps: int = HfArg(
        default=DEFAULT_MIN_TRAIN_STEPS,
        help=f"Without --num_train_epochs / --max_train_steps the budget is max(this, {DEFAULT_EPOCHS} epochs) "
        "optimizer steps, so that small datasets get the updates they need.",
    )
    eval_steps: Optional[int] = HfArg(
        default=None,
        help=f"Optimizer steps between validation evaluations; default: {EVALUATIONS_PER_BUDGET} evaluations over "
        "the budget.",
    )
    gradient_accumulation_steps: int = 1
    lr_scheduler_type: str = HfArg(
        default="cosine",
        metadata={
            "choices": ["linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup"]
        },
    )
    num_warmup_steps: int = 0
    seed: int = 0
    early_stopping_patience: int = HfArg(
        default=DEFAULT_PATIENCE,
        help="Evaluations in which neither the validation loss nor the accuracy improved before stopping "
        "(never before --min_train_steps); 0: off.",
    )
    metric_for_best_model: str = HfArg(
        default="accuracy",
        help="What picks the best evaluation: validation accuracy (ties broken by the loss), or the loss alone.",
        metadata={"choices": ["accuracy", "loss"]},
    )
    refit: Optional[bool] = HfArg(  # --no_refit sets it False (`build_parser`)
        default=None,
        help="After early stopping, train again from the initial weights on train + validation for the epochs of the "
        "best evaluation, and keep that model (the default whenever the final evaluation is not on validation).",
        metadata={"nargs": "?", "const": True},  # `--refit` alone: True, as a `bool` field's flag
    )
    train_missing_rate: float = HfArg(
        default=0.0,
        help="Incomplete training data: the share η of (row, modality) entries missing from the train and validation "
        "splits, a fixed pattern seeded by row id and --eval_seed (the test split's evaluation pattern, on other "
        "rows); 0: complete.",
    )
    checkpointing_steps: Optional[str] = HfArg(default=None, help='"epoch" or a number of steps.')
    resume_from_checkpoint: Optional[str] = HfArg(
        default=None,
        help='A checkpoint folder, or "latest" (the newest complete one). An incomplete folder is refused.',
    )
    save_total_limit: int = HfArg(
        default=DEFAULT_SAVE_TOTAL_LIMIT,
        help=f"Checkpoints kept: the last N and the one right after the best evaluation (default "
        f"{DEFAULT_SAVE_TOTAL_LIMIT}, so that disk use stays bounded whatever the budget); 0: keep every checkpoint.",
    )
    with_tracking: bool = HfArg(default=False, help="Log to the trackers of --report_to.")
    report_to: str = HfArg(default="all", help='"all" (every installed tracker) or one, e.g. "tensorboard".')
    logging_steps: int = HfArg(default=10, help="Steps between training-loss logs (progress bar, trackers).")
    dataloader_num_workers: int = 0


@dataclass
class EvaluationArguments:
    """The evaluation group of `--help`: the final robustness sweep."""

    _argument_group_name = "evaluation"

    eval_missing_rates: Optional[str] = HfArg(
        default=None,
        help=f"Comma-separated η values; default: {DEFAULT_EVAL_MISSING_RATES}, those the dataset's M modalities "
        "allow (η < (M - 1) / M).",
    )
    eval_seed: int = HfArg(default=0, help="Seed of the evaluation missing patterns.")
    skip_modality_removal: bool = HfArg(default=False, help="Skip the remove-one sweep.")
    evaluation_split: Optional[str] = HfArg(
        default=None,
        help="Split of the final robustness sweep (default: test, or validation when the dataset has no test split); "
        "`validation` to choose settings without looking at the test set.",
        metadata={"choices": ["test", "validation"]},
    )


@dataclass
class PredictionArguments:
    """The prediction group of `--help`."""

    _argument_group_name = "prediction"

    do_predict: bool = HfArg(
        default=False,
        help="Write predictions (predicted label, class probabilities, modality weights) into the output folder.",
    )
    predict_file: Optional[str] = HfArg(
        default=None, help="Rows to predict: a parquet/csv/jsonl file with the modality columns."
    )
    predict_split: Optional[str] = HfArg(default=None, help="A split of the dataset to predict (default: test).")
    predictions_format: str = HfArg(default="jsonl", metadata={"choices": ["jsonl", "csv"]})


@dataclass
class HubArguments:
    """The hub group of `--help`."""

    _argument_group_name = "hub"

    push_to_hub: bool = False
    hub_model_id: Optional[str] = None
    hub_token: Optional[str] = None
    hub_private_repo: bool = False
    push_checkpoints: bool = HfArg(default=False, help="Also push each checkpoint (to a branch).")


# The groups of `--help`, in its order; `build_parser(...).parse_args_into_dataclasses()` gives one of each.
ARGUMENT_GROUPS = (
    DataArguments,
    ModelArguments,
    TrainArguments,
    EvaluationArguments,
    PredictionArguments,
    HubArguments,
)


def build_parser(description: str) -> HfArgumentParser:
    """Every flag of the script, in the groups `--help` shows; `parse_args` gives them in one namespace."""
    parser = HfArgumentParser(ARGUMENT_GROUPS, description=description, formatter_class=argparse.HelpFormatter)
    # HfArgumentParser also declares `--dataset-name` for `--dataset_name`: that second spelling of each flag would
    # make the abbreviations argparse accepts ambiguous (`--report tensorboard`), so every flag keeps its one spelling.
    for action in parser._actions:
        for option in [option for option in action.option_strings if "-" in option[2:]]:
            action.option_strings.remove(option)
            del parser._option_string_actions[option]
    training = next(group for group in parser._action_groups if group.title == TrainArguments._argument_group_name)
    # The one flag a field cannot declare: a second flag of `refit` (HfArgumentParser adds `--no_*` flags only for
    # fields whose default is True; this one's is None, "decided by the run").
    training.add_argument(
        "--no_refit", dest="refit", action="store_const", const=False, help="Keep the best evaluation."
    )
    return parser


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
