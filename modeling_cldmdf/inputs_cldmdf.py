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
"""The inputs of a CL-DMDF forward: their checks (every error names what was wrong and what is allowed), the labels'
checks, and modality dropout on the mask.

This file travels to the Hub as remote code with the modeling file.
"""

from collections.abc import Mapping
from typing import Any, Optional, Union

import torch
import torch.nn.functional as F

from .configuration_cldmdf import CLDMDFConfig

ModalityInputs = Mapping[str, Union[torch.Tensor, Mapping[str, torch.Tensor]]]


def check_inputs(
    config: CLDMDFConfig,
    modality_inputs: ModalityInputs,
    modality_mask: Optional[torch.Tensor],
    device: torch.device,
) -> torch.Tensor:
    """Validates the inputs and returns the boolean `(B, M)` mask (all given modalities present by default).

    Types and shapes are always checked. The checks that read values (0/1 masks, a mask marking an absent entry
    present, rows with every modality missing, NaN/inf in present dense values) run in eager mode only: they are
    computed on the device and read back together, one device sync for all of them (each would otherwise stall a GPU
    step on its own), and under `torch.compile` they would break the graph."""
    batch_size = input_batch_size(config, modality_inputs)
    num_modalities = len(config.modality_names)
    given = torch.tensor([name in modality_inputs for name in config.modality_names])
    non_binary = None
    if modality_mask is None:
        mask = given.unsqueeze(0).expand(batch_size, -1)
    else:
        if not isinstance(modality_mask, torch.Tensor):
            raise TypeError(f"`modality_mask` must be a torch.BoolTensor, got {type(modality_mask).__name__}.")
        if modality_mask.shape != (batch_size, num_modalities):
            raise ValueError(
                f"`modality_mask` has shape {tuple(modality_mask.shape)}, expected (batch_size, num_modalities) = "
                f"({batch_size}, {num_modalities}) for modalities {config.modality_names}."
            )
        if modality_mask.dtype != torch.bool:
            if modality_mask.is_floating_point():
                raise TypeError(_NON_BINARY_MASK.format(dtype=modality_mask.dtype))
            non_binary = (~((modality_mask == 0) | (modality_mask == 1)).all(), modality_mask.dtype)
            modality_mask = modality_mask.bool()
        mask = modality_mask
    mask = mask.to(device)
    dense = [
        name
        for name in config.modality_names
        if name in modality_inputs and config.modalities[name]["type"] == "dense"
    ]
    for name in dense:
        _check_dense(config, name, modality_inputs[name])
    if not torch.compiler.is_compiling():
        _check_values(config, modality_inputs, mask, given.to(device), dense, non_binary)
    return mask


_NON_BINARY_MASK = "`modality_mask` must be boolean (or integer 0/1), got dtype {dtype} with values other than 0/1."


def _check_values(
    config: CLDMDFConfig,
    modality_inputs: ModalityInputs,
    mask: torch.Tensor,
    given: torch.Tensor,
    dense: list[str],
    non_binary: Optional[tuple[torch.Tensor, torch.dtype]],
) -> None:
    """The value checks of `check_inputs`: one flag per check computed on the device, all read in one sync; the
    details of a failed check (which rows, which modalities) are computed only then, for its message."""
    index = {name: i for i, name in enumerate(config.modality_names)}
    flags = {"absent_but_marked": (mask & ~given).any(), "empty_rows": (~mask.any(dim=1)).any()}
    if dense:  # one flag for every dense modality: which one failed is looked up only for the message
        dense_mask = mask if dense == config.modality_names else mask[:, [index[name] for name in dense]]
        flags["non_finite"] = _non_finite_entries([modality_inputs[name] for name in dense], dense_mask).any()
    if non_binary is not None:  # an integer mask: its flag, and its dtype for the message
        flags = {"non_binary": non_binary[0].to(mask.device), **flags}
    failed = [check for check, flag in zip(flags, torch.stack(list(flags.values())).tolist()) if flag]
    if not failed:
        return
    check = failed[0]
    if check == "non_binary":
        raise TypeError(_NON_BINARY_MASK.format(dtype=non_binary[1]))
    if check == "absent_but_marked":
        marked = (mask & ~given).any(dim=0).nonzero().flatten().tolist()
        names = [config.modality_names[i] for i in marked]
        raise ValueError(f"`modality_mask` marks {names} present but `modality_inputs` has no such entry.")
    if check == "empty_rows":
        empty_rows = (~mask.any(dim=1)).nonzero().flatten().tolist()
        raise ValueError(
            f"Rows {empty_rows[:20]}{'...' if len(empty_rows) > 20 else ''} have every modality missing; each "
            f"row needs at least one present modality (drop such rows, e.g. with the collator's "
            f"`drop_rows_without_modalities=True`)."
        )
    for name in dense:  # the first modality with a NaN/inf in a present row: the one the message names
        broken = _non_finite_rows(modality_inputs[name], mask[:, index[name]])
        if broken.any():
            break
    rows = broken.nonzero().flatten().tolist()
    raise ValueError(
        f"`modality_inputs[{name!r}]` has NaN/inf in present rows {rows[:20]}; present values must be finite "
        f"(mark a missing entry with modality_mask=False instead)."
    )


