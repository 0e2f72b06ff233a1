"""The reference models (early fusion, late fusion, TMC), and frozen backbones fed with cached pooled outputs."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from model_tester import CLDMDFModelTester, outputs_equal
from test_backbones import multimodal_batch, multimodal_config

from cldmdf.training.objectives import TrainingObjectives, tmc_kl_weight
from modeling_cldmdf import (
    BASELINE_MODELS,
    CLDMDFForSequenceClassification,
    EarlyFusionForSequenceClassification,
    LateFusionForSequenceClassification,
    TMCConfig,
    TMCForSequenceClassification,
)
from modeling_cldmdf.modeling_baselines import combine_opinions, dirichlet_kl_to_uniform, evidential_loss, tmc_fusion


@pytest.fixture
def tester():
    return CLDMDFModelTester()


@pytest.mark.parametrize("baseline", ["early_fusion", "late_fusion", "tmc"])
def test_baselines_ignore_values_under_a_false_mask(tester, baseline):
    torch.manual_seed(0)
    model = BASELINE_MODELS[baseline](tester.get_baseline_config(baseline)).eval()
    batch = tester.prepare_inputs()
    mask = batch["modality_mask"]
    changed = {name: values.clone() for name, values in batch["modality_inputs"].items()}
    for index, name in enumerate(model.config.modality_names):
        changed[name][~mask[:, index]] = float("nan")
    with torch.no_grad():
        assert outputs_equal(model(**batch), model(changed, mask, batch["labels"]))


def test_early_fusion_is_an_mlp_of_the_concatenated_features_and_mask(tester):
    torch.manual_seed(0)
    model = EarlyFusionForSequenceClassification(tester.get_baseline_config("early_fusion")).eval()
    assert set(model.encoders) == set()  # dense modalities are read raw
    batch = tester.prepare_inputs()
    mask = batch["modality_mask"]
    inputs = [batch["modality_inputs"][name] * mask[:, i : i + 1] for i, name in enumerate(["audio", "tab", "video"])]
    by_hand = torch.cat([*inputs, mask.float()], dim=-1)
    expected = model.classifier(model.mlp(model.norm(by_hand)))
    with torch.no_grad():
        out = model(**batch)
        torch.testing.assert_close(out.logits, expected)
    assert torch.equal(out.modality_weights, mask.float() / mask.sum(1, keepdim=True))


def test_late_fusion_averages_the_unimodal_heads_over_present_modalities(tester):
    torch.manual_seed(0)
    model = LateFusionForSequenceClassification(tester.get_baseline_config("late_fusion")).eval()
    batch = tester.prepare_inputs()
    with torch.no_grad():
        out = model(**batch)
    mask = batch["modality_mask"]
    expected = torch.stack(
        [out.unimodal_logits[b][mask[b]].mean(0) for b in range(tester.batch_size)]
    )  # plain loop over rows
    torch.testing.assert_close(out.logits, expected)
    torch.testing.assert_close(out.loss, F.cross_entropy(expected, batch["labels"]))


# ---- TMC (trusted multi-view classification) ---------------------------------------------------------------------


def hand_combination(first, second):
    """TMC's two-opinion rule as the paper writes it, with the conflict C spelled out (Python floats)."""
    (b1, u1), (b2, u2) = first, second
    conflict = sum(b1[i] * b2[j] for i in range(len(b1)) for j in range(len(b2)) if i != j)
    belief = [(b1[k] * b2[k] + b1[k] * u2 + b2[k] * u1) / (1 - conflict) for k in range(len(b1))]
    return belief, u1 * u2 / (1 - conflict)


def opinion(evidence):
    strength = sum(evidence) + len(evidence)
    return [e / strength for e in evidence], len(evidence) / strength


def test_two_opinions_combine_as_the_paper_writes_by_hand():
    evidence = [[4.0, 1.0, 0.0], [0.5, 3.0, 2.0]]
    opinions = [opinion(e) for e in evidence]
    belief = torch.tensor([[o[0] for o in opinions]])  # (1, 2, 3)
    uncertainty = torch.tensor([[o[1] for o in opinions]])
    combined_belief, combined_uncertainty = combine_opinions(belief, uncertainty)
    expected_belief, expected_uncertainty = hand_combination(*opinions)
    torch.testing.assert_close(combined_belief[0], torch.tensor(expected_belief))
    torch.testing.assert_close(combined_uncertainty[0], torch.tensor(expected_uncertainty))
    assert combined_belief.sum() + combined_uncertainty == pytest.approx(1.0)


def test_the_combination_ignores_order_and_missing_modalities_are_its_identity():
    torch.manual_seed(0)
    heads = torch.randn(5, 4, 3) * 3
    mask = torch.tensor([[1, 1, 1, 1], [1, 0, 1, 0], [0, 0, 1, 0], [1, 1, 0, 1], [0, 1, 1, 1]], dtype=torch.bool)
    view_alphas, alphas, uncertainty = tmc_fusion(heads, mask)
    assert torch.equal(view_alphas[~mask], torch.ones(int((~mask).sum()), 3))  # no evidence where missing
    for order in itertools.permutations(range(4)):
        _, permuted, _ = tmc_fusion(heads[:, order], mask[:, order])
        torch.testing.assert_close(permuted, alphas)
    # A row with one present modality gets exactly its Dirichlet; dropping the missing ones changes nothing.
    torch.testing.assert_close(alphas[2], view_alphas[2, 2])
    _, present_only, _ = tmc_fusion(heads[1:2, [0, 2]], mask[1:2, [0, 2]])
    torch.testing.assert_close(alphas[1:2], present_only)
    torch.testing.assert_close(uncertainty, 3 / alphas.sum(-1))
    # Nested: combining the first three, then the fourth, is the four-way combination (associativity).
    three = tmc_fusion(heads[:1, :3], mask[:1, :3])[1]
    strength = three.sum(-1, keepdim=True)
    belief = torch.cat([(three - 1) / strength, (view_alphas[:1, 3] - 1) / view_alphas[:1, 3].sum(-1)], 0)
    uncertainties = torch.cat([3 / strength[:, 0], 3 / view_alphas[:1, 3].sum(-1)])
    nested_belief, nested_uncertainty = combine_opinions(belief.unsqueeze(0), uncertainties.unsqueeze(0))
    torch.testing.assert_close(nested_belief[0] * 3 / nested_uncertainty + 1, alphas[0])


