"""`CLDMDFProcessor`: batch contract, errors, dense standardisation, text and image, save -> load (local, remote)."""

import io
import json
import os
import textwrap

import numpy as np
import pytest
import torch
from bare_process import BLOCK_LOCAL_PACKAGES, run_bare_script
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from transformers import AutoProcessor, BertTokenizer, ViTImageProcessor

from cldmdf.processing.collator import CLDMDFDataCollator
from modeling_cldmdf import CLDMDFConfig
from modeling_cldmdf.processing_cldmdf import CLDMDFBatchFeature, CLDMDFProcessor

WORDS = ["hello", "world", "foo", "bar", "baz", "missing", "modality", "fusion"]
DENSE_DIMS = {"c": 2, "a": 1, "b": 3}  # deliberately not sorted
# No deadline (the machines are shared). A few hundred examples a property: each example mixes every kind of entry
# and fault at once, and the suite runs them on every CI run.
PROPERTY_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def tiny_tokenizer() -> BertTokenizer:
    """A WordPiece tokenizer over a 13-token vocabulary, built offline."""
    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS])}
    return BertTokenizer(vocab=vocab)


def tiny_image_processor() -> ViTImageProcessor:
    return ViTImageProcessor(size={"height": 8, "width": 8})


def random_image(seed: int, size=(10, 12), mode: str = "RGB") -> Image.Image:
    channels = 3 if mode == "RGB" else 1
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, channels), dtype=np.uint8)
    return Image.fromarray(pixels if channels == 3 else pixels[..., 0], mode=mode)


def dense_processor(**kwargs) -> CLDMDFProcessor:
    kwargs.setdefault("allow_unfitted", True)  # most tests check the batch contract on raw values
    return CLDMDFProcessor({name: {"type": "dense", "dim": dim} for name, dim in DENSE_DIMS.items()}, **kwargs)


def multimodal_processor(**kwargs) -> CLDMDFProcessor:
    modalities = {
        "tab": {"type": "dense", "dim": 3},
        "review": {"type": "text", "backbone": {"model_type": "bert"}},
        "photo": {"type": "image", "backbone": {"model_type": "vit"}},
    }
    sub_processors = {"review": tiny_tokenizer(), "photo": tiny_image_processor()}
    kwargs.setdefault("allow_unfitted", True)
    return CLDMDFProcessor(modalities, sub_processors=sub_processors, **kwargs)


def multimodal_columns() -> dict:
    return {
        "tab": [[1.0, 2.0, 3.0], None, [4.0, -5.0, 6.5], [0.5, 0.25, -1.0]],
        "review": ["hello world", None, "foo bar baz hello world fusion", "modality"],
        "photo": [None, random_image(1), random_image(2, (20, 9)), None],
    }


def flatten(batch) -> dict:
    """name -> tensor for every tensor of a processed batch (nested dicts joined with '.')."""
    out = {"modality_mask": batch["modality_mask"]}
    for name, value in batch["modality_inputs"].items():
        if isinstance(value, dict):
            out.update({f"{name}.{key}": tensor for key, tensor in value.items()})
        else:
            out[name] = value
    return out


def assert_batches_equal(first, second):
    first, second = flatten(first), flatten(second)
    assert first.keys() == second.keys()
    for key in first:
        assert first[key].dtype == second[key].dtype, key
        assert torch.equal(first[key], second[key]), key


@pytest.fixture
def registered():
    """The installed-package path: `CLDMDFProcessor` registered with `AutoProcessor` (as the package init will do)."""
    AutoProcessor.register(CLDMDFConfig, CLDMDFProcessor, exist_ok=True)


# ---------------------------------------------------------------------------------------------------------------------
# Dense batches: the contract, then properties over generated batches


def test_dense_batch_contract_unfitted_is_identity():
    processor = dense_processor()
    batch = processor({"b": [[1.0, 2.0, 3.0], None], "c": [None, [0.5, -0.5]]})
    assert isinstance(batch, CLDMDFBatchFeature)
    assert processor.modality_names == ["a", "b", "c"]
    # "a" was not given: missing in every row.
    assert batch["modality_mask"].dtype == torch.bool
    assert batch["modality_mask"].tolist() == [[False, True, False], [False, False, True]]
    inputs = batch["modality_inputs"]
    assert list(inputs) == ["a", "b", "c"]
    assert inputs["a"].dtype == torch.float32 and inputs["a"].tolist() == [[0.0], [0.0]]
    assert inputs["b"].tolist() == [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]
    assert inputs["c"].tolist() == [[0.0, 0.0], [0.5, -0.5]]