def _non_finite_rows(values: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """`(B,)` True where the row is present and has a NaN/inf value: `values * 0` is exactly 0 where finite and NaN
    where not, and a row's sum is NaN exactly when one of its entries is (a quarter of the time of `isfinite` +
    `all(dim=1)`, which is most of the input checks' cost on CPU)."""
    return _non_finite_entries([values], present.unsqueeze(1)).squeeze(1)


def _non_finite_entries(values: list[torch.Tensor], present: torch.Tensor) -> torch.Tensor:
    """`(B, K)` True where entry k of the row is present (`present`, `(B, K)`) and `values[k]` (`(B, dim_k)`) has a
    NaN/inf in that row: `_non_finite_rows` of K modalities at once (one NaN test and one mask for all of them, where
    one call per modality costs three more small operations each)."""
    return torch.isnan(torch.stack([(value * 0).sum(dim=1) for value in values], dim=1)) & present


def input_batch_size(config: CLDMDFConfig, modality_inputs: ModalityInputs) -> int:
    """Checks names, types and ranks of `modality_inputs` and returns the (common) number of rows."""
    if not isinstance(modality_inputs, Mapping) or len(modality_inputs) == 0:
        raise TypeError(
            f"`modality_inputs` must be a non-empty dict modality name -> tensor, got "
            f"{type(modality_inputs).__name__}; this model expects {config.modality_names}."
        )
    unknown = sorted(set(modality_inputs) - set(config.modality_names))
    if unknown:
        raise ValueError(f"Unknown modality name(s) {unknown} in `modality_inputs`; allowed: {config.modality_names}.")
    batch_size = None
    for name, value in modality_inputs.items():
        rows = _batch_size_of(config, name, value)
        if batch_size is not None and rows != batch_size:
            raise ValueError(
                f"`modality_inputs[{name!r}]` has {rows} rows but other modalities have {batch_size}; every "
                f"modality must have one entry per row (zeros where missing)."
            )
        batch_size = rows
    return batch_size


def _batch_size_of(config: CLDMDFConfig, name: str, value: Any) -> int:
    kind = config.modalities[name]["type"]
    if kind != "dense" and isinstance(value, Mapping) and "pooled_output" in value:
        tensor, expected_dims = value["pooled_output"], 2
    elif kind == "text":
        if not isinstance(value, Mapping) or "input_ids" not in value:
            raise TypeError(
                f"`modality_inputs[{name!r}]` (text) must be a dict with 'input_ids' (and 'attention_mask'), got "
                f"{type(value).__name__}."
            )
        tensor = value["input_ids"]
        expected_dims = 2
    else:
        tensor = value["pixel_values"] if (kind == "image" and isinstance(value, Mapping)) else value
        expected_dims = 2 if kind == "dense" else 4
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"`modality_inputs[{name!r}]` ({kind}) must be a torch.Tensor, got {type(tensor).__name__}.")
    if tensor.dim() != expected_dims:
        shape = (
            "(batch_size, dim)"
            if kind == "dense"
            else "(batch_size, seq_len)"
            if kind == "text"
            else ("(batch_size, channels, height, width)")
        )
        raise ValueError(f"`modality_inputs[{name!r}]` ({kind}) must have shape {shape}, got {tuple(tensor.shape)}.")
    return tensor.shape[0]


