"""`CLDMDFDataCollator` and `processing.missing`: exact collation, seeded missing patterns, modality dropout."""

import logging

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import BertTokenizer

from cldmdf.processing.collator import CLDMDFDataCollator
from cldmdf.processing.missing import max_missing_rate, missing_pattern, modality_dropout_mask
from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor

# No deadline (the machines are shared). A few hundred examples a property: each example mixes every kind of entry
# and fault at once, and the suite runs them on every CI run.
PROPERTY_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
UCI_DIMS = {"fac": 216, "fou": 76, "kar": 64, "mor": 6, "pix": 240, "zer": 47}
SMALL_DIMS = {"x": 2, "w": 1, "z": 3, "y": 1}  # not in sorted order
FINITE32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


def dense_processor(dims: dict) -> CLDMDFProcessor:
    return CLDMDFProcessor({name: {"type": "dense", "dim": dim} for name, dim in dims.items()}, allow_unfitted=True)


SMALL_PROCESSOR = dense_processor(SMALL_DIMS)


def make_rows(num_rows: int, dims: dict, missing: float = 0.0, seed: int = 0, first_id: int = 0) -> list[dict]:
    """Rows as `datasets` yields them (lists of python floats, None when missing), each with a present modality."""
    rng = np.random.default_rng(seed)
    names = sorted(dims)
    absent = rng.random((num_rows, len(names))) < missing
    absent[np.arange(num_rows), rng.integers(len(names), size=num_rows)] = False
    rows = []
    for i in range(num_rows):
        row = {"row_id": first_id + i, "label": int(rng.integers(3))}
        for j, name in enumerate(names):
            row[name] = None if absent[i, j] else rng.standard_normal(dims[name]).astype(np.float32).tolist()
        rows.append(row)
    return rows


def masks_by_row_id(batches: list) -> dict:
    return {int(i): tuple(m.tolist()) for b in batches for i, m in zip(b["row_ids"], b["modality_mask"])}


# ---------------------------------------------------------------------------------------------------------------------
# Property: any mix of rows collates exactly or raises the documented error


@st.composite
def rows_case(draw):
    names = sorted(SMALL_DIMS)
    num_rows = draw(st.integers(1, 10))
    ids = draw(st.lists(st.integers(-(2**40), 2**40), min_size=num_rows, max_size=num_rows, unique=True))
    rows = []
    for i in range(num_rows):
        row = {"row_id": ids[i], "label": draw(st.integers(0, 4))}
        for name in names:
            state = draw(st.sampled_from(["present", "present", "none", "absent"]))
            if state == "present":
                row[name] = draw(st.lists(FINITE32, min_size=SMALL_DIMS[name], max_size=SMALL_DIMS[name]))
            elif state == "none":
                row[name] = None
        rows.append(row)
    rate = draw(st.sampled_from([0.0, 0.0, 0.25, 0.5, 0.7]))
    dropout = draw(st.sampled_from([0.0, 0.0, 0.3, 1.0]))
    drop_empty = draw(st.booleans())
    return rows, rate, dropout, drop_empty, draw(st.integers(0, 2**32))


@settings(max_examples=500, **PROPERTY_SETTINGS)
@given(case=rows_case())
def test_property_collated_values_equal_inputs_under_the_mask(case):
    rows, rate, dropout, drop_empty, seed = case
    names = sorted(SMALL_DIMS)
    collator = CLDMDFDataCollator(
        SMALL_PROCESSOR,
        missing_rate=rate,
        modality_dropout=dropout,
        seed=seed,
        drop_rows_without_modalities=drop_empty,
        return_row_ids=True,
    )
    source = np.array([[row.get(name) is not None for name in names] for row in rows])  # (N, M)
    empty = ~source.any(axis=1)
    if empty.all() or (empty.any() and not drop_empty):
        # (rows without any modality key at all get the message about removed columns)
        with pytest.raises(ValueError, match="no present modality|hold none of the modality columns"):
            collator(rows)
        return
    batch = collator(rows)
    kept = [row for row, e in zip(rows, empty) if not e]
    source = source[~empty]
    ids = np.array([row["row_id"] for row in kept])
    mask = batch["modality_mask"].numpy()
    assert batch["row_ids"].tolist() == ids.tolist()
    assert batch["labels"].dtype == torch.long and batch["labels"].tolist() == [row["label"] for row in kept]
    assert not (mask & ~source).any()  # only ever removes
    assert mask.any(axis=1).all()  # every row keeps one
    if dropout == 0:
        assert np.array_equal(mask, missing_pattern(ids, source, rate, seed))
    for j, name in enumerate(names):
        values = batch["modality_inputs"][name].numpy()
        for i, row in enumerate(kept):
            if mask[i, j]:
                assert np.array_equal(values[i], np.asarray(row[name], dtype=np.float32))
            else:
                assert (values[i] == 0).all()