def test_dense_accepts_tuples_arrays_and_a_2d_array():
    processor = dense_processor()
    rows = [(1, 2, 3), np.array([4.0, 5.0, 6.0]), np.array([7, 8, 9], dtype=np.int32)]
    batch = processor({"b": rows})
    assert batch["modality_inputs"]["b"].tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    whole = np.arange(6, dtype=np.float64).reshape(3, 2)
    batch = processor({"c": whole})
    assert np.array_equal(batch["modality_inputs"]["c"].numpy(), whole.astype(np.float32))
    assert batch["modality_mask"][:, 2].all() and not batch["modality_mask"][:, :2].any()


def test_return_tensors_np():
    batch = dense_processor()({"a": [[1.5], None], "b": [None, [1.0, 2.0, 3.0]]}, return_tensors="np")
    assert isinstance(batch["modality_mask"], np.ndarray) and batch["modality_mask"].dtype == np.bool_
    assert batch["modality_inputs"]["a"].dtype == np.float32
    assert batch["modality_inputs"]["a"].tolist() == [[1.5], [0.0]]


FINITE32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
EXACT_INTS = st.integers(-(2**24), 2**24)  # exactly representable in float32


@st.composite
def valid_entry(draw, dim: int):
    """A present dense entry whose float32 conversion is exact, in one of the accepted container types."""
    values = draw(st.lists(st.one_of(FINITE32, EXACT_INTS), min_size=dim, max_size=dim))
    container = draw(st.sampled_from(["list", "tuple", "f64", "f32"]))
    if container == "tuple":
        return tuple(values)
    if container == "f64":
        return np.asarray(values, dtype=np.float64)
    if container == "f32":
        return np.asarray(values, dtype=np.float32)
    return values


FAULTS = ("wrong_length", "nonfinite", "string", "scalar", "bad_element", "nested")


@st.composite
def faulty_entry(draw, dim: int):
    """(fault kind, entry) for a present dense entry that the processor must reject."""
    kind = draw(st.sampled_from(FAULTS))
    if kind == "wrong_length":
        length = draw(st.integers(0, dim + 3).filter(lambda n: n != dim))
        return kind, draw(st.lists(FINITE32, min_size=length, max_size=length))
    if kind == "string":
        return kind, draw(st.text(max_size=5))
    if kind == "scalar":
        return kind, draw(FINITE32)
    if kind == "nested":
        return kind, [[draw(FINITE32)] * 2 for _ in range(dim)]
    values = draw(st.lists(FINITE32, min_size=dim, max_size=dim))
    position = draw(st.integers(0, dim - 1))
    if kind == "nonfinite":
        values[position] = draw(st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e39, -3e300]))
    else:
        values[position] = draw(st.sampled_from(["1.0", None, "x", b"1", 1 + 2j]))
    return kind, values


@st.composite
def dense_case(draw, max_faults: int):
    """Columns for `dense_processor()` plus the faults injected: (columns, faults [(name, row, kind)])."""
    batch_size = draw(st.integers(1, 6))
    given = draw(st.lists(st.sampled_from(sorted(DENSE_DIMS)), min_size=1, max_size=3, unique=True))
    columns = {name: [None] * batch_size for name in given}
    for name in given:
        for row in range(batch_size):
            if draw(st.booleans()):
                columns[name][row] = draw(valid_entry(DENSE_DIMS[name]))
    faults = []
    for _ in range(draw(st.integers(0, max_faults))):
        name, row = draw(st.sampled_from(given)), draw(st.integers(0, batch_size - 1))
        kind, entry = draw(faulty_entry(DENSE_DIMS[name]))
        faults = [f for f in faults if f[:2] != (name, row)] + [(name, row, kind)]
        columns[name][row] = entry
    return columns, faults


def expected_dense(columns: dict, batch_size: int) -> tuple[dict, np.ndarray]:
    names = sorted(DENSE_DIMS)
    mask = np.zeros((batch_size, len(names)), dtype=bool)
    values = {}
    for j, name in enumerate(names):
        values[name] = np.zeros((batch_size, DENSE_DIMS[name]), dtype=np.float32)
        for row, entry in enumerate(columns.get(name, [None] * batch_size)):
            if entry is not None:
                mask[row, j] = True
                values[name][row] = np.asarray(entry, dtype=np.float64).astype(np.float32)
    return values, mask


@settings(max_examples=500, **PROPERTY_SETTINGS)
@given(case=dense_case(max_faults=3), unfitted=st.booleans())
def test_property_dense_batches_collate_exactly_or_raise_documented_errors(case, unfitted):
    """Any mix of present / missing / malformed entries: exact tensors with the right mask, or ValueError/TypeError."""
    columns, faults = case
    processor = PROCESSOR_UNFITTED if unfitted else PROCESSOR_FITTED
    batch_size = len(next(iter(columns.values())))
    empty_rows = [r for r in range(batch_size) if all(columns[n][r] is None for n in columns)]
    valid = not faults and not empty_rows
    if not valid:
        with pytest.raises((ValueError, TypeError)):
            processor(columns)
        return
    batch = processor(columns)
    values, mask = expected_dense(columns, batch_size)
    assert batch["modality_mask"].numpy().tolist() == mask.tolist()
    for j, name in enumerate(sorted(DENSE_DIMS)):
        got = batch["modality_inputs"][name].numpy()
        assert got.dtype == np.float32 and got.shape == (batch_size, DENSE_DIMS[name])
        if not unfitted:
            mean, std = processor.dense_statistics[name]
            expected = np.where(mask[:, j : j + 1], (values[name] - mean) / std, np.float32(0))
        else:
            expected = values[name]
        assert np.array_equal(got, expected)
        assert (got[~mask[:, j]] == 0).all()


