# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""Export of a saved CL-DMDF classifier to ONNX (and to a `torch.export` program), for inference without torch.

The exported graph takes the processor's output flattened (`CLDMDFBatchFeature.flatten()`): one input per tensor,
named `modality_mask` and `modality_inputs.{name}` (dense, CNN image) or `modality_inputs.{name}.{key}` (text:
`input_ids` and `per_sample_weights` or `attention_mask`); the batch dimension is dynamic, and the text lengths too.
It returns `logits`, `probabilities` (softmax; sigmoid for multi-label; the predicted values for regression) and
`modality_weights`; `with_labels=True` adds a `labels` input and a `loss` output. Missing modalities work as in
PyTorch: the values under a False mask are never read.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoProcessor

from modeling_cldmdf import CLDMDFForSequenceClassification

ONNX_FILE = "model.onnx"
PROGRAM_FILE = "model.pt2"
OUTPUT_NAMES = ("logits", "probabilities", "modality_weights")
# An ONNX opset every onnxruntime of the last two years runs.
OPSET = 18
# The inputs of a text modality whose second dimension is its length (a bag of words, or a tokenizer's output).
TEXT_KEYS = ("input_ids", "attention_mask", "token_type_ids", "per_sample_weights")


class ExportableClassifier(nn.Module):
    """A classifier in eval mode with flat tensor inputs and outputs, the form exporters trace. `paths` places each
    positional input: `("modality_mask",)`, `("labels",)`, `(modality,)` or `(modality, key)`."""

    def __init__(self, model: CLDMDFForSequenceClassification, paths: list[tuple[str, ...]]):
        super().__init__()
        self.model = model.eval()
        self.paths = paths
        self.with_labels = ("labels",) in paths
        self.problem_type = model.config.problem_type

    def forward(self, *flat: torch.Tensor) -> tuple[torch.Tensor, ...]:
        inputs: dict[str, Any] = {}
        mask = labels = None
        for path, value in zip(self.paths, flat):
            if path == ("modality_mask",):
                mask = value
            elif path == ("labels",):
                labels = value
            elif len(path) == 2:
                inputs.setdefault(path[0], {})[path[1]] = value
            else:
                inputs[path[0]] = value
        out = self.model(modality_inputs=inputs, modality_mask=mask, labels=labels, return_dict=True)
        if self.problem_type == "multi_label_classification":
            probabilities = out.logits.sigmoid()
        elif self.problem_type == "regression":
            probabilities = out.logits  # the predicted values
        else:
            probabilities = out.logits.softmax(dim=-1)
        results = (out.logits, probabilities, out.modality_weights)
        return results + (out.loss,) if self.with_labels else results


def example_rows(processor, num_rows: int = 2) -> dict[str, list]:
    """Rows that exercise every input of the processor's modalities (the tracer needs one of each shape)."""
    from PIL import Image

    columns = {}
    for name, spec in processor.modalities.items():
        if spec["type"] == "dense":
            columns[name] = [[0.5] * spec["dim"] for _ in range(num_rows)]
        elif name in processor.text_vocabularies:  # a bag of words: three known terms, so that its length is 3
            columns[name] = [" ".join(processor.text_vocabularies[name].terms[:3])] * num_rows
        elif spec["type"] == "text":
            columns[name] = ["an example text of a few words, long enough to be several tokens"] * num_rows
        else:
            columns[name] = [Image.new("RGB", (8, 8), color=(128, 64, 32))] * num_rows
    return columns


