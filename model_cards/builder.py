# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""Builds a CL-DMDF model card (`README.md`) from the training results, through `huggingface_hub.ModelCard`.

The card's YAML metadata carries a `model-index` with one `EvalResult` per (test condition, metric). A condition is a
missing rate η or a removed modality; it is written into each metric's `name` ("Accuracy (missing rate 0.3)") and
`args` (`{"missing_rate": 0.3}` or `{"removed_modality": "text"}`), which survive a save / load round trip and parse
back with [`condition_of`]. (Not into `dataset.args`: `huggingface_hub` groups results by task, dataset, config, split
and revision only, so per-condition dataset args would be silently merged into the first one's.)
"""

from __future__ import annotations

import logging
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.utils import HFValidationError, validate_repo_id

from modeling_cldmdf.configuration_cldmdf import MODALITY_TYPES

from ._atomic import atomic_write_text
from .plots import plot_robustness
from .results import CONDITION_METRICS, MODEL_INDEX_METRICS, RobustnessResults, parse_results

__all__ = [
    "CARD_TAGS",
    "CLDMDF_CITATION",
    "PLOT_FILENAME",
    "TEMPLATE_PATH",
    "build_eval_results",
    "command_without_local_paths",
    "condition_of",
    "infer_task_type",
    "without_local_path",
    "write_model_card",
]

logger = logging.getLogger(__name__)

TEMPLATE_PATH = Path(__file__).resolve().parent / "template.md"
PLOT_FILENAME = "robustness.png"
CARD_TAGS = ["cldmdf", "multimodal", "missing-modalities", "custom_code"]
CLDMDF_CITATION = """@inproceedings{li2026cldmdf,
  title         = {{CL-DMDF}: A Contrastive Learning-Based Framework for Dynamic Multimodal Data Fusion},
  author        = {Li and Zhang and Han and Ding and Kou},
  booktitle     = {Proceedings of the AAAI Conference on Artificial Intelligence (AAAI)},
  year          = {2026},
  eprint        = {2606.02659},
  archivePrefix = {arXiv},
  url           = {https://arxiv.org/abs/2606.02659}
}"""
# Hub task ids for single-type models; a mix of types has no Hub task, so the model-index gets a descriptive one.
_TASK_BY_TYPE = {"dense": "tabular-classification", "text": "text-classification", "image": "image-classification"}
_MIXED_TASK = "multimodal-classification"
_REGRESSION_TASK_BY_TYPE = {"dense": "tabular-regression"}
_MIXED_REGRESSION_TASK = "multimodal-regression"
_DENSE_ENCODER = "Linear → GELU → Dropout → Linear"


# ---------------------------------------------------------------------------------------------------------------------
# model-index


# `--baseline` name -> (name, what the model computes), for the cards of the reference models of this library.
BASELINE_CARDS = {
    "early_fusion": (
        "early fusion",
        "The features of every modality (zeros where it is missing; the pooled backbone output for text and images) "
        "are concatenated with the mask indicators and classified by an MLP of the width of the CL-DMDF it is "
        "compared with.",
    ),
    "late_fusion": (
        "late fusion",
        "One classifier per modality, on that modality's encoder output; the logits are averaged over the modalities "
        "present in the row.",
    ),
    "tmc": (
        "TMC (trusted multi-view classification)",
        "TMC (Han, Zhang, Fu, Zhou, ICLR 2021): each modality's classifier gives Dirichlet evidence over the "
        "classes; the opinions of the modalities present in the row are combined by Dempster's rule, a missing "
        "modality contributing no evidence. `logits` are the log expected class probabilities of the combined "
        "Dirichlet and `uncertainty` its uncertainty mass (1: no evidence).",
    ),
}


BASELINE_CLASSES = {
    "early_fusion": "EarlyFusionForSequenceClassification",
    "late_fusion": "LateFusionForSequenceClassification",
    "tmc": "TMCForSequenceClassification",
}


def infer_task_type(modalities: Mapping[str, Mapping[str, Any]], problem_type: str | None = None) -> str:
    """The `model-index` task type: the Hub task of the one modality type, else `"multimodal-classification"`; for
    a regression model `"tabular-regression"` (dense modalities only), else `"multimodal-regression"`.

    Args:
        modalities (`Mapping[str, dict]`):
            Modality name -> spec with a `type` in `("dense", "text", "image")`.
        problem_type (`str`, *optional*):
            The config's `problem_type`; `"regression"` gives a regression task.
    """
    kinds = {spec["type"] for spec in modalities.values()}
    if problem_type == "regression":
        return (
            _REGRESSION_TASK_BY_TYPE.get(kinds.pop(), _MIXED_REGRESSION_TASK)
            if len(kinds) == 1
            else _MIXED_REGRESSION_TASK
        )
    return _TASK_BY_TYPE[kinds.pop()] if len(kinds) == 1 else _MIXED_TASK


def _condition_label(condition: tuple[str, float | str]) -> str:
    kind, value = condition
    if kind == "removed_modality":
        return f"without {value}"
    if kind == "only_modality":
        return f"{value} alone"
    return "complete test split" if value == 0.0 else f"missing rate {value:g}"


def build_eval_results(
    parsed: RobustnessResults,
    *,
    dataset_name: str,
    dataset_revision: str | None = None,
    task_type: str = _MIXED_TASK,
    split: str = "test",
    task_name: str = "Classification with missing modalities",
) -> list[EvalResult]:
    """One `EvalResult` per (condition, metric in `MODEL_INDEX_METRICS`), missing rates first, then removed modalities.

    Args:
        parsed ([`RobustnessResults`]):
            Output of `parse_results`.
        dataset_name (`str`):
            Dataset id, used as the model-index dataset type and name: a Hub repo id, or for a local dataset its
            folder / file name (never a path; [`write_model_card`] passes it so).
        dataset_revision (`str`, *optional*):
            Revision of the dataset that was evaluated.
        task_type (`str`, *optional*, defaults to `"multimodal-classification"`):
            The model-index task type.
        split (`str`, *optional*, defaults to `"test"`):
            The evaluated split.
        task_name (`str`, *optional*, defaults to `"Classification with missing modalities"`):
            The model-index task name.

    Returns:
        `list[EvalResult]`: each with `metric_name` "<Metric> (<condition>)" and the condition in `metric_args`.
    """
    conditions: list[tuple[tuple[str, float | str], Mapping[str, float]]] = [
        (("missing_rate", rate), scores) for rate, scores in parsed.missing_rates.items()
    ] + [(("removed_modality", name), scores) for name, scores in parsed.removed_modalities.items()]
    conditions += [(("only_modality", name), scores) for name, scores in parsed.alone_modalities.items()]
    eval_results = []
    for condition, scores in conditions:
        for metric, pretty in MODEL_INDEX_METRICS.items():
            if metric not in scores:
                continue
            metric_args: dict[str, Any] = {condition[0]: condition[1]}
            if metric == "f1":
                metric_args["average"] = "macro"
            eval_results.append(
                EvalResult(
                    task_type=task_type,
                    task_name=task_name,
                    dataset_type=dataset_name,
                    dataset_name=dataset_name,
                    dataset_split=split,
                    dataset_revision=dataset_revision,
                    metric_type=metric,
                    metric_value=scores[metric],
                    metric_name=f"{pretty} ({_condition_label(condition)})",
                    metric_args=metric_args,
                )
            )
    return eval_results


def condition_of(eval_result: EvalResult) -> tuple[str, float | str]:
    """Parses the evaluation condition back from an `EvalResult` written by [`build_eval_results`].

    Args:
        eval_result (`EvalResult`):
            One entry of `ModelCard.load(...).data.eval_results`.

    Returns:
        `tuple`: `("missing_rate", η)` (η = 0.0 for the complete test split), `("removed_modality", name)` or
        `("only_modality", name)`.
    """
    args = eval_result.metric_args or {}
    for kind in ("removed_modality", "only_modality"):
        if kind in args:
            return kind, str(args[kind])
    if "missing_rate" in args:
        return "missing_rate", float(args["missing_rate"])
    raise ValueError(
        f"`eval_result` {eval_result.metric_name!r} has no `missing_rate` or `removed_modality` in its metric_args "
        f"({args!r}); it was not written by build_eval_results"
    )


# ---------------------------------------------------------------------------------------------------------------------
# Argument checks


def _check_str(name: str, value: Any, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        allowed = "a non-empty string or None" if optional else "a non-empty string"
        raise ValueError(f"`{name}` must be {allowed}, got {value!r}")


def _check_modalities(modalities: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(modalities, Mapping) or not modalities:
        raise ValueError(f"`modalities` must be a non-empty mapping of name -> spec dict, got {modalities!r}")
    for name, spec in modalities.items():
        if not isinstance(name, str) or not isinstance(spec, Mapping):
            raise TypeError(f"`modalities` must map str names to spec dicts, got {name!r}: {spec!r}")
        if spec.get("type") not in MODALITY_TYPES:
            raise ValueError(
                f"`modalities[{name!r}]['type']` must be one of {MODALITY_TYPES}, got {spec.get('type')!r}"
            )
        dim = spec.get("dim")
        if spec["type"] == "dense" and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 1):
            raise ValueError(f"`modalities[{name!r}]['dim']` must be a positive int for a dense modality, got {dim!r}")
    return {name: modalities[name] for name in sorted(modalities)}


def _check_label_names(label_names: Any) -> list[str] | None:
    if label_names is None:
        return None
    if isinstance(label_names, str) or not isinstance(label_names, Sequence):
        raise TypeError(f"`label_names` must be a list of str or None, got {label_names!r}")
    if not all(isinstance(label, str) for label in label_names):
        raise TypeError(f"`label_names` must be a list of str or None, got {label_names!r}")
    return list(label_names)


def _hub_id(value: str | None, argument: str) -> str | None:
    """`value` if it can be a Hub repo id; `None` for a local path (the Hub metadata only takes repo ids)."""
    if value is None:
        return None
    try:
        validate_repo_id(value)
    except HFValidationError:
        logger.info(f"`{argument}` {value!r} is not a Hub repo id: left out of the card metadata")
        return None
    if os.path.exists(value):
        logger.info(f"`{argument}` {value!r} is a local path: left out of the card metadata")
        return None
    return value


_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")


def _is_local_absolute(value: str) -> bool:
    return os.path.isabs(value) or value.startswith("~") or bool(_WINDOWS_ABSOLUTE.match(value))


def without_local_path(value: Any) -> Any:
    """`value` with every absolute path of this machine (`/home/me/data/set`, `~/x`, `C:\\x`) replaced by its last
    component (`set`): what the card says goes to the Hub, where a folder of this machine means nothing and tells
    about the machine. Lists and tuples are handled item by item; other values are returned as they are."""
    if isinstance(value, (list, tuple)):
        return type(value)(without_local_path(item) for item in value)
    if not isinstance(value, str) or not _is_local_absolute(value):
        return value
    return _local_dataset_name(value)


def command_without_local_paths(command: str) -> str:
    """The command with each absolute-path argument (`--flag /x/y`, `--flag=/x/y`) replaced by its last component;
    verbatim when it has none (or cannot be split like a shell would)."""
    try:
        tokens = shlex.split(command)
    except ValueError:
        return command
    changed = []
    for token in tokens:
        flag, equals, value = token.partition("=") if token.startswith("--") else ("", "", token)
        changed.append(flag + equals + without_local_path(value) if equals else without_local_path(token))
    return command if changed == tokens else shlex.join(changed)


def _local_dataset_name(path: str) -> str:
    """The last component of a local dataset path (`/data/my_set/` -> `my_set`): no folder of this machine goes to
    the Hub metadata."""
    return re.split(r"[\\/]", path.rstrip("/\\"))[-1].lstrip("~") or "local-dataset"


# ---------------------------------------------------------------------------------------------------------------------
# Rendering helpers


def _cell(text: Any) -> str:
    """A markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _format_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_format_value(item) for item in value)
    return str(value)


def _score(value: float | None, metric: str) -> str:
    if value is None:
        return "–"
    return str(int(value)) if metric == "rows" else f"{value:.4f}"


def _encoder(spec: Mapping[str, Any], baseline: str | None = None, input_norm: bool = False) -> tuple[str, str]:
    """(dim, encoder) cells of the modalities table."""
    if spec["type"] == "dense":
        # Early fusion has no encoder for dense modalities: its MLP reads the features as they are.
        if baseline == "early_fusion":
            return str(spec["dim"]), "none: concatenated as is"
        return str(spec["dim"]), ("LayerNorm → " if input_norm else "") + _DENSE_ENCODER
    if spec.get("encoder") == "cnn":  # the image modality's small CNN, trained from scratch
        widths = "-".join(str(width) for width in spec["cnn_channels"])
        size = f"{spec['image_size']}×{spec['image_size']}×{spec['num_channels']}"
        return size, f"CNN trained from scratch (widths {widths}, GroupNorm, average pooling) → Linear"
    if spec.get("encoder") == "bag_of_words":
        width = spec["embedding_dim"]
        return str(spec["vocab_size"]), f"bag of words (TF-IDF of word 1-2-grams) → EmbeddingBag ({width}) → Linear"
    backbone, dim = spec.get("backbone"), "–"
    if isinstance(backbone, Mapping):
        dim = str(backbone.get("hidden_size", "–"))
        name = f"{backbone.get('model_type', 'custom')} built from a config"
    else:
        name = f"`{backbone}`"
    if spec.get("pretrained_name"):
        name = f"`{spec['pretrained_name']}`"
    pooling = f"{spec['pooling']} pooling" if spec.get("pooling") else "pooled"
    frozen = " (frozen)" if spec.get("freeze_backbone") else ""
    return dim, f"{_cell(name)}{frozen}, {_cell(pooling)} → Linear"


def _example_entry(spec: Mapping[str, Any], present: bool) -> str:
    if not present:
        return "None"
    if spec["type"] == "dense":
        return f"[0.0] * {spec['dim']}"
    if spec["type"] == "text":
        return '"some text"'
    return 'Image.open("example.jpg")'


def _usage_code(
    model_id: str, modalities: Mapping[str, Mapping[str, Any]], has_labels: bool, regression: bool = False
) -> str:
    names = list(modalities)
    lines = ["import torch"]
    if any(spec["type"] == "image" for spec in modalities.values()):
        lines.append("from PIL import Image")
    lines += [
        "from transformers import AutoModelForSequenceClassification, AutoProcessor",
        "",
        f'checkpoint = "{model_id}"  # Hub repo id or local folder',
        "processor = AutoProcessor.from_pretrained(checkpoint, trust_remote_code=True)",
        "model = AutoModelForSequenceClassification.from_pretrained(checkpoint, trust_remote_code=True).eval()",
        "",
        "# One entry per row for each modality; None marks a missing modality (each row needs at least one).",
        "batch = processor(",
        "    {",
    ]
    for index, name in enumerate(names):
        # Row 0 has every modality; row 1 misses the first one (when there is another to keep).
        row_1_present = not (index == 0 and len(names) > 1)
        entries = f"{_example_entry(modalities[name], True)}, {_example_entry(modalities[name], row_1_present)}"
        lines.append(f'        "{name}": [{entries}],')
    lines += [
        "    }",
        ")",
        "with torch.no_grad():",
        "    outputs = model(**batch)",
        "predictions = outputs.logits.squeeze(-1)  # the predicted values"
        if regression
        else "predictions = outputs.logits.argmax(-1)",
        "weights = outputs.modality_weights  # (rows, modalities): 0 for a missing modality, rows sum to 1",
    ]
    if regression:
        lines.append("print(predictions.tolist())  # the predicted value of each row")
    elif has_labels:
        lines.append("print([model.config.id2label[int(i)] for i in predictions])")
    # The same in one call: a row is a dict, None (or an absent key) for a missing modality.
    row = ", ".join(
        f'"{name}": {_example_entry(modalities[name], not (index == 0 and len(names) > 1))}'
        for index, name in enumerate(names)
    )
    if regression:
        lines += [
            "",
            "# Or one call per row (or list of rows): the predicted value, with the row's modality weights",
            "from transformers import pipeline",
            "",
            "regressor = pipeline(model=checkpoint, trust_remote_code=True)",
            f"print(regressor({{{row}}}))  # [{{'value': ..., 'modality_weights': {{...}}}}]",
        ]
    else:
        lines += [
            "",
            "# Or one call per row (or list of rows): the top class, or the top_k classes sorted by score, with the",
            "# row's modality weights",
            "from transformers import pipeline",
            "",
            "classifier = pipeline(model=checkpoint, trust_remote_code=True)",
            f"print(classifier({{{row}}}, top_k=3))",
        ]
    return "\n".join(lines)


def _condition_rows(groups: Mapping[Any, Mapping[str, float]], label: Any) -> tuple[list[str], list[dict[str, Any]]]:
    metrics = [metric for metric in CONDITION_METRICS if any(metric in scores for scores in groups.values())]
    rows = [
        {"label": label(key), "values": [_score(scores.get(metric), metric) for metric in metrics]}
        for key, scores in groups.items()
    ]
    return [CONDITION_METRICS[metric] for metric in metrics], rows


def _removal_rows(parsed: RobustnessResults) -> tuple[list[str], list[dict[str, Any]]]:
    """Per removed modality: its scores, the all-modalities scores on the same rows and the accuracy difference.

    A removal is scored on the rows that keep another modality; with real missingness those are not every row of the
    split, so it is compared with every modality's score on those same rows, never with the whole split's."""
    columns, rows = _condition_rows(parsed.removed_modalities, str)
    names = list(parsed.removed_modalities)
    for metric in ("accuracy", "f1", "rmse"):
        references = [parsed.removal_reference(name, metric) for name in names]
        if all(reference is None for reference in references):
            continue
        columns.append(f"{CONDITION_METRICS[metric]}, all modalities, same rows")
        for row, reference in zip(rows, references):
            row["values"].append(_score(reference, metric))
        if metric == "accuracy":
            columns.append("Δ accuracy (same rows)")
            for row, name, reference in zip(rows, names, references):
                value = parsed.removed_modalities[name].get("accuracy")
                row["values"].append("–" if value is None or reference is None else f"{value - reference:+.4f}")
    return columns, rows


def _command_fence(command: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", command)), default=0)
    return "`" * max(3, longest + 1)


# ---------------------------------------------------------------------------------------------------------------------
# The card


def write_model_card(
    output_dir: str | os.PathLike,
    *,
    results: Mapping[str, float],
    modalities: Mapping[str, dict],
    dataset_name: str,
    dataset_revision: str | None = None,
    hyperparameters: Mapping[str, Any],
    command: str,
    model_name: str | None = None,
    base_model: str | None = None,
    label_names: list[str] | None = None,
    license: str = "apache-2.0",
    extra_notes: str | None = None,
    task_type: str | None = None,
    baseline: str | None = None,
    dense_input_norm: bool = False,
    problem_type: str | None = None,
) -> ModelCard:
    """Writes `output_dir/README.md` (and `output_dir/robustness.png` when matplotlib is installed).

    Args:
        output_dir (`str` or `os.PathLike`):
            The model folder; created if needed. The card and plot are written atomically.
        results (`Mapping[str, float]`):
            The flat `all_results.json` dict: `test_accuracy`, `test_f1`, `test_<metric>_missing_<η>`,
            `test_<metric>_without_<modality>`, and any other entries (shown as a plain table).
        modalities (`Mapping[str, dict]`):
            The model config's modalities, name -> `{"type": "dense", "dim": int}` / `{"type": "text" | "image",
            "backbone": ...}`.
        dataset_name (`str`):
            Training / evaluation dataset: Hub repo id (listed in the metadata) or a local path (shown in the text;
            the model-index names it by its last path component only).
        dataset_revision (`str`, *optional*):
            Dataset revision evaluated, recorded in the model-index.
        hyperparameters (`Mapping[str, Any]`):
            Shown as a table, in the given order.
        command (`str`):
            The exact training command, shown verbatim in a code block.
        model_name (`str`, *optional*):
            Title and model-index name. Defaults to the name of `output_dir`.
        base_model (`str`, *optional*):
            The checkpoint training started from; in the metadata when it is a Hub repo id.
        label_names (`list[str]`, *optional*):
            Class names by id, shown as a table.
        license (`str`, *optional*, defaults to `"apache-2.0"`):
            Hub license id.
        extra_notes (`str`, *optional*):
            Markdown appended as a "Notes" section.
        task_type (`str`, *optional*):
            The model-index task type. Defaults to [`infer_task_type`] of `modalities`.
        baseline (`str`, *optional*):
            The reference model's `--baseline` name (`"early_fusion"`, `"late_fusion"` or `"tmc"`): the card then
            describes that reference method instead of CL-DMDF.
        dense_input_norm (`bool`, *optional*, defaults to `False`):
            The config's `dense_input_norm`: whether the dense encoders start with a LayerNorm.
        problem_type (`str`, *optional*):
            The config's `problem_type`. `"regression"` makes a regression card: RMSE / MAE / R² in the model-index
            and the tables, a plot of the RMSE, and a usage snippet that reads the predicted values.

    An absolute local path (the dataset's folder, `output_dir`, a checkpoint) never goes into the card: in the text,
    the command and the hyper-parameters it is replaced by its last component (the folder or file name).

    Returns:
        `huggingface_hub.ModelCard`: the card written to `output_dir/README.md`.
    """
    modalities = _check_modalities(modalities)
    _check_str("dataset_name", dataset_name)
    _check_str("command", command)
    _check_str("license", license)
    for name, value in (("dataset_revision", dataset_revision), ("model_name", model_name)):
        _check_str(name, value, optional=True)
    for name, value in (("base_model", base_model), ("extra_notes", extra_notes), ("task_type", task_type)):
        _check_str(name, value, optional=True)
    if baseline is not None and baseline not in BASELINE_CARDS:
        raise ValueError(f"`baseline` must be None (CL-DMDF) or one of {list(BASELINE_CARDS)}, got {baseline!r}")
    if not isinstance(hyperparameters, Mapping):
        raise TypeError(f"`hyperparameters` must be a mapping of name -> value, got {type(hyperparameters).__name__}")
    label_names = _check_label_names(label_names)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model_name = without_local_path(model_name or output_dir.resolve().name)
    regression = problem_type == "regression"

    parsed = parse_results(results, modality_names=modalities)
    hub_dataset = _hub_id(dataset_name, "dataset_name")
    # A local dataset is named by its folder / file name, never by its path (in the metadata and in the text).
    dataset_name = hub_dataset or _local_dataset_name(dataset_name)
    plot = plot_robustness(results, output_dir / PLOT_FILENAME, title=f"{model_name} on {dataset_name}")
    eval_results = build_eval_results(
        parsed,
        dataset_name=dataset_name,
        dataset_revision=dataset_revision,
        task_type=task_type or infer_task_type(modalities, problem_type),
        task_name=f"{'Regression' if regression else 'Classification'} with missing modalities",
    )
    hub_base_model = _hub_id(base_model, "base_model")
    card_data = ModelCardData(
        library_name="transformers",
        license=license,
        tags=list(CARD_TAGS),
        datasets=[hub_dataset] if hub_dataset else None,
        metrics=[metric for metric in MODEL_INDEX_METRICS if any(r.metric_type == metric for r in eval_results)]
        or None,
        base_model=hub_base_model,
        # No `pipeline_tag`: no transformers pipeline builds CL-DMDF's multimodal batches, so a Hub widget would fail.
        model_name=model_name,
        eval_results=eval_results or None,
    )
    card = ModelCard.from_template(
        card_data,
        template_path=str(TEMPLATE_PATH),
        **_template_values(
            parsed,
            modalities=modalities,
            dataset_name=dataset_name,
            dataset_revision=dataset_revision,
            hub_dataset=hub_dataset,
            hyperparameters={name: without_local_path(value) for name, value in hyperparameters.items()},
            command=command_without_local_paths(command),
            model_name=model_name,
            base_model=without_local_path(base_model),
            label_names=label_names,
            extra_notes=extra_notes,
            plot_file=plot.name if plot is not None else None,
            baseline=baseline,
            dense_input_norm=dense_input_norm,
            regression=regression,
        ),
    )
    atomic_write_text(output_dir / "README.md", str(card))
    return card


def _template_values(
    parsed: RobustnessResults,
    *,
    modalities: Mapping[str, Mapping[str, Any]],
    dataset_name: str,
    dataset_revision: str | None,
    hub_dataset: str | None,
    hyperparameters: Mapping[str, Any],
    command: str,
    model_name: str,
    base_model: str | None,
    label_names: list[str] | None,
    extra_notes: str | None,
    plot_file: str | None,
    baseline: str | None,
    dense_input_norm: bool = False,
    regression: bool = False,
) -> dict[str, Any]:
    modality_rows = []
    for name, spec in modalities.items():
        dim, encoder = _encoder(spec, baseline, dense_input_norm)
        modality_rows.append({"name": name, "type": spec["type"], "dim": dim, "encoder": encoder})
    missing_columns, missing_rows = _condition_rows(
        parsed.missing_rates, lambda rate: "0 (test split as is)" if rate == 0.0 else f"{rate:g}"
    )
    removal_columns, removal_rows = _removal_rows(parsed)
    alone_columns, alone_rows = _condition_rows(parsed.alone_modalities, str)
    dataset_link = (
        f"[`{dataset_name}`](https://huggingface.co/datasets/{hub_dataset})" if hub_dataset else f"`{dataset_name}`"
    )
    test_rows = parsed.complete.get("rows")
    return {
        "title": model_name,
        "modality_count": len(modalities),
        "modality_list": ", ".join(f"`{name}` ({spec['type']})" for name, spec in modalities.items()),
        "modality_rows": modality_rows,
        "has_dense": any(spec["type"] == "dense" for spec in modalities.values()),
        "label_rows": [{"id": i, "name": _cell(label)} for i, label in enumerate(label_names or [])],
        "base_model_note": f"Training started from the checkpoint `{base_model}`." if base_model else None,
        "dataset_link": dataset_link,
        "dataset_revision": dataset_revision,
        "test_rows": None if test_rows is None else int(test_rows),
        "usage_code": _usage_code(model_name, modalities, has_labels=bool(label_names), regression=regression),
        "task_noun": "regression" if regression else "classification",
        "quality_noun": "accuracy (its RMSE to grow)" if regression else "accuracy",
        "plot_alt": (
            "RMSE vs missing rate, and with each modality removed"
            if regression
            else "Accuracy and macro F1 vs missing rate, and with each modality removed"
        ),
        "command": command,
        "command_fence": _command_fence(command),
        "hyperparameter_rows": [
            {"name": _cell(name), "value": _cell(_format_value(value))} for name, value in hyperparameters.items()
        ],
        "missing_columns": missing_columns,
        "missing_rows": missing_rows,
        "removal_columns": removal_columns,
        "removal_rows": removal_rows,
        "alone_columns": alone_columns,
        "alone_rows": alone_rows,
        "plot_file": plot_file,
        "other_rows": [
            {"name": _cell(name), "value": _cell(_format_value(value))} for name, value in parsed.other.items()
        ],
        "extra_notes": extra_notes,
        "citation": CLDMDF_CITATION,
        "baseline": baseline,
        "baseline_name": BASELINE_CARDS[baseline][0] if baseline else None,
        "baseline_description": BASELINE_CARDS[baseline][1] if baseline else None,
        "baseline_class": BASELINE_CLASSES.get(baseline),
    }
