# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""Evaluation in a run: what the final robustness sweep measures (`plan_evaluation`: its split and missing rates,
resolved from the arguments and the data), the validation of every --eval_steps steps (`validate`), and the sweep
itself on the final weights (`evaluate_model`, `robustness_sweep`)."""

import argparse
from collections import Counter
from dataclasses import dataclass

from accelerate import Accelerator
from accelerate.logging import get_logger

from cldmdf.evaluation.prediction import compute_metrics, predict
from cldmdf.evaluation.results import COMPLETE, Condition, result_key
from cldmdf.processing.loading import MultimodalDataset
from cldmdf.processing.missing import max_missing_rate

from . import UserError
from .arguments import parse_missing_rates
from .budget import EarlyStopping
from .data import eval_dataloader
from .pretraining import is_pretraining, pretraining_losses

logger = get_logger(__name__)


@dataclass(frozen=True)
class EvaluationPlan:
    """What the final robustness sweep measures.

    Args:
        split (`str`): the split evaluated: --evaluation_split, else `test`, else (no test split) `validation`.
        missing_rates (`list[float]`): the η of --eval_missing_rates, or of the defaults that the data can meet.
        explicit_missing_rates (`bool`): whether the user typed the rates (then all of them must be met).
    """

    split: str
    missing_rates: list[float]
    explicit_missing_rates: bool


def plan_evaluation(args: argparse.Namespace, data: MultimodalDataset) -> EvaluationPlan:
    missing_rates = evaluation_missing_rates(args, data)  # first: its log line and errors come before the split's
    return EvaluationPlan(evaluation_split(args, data), missing_rates, args.eval_missing_rates is not None)


def evaluation_missing_rates(args: argparse.Namespace, data: MultimodalDataset) -> list[float]:
    """Every η must leave each row one modality: below (M - 1) / M for the dataset's M modalities. A rate the user
    typed that the dataset cannot meet is an error; a default one is dropped with a log line."""
    rates = parse_missing_rates(args.eval_missing_rates)
    limit = max_missing_rate(len(data.modality_names))
    if args.eval_missing_rates is None:
        unmet = [rate for rate in rates if rate > 0 and rate >= limit]
        if unmet:
            logger.info(
                f"evaluation missing rates {unmet} skipped: with {len(data.modality_names)} modalities every row "
                f"keeps one, so η must be below (M - 1) / M = {limit:.6g}"
            )
        rates = [rate for rate in rates if rate not in unmet]
    for flag, values in (("--eval_missing_rates", rates), ("--train_missing_rate", [args.train_missing_rate])):
        bad = [rate for rate in values if rate > 0 and rate >= limit]
        if bad:
            raise UserError(
                f"{flag} got {bad}: with the {len(data.modality_names)} modalities {data.modality_names} every row "
                f"keeps one, so η must be below (M - 1) / M = {limit:.6g}"
            )
    return rates


def evaluation_split(args: argparse.Namespace, data: MultimodalDataset) -> str:
    """--evaluation_split as given, else `test`, else (a dataset without one) `validation`, said loudly."""
    if args.evaluation_split is None:
        if "test" in data.splits:
            return "test"
        logger.warning(
            "the dataset has no test split: the final robustness sweep reports `validation_*` metrics, measured "
            "on the split that also chose the best epoch"
        )
        return "validation"
    if args.evaluation_split == "test" and "test" not in data.splits:
        raise UserError(f"--evaluation_split test: the dataset has only the splits {data.splits}")
    return args.evaluation_split


def validate(model, loader, accelerator: Accelerator, stopper: EarlyStopping, args, data, step: int, epoch: int):
    """Evaluates on the validation split, logs it, records it for early stopping; True when training should stop."""
    if is_pretraining(args):
        validation = pretraining_losses(model, loader, accelerator, args.eval_seed)
    else:
        validation = compute_metrics(predict(model, loader, accelerator), data.problem_type)
    should_stop = stopper.update(validation, step, epoch, accelerator.unwrap_model(model))
    logger.info(f"step {step} (epoch {epoch}): validation {validation}")
    if args.with_tracking:
        accelerator.log({f"validation_{k}": v for k, v in validation.items()} | {"epoch": epoch}, step=step)
    model.train()
    return should_stop


def evaluate_model(model, accelerator: Accelerator, args, data, processor, evaluation: EvaluationPlan) -> dict:
    """The final robustness sweep of `model` (the best evaluation's weights, or the refit on train + validation)."""
    if is_pretraining(args):  # the pre-training losses of the evaluation split, whole and at each missing rate
        results = {}
        for rate in evaluation.missing_rates:
            loader = accelerator.prepare(eval_dataloader(data[evaluation.split], args, data, processor, rate))
            for key, value in pretraining_losses(model, loader, accelerator, args.eval_seed).items():
                results[result_key(key, rate, split=evaluation.split)] = value
        return results
    results = robustness_sweep(model, accelerator, args, data, processor, evaluation.missing_rates, evaluation.split)
    if data.problem_type == "single_label_classification" and not data.streaming:
        label, share = majority_class(data, evaluation.split)
        results[f"{evaluation.split}_majority_class_accuracy"] = share
        accuracy = results.get(result_key("accuracy", split=evaluation.split))
        if accuracy is not None and accuracy <= share:
            logger.warning(
                f"the model's {evaluation.split} accuracy {accuracy:.4f} does not beat always predicting the training "
                f"split's most frequent class {label!r} ({share:.4f}): it learned no more than the class balance. "
                f"Read its macro-F1, and give it more rows of the other classes or more training.",
                main_process_only=True,
            )
    return results


def majority_class(data: MultimodalDataset, split_name: str) -> tuple:
    """The training split's most frequent label, and the accuracy of predicting it for every row of `split_name`:
    the baseline an accuracy on imbalanced labels is read against."""
    label = Counter(data["train"][data.label_column]).most_common(1)[0][0]
    labels = data[split_name][data.label_column]
    name = data.id2label.get(label, label) if data.id2label else label
    return name, sum(value == label for value in labels) / max(len(labels), 1)


def robustness_sweep(
    model, accelerator, args, data, processor, missing_rates: list[float], split_name: str = "test"
) -> dict:
    """Flat results, keyed by `evaluation.results.result_key`: every metric on `split_name` as it is, at each missing
    rate (`test_accuracy_missing_0.3`), with each modality removed (`test_accuracy_without_text`) and with each
    modality alone (`test_accuracy_only_text`, on the rows that have it: the row where only that modality arrived).

    A removal is scored on the rows that keep another modality (`test_rows_without_text`); every modality's score on
    those same rows (`test_accuracy_with_text`) is the reference the model card compares it with."""
    split = data[split_name]
    results, complete = {}, None
    conditions = [(Condition(missing_rate=rate), None) for rate in missing_rates]
    names = data.modality_names
    if not args.skip_modality_removal and len(names) > 1:
        conditions += [(Condition(without=name), [index]) for index, name in enumerate(names)]
        conditions += [
            (Condition(only=name), [other for other in range(len(names)) if other != index])
            for index, name in enumerate(names)
        ]
    for condition, removed in conditions:
        loader = accelerator.prepare(
            eval_dataloader(split, args, data, processor, missing_rate=condition.missing_rate)
        )
        outputs = predict(model, loader, accelerator, removed)
        metrics = compute_metrics(outputs, data.problem_type)
        for key, value in metrics.items():
            if key == "rows" and condition.missing_rate:  # a missing pattern keeps every row
                continue
            results[result_key(key, condition, split=split_name)] = value
        if condition == COMPLETE:
            complete = outputs
        elif condition.without is not None and complete is not None:  # the same rows, every modality
            same_rows = compute_metrics({**complete, "valid": outputs["valid"]}, data.problem_type)
            reference = Condition(reference_for=condition.without)
            results.update(
                {result_key(k, reference, split=split_name): v for k, v in same_rows.items() if k != "rows"}
            )
    return results