# ---------------------------------------------------------------------------------------------------------------------
# Evaluation-time missing pattern


@st.composite
def pattern_case(draw):
    """(row ids, source presence with a present modality per row, rate, seed, numpy seed for subsets)."""
    num_modalities = draw(st.integers(1, 7))
    num_rows = draw(st.integers(1, 200))
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    present = rng.random((num_rows, num_modalities)) < draw(st.floats(0.0, 1.0))
    present[np.arange(num_rows), rng.integers(num_modalities, size=num_rows)] = True
    contiguous = draw(st.booleans())
    first = draw(st.integers(-(2**40), 2**40))
    ids = np.arange(first, first + num_rows) if contiguous else rng.integers(-(2**62), 2**62, size=num_rows)
    limit = max_missing_rate(num_modalities)
    rate = draw(st.floats(0.0, limit, exclude_max=True)) if num_modalities > 1 else 0.0
    higher = draw(st.floats(rate, limit, exclude_max=True)) if num_modalities > 1 else 0.0
    return ids.astype(np.int64), present, rate, higher, draw(st.integers(0, 2**64 - 1)), rng


@settings(max_examples=300, **PROPERTY_SETTINGS)
@given(case=pattern_case())
def test_property_pattern_depends_on_seed_and_row_id_only(case):
    ids, present, rate, higher, seed, rng = case
    mask = missing_pattern(ids, present, rate, seed)
    assert mask.dtype == np.bool_ and mask.shape == present.shape
    assert not (mask & ~present).any()
    assert mask.any(axis=1).all()
    # Any subset of the rows, in any order, gets the same rows of the pattern (batching, shuffling, sharding).
    subset = rng.permutation(len(ids))[: rng.integers(1, len(ids) + 1)]
    assert np.array_equal(missing_pattern(ids[subset], present[subset], rate, seed), mask[subset])
    # Nested in the rate: a higher rate drops a superset.
    assert not (missing_pattern(ids, present, higher, seed) & ~mask).any()


@pytest.mark.parametrize("first_id", [0, 1600])
@pytest.mark.parametrize("rate", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
def test_realised_rate_within_one_percent_for_the_uci_test_split(rate, first_id):
    """N = 400 rows, M = 6 modalities (the UCI test split), complete data: realised missing fraction = η ± 1 %."""
    present = np.ones((400, 6), dtype=bool)
    ids = np.arange(first_id, first_id + 400)
    for seed in range(5):
        mask = missing_pattern(ids, present, rate, seed)
        assert abs((1 - mask.mean()) - rate) <= 0.01, (seed, 1 - mask.mean())
        assert mask.any(axis=1).all()


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5, 0.7])
def test_realised_rate_for_large_n_and_scattered_ids(rate):
    ids = np.random.default_rng(0).choice(10**9, size=200_000, replace=False)
    mask = missing_pattern(ids, np.ones((200_000, 6), dtype=bool), rate, seed=3)
    assert abs((1 - mask.mean()) - rate) <= 0.002
    # No modality is favoured: each one misses at rate η.
    np.testing.assert_allclose(1 - mask.mean(axis=0), rate, atol=0.005)
    # Each row drops floor(6η) or ceil(6η) modalities.
    drops = 6 - mask.sum(axis=1)
    assert set(np.unique(drops)) <= {int(np.floor(6 * rate + 1e-9)), int(np.ceil(6 * rate - 1e-9))}


