# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""`--task pretraining`: self-supervised CL-DMDF on rows without labels and with missing modalities.

The same script, data path, budget, early stopping and checkpoints as classification; what differs is here: the
labels are ignored, the model is [`CLDMDFForPreTraining`] (one present modality of each row hidden and reconstructed
from the fused others, plus the entity-centroid loss), validation scores the pre-training loss with a fixed choice of
hidden modalities, and the card says how to fine-tune from the result (`--model_name_or_path`)."""

import argparse
import dataclasses
from pathlib import Path

import torch
from accelerate import Accelerator
from huggingface_hub import ModelCard

from cldmdf.processing.loading import MultimodalDataset
from modeling_cldmdf import CLDMDFForPreTraining

from . import UserError

TASKS = ("classification", "pretraining")


def is_pretraining(args: argparse.Namespace) -> bool:
    return getattr(args, "task", "classification") == "pretraining"


def check_pretraining_args(args: argparse.Namespace) -> None:
    """What pre-training cannot do: a reference model, predictions."""
    if not is_pretraining(args):
        return
    if args.baseline:
        raise UserError("--task pretraining trains CL-DMDF (CLDMDFForPreTraining); --baseline has no pre-training")
    if args.do_predict or args.predict_file or args.predict_split:
        raise UserError("--task pretraining makes no predictions: fine-tune the result with --model_name_or_path")


def without_labels(data: MultimodalDataset) -> MultimodalDataset:
    """The dataset as pre-training sees it: any label column is ignored."""
    return dataclasses.replace(
        data, label_column=None, problem_type=None, num_labels=None, id2label=None, label2id=None
    )


@torch.no_grad()
def pretraining_losses(model, loader, accelerator: Accelerator, seed: int) -> dict:
    """Mean pre-training and reconstruction losses over `loader`'s rows, in evaluation mode, with the hidden
    modality of each row drawn from a generator seeded by `seed` (the same rows hidden at every evaluation)."""
    model.eval()
    generator = torch.Generator(device=accelerator.device).manual_seed(seed)
    totals = torch.zeros(3, device=accelerator.device)  # loss sum, reconstruction sum, rows
    for batch in loader:
        mask = batch["modality_mask"]
        hidden = CLDMDFForPreTraining.choose_hidden_modalities(mask, generator)
        outputs = model(**batch, reconstruction_mask=hidden)
        rows = torch.tensor(float(mask.shape[0]), device=totals.device)
        totals += torch.stack([outputs.loss.float() * rows, outputs.reconstruction_loss.float() * rows, rows])
    totals = accelerator.reduce(totals, reduction="sum")
    rows = max(float(totals[2]), 1.0)
    return {"loss": float(totals[0]) / rows, "reconstruction_loss": float(totals[1]) / rows}


def write_pretraining_card(folder: Path, args: argparse.Namespace, results: dict, config) -> None:
    """A short card: what the model is, what it was trained on, and how to fine-tune it (no absolute local path:
    folders are named by their last component, as in the fine-tuned model's card)."""
    from cldmdf.model_cards.builder import command_without_local_paths

    losses = "\n".join(f"| {key} | {value:.4f} |" for key, value in sorted(results.items()) if key.endswith("loss"))
    text = f"""---
library_name: transformers
tags:
- cldmdf
- multimodal
- missing-modalities
- self-supervised
- custom_code
---

# {Path(args.output_dir).name}

A CL-DMDF model pre-trained without labels (`CLDMDFForPreTraining`) on `{Path(args.dataset_name).name}`:
in every row with two or more present modalities one of them is hidden and reconstructed from the fused others, with
the entity-centroid contrastive loss on what stays visible. Modalities: {", ".join(config.modality_names)}.

Fine-tune it on labelled rows with the same modalities:

```bash
accelerate launch train_accelerate.py --model_name_or_path {Path(args.output_dir).name} --dataset_name <labelled data>
```

| loss (evaluation split, η = 0; best validation) | value |
|---|---|
{losses}

Trained with `{command_without_local_paths(args.command)}`.
"""
    ModelCard(text).save(folder / "README.md")
