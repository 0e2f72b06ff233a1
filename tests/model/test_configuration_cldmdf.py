import json

import pytest
from transformers import AutoConfig

from modeling_cldmdf import CLDMDFConfig

DENSE = {"b": {"type": "dense", "dim": 4}, "a": {"type": "dense", "dim": 2}}


def test_modalities_are_sorted_and_normalised():
    config = CLDMDFConfig(
        modalities={**DENSE, "caption": {"type": "text", "backbone": {"model_type": "bert", "hidden_size": 32}}}
    )
    assert config.modality_names == ["a", "b", "caption"]
    assert config.num_modalities == 3
    # text/image specs get their defaults filled in
    assert config.modalities["caption"]["pooling"] == "mean"
    assert config.modalities["caption"]["freeze_backbone"] is False


def test_save_load_round_trip(tmp_path):
    config = CLDMDFConfig(modalities=DENSE, hidden_size=48, num_attention_heads=6, fusion_mode="mean", num_labels=5)
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "cldmdf"
    assert saved["modalities"] == {"a": {"type": "dense", "dim": 2}, "b": {"type": "dense", "dim": 4}}
    reloaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(reloaded, CLDMDFConfig)
    without_path = lambda c: {k: v for k, v in c.to_dict().items() if k != "_name_or_path"}  # noqa: E731
    assert without_path(reloaded) == without_path(config)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"hidden_size": 0}, "hidden_size"),
        ({"hidden_size": 30, "num_attention_heads": 4}, "num_attention_heads"),
        ({"num_fusion_layers": -1}, "num_fusion_layers"),
        ({"hidden_dropout_prob": 1.0}, "hidden_dropout_prob"),
        ({"modality_dropout": -0.1}, "modality_dropout"),
        ({"contrastive_temperature": 0.0}, "contrastive_temperature"),
        ({"contrastive_weight": -1.0}, "contrastive_weight"),
        ({"fusion_mode": "concat"}, "fusion_mode"),
        ({"alone_weight": -0.5}, "alone_weight"),
        ({"problem_type": "ranking"}, "problem_type"),
        ({"modalities": {}}, "modalities"),
        ({"modalities": {"a": {"type": "audio"}}}, "type"),
        ({"modalities": {"a": {"type": "dense", "dim": 0}}}, "dim"),
        ({"modalities": {"a": {"type": "dense", "dim": 3, "size": 2}}}, "unknown keys"),
        ({"modalities": {"a": {"type": "text"}}}, "backbone"),
        ({"modalities": {"a": {"type": "text", "backbone": {"hidden_size": 8}}}}, "model_type"),
        ({"modalities": {"a": {"type": "image", "backbone": "x", "pooling": "max"}}}, "pooling"),
    ],
)
def test_invalid_values_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        CLDMDFConfig(**kwargs)


def test_error_message_says_what_is_allowed():
    with pytest.raises(ValueError) as error:
        CLDMDFConfig(fusion_mode="concat")
    assert "'adaptive'" in str(error.value) and "'concat'" in str(error.value)


def test_zero_fusion_layers_is_a_valid_ablation():
    assert CLDMDFConfig(num_fusion_layers=0).num_fusion_layers == 0


def test_unknown_modality_lookup_lists_known_names():
    with pytest.raises(ValueError, match=r"\['a', 'b'\]"):
        CLDMDFConfig(modalities=DENSE).modality_spec("c")