def test_pattern_differs_between_seeds_and_keeps_a_present_modality_of_incomplete_rows():
    ids = np.arange(1000)
    full = np.ones((1000, 4), dtype=bool)
    assert not np.array_equal(missing_pattern(ids, full, 0.5, 0), missing_pattern(ids, full, 0.5, 1))
    incomplete = full.copy()
    incomplete[:, :3] = False  # only the last modality is present: it must survive any rate
    assert missing_pattern(ids, incomplete, 0.7, 0)[:, 3].all()


@pytest.mark.parametrize("rate", [-0.01, 5 / 6, 0.9, 1.0, float("nan")])
def test_missing_rate_outside_the_range_is_rejected(rate):
    with pytest.raises(ValueError, match=r"must be 0 or in \[0, \(M - 1\) / M\) = \[0, 0.833333\)"):
        missing_pattern(np.arange(3), np.ones((3, 6), dtype=bool), rate, seed=0)
    with pytest.raises(ValueError, match=r"`missing_rate` must be 0 or in \[0, \(M - 1\) / M\)"):
        CLDMDFDataCollator(dense_processor(UCI_DIMS), missing_rate=rate)


def test_missing_pattern_argument_errors():
    with pytest.raises(ValueError, match="`present` must be a boolean array"):
        missing_pattern(np.arange(2), np.ones((2, 3)), 0.1, 0)
    with pytest.raises(ValueError, match=r"`row_ids` must be an integer array of shape \(2,\)"):
        missing_pattern(np.array([0.5, 1.5]), np.ones((2, 3), dtype=bool), 0.1, 0)
    with pytest.raises(TypeError, match="`seed` must be an int"):
        missing_pattern(np.arange(2), np.ones((2, 3), dtype=bool), 0.1, 0.5)
    # A single modality allows only η = 0.
    assert missing_pattern(np.arange(2), np.ones((2, 1), dtype=bool), 0.0, 0).all()


def test_collator_pattern_is_invariant_to_batch_size_order_and_processes():
    """The UCI setting: 400 rows, 6 modalities (some missing in the source), η = 0.5."""
    rows = make_rows(400, UCI_DIMS, missing=0.2, seed=0, first_id=1600)
    collator = CLDMDFDataCollator(dense_processor(UCI_DIMS), missing_rate=0.5, seed=7, return_row_ids=True)
    reference = masks_by_row_id([collator(rows)])
    for batch_size in (1, 7, 64):
        batches = [collator(rows[i : i + batch_size]) for i in range(0, len(rows), batch_size)]
        assert masks_by_row_id(batches) == reference, batch_size
    shuffled = [rows[i] for i in np.random.default_rng(1).permutation(len(rows))]
    assert masks_by_row_id([collator(shuffled[i : i + 64]) for i in range(0, 400, 64)]) == reference
    # Two processes, each collating its own shard of the rows with its own collator.
    shards = [rows[rank::2] for rank in range(2)]
    per_process = []
    for shard in shards:
        process_collator = CLDMDFDataCollator(dense_processor(UCI_DIMS), missing_rate=0.5, seed=7, return_row_ids=True)
        per_process += [process_collator(shard[i : i + 32]) for i in range(0, len(shard), 32)]
    assert masks_by_row_id(per_process) == reference
    assert CLDMDFDataCollator(dense_processor(UCI_DIMS), missing_rate=0.5, seed=8, return_row_ids=True)(rows)[
        "modality_mask"
    ].tolist() != [list(reference[1600 + i]) for i in range(400)]


def test_collator_realised_rate_on_complete_rows():
    rows = make_rows(400, UCI_DIMS, missing=0.0, seed=2)
    for rate in (0.3, 0.6):
        mask = CLDMDFDataCollator(dense_processor(UCI_DIMS), missing_rate=rate, seed=0)(rows)["modality_mask"]
        assert abs((1 - mask.float().mean().item()) - rate) <= 0.01


def test_missing_rate_needs_row_ids():
    rows = make_rows(4, SMALL_DIMS)
    del rows[2]["row_id"]
    with pytest.raises(ValueError, match=r"Rows at positions \[2\] have no row id in column 'row_id'"):
        CLDMDFDataCollator(SMALL_PROCESSOR, missing_rate=0.3)(rows)
    with pytest.raises(ValueError, match="needs `row_id_column`"):
        CLDMDFDataCollator(SMALL_PROCESSOR, missing_rate=0.3, row_id_column=None)
    with pytest.raises(TypeError, match="must be integers"):
        CLDMDFDataCollator(SMALL_PROCESSOR, missing_rate=0.3)([dict(r, row_id="a") for r in make_rows(2, SMALL_DIMS)])
    # Without a missing rate, rows need no id.
    assert CLDMDFDataCollator(SMALL_PROCESSOR)(rows)["modality_mask"].shape == (4, 4)


