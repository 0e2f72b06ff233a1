"""CL-DMDF in plain PyTorch on the bundled UCI Multiple Features dataset (no accelerate, no collator).

    python examples/quickstart.py

Trains for a few epochs on the six dense views, evaluates with 30 % of the (row, view) entries missing, and saves the
model. `train_accelerate.py` is the full script (robustness sweep, checkpoints, model card, Hub push).
"""

import numpy as np
import torch
from datasets import load_dataset

from modeling_cldmdf import CLDMDFConfig, CLDMDFForSequenceClassification

VIEWS = ["fac", "fou", "kar", "mor", "pix", "zer"]


def to_tensors(split):
    columns = split.with_format("numpy")
    inputs = {view: torch.as_tensor(np.stack(columns[view]), dtype=torch.float32) for view in VIEWS}
    return inputs, torch.as_tensor(columns["label"])


def main():
    torch.manual_seed(0)
    data = load_dataset("bundled_datasets/uci_multifeature")
    train_x, train_y = to_tensors(data["train"])
    test_x, test_y = to_tensors(data["test"])
    mean = {v: train_x[v].mean(0) for v in VIEWS}  # statistics from the training split only
    std = {v: train_x[v].std(0).clamp(min=1e-6) for v in VIEWS}
    train_x = {v: (train_x[v] - mean[v]) / std[v] for v in VIEWS}
    test_x = {v: (test_x[v] - mean[v]) / std[v] for v in VIEWS}

    config = CLDMDFConfig(
        modalities={v: {"type": "dense", "dim": train_x[v].shape[1]} for v in VIEWS}, hidden_size=64, num_labels=10
    )
    model = CLDMDFForSequenceClassification(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
    for _ in range(15):
        model.train()
        for rows in torch.randperm(len(train_y)).split(64):
            loss = model({v: train_x[v][rows] for v in VIEWS}, labels=train_y[rows]).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

    model.eval()
    generator = torch.Generator().manual_seed(0)
    for rate in (0.0, 0.3):
        mask = torch.rand(len(test_y), len(VIEWS), generator=generator) >= rate
        mask[torch.arange(len(test_y)), torch.randint(0, len(VIEWS), (len(test_y),), generator=generator)] = True
        with torch.no_grad():
            predictions = model(test_x, modality_mask=mask).logits.argmax(-1)
        print(f"test accuracy with {rate:.0%} of entries dropped: {(predictions == test_y).float().mean():.4f}")
    model.save_pretrained("outputs/quickstart")
    print("saved to outputs/quickstart")


if __name__ == "__main__":
    main()
