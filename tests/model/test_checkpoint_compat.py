"""Checkpoints saved by earlier releases load and predict identically.

`tests/fixtures/checkpoints_b4ea2b6/` holds two tiny checkpoints (CL-DMDF and the early-fusion baseline) saved by the
code of commit b4ea2b6, with fixed inputs and the logits that code computed. Their configs predate
`dense_input_norm`: they must come back with the input LayerNorm they were trained with.
"""

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from modeling_cldmdf import CLDMDFConfig, CLDMDFForSequenceClassification

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints_b4ea2b6"


@pytest.mark.parametrize("name", ["cldmdf", "early_fusion"])
def test_a_checkpoint_of_an_earlier_release_predicts_the_logits_it_was_saved_with(name):
    expected = json.loads((FIXTURES / "expected.json").read_text())
    model = AutoModelForSequenceClassification.from_pretrained(FIXTURES / name)
    assert model.config.dense_input_norm is True
    inputs = {key: torch.tensor(value) for key, value in expected["inputs"].items()}
    mask = torch.tensor(expected["modality_mask"])
    with torch.no_grad():
        logits = model.eval()(inputs, modality_mask=mask).logits
    torch.testing.assert_close(logits, torch.tensor(expected["logits"][name]), rtol=0, atol=1e-6)


REDESIGN = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints_5b800df"


@pytest.mark.parametrize(
    "name, model_class",
    [
        ("cldmdf", "CLDMDFForSequenceClassification"),
        ("cldmdf_cal_tuple", "CLDMDFForSequenceClassification"),
        ("early_fusion", "EarlyFusionForSequenceClassification"),
        ("late_fusion", "LateFusionForSequenceClassification"),
        ("tmc", "TMCForSequenceClassification"),
    ],
)
def test_a_checkpoint_of_the_release_before_the_redesign_predicts_the_logits_it_was_saved_with(name, model_class):
    """Saved by commit 5b800df (`make_fixtures.py` in the fixture folder): CL-DMDF, CL-DMDF trained with CAL and
    TupleInfoNCE (its bottlenecks and unimodal heads are the model's; TupleInfoNCE's projection is dropped), and the
    three baselines, which were branches of `CLDMDFForSequenceClassification` and load as their own classes now."""
    expected = json.loads((REDESIGN / "expected.json").read_text())
    model = AutoModelForSequenceClassification.from_pretrained(REDESIGN / name).eval()
    assert type(model).__name__ == model_class
    assert not [key for key in model.config.to_dict() if key.startswith(("tuple_", "cal", "aib_", "tmc_"))]
    inputs = {key: torch.tensor(value) for key, value in expected["inputs"].items()}
    with torch.no_grad():
        logits = model(inputs, modality_mask=torch.tensor(expected["modality_mask"])).logits
    torch.testing.assert_close(logits, torch.tensor(expected["logits"][name]), rtol=0, atol=1e-6)


def test_dense_input_norm_is_written_and_read_back(tmp_path):
    config = CLDMDFConfig(modalities={"a": {"type": "dense", "dim": 4}}, hidden_size=16, num_attention_heads=2)
    assert config.dense_input_norm is False
    model = CLDMDFForSequenceClassification(config)
    assert not [key for key in model.state_dict() if "encoders.a.norm" in key]
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["dense_input_norm"] is False
    assert CLDMDFConfig.from_pretrained(tmp_path).dense_input_norm is False
    with_norm = CLDMDFConfig(modalities={"a": {"type": "dense", "dim": 4}}, dense_input_norm=True)
    assert CLDMDFConfig.from_dict(with_norm.to_dict()).dense_input_norm is True
    assert "cldmdf.encoders.a.norm.weight" in CLDMDFForSequenceClassification(with_norm).state_dict()


def test_the_dense_encoder_without_input_norm_keeps_a_row_level_shift():
    """What the LayerNorm removed: two rows that differ by a constant shift of every feature."""
    rows = torch.tensor([[0.1, -0.2, 0.3], [2.1, 1.8, 2.3]])  # the second row is the first + 2
    for norm, equal in ((True, True), (False, False)):
        config = CLDMDFConfig(modalities={"a": {"type": "dense", "dim": 3}}, hidden_size=16, dense_input_norm=norm)
        encoder = CLDMDFForSequenceClassification(config).eval().cldmdf.encoders["a"]
        with torch.no_grad():
            out = encoder(rows, torch.ones(2, dtype=torch.bool))
        assert torch.allclose(out[0], out[1], atol=1e-4) is equal
