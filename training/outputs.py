# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""What a run leaves behind: the output folder (model, processor, `all_results.json`, predictions, model card),
written into a fresh folder and swapped in place of --output_dir at once, and the push of a folder to the Hub."""

import argparse
import csv
import json
import os
import shutil
from pathlib import Path
from typing import Any, NamedTuple, Optional

import datasets
from accelerate import Accelerator
from accelerate.logging import get_logger

from cldmdf.evaluation.prediction import predict_dataset
from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor

from .arguments import hub_model_id
from .data import PREDICT_FILE_SPLIT
from .pretraining import is_pretraining, write_pretraining_card
from .tracking import TRACKING_PROJECT

logger = get_logger(__name__)


class TrainingRun(NamedTuple):
    """What `train_accelerate.train` returns and `save_final` saves.

    Args:
        accelerator (`Accelerator`): the run's accelerator.
        model: the prepared model, holding the best evaluation's weights.
        processor (`CLDMDFProcessor`): the fitted processor.
        data (`MultimodalDataset`): the splits the run used.
        results (`dict`): the flat results of `all_results.json`.
        settings (`dict`): the arguments as the run resolved them (`train_accelerate.run_settings`), for the model
            card.
    """

    accelerator: Accelerator
    model: Any
    processor: Any
    data: Any
    results: dict
    settings: dict


def save_final(run: TrainingRun, args: argparse.Namespace) -> None:
    """Writes model + processor + card + results into a fresh folder, then swaps it in place of `output_dir`, so an
    interrupted run never leaves a half-written model where a complete one was (checkpoints and tracker logs are
    carried over)."""
    output = Path(args.output_dir)
    staging = output.with_name(output.name + f".tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        unwrapped = run.accelerator.unwrap_model(run.model)
        unwrapped.save_pretrained(staging, safe_serialization=True)
        run.processor.save_pretrained(staging)
        (staging / "all_results.json").write_text(json.dumps(run.results, indent=2, sort_keys=True))
        if args.do_predict:
            write_predictions(unwrapped, run.processor, args, run.data, staging)
        if is_pretraining(args):
            write_pretraining_card(staging, args, run.results, unwrapped.config)
        else:
            write_card(staging, args, run.settings, run.results, run.data, unwrapped.config)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for carried in ("checkpoints", TRACKING_PROJECT):  # the tracker's logs (e.g. TensorBoard events) stay too
        if (output / carried).exists():
            shutil.move(str(output / carried), staging / carried)
    previous = output.with_name(output.name + f".old-{os.getpid()}")
    if output.exists():
        output.rename(previous)
    staging.rename(output)
    shutil.rmtree(previous, ignore_errors=True)


def write_predictions(model, processor: CLDMDFProcessor, args: argparse.Namespace, data, folder: Path) -> Path:
    """`predictions.jsonl` (or `.csv`) for --predict_file / --predict_split: one line per row with its row id, its
    label when the rows have one (a class name, as `predicted_label`), the predicted label, the class probabilities
    by label name and the modality weights by modality name. A regression model writes `predicted_value` (one
    target) or `predicted_values` (target name -> value) instead of a label and probabilities."""
    name = PREDICT_FILE_SPLIT if args.predict_file else (args.predict_split or "test")
    split = data[name]
    records = predict_dataset(model, processor, split, batch_size=args.per_device_eval_batch_size)
    ids = split[data.row_id_column]
    labels = label_names_of(split, data) if data.label_column in split.column_names else None
    lines = []
    for index, record in enumerate(records):
        line = {"row_id": ids[index]}
        if labels is not None:
            line["label"] = labels[index]
        if "value" in record or "values" in record:  # regression: the predicted number(s), no label
            predicted = "value" if "value" in record else "values"
            line[f"predicted_{predicted}"] = record[predicted]
        else:
            line["predicted_label"] = record["label"]
            line["probabilities"] = record["probabilities"]
        if "modality_weights" in record:
            line["modality_weights"] = record["modality_weights"]
        lines.append(line)
    path = folder / f"predictions.{args.predictions_format}"
    if args.predictions_format == "jsonl":
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    else:
        flat = [flatten_prediction(line) for line in lines]
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(flat[0]) if flat else ["row_id"])
            writer.writeheader()
            writer.writerows(flat)
    logger.info(f"wrote {len(lines)} predictions of {args.predict_file or f'split {name!r}'} to {path.name}")
    return path


def label_names_of(split, data) -> list:
    """The rows' labels as the class names `predicted_label` uses (one type in both): the names of a `ClassLabel`,
    the names of string labels, an integer class `i` as `"i"` (its name in the config, `training.model.label_fields`);
    the values themselves for regression and multi-label rows."""
    feature = split.features[data.label_column]
    values = split[data.label_column]
    if isinstance(feature, datasets.ClassLabel):
        return [None if value is None else feature.int2str(value) for value in values]
    if data.id2label and feature == data[data.splits[0]].features.get(data.label_column):
        return [None if value is None else data.id2label.get(value, value) for value in values]
    if data.problem_type == "single_label_classification":
        return [None if value is None else str(int(value)) for value in values]
    return values


def flatten_prediction(line: dict) -> dict:
    """A CSV row: nested dicts become `probability_<label>` / `value_<target>` / `weight_<modality>` columns."""
    prefixes = {"probabilities": "probability_", "predicted_values": "value_", "modality_weights": "weight_"}
    flat = {}
    for key, value in line.items():
        if key in prefixes:
            flat.update({prefixes[key] + str(k): v for k, v in value.items()})
        else:
            flat[key] = ",".join(map(str, value)) if isinstance(value, list) else value
    return flat


def write_card(folder: Path, args: argparse.Namespace, settings: dict, results: dict, data, config) -> None:
    """The model card; its hyper-parameters are the run's `settings` that were set (False flags and None left out),
    without the Hub token and the command, which the card shows on its own."""
    try:
        from cldmdf.model_cards.builder import write_model_card
    except ImportError:  # the card builder is optional for library users who copy only this script
        logger.warning("model_cards is not importable: no model card written")
        return
    hyperparameters = {
        key: value
        for key, value in settings.items()
        if key not in ("hub_token", "command") and value is not None and not isinstance(value, bool) or value is True
    }
    if config.problem_type == "regression" and hyperparameters.get("task") == "classification":
        # `--task classification` is the supervised task; a float label made it regression, which the card says.
        hyperparameters["task"] = "regression"
    if config.problem_type != "single_label_classification" and "metric_for_best_model" in hyperparameters:
        hyperparameters["metric_for_best_model"] = "loss"  # the only validation metric such a run compares
    write_model_card(
        folder,
        results=results,
        modalities=config.modalities,
        dataset_name=args.dataset_name,
        dataset_revision=args.revision,
        hyperparameters=hyperparameters,
        command=args.command,
        model_name=hub_model_id(args) or Path(args.output_dir).name,
        base_model=args.model_name_or_path,
        label_names=[config.id2label[i] for i in sorted(config.id2label)] if data.id2label else None,
        baseline=getattr(type(config), "baseline", None),  # the reference models' configs name their method
        dense_input_norm=config.dense_input_norm,
        problem_type=config.problem_type,
    )


def push_folder(
    args: argparse.Namespace, folder: str, revision: Optional[str] = None, message: str = "Upload CL-DMDF"
) -> None:
    from huggingface_hub import HfApi

    api = HfApi(token=args.hub_token)
    repo_id = api.create_repo(hub_model_id(args), private=args.hub_private_repo, exist_ok=True).repo_id
    if revision:
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    api.upload_folder(
        repo_id=repo_id,
        folder_path=folder,
        revision=revision,
        commit_message=message,
        ignore_patterns=["checkpoints/*", "*.tmp-*", "optimizer.bin", "random_states_*", "scheduler.bin"],
    )