PROCESSOR_UNFITTED = dense_processor()
PROCESSOR_FITTED = dense_processor().fit(
    {
        "a": [[1.0], [3.0], None, [-2.0]],
        "b": [[1.0, 2.0, 3.0], [0.0, 2.0, 1.0], [4.0, 2.0, -1.0], None],
        "c": [[0.5, 1.5], None, [2.5, -1.5], [1.0, 0.0]],
    }
)


@settings(max_examples=400, **PROPERTY_SETTINGS)
@given(case=dense_case(max_faults=1), structural=st.sampled_from(["none", "unknown", "ragged", "empty_row", "column"]))
def test_property_each_error_names_what_was_wrong(case, structural):
    """One fault at a time: the documented exception type and a message naming the modality, row and values."""
    columns, faults = case
    processor = PROCESSOR_UNFITTED
    batch_size = len(next(iter(columns.values())))
    empty_rows = [r for r in range(batch_size) if all(columns[n][r] is None for n in columns)]
    if structural != "none" or empty_rows:
        faults = []  # test the structural error alone: make every dense entry valid
        columns = {name: [[0.0] * DENSE_DIMS[name]] * batch_size for name in columns}
    if structural == "unknown":
        columns["zzz"] = [None] * batch_size
        with pytest.raises(ValueError, match=r"Unknown modalities \['zzz'\]; this processor knows \['a', 'b', 'c'\]"):
            processor(columns)
    elif structural == "ragged":
        absent = [n for n in sorted(DENSE_DIMS) if n not in columns]
        name = absent[0] if absent else next(iter(columns))
        columns[name] = (columns[name] if name in columns else [None] * batch_size) + [None]
        with pytest.raises(ValueError, match="one entry per row") as info:
            processor(columns)
        assert f"'{name}': {batch_size + 1}" in str(info.value)
    elif structural == "empty_row":
        row = batch_size - 1
        for name in columns:
            columns[name] = columns[name][:row] + [None]
        with pytest.raises(ValueError, match=rf"Rows \[{row}\] have no present modality"):
            processor(columns)
    elif structural == "column":
        name = next(iter(columns))
        columns[name] = "not a list"
        with pytest.raises(TypeError, match=f"Modality '{name}' must be given as a list"):
            processor(columns)
    elif not faults:
        processor(columns)  # valid: must not raise
    else:
        name, row, kind = faults[0]
        entry = columns[name][row]
        if kind == "wrong_length":
            message = rf"'{name}', row {row}: expected {DENSE_DIMS[name]} values, got {len(entry)}"
            with pytest.raises(ValueError, match=message):
                processor(columns)
        elif kind == "nonfinite":
            with pytest.raises(ValueError, match=rf"'{name}' has NaN or infinite values .* in rows \[{row}\]"):
                processor(columns)
        else:
            with pytest.raises(TypeError, match=rf"Dense modality '{name}', row {row}: expected"):
                processor(columns)


def test_error_messages_list_many_rows_briefly():
    processor = dense_processor()
    with pytest.raises(ValueError, match=r"Rows \[0, 1, 2, 3, 4, 5, 6, 7, 8, 9\] \(and 5 more, 15 in all\)"):
        processor({"a": [None] * 15})
    with pytest.raises(ValueError, match=r"in rows \[1, 3\]"):
        processor({"a": [[1.0], [float("nan")], [2.0], [float("inf")]]})


def test_call_argument_errors():
    processor = dense_processor()
    with pytest.raises(TypeError, match="must be a dict modality name -> list"):
        processor([[1.0]])
    with pytest.raises(ValueError, match="`modalities` is empty"):
        processor({})
    with pytest.raises(ValueError, match="The batch is empty"):
        processor({"a": []})
    with pytest.raises(ValueError, match="`return_tensors` must be one of"):
        processor({"a": [[1.0]]}, return_tensors="tf")
    with pytest.raises(TypeError, match="unexpected arguments"):
        processor({"a": [[1.0]]}, padding=True)


