# Copyright 2026 The CL-DMDF contributors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""The dense feature extractor of `CLDMDFProcessor`: per-feature standardisation of the dense modalities, with the
statistics fitted on the training split.

`CLDMDFDenseStatisticsBuilder` accumulates the statistics of one dense modality batch by batch (as
`CLDMDFVocabularyBuilder` does the vocabulary of a bag-of-words text modality), so that `CLDMDFProcessor.fit` reads
the training split once for both. `CLDMDFDenseFeatureExtractor` holds the fitted statistics of every dense modality
and standardises their values. It is not a sub-processor saved on its own: its state is part of
`processor_config.json` (`min_std`, `dense_statistics`), written by the processor.

This file travels to the Hub as remote code with `processing_cldmdf.py` (which imports it): it imports only numpy and
its sibling `columns_cldmdf.py`.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Optional

import numpy as np

from .columns_cldmdf import as_row_list, dense_values, is_present, merge_moments, present_values

__all__ = ["CLDMDFDenseFeatureExtractor", "CLDMDFDenseStatisticsBuilder"]


class CLDMDFDenseStatisticsBuilder:
    """
    Mean and population standard deviation per feature of one dense modality over the present rows of the batches
    it is given (missing rows are ignored), accumulated in float64 (Chan et al.'s parallel update) from the float32
    values the model sees.

    Args:
        name (`str`): The modality, for error messages.
        dim (`int`): Its number of features.
        min_std (`float`): Features whose standard deviation is below this get `std = 1` in [`~build`].
    """

    def __init__(self, name: str, dim: int, min_std: float):
        self.name = name
        self.dim = dim
        self.min_std = min_std
        self._moments = (0, None, None)  # count, mean, M2 (float64)

    def update(self, column: Any) -> None:
        """Adds the present entries of one batch's column (one entry per row, `None` = missing)."""
        column = as_row_list(self.name, column)
        rows = np.flatnonzero(is_present(column))  # (P,)
        present = present_values(self.name, column, rows)
        values = dense_values(self.name, present, rows, self.dim)  # (P, dim) float32, checked
        self._moments = merge_moments(self._moments, values.astype(np.float64))

    def build(self) -> dict[str, list[float]]:
        """The statistics `{"mean": [...], "std": [...]}` (float32 values), the format of `dense_statistics`."""
        count, mean, m2 = self._moments
        if count == 0:
            raise ValueError(
                f"Dense modality {self.name!r} has no present row in `train_data`, so its statistics cannot be fitted"
            )
        std = np.sqrt(m2 / count).astype(np.float32)
        std = np.where((std < self.min_std) | (std == 0), np.float32(1.0), std)
        return {"mean": mean.astype(np.float32).tolist(), "std": std.tolist()}


class CLDMDFDenseFeatureExtractor:
    """
    Standardises the values of each dense modality, `(x - mean) / std` in float32, with per-feature statistics
    fitted on the training split; a modality without statistics passes through unchanged (the processor decides
    whether that is allowed).

    Args:
        dims (`dict[str, int]`):
            The dense modalities, name -> number of features.
        statistics (`dict[str, dict[str, list[float]]]`, *optional*):
            Per dense modality `{"mean": [...], "std": [...]}` (length `dim`), as [`~to_dict`] writes them.
        min_std (`float`, *optional*, defaults to 1e-6):
            Features whose standard deviation is below this are treated as constant by the builders of
            [`~statistics_builders`]: they get `std = 1` (centred, not scaled), as scikit-learn's `StandardScaler`
            does.
    """

    def __init__(
        self,
        dims: Mapping[str, int],
        statistics: Optional[Mapping[str, Mapping[str, Sequence[float]]]] = None,
        min_std: float = 1e-6,
    ):
        if isinstance(min_std, bool) or not isinstance(min_std, (int, float)) or not min_std >= 0:
            raise ValueError(f"`min_std` must be a non-negative number, got {min_std!r}")
        self.dims = dict(dims)
        self.min_std = float(min_std)
        self.statistics = self.check_statistics(statistics)

    def check_statistics(self, statistics: Optional[Mapping[str, Mapping[str, Sequence[float]]]]) -> dict:
        """Validates dense statistics and returns them as float32 arrays `(mean, std)` per modality."""
        checked = {}
        for name, stats in (statistics or {}).items():
            if name not in self.dims:
                raise ValueError(
                    f"`dense_statistics` has an entry for {name!r}, which is not a dense modality; dense modalities "
                    f"are {list(self.dims)}"
                )
            if not isinstance(stats, Mapping) or set(stats) != {"mean", "std"}:
                raise ValueError(
                    f"`dense_statistics[{name!r}]` must be a dict with keys 'mean' and 'std', got {stats!r}"
                )
            mean = np.asarray(stats["mean"], dtype=np.float32)
            std = np.asarray(stats["std"], dtype=np.float32)
            dim = self.dims[name]
            if mean.shape != (dim,) or std.shape != (dim,):
                raise ValueError(
                    f"`dense_statistics[{name!r}]` mean and std must have {dim} values each, got shapes "
                    f"{mean.shape} and {std.shape}"
                )
            if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
                raise ValueError(f"`dense_statistics[{name!r}]` must be finite with std > 0, got {stats!r}")
            checked[name] = (mean, std)
        return checked

    def statistics_builders(self) -> dict[str, CLDMDFDenseStatisticsBuilder]:
        """A fresh builder per dense modality: feed it the training batches, then pass what they build to
        [`~set_statistics`]."""
        return {name: CLDMDFDenseStatisticsBuilder(name, dim, self.min_std) for name, dim in self.dims.items()}

    def set_statistics(self, statistics: Mapping[str, Mapping[str, Sequence[float]]]) -> None:
        """Replaces the statistics by `statistics` (checked, in the format of `dense_statistics`)."""
        self.statistics = self.check_statistics(statistics)

    @property
    def unfitted_names(self) -> list[str]:
        """The dense modalities without statistics."""
        return [name for name in self.dims if name not in self.statistics]

    def __call__(self, name: str, values: list, rows: np.ndarray, batch_size: int) -> np.ndarray:
        """The inputs `(B, dim)` float32 of dense modality `name` from its P present entries `values` at rows `rows`
        (P,): standardised when it has statistics, exactly 0 in the missing rows."""
        dense = dense_values(name, values, rows, self.dims[name])  # (P, dim) float32, checked
        if name in self.statistics:
            mean, std = self.statistics[name]
            dense = (dense - mean) / std
        out = np.zeros((batch_size, self.dims[name]), dtype=np.float32)  # (B, dim), 0 under missing
        out[rows] = dense
        return out

    def to_dict(self) -> Optional[dict[str, dict[str, list[float]]]]:
        """The statistics for `processor_config.json` (None when there are none): float32 values written as Python
        floats, whose JSON decimals are exact doubles, so they reload bit-identical."""
        written = {name: {"mean": mean.tolist(), "std": std.tolist()} for name, (mean, std) in self.statistics.items()}
        return written or None