def exportable(model_dir: str, with_labels: bool = False):
    """The flat-input classifier of a saved folder, its example inputs (names in order) and the processor."""
    saved = AutoConfig.from_pretrained(model_dir).architectures or []
    if saved != ["CLDMDFForSequenceClassification"]:  # a classifier loads from any folder, with a random head
        raise ValueError(f"{model_dir} holds {saved or 'no saved model'}; only CL-DMDF classifiers are exported")
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    batch = processor(example_rows(processor), return_tensors="pt")
    flat = batch.flatten()
    paths = [("modality_mask",)]
    for name, value in batch["modality_inputs"].items():
        paths += [(name, key) for key in value] if isinstance(value, dict) else [(name,)]
    if with_labels:
        num_rows = flat["modality_mask"].shape[0]
        if model.config.problem_type == "multi_label_classification":
            flat["labels"] = torch.zeros(num_rows, model.config.num_labels)
        elif model.config.num_labels == 1:
            flat["labels"] = torch.zeros(num_rows)
        else:
            flat["labels"] = torch.zeros(num_rows, dtype=torch.long)
        paths.append(("labels",))
    return ExportableClassifier(model, paths), flat, processor


def dynamic_shapes(module: ExportableClassifier) -> tuple:
    """Every input's first dimension is the batch; the token inputs of a text modality (`TEXT_KEYS`, shape (B, L))
    share a second one, its length."""
    batch = torch.export.Dim("batch", min=1)
    tokens = [len(path) == 2 and path[1] in TEXT_KEYS for path in module.paths]
    texts = dict.fromkeys(path[0] for path, token in zip(module.paths, tokens) if token)
    lengths = {modality: torch.export.Dim(f"length_{index}", min=1) for index, modality in enumerate(texts)}
    return (
        tuple({0: batch, 1: lengths[path[0]]} if token else {0: batch} for path, token in zip(module.paths, tokens)),
    )


def export_onnx(
    model_dir: str,
    output_dir: str,
    with_labels: bool = False,
    program: bool = True,
) -> dict[str, str]:
    """Writes `model.onnx` (and `model.pt2`, a `torch.export` program) with the folder's processor files to
    `output_dir`; returns the paths written. The folder is written whole or not at all (a sibling temporary folder
    is renamed into place)."""
    module, flat, processor = exportable(model_dir, with_labels)
    output = Path(output_dir)
    if output.exists() and any(output.iterdir()):
        raise FileExistsError(f"{output} exists and is not empty; pass a new folder")
    staging = output.with_name(f".{output.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        args, shapes = tuple(flat.values()), dynamic_shapes(module)
        names = list(OUTPUT_NAMES) + (["loss"] if with_labels else [])
        with torch.no_grad():
            exported = torch.export.export(module, args, dynamic_shapes=shapes, strict=False)
            onnx_program = torch.onnx.export(
                exported,
                args,
                input_names=list(flat),
                output_names=names,
                opset_version=OPSET,
                dynamo=True,
                optimize=True,
                verbose=False,
            )
        onnx_program.save(str(staging / ONNX_FILE))
        if program:
            torch.export.save(exported, str(staging / PROGRAM_FILE))
        processor.save_pretrained(str(staging))
        model_config = module.model.config
        model_config.save_pretrained(str(staging))
        manifest = {"inputs": list(flat), "outputs": names, "opset": OPSET, "id2label": model_config.id2label}
        (staging / "onnx_config.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if output.exists():
            output.rmdir()
        os.replace(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    written = {"onnx": str(output / ONNX_FILE)}
    if program:
        written["program"] = str(output / PROGRAM_FILE)
    return written


def main(argv: Optional[list[str]] = None) -> None:
    """`cldmdf-export MODEL_DIR OUTPUT_DIR [--with_labels]`."""
    parser = argparse.ArgumentParser(
        description="Export a saved CL-DMDF classifier to ONNX and a torch.export program."
    )
    parser.add_argument("model_dir", help="A folder saved by train_accelerate.py (config, weights, processor).")
    parser.add_argument("output_dir", help="A new folder: model.onnx, model.pt2 and the processor's files.")
    parser.add_argument("--with_labels", action="store_true", help="Add a `labels` input and a `loss` output.")
    args = parser.parse_args(argv)
    for kind, path in export_onnx(args.model_dir, args.output_dir, with_labels=args.with_labels).items():
        print(f"{kind}: {path}")