def _check_dense(config: CLDMDFConfig, name: str, values: torch.Tensor) -> None:
    expected = config.modalities[name]["dim"]
    if values.shape[1] != expected:
        raise ValueError(
            f"`modality_inputs[{name!r}]` has feature dim {values.shape[1]}, expected {expected} (shape "
            f"(batch_size, {expected}))."
        )
    if not values.is_floating_point():
        raise TypeError(f"`modality_inputs[{name!r}]` must be a float tensor, got dtype {values.dtype}.")


def keep_one_modality(modality_mask: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """One present modality of each row, chosen uniformly at random: a `(B, M)` mask with one True per row that has
    any (a row with none stays empty)."""
    scores = torch.rand(modality_mask.shape, generator=generator, device=modality_mask.device)
    choice = scores.masked_fill(~modality_mask, -1.0).argmax(dim=1)  # (B,)
    return F.one_hot(choice, modality_mask.shape[1]).bool() & modality_mask


def drop_modalities(
    modality_mask: torch.Tensor, probability: float, generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    """Modality dropout, the one definition: drops each present entry of a `(B, M)` mask with `probability` and gives
    a row that lost every modality back one of its present ones, chosen at random (a row with none stays empty)."""
    if probability <= 0:
        return modality_mask
    noise = torch.rand(modality_mask.shape, generator=generator, device=modality_mask.device)
    kept = modality_mask & (noise >= probability)
    lost_all = ~kept.any(dim=1) & modality_mask.any(dim=1)
    # A row that lost everything gets back one of its present modalities, chosen at random.
    return kept | (keep_one_modality(modality_mask, generator) & lost_all.unsqueeze(1))


def check_labels(labels: torch.Tensor, config: CLDMDFConfig, batch_size: int) -> str:
    """Validates `labels` against `config` and returns the problem type (inferred as transformers does)."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"`labels` must be a torch.Tensor, got {type(labels).__name__}.")
    problem_type = config.problem_type
    if problem_type is None:
        if config.num_labels == 1:
            problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int, torch.int16, torch.int8, torch.uint8):
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
    if problem_type == "single_label_classification":
        if labels.is_floating_point() or labels.dtype == torch.bool:
            raise TypeError(f"`labels` must be integer class ids for single-label classification, got {labels.dtype}.")
        if labels.shape != (batch_size,):
            raise ValueError(
                f"`labels` must have shape ({batch_size},) for single-label classification, got {tuple(labels.shape)}."
            )
        # Reading the values needs a device sync (one) and breaks a torch.compile graph: checked in eager mode only.
        if (
            not torch.compiler.is_compiling()
            and labels.numel()
            and bool(((labels < 0) | (labels >= config.num_labels)).any())
        ):
            raise ValueError(
                f"`labels` must be class ids in [0, {config.num_labels}), got values in "
                f"[{labels.min().item()}, {labels.max().item()}]."
            )
    elif problem_type == "multi_label_classification":
        if labels.shape != (batch_size, config.num_labels):
            raise ValueError(
                f"`labels` must have shape ({batch_size}, {config.num_labels}) for multi-label classification, got "
                f"{tuple(labels.shape)}."
            )
    elif labels.shape not in ((batch_size,), (batch_size, 1)):
        raise ValueError(f"`labels` must have shape ({batch_size},) for regression, got {tuple(labels.shape)}.")
    if labels.is_floating_point() and not torch.compiler.is_compiling() and not torch.isfinite(labels).all():
        raise ValueError("`labels` contain NaN/inf; every label must be finite.")
    return problem_type
