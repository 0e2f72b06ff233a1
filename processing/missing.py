"""Missing-modality patterns: the seeded evaluation-time mask and training-time modality dropout.

Both functions are pure and vectorised over rows; they only ever turn present entries into missing ones, never the
reverse, so a modality that is missing in the data stays missing.

`missing_pattern` follows docs/methods.md, "Missing patterns" (the rate η of incomplete multi-view papers): the
pattern of a row is a function of `(seed, row_id)` alone, computed with a stateless counter-based hash
(splitmix64), so it is the same whatever the batch size, the order of the rows or the number of processes.
"""

from __future__ import annotations

from typing import Union

import numpy as np
import torch

from modeling_cldmdf.inputs_cldmdf import drop_modalities

__all__ = ["missing_pattern", "modality_dropout_mask", "max_missing_rate"]

# Rows are stratified in blocks of this many consecutive row ids (a power of two, so that an affine map modulo the
# block size is a bijection): within a full block, the number of rows that drop ceil(η M) rather than floor(η M)
# modalities is fixed up to one, which keeps the realised rate at η up to rounding for contiguous row ids.
_BLOCK = 64

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
# Stream tags: independent hash streams for the different random quantities of one row.
_TAG_PRIORITY, _TAG_JITTER, _TAG_BLOCK_A, _TAG_BLOCK_B, _TAG_BLOCK_C = (np.uint64(t) for t in range(1, 6))


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser (Steele, Lea, Flood 2014), elementwise on a uint64 array (wrapping arithmetic)."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _MUL1
    x = (x ^ (x >> np.uint64(27))) * _MUL2
    return x ^ (x >> np.uint64(31))


def _hash(*words: np.ndarray) -> np.ndarray:
    """Hash a tuple of broadcastable uint64 arrays to uint64, order-sensitive."""
    with np.errstate(over="ignore"):
        h = np.zeros((), dtype=np.uint64)
        for word in words:
            h = _splitmix64(h ^ _splitmix64(np.asarray(word, dtype=np.uint64)))
    return h


def _uniform(h: np.ndarray) -> np.ndarray:
    """Map uint64 hashes to float64 uniforms in [0, 1) using their top 53 bits."""
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


def max_missing_rate(num_modalities: int) -> float:
    """The supremum (M - 1) / M of allowed missing rates: every row keeps at least one of its M modalities."""
    return (num_modalities - 1) / num_modalities


def _check_present(present: np.ndarray, argument: str = "present") -> np.ndarray:
    present = np.asarray(present)
    if present.ndim != 2 or present.dtype != np.bool_:
        raise ValueError(
            f"`{argument}` must be a boolean array of shape (rows, modalities), got dtype {present.dtype} and "
            f"shape {present.shape}"
        )
    return present


