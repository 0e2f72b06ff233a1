"""The image modality without a backbone: the CNN encoder, its processor side, its training-time augmentation, the
training script on an image + tabular folder with `--dataset_name` alone, save -> load, and remote code."""

import json
import os

import datasets
import numpy as np
import pytest
import torch
from bare_process import assert_matches_local, run_in_bare_process
from PIL import Image

import cldmdf.train_accelerate as train_accelerate
from cldmdf.evaluation.prediction import predict_dataset
from modeling_cldmdf import CLDMDFConfig, CLDMDFForSequenceClassification, CLDMDFProcessor
from modeling_cldmdf.image_encoder_cldmdf import random_shift_and_flip

IMAGE = {"type": "image", "image_size": 8, "num_channels": 1, "cnn_channels": [4, 8]}


def tiny_config(**overrides) -> CLDMDFConfig:
    spec = {**IMAGE, **overrides.pop("image", {})}
    kwargs = dict(
        modalities={"photo": spec, "tab": {"type": "dense", "dim": 3}},
        hidden_size=16,
        num_fusion_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        feature_attention_hidden_size=8,
        projection_dim=8,
        num_labels=3,
        modality_dropout=0.0,
        hidden_dropout_prob=0.0,
    )
    return CLDMDFConfig(**{**kwargs, **overrides})


def tiny_batch(config: CLDMDFConfig, seed: int = 0, batch_size: int = 6) -> dict:
    generator = torch.Generator().manual_seed(seed)
    spec = config.modalities["photo"]
    size = spec["image_size"]
    photo = torch.rand(batch_size, spec["num_channels"], size, size, generator=generator)
    mask = torch.ones(batch_size, 2, dtype=torch.bool)
    mask[1::3, 0] = False  # every third row has no image
    mask[2::3, 1] = False
    return {
        "modality_inputs": {"photo": photo, "tab": torch.randn(batch_size, 3, generator=generator)},
        "modality_mask": mask,
    }


def gray(seed: int, size=(10, 12)) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8), mode="L")


# ---------------------------------------------------------------------------------------------------------------------
# Config


def test_an_image_spec_without_backbone_is_the_cnn_with_its_defaults():
    config = CLDMDFConfig(modalities={"photo": {"type": "image"}, "tab": {"type": "dense", "dim": 2}})
    assert config.modalities["photo"] == {
        "type": "image",
        "encoder": "cnn",
        "image_size": 32,
        "num_channels": 3,
        "cnn_channels": [32, 64, 128],
        "pool_size": 4,
        "augment_shift": 4,
        "augment_flip": False,
    }


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"image_size": 2}, r"\['image_size'\]` must be an int in \[4, 1024\], got 2"),
        ({"num_channels": 2}, r"\['num_channels'\]` must be 1 \(grayscale\) or 3 \(RGB\), got 2"),
        ({"cnn_channels": []}, r"\['cnn_channels'\]` must be a non-empty list of positive ints"),
        ({"augment_shift": 8, "image_size": 8}, r"\['augment_shift'\]` must be an int in \[0, image_size=8\)"),
        ({"augment_flip": "yes"}, r"\['augment_flip'\]` must be a bool, got 'yes'"),
        ({"pooling": "cls"}, r"without a backbone \(the CNN encoder\) and has unknown keys \['pooling'\]"),
    ],
)
def test_bad_cnn_specs_name_the_key_and_what_is_allowed(spec, message):
    with pytest.raises(ValueError, match=message):
        CLDMDFConfig(modalities={"photo": {"type": "image", **spec}})


# ---------------------------------------------------------------------------------------------------------------------
# Model


def test_values_under_a_missing_image_never_change_any_output():
    torch.manual_seed(0)
    model = CLDMDFForSequenceClassification(tiny_config()).eval()
    batch = tiny_batch(model.config)
    other = {**batch, "modality_inputs": dict(batch["modality_inputs"])}
    photo = other["modality_inputs"]["photo"].clone()
    photo[~batch["modality_mask"][:, 0]] = float("nan")  # anything under a False, NaN included
    other["modality_inputs"]["photo"] = photo
    with torch.no_grad():
        expected, got = model(**batch), model(**other)
    torch.testing.assert_close(got.logits, expected.logits, rtol=0, atol=0)
    assert torch.isfinite(got.logits).all()
    # In training mode too (augmentation on), with the same random stream.
    model.train()
    torch.manual_seed(1)
    expected = model(**batch).logits
    torch.manual_seed(1)
    logits = model(**other).logits
    torch.testing.assert_close(logits, expected, rtol=0, atol=0)
    # And no gradient: a NaN under a False would make every convolution's weight gradient NaN (NaN x 0).
    logits.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.cldmdf.encoders["photo"].parameters())