# ---------------------------------------------------------------------------------------------------------------------
# Training-time modality dropout


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_modality_dropout_mask_properties(backend):
    present = np.random.default_rng(12345).random((20_000, 6)) < 0.8  # not the dropout seeds below
    present[:100] = False  # rows without any modality stay empty
    present[100:200] = True

    def run(p, seed):
        if backend == "torch":
            return modality_dropout_mask(torch.from_numpy(present), p, torch.Generator().manual_seed(seed)).numpy()
        return modality_dropout_mask(present, p, np.random.default_rng(seed))

    mask = run(0.3, 0)
    assert np.array_equal(mask, run(0.3, 0)) and not np.array_equal(mask, run(0.3, 1))
    assert not (mask & ~present).any()
    assert (mask.any(axis=1) == present.any(axis=1)).all()
    # Each present entry is dropped with probability p, less the restorations of rows that lost everything.
    dropped = (present & ~mask).sum() / present.sum()
    assert abs(dropped - 0.3) < 0.01
    assert np.array_equal(run(0.0, 0), present)
    single = run(1.0, 0)
    assert (single.sum(axis=1) == present.any(axis=1)).all()
    # The restored modality is uniform over the present ones (complete rows: each in about 1/6 of them).
    counts = single[present.all(axis=1)].sum(axis=0)
    assert counts.min() > 0.6 * counts.mean()


def test_modality_dropout_mask_errors():
    with pytest.raises(ValueError, match=r"`p` \(modality dropout probability\) must be in \[0, 1\]"):
        modality_dropout_mask(np.ones((2, 2), dtype=bool), 1.5)
    with pytest.raises(TypeError, match="must be a torch.Generator"):
        modality_dropout_mask(torch.ones(2, 2, dtype=torch.bool), 0.5, np.random.default_rng(0))
    with pytest.raises(TypeError, match="must be a numpy Generator"):
        modality_dropout_mask(np.ones((2, 2), dtype=bool), 0.5, torch.Generator())
    with pytest.raises(ValueError, match="bool tensor of shape"):
        modality_dropout_mask(torch.ones(2, 2), 0.5)


def test_collator_modality_dropout_is_seeded_and_keeps_one_modality():
    rows = make_rows(64, SMALL_DIMS, missing=0.1, seed=3)
    source = np.array([[r[n] is not None for n in sorted(SMALL_DIMS)] for r in rows])
    first = CLDMDFDataCollator(SMALL_PROCESSOR, modality_dropout=0.5, seed=11)
    second = CLDMDFDataCollator(SMALL_PROCESSOR, modality_dropout=0.5, seed=11)
    masks = [first(rows)["modality_mask"] for _ in range(3)]
    assert all(torch.equal(m, second(rows)["modality_mask"]) for m in masks)  # same seed, same sequence
    assert not torch.equal(masks[0], masks[1])  # the generator advances between calls
    other = CLDMDFDataCollator(SMALL_PROCESSOR, modality_dropout=0.5, seed=12)(rows)["modality_mask"]
    assert not torch.equal(other, masks[0])
    for mask in masks:
        assert mask.any(dim=1).all() and not (mask.numpy() & ~source).any()
    with pytest.raises(ValueError, match=r"`modality_dropout` must be in \[0, 1\]"):
        CLDMDFDataCollator(SMALL_PROCESSOR, modality_dropout=-0.1)


class RecordingProcessor(CLDMDFProcessor):
    """A subclass that overrides the public API: it records each call and marks the batches it returns."""

    def presence_mask(self, modalities):
        self.calls.append(("presence_mask", None))
        return super().presence_mask(modalities)

    def __call__(self, modalities=None, return_tensors="pt", modality_mask=None, **kwargs):
        self.calls.append(("__call__", None if modality_mask is None else np.array(modality_mask)))
        batch = super().__call__(modalities, return_tensors, modality_mask=modality_mask, **kwargs)
        batch["processed_by"] = "RecordingProcessor"
        return batch


