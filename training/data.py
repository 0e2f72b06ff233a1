# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""The data of a run: loading (`load_data`), the split to predict, the pre-flight check of every split before
anything is fitted, --max_*_samples, and the collators and dataloaders. Each step returns a new
`MultimodalDataset`; the one it was given is left as it was."""

import argparse
import dataclasses
from typing import Optional

import torch
from accelerate import Accelerator
from accelerate.logging import get_logger
from torch.utils.data import DataLoader

from cldmdf.processing.collator import CLDMDFDataCollator
from cldmdf.processing.column_types import MISSING_MARKERS
from cldmdf.processing.loading import MultimodalDataset, load_multimodal_dataset, load_prediction_file
from cldmdf.processing.preflight import ROW_CONVENTION, DataProblem, find_data_problems, format_rows
from cldmdf.processing.schema import MODALITY_TYPES, SUPPORTED_FEATURES
from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor

from . import UserError
from .collated import collated_source
from .pretraining import is_pretraining, without_labels

logger = get_logger(__name__)

PREDICT_FILE_SPLIT = "predict_file"  # the split name of --predict_file's rows inside the loaded data


def load_checked_data(args: argparse.Namespace) -> MultimodalDataset:
    """The dataset with the rows to predict, checked whole (what is wrong with the file, not with a sample), then
    cut to --max_train_samples / --max_eval_samples."""
    data = load_data(args)
    if is_pretraining(args):
        data = without_labels(data)
    elif data.problem_type is None:
        raise UserError(
            f"--dataset_name {args.dataset_name!r}: found no label column to train on (rows without labels: "
            f"--task pretraining)"
        )
    data = add_predict_split(args, data)
    data = preflight_check(args, data)
    return select_splits(args, data)


def load_data(args: argparse.Namespace) -> MultimodalDataset:
    try:
        return load_multimodal_dataset(
            args.dataset_name,
            config_name=args.dataset_config_name,
            revision=args.revision,
            streaming=args.streaming,
            label_column=args.label_column_name,
            require_labels=not is_pretraining(args),
            modality_types=parse_modality_types(args.modality_types),
            validation_fraction=args.validation_fraction,
            seed=args.seed,
            token=args.hub_token,
        )
    except (ValueError, FileNotFoundError) as error:
        raise UserError(f"--dataset_name {args.dataset_name!r}: {error}") from error
    except Exception as error:  # the Hub client's errors (repo, revision not found...) are user errors too
        if type(error).__name__.endswith(("NotFoundError", "DatasetNotFoundError")):
            raise UserError(f"--dataset_name {args.dataset_name!r}: {error}") from error
        raise


def parse_modality_types(text: Optional[str]) -> dict:
    """`"vec=dense,notes=text"` -> `{"vec": "dense", "notes": "text"}`."""
    types = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        column, sep, kind = (part.strip() for part in item.partition("="))
        if not sep or not column or kind not in MODALITY_TYPES:
            raise UserError(
                f'--modality_types items must look like "column=type" with type one of {list(MODALITY_TYPES)}, '
                f"got {item.strip()!r}"
            )
        types[column] = kind
    return types


def with_splits(data: MultimodalDataset, splits: dict) -> MultimodalDataset:
    """`data` with the given splits replaced or added (the others, and the schema, shared)."""
    return dataclasses.replace(data, dataset=type(data.dataset)({**data.dataset, **splits}))


def add_predict_split(args: argparse.Namespace, data: MultimodalDataset) -> MultimodalDataset:
    """With --do_predict, checks the split to predict now, and adds --predict_file's rows as the split
    `predict_file`, so that the pre-flight check reads them too (nothing wrong is found after training)."""
    if not args.do_predict:
        for flag in ("predict_file", "predict_split"):
            if getattr(args, flag):
                raise UserError(
                    f"--{flag} {getattr(args, flag)!r} only applies with --do_predict; add --do_predict to write "
                    f"predictions"
                )
        return data
    if args.predict_file and args.predict_split:
        raise UserError(
            f"--predict_file {args.predict_file!r} and --predict_split {args.predict_split!r}: give one of them"
        )
    if args.streaming:
        raise UserError("--do_predict reads whole splits; it does not work with --streaming")
    if args.predict_file:
        try:
            rows = load_prediction_file(args.predict_file, data, parse_modality_types(args.modality_types))
        except (ValueError, FileNotFoundError) as error:
            raise UserError(f"--predict_file {args.predict_file!r}: {error}") from error
        return with_splits(data, {PREDICT_FILE_SPLIT: rows})
    split = args.predict_split or "test"
    if split not in data.splits:
        raise UserError(f"--predict_split {split!r}: the dataset has the splits {data.splits}; pass one of them")
    return data


def preflight_check(args: argparse.Namespace, data: MultimodalDataset) -> MultimodalDataset:
    """Scans every split (and the rows --do_predict will read) before anything is fitted or trained and raises one
    `UserError` that lists every data problem, grouped by split, with the row ids of the user's file or split and the
    flag or change that fixes it. Rows with every modality missing are dropped instead (with a log line) under
    --drop_rows_without_modalities."""
    if data.streaming:
        logger.info("streaming: the data is checked batch by batch during training, not ahead of it")
        return data
    if args.drop_rows_without_modalities:
        data = drop_rows_without_modalities(data)
    problems = find_data_problems(data, declared=parse_modality_types(args.modality_types))
    if problems:
        by_split = {}
        for problem in problems:
            by_split.setdefault(problem.split, []).append(f"    - {describe_problem(problem)}")
        lines = "\n".join(f"  split {split!r}:\n" + "\n".join(items) for split, items in by_split.items())
        raise UserError(
            f"--dataset_name {args.dataset_name!r}: {len(problems)} data problem(s) found before training; nothing "
            f"was trained or written ({ROW_CONVENTION}):\n{lines}"
        )
    return data


def describe_problem(problem: DataProblem) -> str:
    """One line per problem of a split: which rows and column, what is wrong, what is allowed and the remedy."""
    rows = format_rows(problem.rows)
    column = problem.column
    if problem.kind == "no_modality":
        return f"rows {rows} have every modality missing; pass --drop_rows_without_modalities to drop them"
    if problem.kind == "nan":
        return (
            f"dense modality {column!r}: rows {rows} hold NaN, infinite or null values inside a present vector (a "
            f"present vector must hold {problem.facts.get('dim', 'its')} finite numbers); fix those values, or store "
            f"the whole vector as None (missing) to use the row's other modalities"
        )
    if problem.kind == "wrong_type":
        return (
            f"column {column!r} has feature {problem.facts['found']}, which a {problem.facts['expected']} modality "
            f"(as in the training split) cannot hold; store it like the training split (supported: "
            f"{SUPPORTED_FEATURES})"
        )
    if problem.kind == "missing_label":
        return (
            f"rows {rows} have no label in column {column!r} (None or NaN) while the others have one; label them or "
            f"remove them (unlabelled data trains with --task pretraining)"
        )
    if problem.kind == "unseen_label":
        return (
            f"label {problem.detail} (rows {rows}) never occurs in the training split, so the model cannot learn it "
            f"and the ids of the other classes shift; add training rows of that class or remove these rows"
        )
    facts = problem.facts
    numbers = f"{facts['numbers']} of its {facts['values']} values (empty cells and missing markers aside) are numbers"
    if problem.kind == "mostly_numeric_strings":
        placeholders = placeholder_rows(facts["placeholders"])
        return (
            f"column {column!r} was read as text because it holds strings, but {numbers} (e.g. {problem.detail}); "
            f"the others are {placeholders}. If it is a number column, replace those values with an empty cell "
            f"(or one of {list(MISSING_MARKERS[1:])}) and pass --modality_types {column}=dense; to keep it as text, "
            f"pass --modality_types {column}=text"
        )
    markers = facts.get("placeholders") or {}
    as_missing = f" ({placeholder_rows(markers)} then count as missing)" if markers else ""
    if problem.kind == "vector_strings":
        return (
            f"column {column!r} holds vectors stored as strings (e.g. {problem.detail}) and was read as text; pass "
            f"--modality_types {column}=dense to parse them{as_missing}"
        )
    return (
        f"column {column!r} holds numbers stored as strings (e.g. {problem.detail}; {numbers}) and was read as text; "
        f"pass --modality_types {column}=dense to read it as one number{as_missing}, or {column}=text to keep it as "
        f"text"
    )


def placeholder_rows(placeholders: dict) -> str:
    """The first five placeholder strings of a column with the rows that hold each, for a message."""
    return ", ".join(f"{value!r} (rows {format_rows(ids)})" for value, ids in list(placeholders.items())[:5])


def drop_rows_without_modalities(data: MultimodalDataset) -> MultimodalDataset:
    for name in data.splits:
        empty = data.rows_without_modalities(name)
        if empty:
            split = data[name]
            ids = split.select(empty)[data.row_id_column]
            data = with_splits(data, {name: split.select(sorted(set(range(len(split))) - set(empty)))})
            logger.warning(
                f"--drop_rows_without_modalities: dropped {len(empty)} rows of split {name!r} with every modality "
                f"missing: rows {format_rows(sorted(ids))} ({ROW_CONVENTION})"
            )
    return data


def select(split, limit: Optional[int]):
    """The first `limit` rows of a seeded shuffle (splits are often stored sorted, e.g. by class)."""
    if limit is None:
        return split
    if not hasattr(split, "select"):  # streaming
        return split.take(limit)
    return split.shuffle(seed=0).select(range(min(limit, len(split))))


def select_splits(args: argparse.Namespace, data: MultimodalDataset) -> MultimodalDataset:
    """Applies --max_train_samples / --max_eval_samples once, before anything reads the splits."""
    return with_splits(
        data,
        {
            name: select(data[name], args.max_train_samples if name == "train" else args.max_eval_samples)
            for name in data.splits
            if name != PREDICT_FILE_SPLIT  # every row of --predict_file is predicted
        },
    )


def get_dataloaders(accelerator: Accelerator, args: argparse.Namespace, data, processor: CLDMDFProcessor):
    """Train / validation / test dataloaders (the seam tests swap). Evaluation loaders are built per condition."""
    train = data["train"]
    # --train_missing_rate removes the same entries of a row in every epoch: data that is missing, not dropout.
    collator = make_collator(args, data, processor, args.train_missing_rate)
    if args.streaming:
        train = train.shuffle(seed=args.seed, buffer_size=10_000)
    # An in-memory dense split is collated once; its loader indexes the tensors (the same batches, `collated.py`).
    dataset, collate_fn = collated_source(train, collator) or (train, collator)
    train_dataloader = DataLoader(
        dataset,
        shuffle=not args.streaming,
        collate_fn=collate_fn,
        batch_size=args.per_device_train_batch_size,
        num_workers=args.dataloader_num_workers,
        # Its own generator: creating an iterator (also when resuming) then draws nothing from the global RNG that
        # dropout and modality dropout use, so a resumed run continues the exact random stream.
        generator=torch.Generator().manual_seed(args.seed),
    )
    eval_splits = {name: data[name] for name in ("validation", "test") if name in data.splits}
    if "validation" not in eval_splits:
        raise UserError("the dataset has no validation split and --validation_fraction is 0")
    return train_dataloader, eval_splits


def make_collator(args, data, processor, missing_rate: float = 0.0) -> CLDMDFDataCollator:
    """The collator of every loader: at `missing_rate` > 0, a fixed pattern seeded by row id and --eval_seed."""
    return CLDMDFDataCollator(
        processor,
        label_column=data.label_column,
        row_id_column=data.row_id_column,
        missing_rate=missing_rate,
        seed=args.eval_seed,
    )


def eval_dataloader(split, args, data, processor, missing_rate: float = 0.0) -> DataLoader:
    collator = make_collator(args, data, processor, missing_rate)
    # Collated once, then every evaluation (50 a budget for validation) indexes the same tensors.
    dataset, collate_fn = collated_source(split, collator) or (split, collator)
    return DataLoader(dataset, collate_fn=collate_fn, batch_size=args.per_device_eval_batch_size)