def test_a_rows_token_does_not_depend_on_the_other_rows_of_its_batch():
    torch.manual_seed(0)  # training mode (no augmentation, no dropout): no batch statistics either (GroupNorm)
    model = CLDMDFForSequenceClassification(tiny_config(image={"augment_shift": 0})).train()
    encoder = model.cldmdf.encoders["photo"]
    pixels = tiny_batch(model.config)["modality_inputs"]["photo"]
    present = torch.ones(len(pixels), dtype=torch.bool)
    with torch.no_grad():
        together = encoder(pixels, present)
        alone = torch.cat([encoder(pixels[i : i + 1], present[:1]) for i in range(len(pixels))])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)


def test_the_token_tells_where_a_stroke_is():
    """The same stroke in two places gives two tokens: the last feature map is pooled to a grid, not to one value per
    channel (global average pooling of this translation-equivariant network gives the same token for both)."""
    spec = {"type": "image", "image_size": 64, "num_channels": 1, "augment_shift": 0}
    encoder = CLDMDFForSequenceClassification(CLDMDFConfig(modalities={"photo": spec})).eval().cldmdf.encoders["photo"]
    pixels = torch.zeros(2, 1, 64, 64)
    # A blob, and the same blob 16 pixels right and down, both far from the borders (whose padding breaks
    # translation equivariance) and moved by a multiple of the two max-pools' stride.
    pixels[0, 0, 20:24, 20:24] = 1.0
    pixels[1, 0, 36:40, 36:40] = 1.0
    with torch.no_grad():
        tokens = encoder(pixels, torch.ones(2, dtype=torch.bool))
        pooled = encoder.features(pixels).mean(dim=(2, 3))
    torch.testing.assert_close(pooled[0], pooled[1])  # what global average pooling would see: nothing tells them apart
    assert (tokens[0] - tokens[1]).abs().max() > 1e-3


def test_gradients_reach_every_cnn_parameter():
    torch.manual_seed(0)
    model = CLDMDFForSequenceClassification(tiny_config()).train()
    batch = tiny_batch(model.config)
    model(**batch, labels=torch.tensor([0, 1, 2, 0, 1, 2])).loss.backward()
    for name, parameter in model.cldmdf.encoders["photo"].named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_augmentation_runs_in_training_mode_only():
    torch.manual_seed(0)
    model = CLDMDFForSequenceClassification(tiny_config()).eval()  # no dropout, no modality dropout
    batch = tiny_batch(model.config)
    with torch.no_grad():
        first, second = model(**batch).logits, model(**batch).logits
        torch.testing.assert_close(first, second, rtol=0, atol=0)
        model.train()
        augmented = [model(**batch).logits for _ in range(2)]
    assert not torch.equal(augmented[0], augmented[1])
    # Without augmentation, training mode is deterministic here: the difference above is the augmentation's.
    torch.manual_seed(0)
    plain = CLDMDFForSequenceClassification(tiny_config(image={"augment_shift": 0})).train()
    with torch.no_grad():
        torch.testing.assert_close(plain(**batch).logits, plain(**batch).logits, rtol=0, atol=0)


def test_a_shift_moves_each_image_by_at_most_shift_pixels_and_flips_only_when_asked():
    pixels = torch.zeros(64, 1, 9, 9)
    pixels[:, 0, 4, 4] = 1.0  # one bright pixel in the centre, background 0 (the replicated edge)
    torch.manual_seed(0)
    shifted = random_shift_and_flip(pixels, shift=2, flip=False)
    rows, cols = (shifted[:, 0] == 1.0).nonzero()[:, 1:].T
    assert torch.equal(shifted.sum(dim=(1, 2, 3)), torch.ones(64))  # moved, not lost or blurred
    assert rows.sub(4).abs().max() == 2 and cols.sub(4).abs().max() == 2  # every offset up to 2 occurs
    assert len({(r, c) for r, c in zip(rows.tolist(), cols.tolist())}) > 10
    asymmetric = torch.arange(9.0).expand(64, 1, 9, 9)  # columns 0..8 left to right
    assert torch.equal(random_shift_and_flip(asymmetric, shift=0, flip=False), asymmetric)
    flipped = random_shift_and_flip(asymmetric, shift=0, flip=True)
    mirrored = flipped[:, 0, 0, 0] == 8.0
    assert 0 < mirrored.sum() < 64 and torch.equal(flipped[mirrored], asymmetric[mirrored].flip(-1))