def test_presence_mask_is_the_default_modality_mask():
    processor = multimodal_processor()
    columns = multimodal_columns()
    presence = processor.presence_mask(columns)  # columns in sorted order: photo, review, tab
    expected = [[False, True, True], [True, False, False], [True, True, True], [False, True, True]]
    assert presence.dtype == bool and presence.tolist() == expected
    assert processor.presence_mask({"tab": columns["tab"]}).tolist() == [[False, False, r[2]] for r in expected]
    assert_batches_equal(processor(columns), processor(columns, modality_mask=presence))
    with pytest.raises(ValueError, match="one entry per row"):
        processor.presence_mask({"tab": [None], "review": ["hello", None]})


def test_modality_mask_hides_entries_that_are_then_never_read():
    processor = multimodal_processor()
    columns = multimodal_columns()
    mask = processor.presence_mask(columns)
    mask[2] = [False, True, False]  # row 2 keeps its review only
    mask[0, 2] = False  # row 0 loses its tab
    hidden = {"tab": [None, None, None, columns["tab"][3]], "photo": [None, columns["photo"][1], None, None]}
    hidden["review"] = [columns["review"][0], None, columns["review"][2], columns["review"][3]]
    for mask_given in (mask, torch.from_numpy(mask)):
        batch = processor(columns, modality_mask=mask_given)
        assert_batches_equal(batch, processor(hidden))
        assert batch["modality_mask"].tolist() == mask.tolist()
    # Entries under a False may hold anything: they are never read (nor checked).
    garbage = dict(columns, tab=["not a vector", None, [float("nan")], columns["tab"][3]])
    garbage["photo"] = [1, columns["photo"][1], "not an image", None]
    assert_batches_equal(processor(garbage, modality_mask=mask), processor(hidden))
    # The batch owns its mask: changing the caller's array afterwards changes nothing.
    batch = processor(columns, modality_mask=mask, return_tensors="np")
    mask[:] = True
    assert batch["modality_mask"].tolist() != mask.tolist()