@pytest.mark.parametrize("options", [{}, {"missing_rate": 0.4}, {"modality_dropout": 0.5, "missing_rate": 0.2}])
def test_collator_goes_through_the_public_processor_api_with_its_pattern_mask(options):
    rows = make_rows(50, SMALL_DIMS, missing=0.2, seed=5)
    names = sorted(SMALL_DIMS)
    modalities = {name: {"type": "dense", "dim": dim} for name, dim in SMALL_DIMS.items()}
    processor = RecordingProcessor(modalities, allow_unfitted=True)
    processor.calls = []
    batch = CLDMDFDataCollator(processor, seed=9, **options)(rows)
    # The subclass's methods made the batch: the presence mask once, then one `__call__` given the collator's mask.
    assert batch["processed_by"] == "RecordingProcessor"
    assert [name for name, _ in processor.calls] == ["presence_mask", "__call__"]
    given_mask = processor.calls[1][1]
    assert given_mask.dtype == bool and np.array_equal(given_mask, batch["modality_mask"].numpy())
    # ... and that mask is the one the collator's missing patterns produced from the rows' own presence.
    source = np.array([[row[n] is not None for n in names] for row in rows])
    ids = np.array([row["row_id"] for row in rows])
    pattern = missing_pattern(ids, source, options["missing_rate"], 9) if options.get("missing_rate") else source
    if options.get("modality_dropout"):
        assert not (given_mask & ~pattern).any() and given_mask.any(axis=1).all() and (given_mask != pattern).any()
    else:
        assert np.array_equal(given_mask, pattern)
    if options:
        assert (given_mask != source).any()  # the pattern hid entries that hold values
    # The plain processor gives the same batch, and so do the rows' columns with None under the mask's False.
    plain = CLDMDFDataCollator(SMALL_PROCESSOR, seed=9, **options)(rows)
    assert torch.equal(plain["modality_mask"], batch["modality_mask"])
    assert torch.equal(plain["labels"], batch["labels"])
    columns = {n: [r[n] if given_mask[i, j] else None for i, r in enumerate(rows)] for j, n in enumerate(names)}
    direct = SMALL_PROCESSOR(columns)
    assert torch.equal(direct["modality_mask"], batch["modality_mask"])
    for name in names:
        values = batch["modality_inputs"][name]
        assert values.dtype == torch.float32 and torch.equal(values, plain["modality_inputs"][name]), name
        assert torch.equal(values, direct["modality_inputs"][name]), name


def test_collator_needs_a_processor_with_the_public_api():
    class OldRemoteProcessor:  # as a processor saved before `presence_mask`, loaded as remote code
        modality_names = ["a"]

        def __call__(self, modalities, return_tensors="pt"):
            raise AssertionError("not reached")

    with pytest.raises(TypeError, match=r"with `modality_names` and `presence_mask`.*CLDMDFProcessor.from_pretrained"):
        CLDMDFDataCollator(OldRemoteProcessor())


def test_dataloader_workers_draw_different_reproducible_dropout():
    rows = make_rows(64, SMALL_DIMS, missing=0.0, seed=4)

    def epoch():
        loader = torch.utils.data.DataLoader(
            rows, batch_size=16, num_workers=2, collate_fn=CLDMDFDataCollator(SMALL_PROCESSOR, modality_dropout=0.5)
        )
        return [b["modality_mask"] for b in loader]

    first, second = epoch(), epoch()
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    # Batches 0 and 1 come from workers 0 and 1 at the same generator step: different seeds, different draws.
    assert not torch.equal(first[0], first[1])


# ---------------------------------------------------------------------------------------------------------------------
# Rows without modalities, labels, row ids, inputs