# ---------------------------------------------------------------------------------------------------------------------
# Processor


def test_the_processor_resizes_converts_and_scales_deterministically():
    modalities = {"photo": {"type": "image", "image_size": 8, "num_channels": 1}, "tab": {"type": "dense", "dim": 1}}
    processor = CLDMDFProcessor(modalities).fit({"tab": [[0.0], [1.0]]})
    assert processor.modalities["photo"]["encoder"] == "cnn" and processor.sub_processors == {}
    rgb = Image.fromarray(np.random.default_rng(1).integers(0, 256, (20, 16, 3), dtype=np.uint8))
    exact = gray(2, (8, 8))
    columns = {"photo": [rgb, None, exact, np.asarray(exact)], "tab": [[0.0], [1.0], None, None]}
    batch = processor(columns)
    pixels = batch["modality_inputs"]["photo"]
    assert pixels.shape == (4, 1, 8, 8) and pixels.dtype == torch.float32
    assert torch.equal(pixels[1], torch.zeros(1, 8, 8))  # missing: zeros, mask False
    assert batch["modality_mask"][:, 0].tolist() == [True, False, True, True]
    expected = np.asarray(rgb.convert("L").resize((8, 8), resample=Image.BILINEAR), dtype=np.float32) / 255
    assert torch.equal(pixels[0, 0], torch.from_numpy(expected))
    assert torch.equal(pixels[2, 0], torch.from_numpy(np.asarray(exact, dtype=np.float32) / 255))  # not resampled
    assert torch.equal(pixels[3], pixels[2])
    assert torch.equal(processor(columns)["modality_inputs"]["photo"], pixels)  # no augmentation in the processor
    only_tab = processor({"photo": [None], "tab": [[2.0]]})["modality_inputs"]["photo"]
    assert torch.equal(only_tab, torch.zeros(1, 1, 8, 8))  # no image in the batch: the shape from the spec
    rgb_processor = CLDMDFProcessor({"photo": {"type": "image", "image_size": 8}})
    as_rgb = rgb_processor({"photo": [exact]})["modality_inputs"]["photo"]
    assert as_rgb.shape == (1, 3, 8, 8) and torch.equal(as_rgb[0, 0], as_rgb[0, 2])  # grayscale -> RGB


def test_bad_image_entries_and_sub_processors_are_named():
    processor = CLDMDFProcessor({"photo": {"type": "image", "image_size": 8}})
    with pytest.raises(TypeError, match=r"Image modality 'photo', row 1: an array image must be uint8"):
        processor({"photo": [gray(0), np.zeros((8, 8), dtype=np.float32)]})
    with pytest.raises(TypeError, match=r"Image modality 'photo', row 0: expected a PIL image"):
        processor({"photo": ["picture.png"]})
    from transformers import ViTImageProcessor

    with pytest.raises(ValueError, match=r"for image modalities of the CNN encoder"):
        CLDMDFProcessor({"photo": {"type": "image", "encoder": "cnn"}}, sub_processors={"photo": ViTImageProcessor()})


def test_model_and_processor_save_load_predict_the_same(tmp_path):
    torch.manual_seed(0)
    config = tiny_config()
    model = CLDMDFForSequenceClassification(config).eval()
    processor = CLDMDFProcessor.from_config(config).fit({"tab": [[0.0, 1.0, 2.0], [1.0, 0.0, 0.0]]})
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    for remote_code in ("image_encoder_cldmdf.py", "image_processing_cldmdf.py"):  # travels with the folder
        assert (tmp_path / remote_code).exists()
    columns = {"photo": [gray(0), None, gray(1, (5, 30))], "tab": [[0.0, 1.0, 2.0], [2.0, 2.0, 2.0], None]}
    reloaded = CLDMDFForSequenceClassification.from_pretrained(tmp_path).eval()
    again = CLDMDFProcessor.from_pretrained(tmp_path)
    with torch.no_grad():
        expected = model(**processor(columns)).logits
        torch.testing.assert_close(reloaded(**again(columns)).logits, expected, rtol=0, atol=0)


