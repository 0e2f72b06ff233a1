"""The order the training rows are seen in: shuffled, a new order each epoch, another with another --seed, and the
same for the same seed (what makes a resumed run the uninterrupted one)."""

from pathlib import Path

import pytest
import torch

import cldmdf.train_accelerate as train_accelerate
from cldmdf.training.checkpointing import FRESH_START, epoch_batches
from cldmdf.training.data import get_dataloaders
from cldmdf.training.model import build_model, build_processor

UCI = str(Path(__file__).resolve().parents[2] / "bundled_datasets" / "uci_multifeature")


def epoch_orders(seed: int, epochs: int = 2) -> list[torch.Tensor]:
    """The `fou` values (76 features, distinct per row) of every training row, in the order each epoch reads them."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    argv = ["--dataset_name", UCI, "--max_train_samples", "96", "--per_device_train_batch_size", "16"]
    args = train_accelerate.parse_args([*argv, "--seed", str(seed), "--output_dir", "unused"])
    accelerator = train_accelerate.create_accelerator(args)
    data = train_accelerate.load_checked_data(args)
    processor = build_processor(args, build_model(args, data), data)
    loader = accelerator.prepare(get_dataloaders(accelerator, args, data, processor)[0])
    orders = []
    for epoch in range(epochs):
        batches = epoch_batches(accelerator, loader, epoch, FRESH_START)
        orders.append(torch.cat([batch["modality_inputs"]["fou"] for batch in batches]))
    return orders


@pytest.fixture(scope="module")
def seed_0():
    return epoch_orders(seed=0)


def test_every_epoch_reads_every_row_once_in_a_new_order(seed_0):
    first, second = seed_0
    assert first.shape == second.shape == (96, 76)
    assert torch.unique(first, dim=0).shape[0] == 96  # the rows are told apart by their values
    same_rows = torch.equal(torch.unique(first, dim=0), torch.unique(second, dim=0))
    assert same_rows, "an epoch must read every training row once"
    assert not torch.equal(first, second), "two epochs read the rows in the same order: the loader does not shuffle"


def test_the_order_is_a_function_of_the_seed(seed_0):
    again, other = epoch_orders(seed=0), epoch_orders(seed=1)
    for epoch in range(2):
        assert torch.equal(again[epoch], seed_0[epoch]), f"epoch {epoch}: the same --seed gave another order"
        assert not torch.equal(other[epoch], seed_0[epoch]), f"epoch {epoch}: --seed 1 gave the order of --seed 0"