def test_rows_without_modalities_raise_or_are_dropped_and_logged(caplog):
    rows = make_rows(5, SMALL_DIMS, first_id=10)
    for i in (1, 3):
        rows[i].update({name: None for name in SMALL_DIMS})
    del rows[3]["w"]  # absent key = missing too
    with pytest.raises(ValueError, match=r"Rows \[11, 13\] have no present modality"):
        CLDMDFDataCollator(SMALL_PROCESSOR)(rows)
    collator = CLDMDFDataCollator(SMALL_PROCESSOR, drop_rows_without_modalities=True, return_row_ids=True)
    with caplog.at_level(logging.WARNING, logger="cldmdf.processing.collator"):
        batch = collator(rows)
    assert batch["row_ids"].tolist() == [10, 12, 14]
    assert batch["labels"].tolist() == [rows[i]["label"] for i in (0, 2, 4)]
    assert "Dropped 2 of 5 rows with no present modality" in caplog.text
    assert collator.num_dropped_rows == 2
    with pytest.raises(ValueError, match=r"Every row of the batch \(2 rows\) has no present modality"):
        collator([rows[1], rows[3]])


def test_rows_whose_modality_columns_were_removed_name_remove_unused_columns():
    """`transformers.Trainer` with its default `remove_unused_columns=True` leaves the rows only their labels."""
    expected = (
        r"The rows hold none of the modality columns \['w', 'x', 'y', 'z'\] \(their keys: \['label'\]\): the "
        r"columns were removed before the collator. With `transformers.Trainer`, pass "
        r"`TrainingArguments\(remove_unused_columns=False, ...\)`"
    )
    with pytest.raises(ValueError, match=expected):
        CLDMDFDataCollator(SMALL_PROCESSOR)([{"label": 0}, {"label": 2}])
    # A row whose modality columns are there but `None` is a row with every modality missing, as before.
    with pytest.raises(ValueError, match=r"have no present modality"):
        CLDMDFDataCollator(SMALL_PROCESSOR)([{"label": 0, "x": None}])


def test_labels_dtypes():
    rows = make_rows(3, SMALL_DIMS)
    collator = CLDMDFDataCollator(SMALL_PROCESSOR)
    assert collator(rows)["labels"].dtype == torch.long
    floats = collator([dict(r, label=float(i) + 0.5) for i, r in enumerate(rows)])["labels"]
    assert floats.dtype == torch.float32 and floats.tolist() == [0.5, 1.5, 2.5]
    multi = collator([dict(r, label=[1, 0, i % 2]) for i, r in enumerate(rows)])["labels"]
    assert multi.dtype == torch.float32 and multi.tolist() == [[1, 0, 0], [1, 0, 1], [1, 0, 0]]
    assert "labels" not in collator([{k: v for k, v in r.items() if k != "label"} for r in rows])
    assert "labels" not in CLDMDFDataCollator(SMALL_PROCESSOR, label_column=None)(rows)
    with pytest.raises(ValueError, match=r"Rows at positions \[1\] have no label"):
        collator([rows[0], dict(rows[1], label=None), rows[2]])
    with pytest.raises(TypeError, match="must be ints"):
        collator([dict(r, label="cat") for r in rows])


def test_collator_input_errors():
    collator = CLDMDFDataCollator(SMALL_PROCESSOR)
    with pytest.raises(ValueError, match="empty list of rows"):
        collator([])
    with pytest.raises(TypeError, match="takes a list of rows"):
        collator({"x": [[1.0, 2.0]]})
    with pytest.raises(TypeError, match=r"rows \[1\] are list"):
        collator([make_rows(1, SMALL_DIMS)[0], [1.0]])
    with pytest.raises(TypeError, match="must be a CLDMDFProcessor"):
        CLDMDFDataCollator(object())
    with pytest.raises(ValueError, match=r"Dense modality 'x', row 0: expected 2 values, got 3"):
        collator([{"x": [1.0, 2.0, 3.0]}])


def test_text_modality_through_the_collator():
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad"])}
    processor = CLDMDFProcessor(
        {"review": {"type": "text", "backbone": {"model_type": "bert"}}, "tab": {"type": "dense", "dim": 2}},
        sub_processors={"review": BertTokenizer(vocab=vocab)},
        allow_unfitted=True,
    )
    batch = CLDMDFDataCollator(processor)(
        [{"review": "good bad good", "tab": None, "label": 1}, {"review": None, "tab": [1.0, 2.0], "label": 0}]
    )
    assert batch["modality_inputs"]["review"]["input_ids"].tolist() == [[2, 5, 6, 5, 3], [0, 0, 0, 0, 0]]
    assert batch["modality_inputs"]["review"]["attention_mask"].tolist() == [[1] * 5, [0] * 5]
    assert batch["modality_mask"].tolist() == [[True, False], [False, True]]


