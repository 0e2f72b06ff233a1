"""The cheaper training step: its dropout, the batched dense encoders, the input checks' NaN/inf flag and the loaders
over splits collated once (each the same function as what it replaced)."""

from types import SimpleNamespace

import pytest
import torch
from datasets import Dataset
from model_tester import CLDMDFModelTester
from torch.utils.data import DataLoader

from cldmdf.processing.collator import CLDMDFDataCollator
from cldmdf.training.collated import collated_source
from modeling_cldmdf import CLDMDFForSequenceClassification
from modeling_cldmdf.inputs_cldmdf import _non_finite_rows
from modeling_cldmdf.modeling_cldmdf import CLDMDFDropout
from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor


@pytest.mark.parametrize("p", [0.3, 0.5])
def test_the_cpu_dropout_keeps_one_minus_p_and_rescales(p):
    torch.manual_seed(0)
    dropout = CLDMDFDropout(p).train()
    out = dropout(torch.ones(200_000))
    kept = out != 0
    assert abs(kept.float().mean().item() - (1 - p)) < 0.005
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 1 / (1 - p)))
    values = torch.randn(4, 5)
    assert torch.equal(dropout.eval()(values), values)


def test_the_batched_dense_encoders_equal_the_loop_over_encoders():
    tester = CLDMDFModelTester()
    model = CLDMDFForSequenceClassification(tester.get_config()).eval()
    base = model.cldmdf
    batch = tester.prepare_inputs()
    mask = batch["modality_mask"]
    with torch.no_grad():
        batched, _ = base.embed_modalities(batch["modality_inputs"], mask)
        looped = torch.stack(
            [
                torch.where(mask[:, i, None], base.encoders[name](batch["modality_inputs"][name], mask[:, i]), missing)
                for i, (name, missing) in enumerate(zip(base.modality_names, base.missing_embeddings))
            ],
            dim=1,
        )
    torch.testing.assert_close(batched, looped, rtol=0, atol=1e-6)


def test_the_non_finite_flag_catches_nan_and_both_infinities_and_not_large_finite_values():
    values = torch.zeros(6, 3)
    values[1, 2], values[2, 0], values[3, 1] = float("inf"), float("nan"), -float("inf")
    values[4, :2] = 3e38  # finite, though their sum overflows
    present = torch.tensor([True, True, True, True, True, False])
    values[5, 0] = float("nan")  # a missing row's placeholder is not checked
    assert _non_finite_rows(values, present).tolist() == [False, True, True, True, False, False]


def _rows(count: int) -> Dataset:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(count, 5, generator=generator).tolist()
    return Dataset.from_dict(
        {
            "a": [row[:3] if i % 4 else None for i, row in enumerate(features)],
            "b": [row[3:] if i % 4 != 1 else None for i, row in enumerate(features)],
            "label": [i % 3 for i in range(count)],
            "row_id": list(range(100, 100 + count)),
        }
    )


def _same(first, second) -> bool:
    if isinstance(first, dict) or hasattr(first, "keys"):
        return first.keys() == second.keys() and all(_same(first[key], second[key]) for key in first)
    return first.dtype == second.dtype and torch.equal(first, second)


@pytest.mark.parametrize("missing_rate", [0.0, 0.4])
def test_a_loader_over_the_collated_split_gives_the_collators_batches(missing_rate):
    split = _rows(37)
    processor = CLDMDFProcessor({"a": {"type": "dense", "dim": 3}, "b": {"type": "dense", "dim": 2}}).fit(split)
    collator = CLDMDFDataCollator(processor, missing_rate=missing_rate, seed=3)
    dataset, collate_fn = collated_source(split, collator)

    def loader(data, collate):
        return DataLoader(
            data, batch_size=8, shuffle=True, collate_fn=collate, generator=torch.Generator().manual_seed(1)
        )

    pairs = [pair for _ in range(2) for pair in zip(loader(dataset, collate_fn), loader(split, collator))]
    assert len(pairs) == 10 and all(_same(new, old) for new, old in pairs)


def test_splits_that_cannot_be_collated_once_keep_the_collator():
    split = _rows(8)
    processor = CLDMDFProcessor({"a": {"type": "dense", "dim": 3}, "b": {"type": "dense", "dim": 2}}).fit(split)
    assert collated_source(split, CLDMDFDataCollator(processor, modality_dropout=0.5)) is None
    assert collated_source(split.to_iterable_dataset(), CLDMDFDataCollator(processor)) is None
    # A text modality: each batch pads its texts to its own longest one (only the specs are read before that).
    text = SimpleNamespace(modalities={"a": {"type": "dense", "dim": 3}, "b": {"type": "text"}})
    assert collated_source(split, SimpleNamespace(processor=text, modality_dropout=0.0)) is None