def missing_pattern(row_ids: np.ndarray, present: np.ndarray, missing_rate: float, seed: int) -> np.ndarray:
    """Seeded evaluation-time missing pattern at rate η, a function of `(seed, row_id)` per row.

    Definition (on complete data, M modalities): each row drops exactly `floor(η M)` or `ceil(η M)` modalities,
    the larger count with probability `frac(η M)`, so that `#missing entries / (N M) = η` in expectation and, for
    contiguous row ids, up to rounding (rows are stratified in blocks of 64 consecutive ids). Which modalities a row
    drops follows a hash-drawn random ranking of its modalities: the lowest-ranked are dropped, the top one is always
    kept. Every quantity is a hash of `(seed, row_id, ...)` (splitmix64), never a stateful generator, so a row gets
    the same pattern whatever the batch size, the order of rows or how they are sharded across processes. Patterns
    are nested: a higher η drops a superset of the entries dropped by a lower η with the same seed.

    On incomplete data the pattern is applied on top of the source: entries already missing stay missing (η is the
    rate of the mask applied to complete data, so the realised missing fraction is that of the union, at least η),
    and a row whose kept modalities are all missing in the source keeps instead its highest-ranked present modality.
    A row with no present modality in the source stays all-missing (callers reject or drop such rows).

    Args:
        row_ids (`np.ndarray` of shape `(N,)`, integer):
            Stable id of each row (the dataset's `row_id` column). Equal ids get equal patterns.
        present (`np.ndarray` of shape `(N, M)`, bool):
            Which (row, modality) entries are present in the source, columns in sorted modality-name order.
        missing_rate (`float`):
            η, the fraction of (row, modality) entries to make missing; `0 <= η < (M - 1) / M` (or exactly 0).
        seed (`int`):
            Seed of the pattern; any Python int (taken modulo 2**64).

    Returns:
        `np.ndarray` of shape `(N, M)`, bool: the evaluation-time presence mask, `True` = present. It is `False`
        wherever `present` is.

    Example:

    ```python
    >>> import numpy as np
    >>> present = np.ones((1000, 4), dtype=bool)
    >>> mask = missing_pattern(np.arange(1000), present, missing_rate=0.5, seed=0)
    >>> float(1 - mask.mean())
    0.5
    >>> bool(mask.any(axis=1).all())
    True

    ```
    """
    present = _check_present(present)
    num_rows, num_modalities = present.shape
    row_ids = np.asarray(row_ids)
    if row_ids.shape != (num_rows,) or (row_ids.size and not np.issubdtype(row_ids.dtype, np.integer)):
        raise ValueError(
            f"`row_ids` must be an integer array of shape ({num_rows},) matching `present`, got dtype "
            f"{row_ids.dtype} and shape {row_ids.shape}"
        )
    eta = float(missing_rate)
    if not (eta == 0.0 or 0.0 <= eta < max_missing_rate(num_modalities)):
        raise ValueError(
            f"`missing_rate` must be 0 or in [0, (M - 1) / M) = [0, {max_missing_rate(num_modalities):.6g}) for "
            f"M={num_modalities} modalities (every row keeps one), got {missing_rate!r}"
        )
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"`seed` must be an int, got {type(seed).__name__} {seed!r}")
    if eta == 0.0 or num_rows == 0:
        return present.copy()

    seed_word = np.uint64(int(seed) % 2**64)
    ids = row_ids.astype(np.int64)
    ids_word = ids.astype(np.uint64)  # two's complement wrap for negative ids: still injective

    # Random ranking of the modalities of each row: ascending priority, the last one is the kept one.
    modality_word = np.arange(num_modalities, dtype=np.uint64)
    priority = _uniform(_hash(seed_word, _TAG_PRIORITY, ids_word[:, None], modality_word[None, :]))  # (N, M)
    rank = np.argsort(np.argsort(priority, axis=1, kind="stable"), axis=1, kind="stable")  # (N, M), 0 = lowest

    # Stratified uniform per row: w = (permuted position within the block + jitter) / block.
    block = (ids // _BLOCK).astype(np.uint64)
    position = (ids % _BLOCK).astype(np.uint64)
    mod = np.uint64(_BLOCK - 1)
    with np.errstate(over="ignore"):
        multiplier = _hash(seed_word, _TAG_BLOCK_A, block) | np.uint64(1)  # odd: a bijection modulo 2**k
        offset = _hash(seed_word, _TAG_BLOCK_B, block)
        shuffle = _hash(seed_word, _TAG_BLOCK_C, block)
        permuted = ((position * multiplier + offset) & mod) ^ (shuffle & mod)
    jitter = _uniform(_hash(seed_word, _TAG_JITTER, ids_word))
    stratified = (permuted.astype(np.float64) + jitter) / _BLOCK  # (N,) uniform in [0, 1)

    expected_drops = eta * num_modalities
    base = np.floor(expected_drops)
    num_drops = (base + (stratified < expected_drops - base)).astype(np.int64)  # (N,) in [0, M - 1]

    keep = rank >= num_drops[:, None]  # (N, M): the top M - num_drops ranked modalities
    mask = present & keep

    # Rows whose kept modalities are all missing in the source keep their highest-ranked present modality instead.
    lost = ~mask.any(axis=1) & present.any(axis=1)
    if lost.any():
        ranked_present = np.where(present[lost], rank[lost], -1)
        restored = np.zeros((int(lost.sum()), num_modalities), dtype=bool)
        restored[np.arange(restored.shape[0]), ranked_present.argmax(axis=1)] = True
        mask[lost] = restored
    return mask


GeneratorLike = Union[np.random.Generator, torch.Generator, None]


def modality_dropout_mask(
    present: Union[np.ndarray, torch.Tensor], p: float, generator: GeneratorLike = None
) -> Union[np.ndarray, torch.Tensor]:
    """Training-time modality dropout: drop each present entry with probability `p`, always keeping one per row.

    A row that loses all its present modalities gets one of them back, chosen uniformly at random. Rows with no
    present modality stay as they are.

    Args:
        present (`np.ndarray` or `torch.Tensor` of shape `(N, M)`, bool):
            Presence mask, `True` = present.
        p (`float`):
            Drop probability of each present entry, in [0, 1].
        generator (`np.random.Generator` or `torch.Generator`, *optional*):
            Source of randomness, to make the dropout reproducible. A numpy generator for a numpy mask, a torch
            generator (on the mask's device) for a tensor mask. Defaults to the global RNG of that library.

    Returns:
        A mask of the same type, shape and device as `present`, with `result <= present` elementwise and at least one
        `True` in every row that had one.
    """
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"`p` (modality dropout probability) must be in [0, 1], got {p!r}")
    if isinstance(present, torch.Tensor):
        if present.ndim != 2 or present.dtype != torch.bool:
            raise ValueError(
                f"`present` must be a bool tensor of shape (rows, modalities), got dtype {present.dtype} and shape "
                f"{tuple(present.shape)}"
            )
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"`generator` must be a torch.Generator for a tensor mask, got {type(generator).__name__}")
        if p == 0.0 or present.numel() == 0:
            return present.clone()
        return drop_modalities(present, p, generator)  # the model's own modality dropout: one definition

    present = _check_present(present)
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"`generator` must be a numpy Generator for a numpy mask, got {type(generator).__name__}")
    if p == 0.0 or present.size == 0:
        return present.copy()
    rng = generator if generator is not None else np.random.default_rng()
    torch_generator = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
    return drop_modalities(torch.from_numpy(present), p, torch_generator).numpy()