def test_evidential_loss_is_the_expected_cross_entropy_and_the_kl_of_the_misleading_evidence():
    alphas = torch.tensor([[3.0, 1.5, 2.0], [1.0, 1.0, 7.0]], dtype=torch.float64)
    labels = torch.tensor([0, 2])
    # Expected cross-entropy E_{p ~ Dir(alpha)}[-log p_y], by sampling.
    torch.manual_seed(0)
    samples = torch.distributions.Dirichlet(alphas).sample((400_000,))  # (N, 2, 3)
    sampled = -samples.gather(-1, labels.view(1, 2, 1).expand(len(samples), 2, 1)).log().mean(0).squeeze(-1)
    expected_ce, kl_term = evidential_loss(alphas, labels)
    torch.testing.assert_close(expected_ce, sampled, atol=5e-3, rtol=0)
    # KL of the parameters without the true class's evidence against the uniform Dirichlet (torch's own KL).
    removed = torch.tensor([[1.0, 1.5, 2.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    uniform = torch.distributions.Dirichlet(torch.ones(3, dtype=torch.float64))
    kl = torch.distributions.kl_divergence(torch.distributions.Dirichlet(removed), uniform)
    torch.testing.assert_close(dirichlet_kl_to_uniform(removed), kl)
    torch.testing.assert_close(kl_term, kl)
    assert abs(kl_term[1].item()) < 1e-12  # all of row 1's evidence is on its true class: nothing misleading


def test_kl_annealing_schedule():
    assert [tmc_kl_weight(epoch, 4) for epoch in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert tmc_kl_weight(0, 0) == 1.0


def test_tmc_model_outputs_and_loss_by_hand(tester):
    torch.manual_seed(0)
    model = TMCForSequenceClassification(tester.get_baseline_config("tmc")).eval()
    batch = tester.prepare_inputs()
    mask, labels = batch["modality_mask"], batch["labels"]
    with torch.no_grad():
        out = model(**batch)
        tokens = model.encode(batch["modality_inputs"], mask)
        heads = torch.stack([model.heads[n](tokens[:, i]) for i, n in enumerate(["audio", "tab", "video"])], 1)
    weight = 0.3  # TMC's annealed KL weight, as the training objective applies it

    def loss_of(alpha, b):
        expected_ce, kl = evidential_loss(alpha.unsqueeze(0), labels[b : b + 1])
        return (expected_ce + weight * kl).item()

    total = 0.0
    views = [[] for _ in range(3)]
    for b in range(tester.batch_size):  # row by row: combine the present modalities' opinions in turn
        present = [opinion(F.softplus(heads[b, m]).tolist()) for m in range(3) if mask[b, m]]
        belief, uncertainty = present[0]
        for other in present[1:]:
            belief, uncertainty = hand_combination((belief, uncertainty), other)
        strength = 3 / uncertainty
        alpha = torch.tensor([x * strength + 1 for x in belief])
        torch.testing.assert_close(out.logits[b].exp(), alpha / alpha.sum())
        assert out.uncertainty[b].item() == pytest.approx(uncertainty, rel=1e-5)
        total += loss_of(alpha, b) / tester.batch_size
        for m in range(3):
            if mask[b, m]:
                view_alpha = F.softplus(heads[b, m]) + 1
                views[m].append(loss_of(view_alpha, b))
                torch.testing.assert_close(out.unimodal_logits[b, m].exp(), view_alpha / view_alpha.sum())
    total += sum(sum(v) / len(v) for v in views if v)
    assert (out.evidential_loss + weight * out.kl_loss).item() == pytest.approx(total, rel=1e-5)
    assert out.loss.item() == pytest.approx((out.evidential_loss + out.kl_loss).item())  # the KL at full weight
    # The annealing objective weighs the KL term by epoch: 0.3 is its weight in epoch 2 of 10 (0-based).
    annealed, _ = TrainingObjectives.build(model, tmc_annealing_epochs=10).loss(model, batch, out, epoch=2)
    assert annealed.item() == pytest.approx(total, rel=1e-5)


def test_tmc_refuses_what_it_cannot_do(tester):
    model = TMCForSequenceClassification(tester.get_baseline_config("tmc"))
    for objectives in ({"tuple_weight": 0.1}, {"cal": True}):
        with pytest.raises(ValueError, match="TupleInfoNCE and CAL work on CL-DMDF's modality tokens"):
            TrainingObjectives.build(model, **objectives)
    with pytest.raises(ValueError, match="single-label classification with at least 2 labels"):
        tester.get_baseline_config("tmc", num_labels=1)
    with pytest.raises(ValueError, match="single-label classification with at least 2 labels"):
        tester.get_baseline_config("tmc", problem_type="multi_label_classification")
    batch = tester.prepare_inputs()
    with pytest.raises(ValueError, match="takes single-label class ids"):
        model(batch["modality_inputs"], batch["modality_mask"], torch.ones(tester.batch_size, 3))
    assert TMCConfig.model_type == "cldmdf_tmc"


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
        allow_unfitted=True,
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
