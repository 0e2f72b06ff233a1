"""`CLDMDFDataCollator`: rows with missing modalities -> one model-ready CL-DMDF batch.

Works as the `collate_fn` of a `torch.utils.data.DataLoader` and as the `data_collator` of `transformers.Trainer`.
Rows are python/arrow rows as `datasets` returns them (`dict`s, `None` for a missing modality); keep such datasets in
python format (`with_format("torch")` cannot format columns that mix `None` and values).
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch

from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor

from .missing import max_missing_rate, missing_pattern, modality_dropout_mask

__all__ = ["CLDMDFDataCollator"]

logger = logging.getLogger(__name__)

_MAX_LISTED = 10


def _ids_repr(ids: Sequence[Any]) -> str:
    ids = [i.item() if hasattr(i, "item") else i for i in ids]
    if len(ids) <= _MAX_LISTED:
        return str(ids)
    return f"{ids[:_MAX_LISTED]} (and {len(ids) - _MAX_LISTED} more, {len(ids)} in all)"


@dataclass
class CLDMDFDataCollator:
    """Collates rows with missing modalities into `{"modality_inputs", "modality_mask", "labels"}`.

    Three hops from a row to the model: the collator turns the rows into columns, takes their presence mask from
    [`CLDMDFProcessor.presence_mask`], applies the simulated missingness below to it, and hands columns and mask to
    the processor's one API, `processor(columns, modality_mask=mask)`, whose batch goes to `model(**batch)`. Per
    modality, the present entries go through the processor in one vectorised call (dense rows are stacked at once);
    missing entries stay missing (zeros / padding, mask False), never invented.

    Optionally the collator also simulates missingness:
    - `missing_rate` η > 0 applies the evaluation-time pattern of `processing.missing.missing_pattern`, a function
      of `(seed, row_id)` alone: the same rows get the same mask whatever the batch size, the order or the number of
      processes. It needs the rows' ids (`row_id_column`).
    - `modality_dropout` p > 0 drops each present modality with probability p, keeping at least one per row, drawn
      from a `torch.Generator` seeded from `seed` that advances at each call (in a DataLoader worker, it is reseeded
      from `(seed, worker id)` so that workers draw different patterns). It applies on every call, and
      `transformers.Trainer` uses one `data_collator` for training and evaluation: there, prefer the model's
      `config.modality_dropout` (active in training mode only); use this option where training batches have their
      own collator.

    With `transformers.Trainer`, pass `TrainingArguments(remove_unused_columns=False, ...)`: otherwise the Trainer
    removes the modality columns (they are not arguments of `model.forward`) before they reach the collator.

    Args:
        processor (`CLDMDFProcessor`):
            Processor of the model (its `modality_names` say which columns are modalities). A subclass's
            `presence_mask` and `__call__` are the ones used.
        label_column (`str`, *optional*, defaults to `"label"`):
            Column of the labels, returned as `labels`: LongTensor (B,) for integers, FloatTensor (B,) for floats,
            FloatTensor (B, C) for lists (multi-label / multi-target). `None`, or a column absent from every row,
            gives no `labels` (self-supervised pre-training).
        row_id_column (`str`, *optional*, defaults to `"row_id"`):
            Column of the stable row ids that seed the evaluation-time missing pattern.
        missing_rate (`float`, *optional*, defaults to 0.0):
            η of the seeded evaluation-time pattern, in `[0, (M - 1) / M)`.
        seed (`int`, *optional*, defaults to 0):
            Seed of the missing pattern and of the modality-dropout generator.
        modality_dropout (`float`, *optional*, defaults to 0.0):
            Probability of dropping each present modality of a row (one always kept), in `[0, 1]`.
        drop_rows_without_modalities (`bool`, *optional*, defaults to `False`):
            Rows with no present modality are dropped (the count is logged) when `True`; otherwise they raise a
            `ValueError` naming their row ids.
        return_row_ids (`bool`, *optional*, defaults to `False`):
            Also return `row_ids` (LongTensor (B,)); pop it before `model(**batch)`.

    Example:

    ```python
    >>> from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor
    >>> modalities = {"a": {"type": "dense", "dim": 2}, "b": {"type": "dense", "dim": 1}}
    >>> processor = CLDMDFProcessor(modalities, allow_unfitted=True)  # raw values; usually `.fit(train_split)`
    >>> collator = CLDMDFDataCollator(processor)
    >>> batch = collator([{"a": [1.0, 2.0], "b": None, "label": 1}, {"a": None, "b": [3.0], "label": 0}])
    >>> batch["modality_mask"].tolist(), batch["labels"].tolist()
    ([[True, False], [False, True]], [1, 0])

    ```
    """

    processor: CLDMDFProcessor
    label_column: Optional[str] = "label"
    row_id_column: Optional[str] = "row_id"
    missing_rate: float = 0.0
    seed: int = 0
    modality_dropout: float = 0.0
    drop_rows_without_modalities: bool = False
    return_row_ids: bool = False
    _generator: Optional[torch.Generator] = field(default=None, init=False, repr=False, compare=False)
    _generator_worker: Optional[int] = field(default=None, init=False, repr=False, compare=False)
    num_dropped_rows: int = field(default=0, init=False, compare=False)

    def __post_init__(self):
        # Duck-typed: a processor loaded as remote code is a CLDMDFProcessor of another module.
        names = getattr(self.processor, "modality_names", None)
        if not names or not callable(self.processor) or not callable(getattr(self.processor, "presence_mask", None)):
            raise TypeError(
                f"`processor` must be a CLDMDFProcessor (callable, with `modality_names` and `presence_mask`), got "
                f"{type(self.processor).__name__}; a processor loaded as remote code from a folder saved before "
                f"`presence_mask` existed lacks it: load that folder with `CLDMDFProcessor.from_pretrained(folder)`"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise TypeError(f"`seed` must be an int, got {type(self.seed).__name__} {self.seed!r}")
        limit = max_missing_rate(len(names))
        rate = self.missing_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not (rate == 0 or 0 <= rate < limit):
            raise ValueError(
                f"`missing_rate` must be 0 or in [0, (M - 1) / M) = [0, {limit:.6g}) for the M={len(names)} "
                f"modalities {list(names)} (every row keeps one), got {rate!r}"
            )
        p = self.modality_dropout
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(f"`modality_dropout` must be in [0, 1], got {p!r}")
        if self.missing_rate > 0 and not self.row_id_column:
            raise ValueError(
                f"`missing_rate`={self.missing_rate} needs `row_id_column` (the pattern is seeded by row ids), got "
                f"{self.row_id_column!r}"
            )

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        """Collates a list of rows.

        Args:
            features (`Sequence[Mapping[str, Any]]`):
                The rows: dicts with one key per modality (`None` or absent = missing), the label column and
                optionally the row-id column. Other keys are ignored.

        Returns:
            `CLDMDFBatchFeature` (a dict): `modality_inputs`, `modality_mask`, `labels` when the rows have labels,
            `row_ids` when `return_row_ids`.
        """
        rows = self._check_rows(features)
        names = list(self.processor.modality_names)
        self._check_modality_columns(rows, names)
        columns = {name: [row.get(name) for row in rows] for name in names}
        present = self.processor.presence_mask(columns)  # (B, M), the rows' own missing entries

        need_ids = self.return_row_ids or self.missing_rate > 0
        row_ids = self._row_ids(rows) if need_ids else None

        empty = ~present.any(axis=1)
        if empty.any():
            keep = np.flatnonzero(~empty)
            described = _ids_repr(row_ids[empty] if row_ids is not None else self._describe_rows(rows, empty))
            if not self.drop_rows_without_modalities:
                raise ValueError(
                    f"Rows {described} have no present modality (every row needs one of {names}); pass "
                    f"`drop_rows_without_modalities=True` to drop them"
                )
            self.num_dropped_rows += int(empty.sum())
            logger.warning(
                f"Dropped {int(empty.sum())} of {len(rows)} rows with no present modality ({described}); "
                f"{self.num_dropped_rows} dropped so far"
            )
            if keep.size == 0:
                raise ValueError(f"Every row of the batch ({len(rows)} rows) has no present modality")
            rows = [rows[i] for i in keep]
            columns = {name: [column[i] for i in keep] for name, column in columns.items()}
            present = present[keep]
            row_ids = row_ids[keep] if row_ids is not None else None

        mask = present  # (B, M); the simulated missingness only turns True entries False, keeping one per row
        if self.missing_rate > 0:
            mask = missing_pattern(row_ids, mask, self.missing_rate, int(self.seed))
        if self.modality_dropout > 0:
            mask = modality_dropout_mask(torch.from_numpy(mask), self.modality_dropout, self._dropout_generator())
            mask = mask.numpy()

        # Entries under a False of `mask` are never read: the values the simulated missingness hides stay in `columns`.
        batch = self.processor(columns, return_tensors="pt", modality_mask=mask)
        labels = self._labels(rows)
        if labels is not None:
            batch["labels"] = labels
        if self.return_row_ids:
            batch["row_ids"] = torch.from_numpy(row_ids)
        return batch

    def _check_rows(self, features: Any) -> list:
        if isinstance(features, Mapping) or not isinstance(features, Sequence):
            raise TypeError(
                f"The collator takes a list of rows (dicts), got {type(features).__name__}; for a dict of columns "
                f"call the processor directly"
            )
        if len(features) == 0:
            raise ValueError("The collator got an empty list of rows")
        wrong = [i for i, row in enumerate(features) if type(row) is not dict and not isinstance(row, Mapping)]
        if wrong:
            raise TypeError(
                f"Every row must be a dict column -> value; rows {_ids_repr(wrong)} are "
                f"{type(features[wrong[0]]).__name__}"
            )
        return list(features)

    @staticmethod
    def _check_modality_columns(rows: list, names: list) -> None:
        """Rows that hold no modality column at all (not even a `None`) lost them before the collator: what
        `transformers.Trainer` does with its default `remove_unused_columns=True`."""
        if any(name in row for row in rows for name in names):
            return
        keys = sorted({str(key) for row in rows for key in row})
        raise ValueError(
            f"The rows hold none of the modality columns {names} (their keys: {keys}): the columns were removed "
            f"before the collator. With `transformers.Trainer`, pass `TrainingArguments(remove_unused_columns=False, "
            f"...)`: by default the Trainer removes every column that is not an argument of `model.forward`, which "
            f"the modality columns are not"
        )

    def _row_ids(self, rows: list) -> np.ndarray:
        column = self.row_id_column
        ids = [row.get(column) for row in rows] if column else [None] * len(rows)
        absent = [i for i, value in enumerate(ids) if value is None]
        if absent:
            raise ValueError(
                f"Rows at positions {_ids_repr(absent)} have no row id in column {column!r}; row ids are needed for "
                f"`missing_rate`={self.missing_rate} / `return_row_ids`={self.return_row_ids} (add a stable int64 "
                f"row-id column, e.g. `dataset.add_column('row_id', range(len(dataset)))`)"
            )
        array = np.asarray(ids)
        if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
            raise TypeError(f"Row ids in column {column!r} must be integers, got {ids[:_MAX_LISTED]}")
        return array.astype(np.int64)

    def _describe_rows(self, rows: list, selected: np.ndarray) -> list:
        """Row ids of the selected rows when they carry one, else their positions in the batch."""
        column = self.row_id_column
        return [rows[i].get(column, f"position {i}") if column else f"position {i}" for i in np.flatnonzero(selected)]

    def _labels(self, rows: list) -> Optional[torch.Tensor]:
        column = self.label_column
        if not column:
            return None
        values = [row.get(column) for row in rows]
        absent = [i for i, value in enumerate(values) if value is None]
        if len(absent) == len(values):
            return None  # unlabelled batch (pre-training)
        if absent:
            raise ValueError(
                f"Rows at positions {_ids_repr(absent)} have no label in column {column!r} while the others do; "
                f"a batch is either fully labelled or unlabelled"
            )
        try:
            array = np.asarray(values)
        except ValueError as error:
            raise ValueError(f"Labels in column {column!r} have inconsistent shapes: {error}") from None
        if array.dtype.kind not in "biuf" or array.ndim not in (1, 2):
            raise TypeError(
                f"Labels in column {column!r} must be ints (classes), floats (regression) or equal-length lists of "
                f"numbers (multi-label), got {values[:3]}"
            )
        if array.ndim == 1 and array.dtype.kind in "biu":
            return torch.from_numpy(array.astype(np.int64))
        return torch.from_numpy(array.astype(np.float32))

    def _dropout_generator(self) -> torch.Generator:
        """The modality-dropout generator: seeded from `seed`, and from `(seed, worker id)` in a DataLoader worker."""
        info = torch.utils.data.get_worker_info()
        worker = None if info is None else info.id
        if self._generator is None or worker != self._generator_worker:
            entropy = [int(self.seed) % 2**64] + ([] if worker is None else [worker + 1])
            state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]
            self._generator = torch.Generator().manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)
            self._generator_worker = worker
        return self._generator
