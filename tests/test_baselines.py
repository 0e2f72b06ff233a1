"""Baselines behind `config.baseline`, and frozen backbones fed with cached pooled outputs."""

import pytest
import torch
import torch.nn.functional as F
from model_tester import CLDMDFModelTester, outputs_equal
from test_backbones import multimodal_batch, multimodal_config

from modeling_cldmdf import CLDMDFForSequenceClassification


@pytest.fixture
def tester():
    return CLDMDFModelTester()


@pytest.mark.parametrize("baseline", ["early_fusion", "late_fusion"])
def test_baselines_ignore_values_under_a_false_mask(tester, baseline):
    torch.manual_seed(0)
    model = CLDMDFForSequenceClassification(tester.get_config(baseline=baseline)).eval()
    batch = tester.prepare_inputs()
    mask = batch["modality_mask"]
    changed = {name: values.clone() for name, values in batch["modality_inputs"].items()}
    for index, name in enumerate(model.config.modality_names):
        changed[name][~mask[:, index]] = float("nan")
    with torch.no_grad():
        assert outputs_equal(model(**batch), model(changed, mask, batch["labels"]))


def test_early_fusion_is_an_mlp_of_the_concatenated_features_and_mask(tester):
    torch.manual_seed(0)
    model = CLDMDFForSequenceClassification(tester.get_config(baseline="early_fusion")).eval()
    assert len(model.cldmdf.layers) == 0 and model.cldmdf.fusion is None
    assert set(model.cldmdf.encoders) == set()  # dense modalities are read raw
    batch = tester.prepare_inputs()
    mask = batch["modality_mask"]
    inputs = [batch["modality_inputs"][name] * mask[:, i : i + 1] for i, name in enumerate(["audio", "tab", "video"])]
    by_hand = torch.cat([*inputs, mask.float()], dim=-1)
    fusion = model.cldmdf.early_fusion
    expected = model.classifier(fusion.mlp(fusion.norm(by_hand)))
    with torch.no_grad():
        out = model(**batch)
        torch.testing.assert_close(out.logits, expected)
    assert torch.equal(out.modality_weights, mask.float() / mask.sum(1, keepdim=True))


def test_late_fusion_averages_the_unimodal_heads_over_present_modalities(tester):
    torch.manual_seed(0)
    model = CLDMDFForSequenceClassification(tester.get_config(baseline="late_fusion", contrastive_weight=0.0)).eval()
    batch = tester.prepare_inputs()
    with torch.no_grad():
        out = model(**batch)
    mask = batch["modality_mask"]
    expected = torch.stack(
        [out.unimodal_logits[b][mask[b]].mean(0) for b in range(tester.batch_size)]
    )  # plain loop over rows
    torch.testing.assert_close(out.logits, expected)
    torch.testing.assert_close(out.loss, F.cross_entropy(expected, batch["labels"]))


def test_cached_pooled_outputs_give_the_same_logits_as_the_frozen_backbone():
    config = multimodal_config()
    for name in ("caption", "photo"):
        config.modalities[name]["freeze_backbone"] = True
    torch.manual_seed(0)
    model = CLDMDFForSequenceClassification(config).train()  # frozen backbones stay in eval mode even now
    assert not model.cldmdf.encoders["caption"].backbone.training
    model.eval()
    batch = multimodal_batch()
    mask = batch["modality_mask"]
    cached = dict(batch["modality_inputs"])
    with torch.no_grad():
        for index, name in ((0, "caption"), (1, "photo")):
            encoder = model.cldmdf.encoders[name]
            pooled = encoder.backbone_output(batch["modality_inputs"][name], mask[:, index])
            cached[name] = {"pooled_output": pooled}
        assert outputs_equal(model(**batch), model(cached, mask, batch["labels"]))


def test_processor_passes_precomputed_vectors_through():
    from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor

    processor = CLDMDFProcessor(
        {"note": {"type": "text", "backbone": "unused"}, "x": {"type": "dense", "dim": 2}},
        sub_processors={"note": _tiny_tokenizer()},
    )
    batch = processor({"note": [[0.5, -1.0, 2.0], None], "x": [[1.0, 2.0], [3.0, 4.0]]})
    pooled = batch["modality_inputs"]["note"]["pooled_output"]
    assert torch.equal(pooled, torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]]))
    assert batch["modality_mask"].tolist() == [[True, True], [False, True]]
    with pytest.raises(TypeError, match="mixes precomputed pooled outputs"):
        processor({"note": [[0.5, -1.0, 2.0], "raw text"]})


def _tiny_tokenizer():
    from transformers import BertTokenizer

    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "raw", "text"])}
    return BertTokenizer(vocab=vocab)