# ---------------------------------------------------------------------------------------------------------------------
# DataLoader and Trainer


def tiny_dataset(num_rows: int = 48):
    datasets = pytest.importorskip("datasets")
    rows = make_rows(num_rows, SMALL_DIMS, missing=0.3, seed=5)
    columns = {key: [row[key] for row in rows] for key in rows[0]}
    return datasets.Dataset.from_dict(columns), rows


def test_dataloader_over_a_dataset_with_missing_values():
    dataset, rows = tiny_dataset()
    collator = CLDMDFDataCollator(SMALL_PROCESSOR, missing_rate=0.25, seed=1, return_row_ids=True)
    loader = torch.utils.data.DataLoader(dataset, batch_size=10, collate_fn=collator)
    batches = list(loader)
    assert [len(b["labels"]) for b in batches] == [10, 10, 10, 10, 8]
    direct = collator(rows)
    assert torch.equal(torch.cat([b["modality_mask"] for b in batches]), direct["modality_mask"])
    for name in SMALL_DIMS:
        stacked = torch.cat([b["modality_inputs"][name] for b in batches])
        assert torch.equal(stacked, direct["modality_inputs"][name])


def small_config():
    """A tiny classifier of the SMALL_DIMS modalities (two of them one-feature), 3 classes."""
    from modeling_cldmdf import CLDMDFConfig

    modalities = {name: {"type": "dense", "dim": dim} for name, dim in SMALL_DIMS.items()}
    return CLDMDFConfig(modalities=modalities, hidden_size=16, num_attention_heads=2, num_labels=3)


def test_trainer_runs_evaluates_and_predicts_with_the_collator(tmp_path):
    """`transformers.Trainer` with `remove_unused_columns=False`, the collator as `data_collator`: the loop runs and
    predictions come back in row order. Whether its steps learn: the test below."""
    from transformers import Trainer, TrainingArguments

    from modeling_cldmdf import CLDMDFForSequenceClassification

    dataset, _ = tiny_dataset()
    config = small_config()
    args = TrainingArguments(
        output_dir=str(tmp_path),
        remove_unused_columns=False,
        per_device_train_batch_size=8,
        per_device_eval_batch_size=16,
        max_steps=3,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=CLDMDFForSequenceClassification(config),
        args=args,
        train_dataset=dataset,
        eval_dataset=dataset,
        data_collator=CLDMDFDataCollator(SMALL_PROCESSOR, missing_rate=0.25),
    )
    assert np.isfinite(trainer.train().training_loss)
    metrics = trainer.evaluate()
    assert np.isfinite(metrics["eval_loss"])
    predictions = trainer.predict(dataset)
    logits = predictions.predictions[0] if isinstance(predictions.predictions, tuple) else predictions.predictions
    assert logits.shape == (48, 3)
    assert predictions.label_ids.tolist() == list(dataset["label"])


def test_trainer_steps_change_the_weights_with_one_feature_modalities(tmp_path):
    # With the former input LayerNorm (`dense_input_norm=True`) a one-feature modality was a constant 0, its
    # normalised contrastive projection sent 1e22 gradients and Trainer's clipping zeroed every step.
    from transformers import Trainer, TrainingArguments

    from modeling_cldmdf import CLDMDFForSequenceClassification

    dataset, _ = tiny_dataset()
    config = small_config()
    torch.manual_seed(0)
    model = CLDMDFForSequenceClassification(config)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    args = TrainingArguments(
        output_dir=str(tmp_path), remove_unused_columns=False, per_device_train_batch_size=8, max_steps=3,
        logging_steps=1, report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True,
    )  # fmt: skip
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=CLDMDFDataCollator(SMALL_PROCESSOR))
    trainer.train()
    norms = [entry["grad_norm"] for entry in trainer.state.log_history if "grad_norm" in entry]
    assert len(norms) == 3 and all(np.isfinite(norm) for norm in norms), norms
    assert not torch.equal(model.classifier.weight, before["classifier.weight"])
