# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""In-memory dense splits collated once: the loaders of a run index tensors instead of collating rows each batch.

The collator turns Python rows into a batch at every step (2.7 ms of a UCI step of batch 64 on one CPU core, as much
as a fifth of the model's own time), and a validation loader collates its rows again at each of the 50 evaluations
of a budget. For a split whose modalities are all dense, every value of a batch is a function of its own row alone:
the standardised features, the presence mask, the evaluation-time missing pattern (`processing.missing`, a pure hash
of the seed and the row id) and the label. Collating the whole split once and indexing its tensors with a batch's row
positions gives the same batch, bit for bit, as collating those rows.

The loader keeps its shape: a `DataLoader` over the row positions with the same batch size, shuffling and generator,
so its sampler draws the same order (accelerate's seedable sampler, `skip_first_batches` on resume and the sharding
over processes work on the positions as they did on the rows); only `collate_fn` changes.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Optional

import torch
from torch.utils.data import Dataset

from cldmdf.processing.collator import CLDMDFDataCollator

# A split is collated once only while its dense values stay small next to the memory of a run; a larger one is
# collated batch by batch as before (memory-mapped Arrow data is not read into memory whole).
MAX_COLLATED_VALUES = 2**26  # float32 values: 256 MiB


class RowPositions(Dataset):
    """`0 .. rows - 1`: what the loader's sampler draws and `CollatedSplit` indexes."""

    def __init__(self, rows: int):
        self.rows = rows

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, position: int) -> int:
        return position


class CollatedSplit:
    """A split collated once by `collator`; called with row positions (a loader's batch), the batch of those rows.

    Args:
        batch (`Mapping`): the collator's output for every row of the split, in order.
    """

    def __init__(self, batch: Mapping[str, Any]):
        self.batch = batch
        self.batch_class = type(batch)

    def __call__(self, positions: Sequence[int]) -> Mapping[str, Any]:
        index = torch.as_tensor(positions, dtype=torch.long)
        return self.batch_class(_index(self.batch, index))


def _index(value: Any, index: torch.Tensor) -> Any:
    if isinstance(value, torch.Tensor):
        return value.index_select(0, index)
    if isinstance(value, Mapping):
        return {key: _index(item, index) for key, item in value.items()}
    raise TypeError(f"a collated batch holds tensors and dicts of tensors, got {type(value).__name__}")


def collated_source(split, collator: CLDMDFDataCollator) -> Optional[tuple[Dataset, CollatedSplit]]:
    """`(dataset, collate_fn)` for a loader over the collated `split`, or None where batches must be collated one by
    one: a stream, an empty split, a text or image modality (a batch pads its texts to its own longest one), more
    than `MAX_COLLATED_VALUES` dense values, or a collator that draws at each call (its `modality_dropout`)."""
    modalities = getattr(collator.processor, "modalities", None)
    if not hasattr(split, "__len__") or not hasattr(split, "select") or len(split) == 0 or not modalities:
        return None
    if collator.modality_dropout > 0:
        return None
    if any(spec.get("type") != "dense" for spec in modalities.values()):
        return None
    if len(split) * sum(spec["dim"] for spec in modalities.values()) > MAX_COLLATED_VALUES:
        return None
    batch = collator(list(split))
    if batch["modality_mask"].shape[0] != len(split):  # rows dropped: positions would no longer be rows
        return None
    return RowPositions(len(split)), CollatedSplit(batch)
