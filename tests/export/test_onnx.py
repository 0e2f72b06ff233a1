"""`cldmdf-export`: the ONNX model and the `torch.export` program of a saved classifier give eager PyTorch's outputs
under ONNX Runtime, for every presence pattern, with NaN under the missing entries, at other batch sizes and text
lengths; the folder's processor prepares the inputs where torch is not installed."""

import itertools
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from cldmdf.export.onnx import OUTPUT_NAMES, export_onnx, main
from modeling_cldmdf import CLDMDFConfig, CLDMDFForPreTraining, CLDMDFForSequenceClassification
from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor

ort = pytest.importorskip("onnxruntime")

TINY = dict(hidden_size=16, num_fusion_layers=1, num_attention_heads=2, intermediate_size=16, projection_dim=8)
DIMS = {f"view_{i}": 2 + i for i in range(6)}
PATTERNS = np.array([pattern for pattern in itertools.product([False, True], repeat=6) if any(pattern)])  # (63, 6)


def save(folder, config, fit_rows):
    torch.manual_seed(0)
    model = CLDMDFForSequenceClassification(config).eval()
    processor = CLDMDFProcessor.from_config(config).fit(fit_rows)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return model, processor


def session(folder):
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: the exporter's shape-merge notes are not news
    return ort.InferenceSession(str(folder / "model.onnx"), options)


@pytest.fixture(scope="module")
def six_views(tmp_path_factory):
    """A 6-modality classifier with fitted standardisation, exported with labels (a `loss` output)."""
    folder = tmp_path_factory.mktemp("six_views")
    rng = np.random.default_rng(0)
    config = CLDMDFConfig(modalities={n: {"type": "dense", "dim": d} for n, d in DIMS.items()}, num_labels=4, **TINY)
    model, processor = save(folder / "model", config, {n: rng.normal(size=(30, d)).tolist() for n, d in DIMS.items()})
    export_onnx(str(folder / "model"), str(folder / "onnx"), with_labels=True)
    return model, processor, folder / "onnx"


def test_every_presence_pattern_gives_the_eager_outputs_and_a_finite_loss(six_views):
    model, processor, exported = six_views
    rng = np.random.default_rng(1)
    columns = {
        name: [rng.normal(size=DIMS[name]).tolist() if PATTERNS[row, j] else None for row in range(len(PATTERNS))]
        for j, name in enumerate(processor.modality_names)
    }
    feeds = processor(columns, return_tensors="np").flatten()
    for j, name in enumerate(processor.modality_names):  # what a missing entry holds must not matter: NaN
        key = f"modality_inputs.{name}"
        feeds[key] = np.where(PATTERNS[:, j, None], feeds[key], np.nan).astype(np.float32)
    labels = rng.integers(0, 4, size=len(PATTERNS))
    logits, probabilities, weights, loss = session(exported).run(None, {**feeds, "labels": labels})

    with torch.no_grad():
        expected = model(**processor(columns), labels=torch.from_numpy(labels))
    np.testing.assert_allclose(logits, expected.logits.numpy(), atol=1e-5)
    np.testing.assert_allclose(probabilities, expected.logits.softmax(-1).numpy(), atol=1e-6)
    np.testing.assert_allclose(weights, expected.modality_weights.numpy(), atol=1e-6)
    assert np.all(weights[~PATTERNS] == 0)  # a missing modality gets no weight, in every pattern
    assert np.isfinite(loss) and loss == pytest.approx(expected.loss.item(), abs=1e-5)


def test_text_image_and_dense_at_other_batch_sizes_and_text_lengths(tmp_path):
    from PIL import Image

    config = CLDMDFConfig(
        modalities={
            "note": {"type": "text", "encoder": "bag_of_words", "vocab_size": 32},
            "photo": {"type": "image", "image_size": 8, "num_channels": 1, "cnn_channels": [4, 8], "pool_size": 2},
            "tab": {"type": "dense", "dim": 3},
        },
        num_labels=3,
        **TINY,
    )
    texts = ["red engine rattles", "blue engine", "a quiet red car", "rattles", "blue car engine quiet"]
    model, processor = save(tmp_path / "model", config, {"note": texts, "tab": [[0.0, 1.0, 2.0], [1.0, 0.0, 1.0]]})
    export_onnx(str(tmp_path / "model"), str(tmp_path / "onnx"))
    onnx_session = session(tmp_path / "onnx")
    assert [output.name for output in onnx_session.get_outputs()] == list(OUTPUT_NAMES)

    def image(seed):
        return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (11, 9), dtype=np.uint8))

    for columns in (
        {"note": ["red car"], "photo": [None], "tab": [None]},  # batch 1, one text term
        {
            "note": [None, texts[4] + " " + texts[2], "engine", None, "quiet"],
            "photo": [image(0), None, image(1), image(2), None],
            "tab": [[0.5, 0.1, 2.0], None, None, [1.0, 1.0, 1.0], [3.0, 0.0, 0.0]],
        },
    ):
        logits, probabilities, weights = onnx_session.run(None, processor(columns, return_tensors="np").flatten())
        with torch.no_grad():
            expected = model(**processor(columns))
        np.testing.assert_allclose(logits, expected.logits.numpy(), atol=1e-5)
        np.testing.assert_allclose(weights, expected.modality_weights.numpy(), atol=1e-6)