def test_the_cnn_loads_as_remote_code_in_a_bare_process(tmp_path):
    torch.manual_seed(0)
    model = CLDMDFForSequenceClassification(tiny_config()).eval()
    folder = tmp_path / "checkpoint"
    model.save_pretrained(folder)
    batch = tiny_batch(model.config, seed=3)
    remote = run_in_bare_process(folder, batch, tmp_path, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert_matches_local(remote, model, batch)


# ---------------------------------------------------------------------------------------------------------------------
# The training script


def write_image_tabular_folder(folder, rows: int = 48) -> None:
    """An image + tabular parquet (a `datasets.Image()` column, some images and some tabular rows None): class 1
    images hold a bright square; the tabular column is noise."""
    rng = np.random.default_rng(0)
    labels = (np.arange(rows) % 2).astype(np.int64)
    photos, tabs = [], []
    for i, label in enumerate(labels):
        pixels = rng.integers(0, 60, (10, 12), dtype=np.uint8)
        if label:
            pixels[2:8, 3:9] = 250
        photos.append(None if i % 7 == 3 else Image.fromarray(pixels))
        tabs.append(None if i % 5 == 1 and i % 7 != 3 else rng.normal(size=2).tolist())
    features = datasets.Features(
        {"photo": datasets.Image(), "tab": datasets.List(datasets.Value("float32")), "label": datasets.Value("int64")}
    )
    dataset = datasets.Dataset.from_dict({"photo": photos, "tab": tabs, "label": labels.tolist()}, features=features)
    os.makedirs(folder, exist_ok=True)
    dataset.to_parquet(str(folder / "rows.parquet"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short run of the script on the folder with `--dataset_name` and nothing about images: no backbone flag."""
    root = tmp_path_factory.mktemp("image_run")
    write_image_tabular_folder(root / "data")
    argv = ["--dataset_name", str(root / "data" / "rows.parquet"), "--output_dir", str(root / "out")]
    argv += ["--max_train_steps", "30", "--eval_missing_rates", "0,0.3", "--do_predict", "--predict_split", "train"]
    assert train_accelerate.cli(argv) == 0
    return root


def test_an_image_column_trains_with_dataset_name_alone(trained):
    config = json.loads((trained / "out" / "config.json").read_text())
    assert config["modalities"]["photo"]["encoder"] == "cnn"
    assert config["modalities"]["photo"]["image_size"] == 12  # the largest side of the training images
    assert config["modalities"]["photo"]["num_channels"] == 1  # grayscale data
    results = json.loads((trained / "out" / "all_results.json").read_text())
    assert results["train_steps"] == 30  # no test split: evaluated on validation, no refit
    assert 0 <= results["validation_accuracy_missing_0.3"] <= 1 and "validation_accuracy_without_photo" in results


def test_the_saved_folder_predicts_what_the_trained_model_predicted(trained):
    from transformers import AutoModelForSequenceClassification, AutoProcessor

    out = trained / "out"
    model = AutoModelForSequenceClassification.from_pretrained(out).eval()
    processor = AutoProcessor.from_pretrained(out)
    rows = datasets.load_dataset("parquet", data_files=str(trained / "data" / "rows.parquet"), split="train")
    saved = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    by_id = {line["row_id"]: line for line in saved}
    split = rows.select(sorted(by_id))  # the train split's rows, by their row ids (positions in the file)
    records = predict_dataset(model, processor, split)
    for row_id, record in zip(sorted(by_id), records):
        assert record["probabilities"] == pytest.approx(by_id[row_id]["probabilities"], abs=1e-6)


def test_a_local_transformers_image_model_stays_an_option_and_its_outputs_are_cached(trained, tmp_path):
    """--image_backbone <local folder> (a tiny ViT saved with its image processor, no download), frozen and cached:
    the model uses that backbone, not the CNN."""
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    vit = tmp_path / "tiny-vit"
    config = ViTConfig(image_size=8, patch_size=4, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=8)  # fmt: skip
    ViTModel(config).save_pretrained(vit)
    ViTImageProcessor(size={"height": 8, "width": 8}).save_pretrained(vit)
    argv = ["--dataset_name", str(trained / "data" / "rows.parquet"), "--output_dir", str(tmp_path / "out")]
    argv += ["--image_backbone", str(vit), "--cache_backbone_outputs", "--max_train_steps", "4"]
    assert train_accelerate.cli([*argv, "--eval_missing_rates", "0", "--skip_modality_removal"]) == 0
    spec = json.loads((tmp_path / "out" / "config.json").read_text())["modalities"]["photo"]
    assert spec["pretrained_name"] == str(vit) and spec["freeze_backbone"] and "encoder" not in spec
    assert (tmp_path / "out" / "photo_image_processor" / "preprocessor_config.json").exists()