def test_modality_mask_errors():
    processor = dense_processor()
    columns = {"a": [[1.0], None], "b": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]}
    with pytest.raises(ValueError, match=r"marks modality 'a' present in rows \[1\], whose entries are None;"):
        processor(columns, modality_mask=np.ones((2, 3), dtype=bool) & [True, True, False])
    with pytest.raises(ValueError, match=r"modality 'c' present in rows \[0, 1\], .* \(the modality is not given\)"):
        processor(columns, modality_mask=np.array([[True, True, True], [False, True, True]]))
    with pytest.raises(TypeError, match="`modality_mask` must be boolean .* got dtype int64"):
        processor(columns, modality_mask=np.ones((2, 3), dtype=np.int64))
    expected = r"shape \(batch, modalities\) = \(2, 3\), .*\['a', 'b', 'c'\], got shape \(2, 2\)"
    with pytest.raises(ValueError, match=expected):
        processor(columns, modality_mask=np.ones((2, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"Rows \[1\] have no present modality"):
        processor(columns, modality_mask=np.array([[True, False, False], [False, False, False]]))


# ---------------------------------------------------------------------------------------------------------------------
# Construction


@pytest.mark.parametrize(
    "modalities, error, message",
    [
        ({}, ValueError, "non-empty dict"),
        ({"a": {"type": "audio"}}, ValueError, r"\['type'\]` must be one of"),
        ({"a": {"type": "dense", "dim": 0}}, ValueError, "positive int"),
        ({"a": {"type": "dense", "dim": True}}, ValueError, "positive int"),
        ({"a": ["dense", 3]}, TypeError, "must be a dict"),
        ({"a/b": {"type": "dense", "dim": 3}}, ValueError, "keys must be non-empty strings"),
        ({"_a": {"type": "dense", "dim": 3}}, ValueError, "keys must be non-empty strings"),
    ],
)
def test_invalid_modalities_spec(modalities, error, message):
    with pytest.raises(error, match=message):
        CLDMDFProcessor(modalities)


def test_invalid_options():
    with pytest.raises(ValueError, match="`max_length` must be a positive int"):
        dense_processor(max_length=0)
    with pytest.raises(ValueError, match="`padding` must be one of"):
        dense_processor(padding="right")
    with pytest.raises(ValueError, match="`min_std`"):
        dense_processor(min_std=-1.0)
    with pytest.raises(ValueError, match=r"mean and std must have 2 values"):
        dense_processor(dense_statistics={"c": {"mean": [0.0], "std": [1.0]}})
    with pytest.raises(ValueError, match="not a dense modality"):
        dense_processor(dense_statistics={"z": {"mean": [0.0], "std": [1.0]}})
    with pytest.raises(ValueError, match="std > 0"):
        dense_processor(dense_statistics={"a": {"mean": [0.0], "std": [0.0]}})


def test_sub_processor_errors():
    text = {"t": {"type": "text", "backbone": {"model_type": "bert"}}}
    with pytest.raises(ValueError, match=r"no checkpoint to load its tokenizer from; pass it in `sub_processors"):
        CLDMDFProcessor(text)
    with pytest.raises(TypeError, match="must be a transformers tokenizer"):
        CLDMDFProcessor(text, sub_processors={"t": tiny_image_processor()})
    with pytest.raises(ValueError, match=r"not text or image modalities"):
        CLDMDFProcessor(text, sub_processors={"t": tiny_tokenizer(), "x": tiny_tokenizer()})
    tokenizer = tiny_tokenizer()
    tokenizer.pad_token = None
    with pytest.raises(ValueError, match="has no pad token"):
        CLDMDFProcessor(text, sub_processors={"t": tokenizer})
    image = {"i": {"type": "image", "backbone": {"model_type": "vit"}}}
    with pytest.raises(TypeError, match="must be a transformers image processor"):
        CLDMDFProcessor(image, sub_processors={"i": tiny_tokenizer()})


def test_from_config_loads_sub_processors_from_the_checkpoint(tmp_path):
    checkpoint = tmp_path / "tiny-bert"
    tiny_tokenizer().save_pretrained(checkpoint)
    config = CLDMDFConfig(
        modalities={"tab": {"type": "dense", "dim": 2}, "text": {"type": "text", "backbone": str(checkpoint)}}
    )
    processor = CLDMDFProcessor.from_config(config, max_length=4, allow_unfitted=True)
    assert processor.modality_names == config.modality_names
    assert processor.max_length == 4
    batch = processor({"text": ["hello world foo bar baz", None], "tab": [None, [1.0, 2.0]]})
    assert batch["modality_inputs"]["text"]["input_ids"].tolist() == [[2, 5, 6, 3], [0, 0, 0, 0]]
    # A built model replaces a checkpoint `backbone` by its config dict and keeps the name in `pretrained_name`.
    spec = {"type": "text", "backbone": {"model_type": "bert"}, "pretrained_name": str(checkpoint)}
    processor = CLDMDFProcessor.from_config({"modalities": {"text": spec}})
    assert processor.sub_processors["text"].get_vocab() == tiny_tokenizer().get_vocab()
    with pytest.raises(ValueError, match="must have a `modalities` mapping"):
        CLDMDFProcessor.from_config(object())


# ---------------------------------------------------------------------------------------------------------------------
# Fitting the dense statistics


def test_unfitted_processor_refuses_dense_inputs(tmp_path):
    """`from_config(config)` without `.fit(...)` used to standardise nothing and silently cost accuracy."""
    config = CLDMDFConfig(modalities={name: {"type": "dense", "dim": dim} for name, dim in DENSE_DIMS.items()})
    processor = CLDMDFProcessor.from_config(config)
    assert not processor.is_fitted and not processor.allow_unfitted
    columns = {"a": [[1.0], None], "b": [None, [1.0, 2.0, 3.0]]}
    expected = r"\['a', 'b', 'c'\] have no standardisation statistics.*`processor\.fit\(train_split\)`"
    with pytest.raises(ValueError, match=expected):
        processor(columns)
    # The same through the collator, and after a save -> load of the unfitted processor.
    with pytest.raises(ValueError, match=r"processor\.fit\(train_split\)"):
        CLDMDFDataCollator(processor)([{"a": [1.0], "label": 0}])
    processor.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"processor\.fit\(train_split\)"):
        CLDMDFProcessor.from_pretrained(tmp_path)(columns)
    # Fitted, or explicitly allowed to pass raw values, it processes them.
    processor.fit({"a": [[0.0], [2.0]], "b": [[0.0, 0.0, 0.0]] * 2, "c": [[1.0, 1.0]] * 2})
    assert processor(columns)["modality_inputs"]["a"].tolist() == [[0.0], [0.0]]
    raw = CLDMDFProcessor.from_config(config, allow_unfitted=True)
    assert raw(columns)["modality_inputs"]["b"].tolist() == [[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]
    with pytest.raises(TypeError, match="`allow_unfitted` must be a bool, got 'yes'"):
        CLDMDFProcessor.from_config(config, allow_unfitted="yes")


def test_fit_ignores_missing_rows_and_matches_numpy():
    rng = np.random.default_rng(0)
    train = {name: [rng.normal(3.0, 2.0, dim).tolist() for _ in range(50)] for name, dim in DENSE_DIMS.items()}
    for name in train:
        for row in rng.choice(50, 10, replace=False):
            train[name][row] = None
    processor = dense_processor().fit(train)
    assert processor.is_fitted
    for name in DENSE_DIMS:
        present = np.asarray([v for v in train[name] if v is not None], dtype=np.float32).astype(np.float64)
        mean, std = processor.dense_statistics[name]
        assert mean.dtype == np.float32 and std.dtype == np.float32
        np.testing.assert_allclose(mean, present.mean(axis=0).astype(np.float32), rtol=1e-6)
        np.testing.assert_allclose(std, present.std(axis=0).astype(np.float32), rtol=1e-6)


def test_fit_streams_a_dataset_in_batches():
    datasets = pytest.importorskip("datasets")
    rng = np.random.default_rng(1)
    columns = {
        name: [None if rng.random() < 0.2 else rng.normal(-1.0, 5.0, dim).tolist() for _ in range(101)]
        for name, dim in DENSE_DIMS.items()
    }
    columns["label"] = list(range(101))
    dataset = datasets.Dataset.from_dict(columns)
    whole = dense_processor().fit({name: columns[name] for name in DENSE_DIMS})
    streamed = dense_processor().fit(dataset, batch_size=7)
    for name in DENSE_DIMS:
        for a, b in zip(whole.dense_statistics[name], streamed.dense_statistics[name]):
            np.testing.assert_allclose(a, b, rtol=1e-6)
    with pytest.raises(ValueError, match=r"no column for dense modalities \['a'\]"):
        dense_processor().fit(dataset.remove_columns("a"))
    with pytest.raises(ValueError, match="not a DatasetDict"):
        dense_processor().fit(datasets.DatasetDict({"train": dataset}))


def test_fit_constant_features_are_centred_not_scaled():
    processor = dense_processor().fit({"a": [[2.0], [2.0], None], "b": [[1.0, 5.0, 0.0]] * 3, "c": [[0.0, 1.0]] * 3})
    mean, std = processor.dense_statistics["b"]
    assert mean.tolist() == [1.0, 5.0, 0.0] and std.tolist() == [1.0, 1.0, 1.0]
    out = processor({"b": [[3.0, 4.0, 0.5]]})["modality_inputs"]["b"]
    assert out.tolist() == [[2.0, -1.0, 0.5]]
    no_floor = dense_processor(min_std=0.0).fit({"a": [[2.0]] * 2, "b": [[1.0, 5.0, 0.0]] * 2, "c": [[0.0, 1.0]] * 2})
    assert no_floor.dense_statistics["a"][1].tolist() == [1.0]


def test_fit_errors():
    with pytest.raises(ValueError, match="'a' has no present row"):
        dense_processor().fit({"a": [None, None], "b": [[0.0] * 3] * 2, "c": [[0.0] * 2] * 2})
    with pytest.raises(TypeError, match="must be a datasets.Dataset"):
        dense_processor().fit([[1.0]])
    with pytest.raises(ValueError, match="NaN or infinite"):
        dense_processor().fit({"a": [[float("nan")]], "b": [[0.0] * 3], "c": [[0.0] * 2]})


def test_statistics_come_from_the_training_split_only():
    rng = np.random.default_rng(2)

    def split(n, shift):
        return {name: [(rng.normal(shift, 1.0, dim)).tolist() for _ in range(n)] for name, dim in DENSE_DIMS.items()}

    train, test = split(40, 0.0), split(20, 10.0)
    processor = dense_processor().fit(train)
    before = {n: tuple(a.copy() for a in stats) for n, stats in processor.dense_statistics.items()}
    out = processor(test)
    for name in DENSE_DIMS:  # processing held-out data changes nothing
        assert all(np.array_equal(a, b) for a, b in zip(before[name], processor.dense_statistics[name]))
        mean, std = before[name]
        expected = (np.asarray(test[name], dtype=np.float32) - mean) / std
        assert np.array_equal(out["modality_inputs"][name].numpy(), expected)
    leaky = dense_processor().fit({name: train[name] + test[name] for name in DENSE_DIMS})
    assert not np.allclose(leaky.dense_statistics["b"][0], before["b"][0])
    assert not torch.equal(leaky(test)["modality_inputs"]["b"], out["modality_inputs"]["b"])


@settings(max_examples=25, **PROPERTY_SETTINGS)
@given(
    values=st.lists(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=3, max_size=3), min_size=2, max_size=30)
)
def test_property_statistics_reload_bit_identical(tmp_path_factory, values):
    processor = dense_processor().fit({"a": [[v[0]] for v in values], "b": values, "c": [v[:2] for v in values]})
    folder = tmp_path_factory.mktemp("stats")
    processor.save_pretrained(folder)
    reloaded = CLDMDFProcessor.from_pretrained(folder)
    for name in DENSE_DIMS:
        for a, b in zip(processor.dense_statistics[name], reloaded.dense_statistics[name]):
            assert a.dtype == b.dtype == np.float32
            assert np.array_equal(a.view(np.uint32), b.view(np.uint32))  # bitwise


# ---------------------------------------------------------------------------------------------------------------------
# Text and image modalities


def test_text_rows_match_the_tokenizer_and_missing_rows_are_padding():
    processor = multimodal_processor(max_length=6)
    columns = multimodal_columns()
    text = processor(columns)["modality_inputs"]["review"]
    present = [0, 2, 3]
    direct = tiny_tokenizer()(
        [columns["review"][i] for i in present], padding="longest", truncation=True, max_length=6, return_tensors="pt"
    )
    assert text["input_ids"].dtype == torch.long and text["attention_mask"].dtype == torch.long
    assert text["input_ids"].shape == (4, 6)  # the longest entry is truncated to max_length
    assert torch.equal(text["input_ids"][present], direct["input_ids"])
    assert torch.equal(text["attention_mask"][present], direct["attention_mask"])
    assert text["input_ids"][1].tolist() == [0] * 6 and text["attention_mask"][1].tolist() == [0] * 6


def test_text_padding_modes_and_all_missing_column():
    processor = multimodal_processor(max_length=5, padding="max_length")
    batch = processor({"review": [None, "foo"], "tab": [[1.0, 2.0, 3.0], None]})
    assert batch["modality_inputs"]["review"]["input_ids"].tolist() == [[0] * 5, [2, 7, 3, 0, 0]]
    longest = multimodal_processor()
    batch = longest({"tab": [[1.0, 2.0, 3.0]]})
    assert batch["modality_inputs"]["review"]["input_ids"].tolist() == [[0]]
    assert batch["modality_inputs"]["review"]["attention_mask"].tolist() == [[0]]
    assert batch["modality_mask"].tolist() == [[False, False, True]]  # photo, review, tab
    with pytest.raises(TypeError, match=r"Text modality 'review' expects a string .* rows \[1\] have int"):
        longest({"review": ["foo", 3]})


def test_image_rows_match_the_image_processor_and_missing_rows_are_zero():
    processor = multimodal_processor()
    columns = multimodal_columns()
    pixels = processor(columns)["modality_inputs"]["photo"]
    direct = tiny_image_processor()(images=[columns["photo"][1], columns["photo"][2]], return_tensors="pt")
    assert pixels.dtype == torch.float32 and pixels.shape == (4, 3, 8, 8)
    assert torch.equal(pixels[[1, 2]], direct["pixel_values"])
    assert (pixels[[0, 3]] == 0).all()
    # All-missing image column: the shape still comes from the image processor.
    fresh = multimodal_processor()
    assert fresh({"tab": [[0.0, 0.0, 0.0]]})["modality_inputs"]["photo"].shape == (1, 3, 8, 8)


def test_image_inputs_grayscale_bytes_and_arrays():
    processor = multimodal_processor()
    image = random_image(3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    gray = random_image(4, mode="L")
    batch = processor({"photo": [image, {"bytes": buffer.getvalue(), "path": None}, np.asarray(image), gray]})
    pixels = batch["modality_inputs"]["photo"]
    assert torch.equal(pixels[0], pixels[1]) and torch.equal(pixels[0], pixels[2])
    assert torch.equal(pixels[3], processor({"photo": [gray.convert("RGB")]})["modality_inputs"]["photo"][0])
    with pytest.raises(TypeError, match="Image modality 'photo', row 0: expected a PIL image"):
        processor({"photo": ["image.png"]})


def test_batch_feature_to_moves_nested_tensors():
    batch = multimodal_processor()(multimodal_columns())
    moved = batch.to(torch.float64)
    assert moved["modality_inputs"]["tab"].dtype == torch.float64
    assert moved["modality_inputs"]["photo"].dtype == torch.float64
    assert moved["modality_inputs"]["review"]["input_ids"].dtype == torch.long
    assert moved["modality_mask"].dtype == torch.bool
    assert batch.to("cpu")["modality_inputs"]["review"]["input_ids"].device.type == "cpu"


def test_multimodal_batch_runs_through_the_model():
    """The processor's output is what `model(**batch)` takes (a dense + text model, tiny backbone)."""
    from modeling_cldmdf import CLDMDFForSequenceClassification

    bert = {
        "model_type": "bert",
        "vocab_size": 13,
        "hidden_size": 8,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 16,
        "max_position_embeddings": 16,
    }
    config = CLDMDFConfig(
        modalities={"tab": {"type": "dense", "dim": 3}, "review": {"type": "text", "backbone": bert}},
        hidden_size=16,
        num_attention_heads=2,
        num_labels=2,
    )
    processor = CLDMDFProcessor.from_config(config, sub_processors={"review": tiny_tokenizer()}, max_length=8).fit(
        {"tab": multimodal_columns()["tab"]}
    )
    columns = multimodal_columns()
    batch = processor({"tab": columns["tab"], "review": columns["review"][:1] + ["fusion"] + columns["review"][2:]})
    output = CLDMDFForSequenceClassification(config).eval()(**batch, labels=torch.tensor([0, 1, 1, 0]))
    assert output.logits.shape == (4, 2) and torch.isfinite(output.loss)


# ---------------------------------------------------------------------------------------------------------------------
# Save -> load


def test_save_layout_and_auto_processor_round_trip(tmp_path, registered):
    processor = multimodal_processor(max_length=7)
    processor.fit({"tab": [[1.0, 2.0, 3.0], [2.0, 0.0, 3.0], None]})
    processor.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == [
        "columns_cldmdf.py",  # remote code: the siblings processing_cldmdf.py imports, and what they import
        "configuration_cldmdf.py",
        "feature_extraction_cldmdf.py",  # the dense modalities' standardisation
        "image_processing_cldmdf.py",  # the CNN image modality's resize and spec checks (no torch)
        "photo_image_processor",
        "processing_cldmdf.py",
        "processor_config.json",
        "review_tokenizer",
        "sub_processors_cldmdf.py",  # the tokenizers / image processors of the text and image modalities
        "vocabulary_cldmdf.py",  # the vocabulary of bag-of-words text modalities (which need no tokenizer)
    ]
    saved = json.loads((tmp_path / "processor_config.json").read_text())
    assert saved["auto_map"] == {"AutoProcessor": "processing_cldmdf.CLDMDFProcessor"}
    assert saved["processor_class"] == "CLDMDFProcessor"
    assert saved["max_length"] == 7
    reloaded = AutoProcessor.from_pretrained(tmp_path)
    assert type(reloaded) is CLDMDFProcessor
    assert reloaded.modalities == processor.modalities
    assert_batches_equal(processor(multimodal_columns()), reloaded(multimodal_columns()))
    # Saved arguments can be overridden at load time.
    assert CLDMDFProcessor.from_pretrained(tmp_path, max_length=3).max_length == 3
    # A model folder without a processor: the message says how to build one.
    CLDMDFConfig(modalities={"a": {"type": "dense", "dim": 2}}).save_pretrained(tmp_path / "model_only")
    expected = r"processor_config.json is missing from the folder .*model_only.*CLDMDFProcessor.from_config\(config\)"
    with pytest.raises(ValueError, match=expected):
        AutoProcessor.from_pretrained(tmp_path / "model_only")


REMOTE_PROCESS = BLOCK_LOCAL_PACKAGES + textwrap.dedent(
    """
    import numpy as np
    import torch
    from PIL import Image
    from transformers import AutoProcessor

    folder, inputs_path, outputs_path = sys.argv[1:4]
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    assert type(processor).__name__ == "CLDMDFProcessor", type(processor)
    inputs = torch.load(inputs_path, weights_only=False)
    inputs["photo"] = [None if a is None else Image.fromarray(a) for a in inputs["photo"]]
    batch = processor(inputs)
    out = {"modality_mask": batch["modality_mask"]}
    for name, value in batch["modality_inputs"].items():
        if isinstance(value, dict):
            out.update({f"{name}.{key}": tensor for key, tensor in value.items()})
        else:
            out[name] = value
    out["module"] = torch.tensor([ord(c) for c in type(processor).__module__])
    torch.save(out, outputs_path)
    """
)


def test_remote_code_round_trip_in_a_bare_process(tmp_path):
    processor = multimodal_processor(max_length=7)
    processor.fit({"tab": [[1.0, 2.0, 3.0], [2.0, 0.5, 3.0], None, [0.0, 1.0, 1.0]]})
    folder = tmp_path / "processor"
    processor.save_pretrained(folder)
    columns = multimodal_columns()
    serialisable = dict(columns, photo=[None if im is None else np.asarray(im) for im in columns["photo"]])
    torch.save(serialisable, tmp_path / "inputs.pt")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    run_bare_script(REMOTE_PROCESS, [folder, tmp_path / "inputs.pt", tmp_path / "out.pt"], tmp_path, env)
    remote = torch.load(tmp_path / "out.pt")
    module = "".join(chr(c) for c in remote.pop("module").tolist())
    assert module.startswith("transformers_modules"), module
    local = flatten(processor(columns))
    assert remote.keys() == local.keys()
    for key in local:
        assert remote[key].dtype == local[key].dtype and torch.equal(remote[key], local[key]), key


def test_push_to_hub_round_trip(request, tmp_path, registered):
    """Against the loopback Hub (`hub_server` fixture of tests/hub_fixtures.py) when the suite loads it."""
    try:
        hub_server = request.getfixturevalue("hub_server")
    except pytest.FixtureLookupError:
        pytest.skip("the hub_server fixture is not loaded (tests/conftest.py: pytest_plugins)")
    processor = multimodal_processor(max_length=7)
    processor.fit({"tab": [[1.0, 2.0, 3.0], [2.0, 0.5, 3.0]]})
    repo_id = hub_server.new_repo_id("cldmdf-processor")
    processor.push_to_hub(repo_id)
    reloaded = AutoProcessor.from_pretrained(repo_id)
    assert type(reloaded) is CLDMDFProcessor
    assert_batches_equal(processor(multimodal_columns()), reloaded(multimodal_columns()))