def test_the_torch_export_program_gives_the_eager_outputs(six_views):
    model, processor, exported = six_views
    program = torch.export.load(str(exported / "model.pt2")).module()
    columns = {name: [[1.0] * DIMS[name], None, [0.5] * DIMS[name]] for name in processor.modality_names}
    columns["view_0"][1] = [2.0] * DIMS["view_0"]
    flat = processor(columns).flatten()
    logits, _, weights, loss = program(*flat.values(), torch.tensor([0, 1, 2]))
    with torch.no_grad():
        expected = model(**processor(columns), labels=torch.tensor([0, 1, 2]))
    torch.testing.assert_close(logits, expected.logits)
    torch.testing.assert_close(loss, expected.loss)


def test_a_folder_that_exists_or_a_model_that_is_not_a_classifier_is_refused_before_writing(six_views, tmp_path):
    _, _, exported = six_views
    before = sorted(path.name for path in exported.iterdir())
    with pytest.raises(FileExistsError, match="not empty"):
        export_onnx(str(exported.parent / "model"), str(exported))
    assert sorted(path.name for path in exported.iterdir()) == before  # nothing already there is touched

    CLDMDFForPreTraining(CLDMDFConfig(modalities={"a": {"type": "dense", "dim": 2}}, **TINY)).save_pretrained(
        tmp_path / "pretraining"
    )
    CLDMDFProcessor.from_config(CLDMDFConfig(modalities={"a": {"type": "dense", "dim": 2}})).fit(
        {"a": [[0.0, 1.0], [1.0, 0.0]]}
    ).save_pretrained(tmp_path / "pretraining")
    with pytest.raises(ValueError, match="only CL-DMDF classifiers are exported"):
        export_onnx(str(tmp_path / "pretraining"), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_the_command_writes_the_folder(tiny_saved_model, tmp_path, capsys):
    _, _, folder = tiny_saved_model
    main([str(folder), str(tmp_path / "exported")])
    assert f"onnx: {tmp_path / 'exported' / 'model.onnx'}" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "exported" / "onnx_config.json").read_text())
    assert manifest["inputs"] == ["modality_mask", "modality_inputs.a", "modality_inputs.b"]
    assert manifest["outputs"] == list(OUTPUT_NAMES)
    assert manifest["id2label"] == {"0": "low", "1": "mid", "2": "high"}


NO_TORCH_SCRIPT = textwrap.dedent(
    """
    import importlib.util, json, sys
    import numpy as np, onnxruntime
    from transformers import AutoProcessor

    assert importlib.util.find_spec("torch") is None
    folder = sys.argv[1]
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    columns = json.loads(sys.argv[2])
    batch = processor(columns, return_tensors="np")
    logits = onnxruntime.InferenceSession(folder + "/model.onnx").run(["logits"], batch.flatten())[0]
    print(json.dumps({"logits": logits.tolist(), "torch": "torch" in sys.modules}))
    """
)


@pytest.mark.slow
def test_the_folder_predicts_in_an_environment_without_torch(six_views, tmp_path):
    model, processor, with_labels = six_views
    exported = tmp_path / "exported"
    export_onnx(str(with_labels.parent / "model"), str(exported), program=False)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    packages = ["numpy", "transformers", "pillow", "safetensors", "onnxruntime"]
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *packages], check=True)

    columns = {name: [[0.3] * DIMS[name], None, [-1.0] * DIMS[name]] for name in processor.modality_names}
    columns["view_5"][1] = [0.7] * DIMS["view_5"]
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", NO_TORCH_SCRIPT, str(exported), json.dumps(columns)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["torch"] is False
    with torch.no_grad():
        expected = model(**processor(columns)).logits.numpy()
    np.testing.assert_allclose(np.array(result["logits"]), expected, atol=1e-5)
