"""The companion methods (docs/methods.md sections 2 and 3) as training objectives, against values computed by hand:
TupleInfoNCE (training/tuple_infonce.py), CAL (training/cal.py) and their composition (training/objectives.py)."""

import itertools
import json
import math

import pytest
import torch
import torch.nn.functional as F
from model_tester import CLDMDFModelTester

from cldmdf.training.cal import (
    CAL,
    bottleneck_betas,
    cal_contributions,
    gradient_scales,
    leave_one_out_values,
    scale_gradient,
    shapley_values,
    statistics_subsets,
    subset_statistics,
)
from cldmdf.training.objectives import TrainingObjectives
from cldmdf.training.tuple_infonce import (
    TupleInfoNCE,
    auto_tuple_alphas,
    derangement,
    disturbance_ratios,
    swap_modality,
    tuple_infonce_loss,
)
from modeling_cldmdf import CLDMDFForPreTraining, CLDMDFForSequenceClassification, EarlyFusionForSequenceClassification
from modeling_cldmdf.modeling_cldmdf import CLDMDFTokenBottleneck

TESTER = CLDMDFModelTester()


def hand_tuple_infonce(u1, u2, tau, disturbed=()):
    """Row-by-row Python loops over the docs/methods.md formula (no vectorisation shared with the implementation)."""
    u1 = [row / row.norm() for row in u1]
    u2 = [row / row.norm() for row in u2]
    batch_size = len(u1)
    losses = []
    for b in range(batch_size):
        positive = math.exp(float(u1[b] @ u2[b]) / tau)
        denominator = positive + sum(math.exp(float(u1[b] @ u2[c]) / tau) for c in range(batch_size) if c != b)
        for d, swapped, ratio in disturbed:
            if swapped[b]:
                denominator += ratio * (batch_size - 1) * math.exp(float(u1[b] @ (d[b] / d[b].norm())) / tau)
        losses.append(-math.log(positive / denominator))
    return sum(losses) / batch_size


def cal_model(seed: int = 0, **overrides) -> CLDMDFForSequenceClassification:
    """A classifier with what CAL needs: unimodal heads (confidence) and the token bottleneck."""
    torch.manual_seed(seed)
    config = TESTER.get_config(**{"use_auxiliary_heads": True, "token_bottleneck": True, **overrides})
    return CLDMDFForSequenceClassification(config)


# ---- TupleInfoNCE ------------------------------------------------------------------------------------------------


def test_zero_ratios_give_plain_tuple_infonce_by_hand():
    generator = torch.Generator().manual_seed(0)
    u1, u2, d = (torch.randn(4, 6, generator=generator, dtype=torch.float64) for _ in range(3))
    expected = hand_tuple_infonce(u1, u2, 0.2)
    plain = tuple_infonce_loss(u1, u2, 0.2)
    with_zero_ratio = tuple_infonce_loss(u1, u2, 0.2, [(d, torch.ones(4, dtype=torch.bool), 0.0)])
    assert plain.item() == pytest.approx(expected, rel=1e-6)
    assert with_zero_ratio.item() == plain.item()


def test_disturbed_terms_match_the_formula_by_hand():
    generator = torch.Generator().manual_seed(1)
    u1, u2, d1, d2 = (torch.randn(5, 8, generator=generator, dtype=torch.float64) for _ in range(4))
    swapped1 = torch.tensor([True, False, True, True, False])
    swapped2 = torch.tensor([False, True, True, False, False])
    ratios = disturbance_ratios([0.2, 0.1, 0.0])
    disturbed = [(d1, swapped1, ratios[0]), (d2, swapped2, ratios[1])]
    expected = hand_tuple_infonce(u1, u2, 0.1, disturbed)
    assert tuple_infonce_loss(u1, u2, 0.1, disturbed).item() == pytest.approx(expected, rel=1e-6)
    # The ratio as a 0-dim tensor (how TupleInfoNCE passes its buffer) gives the same loss.
    as_tensors = [(d, s, torch.tensor(r, dtype=torch.float64)) for d, s, r in disturbed]
    assert tuple_infonce_loss(u1, u2, 0.1, as_tensors).item() == pytest.approx(expected, rel=1e-6)


def test_a_disturbed_copy_of_the_positive_raises_the_loss_by_the_stated_amount():
    generator = torch.Generator().manual_seed(2)
    u1, u2 = (torch.randn(4, 6, generator=generator, dtype=torch.float64) for _ in range(2))
    tau, batch_size = 0.1, 4
    ratio = disturbance_ratios([0.3])[0]
    every_row = torch.ones(batch_size, dtype=torch.bool)
    plain = tuple_infonce_loss(u1, u2, tau)
    disturbed = tuple_infonce_loss(u1, u2, tau, [(u2.clone(), every_row, ratio)])
    n1, n2 = F.normalize(u1, dim=-1), F.normalize(u2, dim=-1)
    e = torch.exp(n1 @ n2.t() / tau)
    positive, denominator = e.diagonal(), e.sum(dim=1)
    increase = torch.log1p(ratio * (batch_size - 1) * positive / denominator).mean()
    assert (disturbed - plain).item() == pytest.approx(increase.item(), rel=1e-9)


def test_rows_missing_the_modality_add_no_disturbed_term():
    tokens = torch.arange(4 * 3 * 2, dtype=torch.float32).view(4, 3, 2)
    mask = torch.tensor([[True, True, False], [True, False, True], [True, True, True], [False, True, True]])
    permutation = torch.tensor([1, 2, 3, 0])
    disturbed, swapped = swap_modality(tokens, mask, 1, permutation)
    # Modality 1 is present in rows 0, 2, 3; a row is swapped only when it and its partner both have it
    # (row 0's partner, row 1, lacks it).
    assert swapped.tolist() == [False, False, True, True]
    assert torch.equal(disturbed[2, 1], tokens[3, 1]) and torch.equal(disturbed[3, 1], tokens[0, 1])
    untouched = [0, 1]
    assert torch.equal(disturbed[untouched], tokens[untouched])
    assert torch.equal(disturbed[:, [0, 2]], tokens[:, [0, 2]])
    u1, u2, d = torch.randn(3, 4, 5).unbind(0)
    nothing = torch.zeros(4, dtype=torch.bool)
    assert tuple_infonce_loss(u1, u2, 0.1, [(d, nothing, 5.0)]) == tuple_infonce_loss(u1, u2, 0.1)


@pytest.mark.parametrize("size", [2, 3, 7, 64])
def test_derangement_has_no_fixed_point_and_is_seeded(size):
    for seed in range(20):
        permutation = derangement(size, torch.Generator().manual_seed(seed))
        assert sorted(permutation.tolist()) == list(range(size))
        assert (permutation != torch.arange(size)).all()
        assert torch.equal(permutation, derangement(size, torch.Generator().manual_seed(seed)))
    with pytest.raises(ValueError, match="at least 2"):
        derangement(1)


def test_ratios_and_automatic_alphas():
    assert disturbance_ratios([0.1, 0.3]) == pytest.approx([0.1 / 0.6, 0.3 / 0.6])
    with pytest.raises(ValueError, match="less than 1"):
        disturbance_ratios([0.5, 0.5])
    alphas = auto_tuple_alphas([0.9, 0.45, 0.6], total=0.5)
    assert sum(alphas) == pytest.approx(0.5)
    assert alphas[0] == 0.0 and alphas[1] > alphas[2] > 0  # the strongest gets none, the weakest most
    # By hand: weakness 1 - acc / 0.9 = (0, 0.5, 1/3), scaled to sum 0.5.
    assert alphas == pytest.approx([0.0, 0.5 * 0.5 / (5 / 6), 0.5 * (1 / 3) / (5 / 6)])
    assert auto_tuple_alphas([0.7, 0.7], total=0.4) == pytest.approx([0.2, 0.2])


def test_tuple_infonce_ratios_default_auto_and_validation():
    config = TESTER.get_config()
    default = TupleInfoNCE(config)
    assert default.alphas == pytest.approx([0.5 / 3] * 3) and not default.automatic
    automatic = TupleInfoNCE(config, alphas="auto", alpha_total=0.6)
    assert automatic.automatic and automatic.alphas == pytest.approx([0.2, 0.2, 0.2])
    torch.testing.assert_close(automatic.ratios, torch.full((3,), 0.2 / 0.4))
    fixed = TupleInfoNCE(config, alphas=[0.1, 0.0, 0.3])
    assert fixed.disturbed_modalities == (0, 2)
    torch.testing.assert_close(fixed.ratios, torch.tensor([0.1 / 0.6, 0.0, 0.3 / 0.6]))
    # What the config validated for tuple_alphas before 0.2 is validated by the objective.
    for bad in ([0.5, 0.3, 0.3], [0.1, 0.1], [0.1, -0.1, 0.1]):
        with pytest.raises(ValueError, match="3 non-negative numbers summing to less than 1"):
            TupleInfoNCE(config, alphas=bad)
        with pytest.raises(ValueError, match="3 non-negative numbers summing to less than 1"):
            default.set_alphas(bad)
    assert default.alphas == pytest.approx([0.5 / 3] * 3)  # a refused update changes nothing


def test_tuple_loss_is_finite_with_two_rows_weighted_in_the_objective_and_reaches_every_encoder():
    model = CLDMDFForSequenceClassification(TESTER.get_config()).train()
    objectives = TrainingObjectives.build(model, tuple_weight=0.5, tuple_alphas=[0.2, 0.2, 0.2])
    batch = CLDMDFModelTester(batch_size=2).prepare_inputs()
    batch["modality_mask"] = torch.ones(2, 3, dtype=torch.bool)
    outputs = model(**batch)
    loss, terms = objectives.loss(model, batch, outputs, epoch=0)
    tuple_loss = terms["tuple_loss"]
    assert set(terms) == {"tuple_loss"} and torch.isfinite(tuple_loss) and tuple_loss.item() > 0
    expected = outputs.task_loss + model.config.contrastive_weight * outputs.contrastive_loss + 0.5 * tuple_loss
    expected = expected + model.config.alone_weight * outputs.alone_loss
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    tuple_loss.backward()
    for name, encoder in model.cldmdf.encoders.items():
        assert encoder.fc1.weight.grad is not None and encoder.fc1.weight.grad.abs().sum() > 0, name
        assert torch.isfinite(encoder.fc1.weight.grad).all()
    for parameter in objectives.parameters():  # the objective's own projection g learns too
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0
    # A training-time objective only: an evaluation-mode step adds nothing.
    model.eval()
    eval_outputs = model(**batch)
    eval_loss, eval_terms = objectives.loss(model, batch, eval_outputs, epoch=0)
    assert eval_terms == {} and torch.equal(eval_loss, eval_outputs.loss)


@pytest.mark.parametrize("alphas", [[0.1, 0.0, 0.3], [0.0, 0.0, 0.0], [0.2, 0.25, 0.15]])
def test_set_alphas_gives_the_loss_of_an_objective_built_with_those_alphas(alphas):
    # The loss reads which modalities are disturbed and their ratios from what set_alphas stored (the "auto"
    # updates): it must equal the loss of the same projection built with those α from the start.
    config = TESTER.get_config()
    batch = TESTER.prepare_inputs()
    torch.manual_seed(0)
    base = CLDMDFForSequenceClassification(config).eval().cldmdf
    updated = TupleInfoNCE(config)
    updated.set_alphas(alphas)
    configured = TupleInfoNCE(config, alphas=alphas)
    configured.load_state_dict(updated.state_dict())  # the projection only: the ratios are not saved
    assert updated.disturbed_modalities == tuple(k for k, a in enumerate(alphas) if a > 0)

    def loss_of(objective):
        return objective(base, batch["modality_inputs"], batch["modality_mask"], torch.Generator().manual_seed(3))

    losses = [loss_of(objective) for objective in (updated, configured)]
    assert torch.equal(losses[0], losses[1])
    assert torch.equal(loss_of(updated), losses[0])  # seeded: the same views and derangements
    updated.set_alphas([0.3, 0.3, 0.3])
    assert loss_of(updated).item() > losses[0].item()  # more disturbed negatives, weighted more: a larger denominator


def test_tuple_loss_ignores_values_under_a_false_mask():
    model = CLDMDFForSequenceClassification(TESTER.get_config()).eval()
    objective = TupleInfoNCE(model.config)
    batch = TESTER.prepare_inputs(seed=3)
    mask = batch["modality_mask"]
    changed = {name: value.clone() for name, value in batch["modality_inputs"].items()}
    for index, name in enumerate(model.cldmdf.modality_names):
        changed[name][~mask[:, index]] = float("nan")
    with torch.no_grad():
        first = objective(model.cldmdf, batch["modality_inputs"], mask, torch.Generator().manual_seed(0))
        second = objective(model.cldmdf, changed, mask, torch.Generator().manual_seed(0))
    assert torch.isfinite(first) and first.item() == second.item()


def test_tuple_infonce_as_the_pretraining_objective():
    config = TESTER.get_config(reconstruction_weight=0.0, contrastive_weight=0.0)
    torch.manual_seed(0)
    model = CLDMDFForPreTraining(config).train()
    objectives = TrainingObjectives.build(model, tuple_weight=1.0)
    batch = TESTER.prepare_inputs(with_labels=False)
    outputs = model(**batch)
    loss, terms = objectives.loss(model, batch, outputs, epoch=0)
    assert outputs.loss.item() == 0.0  # the model's own losses are off: the objective is all there is
    assert loss.item() == pytest.approx(terms["tuple_loss"].item(), rel=1e-6) and loss.item() > 0
    optimizer = torch.optim.Adam([*model.parameters(), *objectives.parameters()], lr=3e-3)
    losses = []
    for step in range(30):
        torch.manual_seed(step)
        loss, _ = objectives.loss(model, batch, model(**batch), epoch=0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5  # the objective is learnable on a fixed batch


def test_the_objectives_are_refused_for_a_reference_model():
    model = EarlyFusionForSequenceClassification(TESTER.get_baseline_config("early_fusion"))
    for objectives in ({"tuple_weight": 0.5}, {"cal": True}):
        with pytest.raises(ValueError, match="EarlyFusionForSequenceClassification has none"):
            TrainingObjectives.build(model, **objectives)
    plain = TrainingObjectives.build(model)  # nothing asked for: nothing added
    assert plain.tuple_infonce is None and plain.cal is None and plain.tmc_annealing_epochs is None


def test_cal_needs_unimodal_heads_and_validates_contributions():
    with pytest.raises(ValueError, match="use_auxiliary_heads=True"):
        CAL(CLDMDFForSequenceClassification(TESTER.get_config()).cldmdf)
    with pytest.raises(ValueError, match="use_auxiliary_heads=True"):
        TrainingObjectives.build(CLDMDFForSequenceClassification(TESTER.get_config()), cal=True)
    cal = CAL(cal_model().cldmdf)
    for bad in ([1.0, 0.0, 2.0], [1.0, 1.0], [1.0, float("nan"), 1.0], [1.0, float("inf"), 1.0]):
        with pytest.raises(ValueError, match="3 positive finite numbers"):
            cal.set_contributions(bad)
    assert torch.equal(cal.contributions, torch.ones(3))  # a refused update changes nothing


def test_the_recipe_is_not_saved_with_the_model_and_objectives_on_a_reloaded_one_start_afresh(tmp_path):
    # W^m and α_k live in the objectives, not in the model (non-persistent model buffers would come back as garbage
    # from the meta device after from_pretrained): the saved config holds no recipe field, the bottleneck's
    # weights come back exactly, and objectives built on the reloaded model start from equal contributions (every
    # β_m = 0) and their initial ratios, whatever the objectives of the first run had reached.
    model = cal_model()
    first = TrainingObjectives.build(model, tuple_weight=0.1, tuple_alphas="auto", cal=True, aib_beta=0.5)
    first.cal.set_contributions([0.5, 1.0, 1.5])
    first.tuple_infonce.set_alphas([0.3, 0.0, 0.1])
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    recipe = {"tuple_weight", "tuple_alphas", "cal", "aib_beta", "cal_k_max", "cal_interval", "tmc_annealing_epochs"}
    assert not set(saved) & recipe and saved["token_bottleneck"] is True
    loaded = CLDMDFForSequenceClassification.from_pretrained(tmp_path).train()
    expected_state = model.state_dict()
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, expected_state[name]), name
    objectives = TrainingObjectives.build(loaded, tuple_weight=0.1, tuple_alphas="auto", cal=True, aib_beta=0.5)
    assert torch.equal(objectives.cal.contributions, torch.ones(3))
    assert objectives.tuple_infonce.alphas == pytest.approx([0.5 / 3] * 3)
    torch.testing.assert_close(objectives.tuple_infonce.ratios, torch.full((3,), (0.5 / 3) / 0.5))
    batch = TESTER.prepare_inputs()
    loss, terms = objectives.loss(loaded, batch, loaded(**batch), epoch=0)
    assert terms["aib_loss"].item() == 0.0  # equal contributions: every β_m = 0
    assert torch.isfinite(loss) and torch.isfinite(terms["tuple_loss"])


# ---- CAL ---------------------------------------------------------------------------------------------------------


def shapley_by_orderings(values, num_modalities):
    """Average marginal contribution over all M! orders in which the modalities join (another algorithm)."""
    phi = [0.0] * num_modalities
    orders = list(itertools.permutations(range(num_modalities)))
    for order in orders:
        present = [False] * num_modalities
        for m in order:
            before = values[tuple(present)]
            present[m] = True
            phi[m] += (values[tuple(present)] - before) / len(orders)
    return phi


def test_shapley_values_of_a_fixed_table():
    subsets = list(itertools.product([False, True], repeat=3))
    table = dict(zip(subsets, [0.1, 0.5, 0.4, 0.7, 0.3, 0.8, 0.6, 0.9]))
    phi = shapley_values(table, 3)
    assert phi == pytest.approx(shapley_by_orderings(table, 3))
    assert sum(phi) == pytest.approx(table[(True, True, True)] - table[(False, False, False)])
    # An additive game: each modality's value is exactly its own worth.
    worth = [0.05, 0.2, 0.1]
    additive = {s: 0.1 + sum(w for w, present in zip(worth, s) if present) for s in subsets}
    assert shapley_values(additive, 3) == pytest.approx(worth)
    assert leave_one_out_values(table, 3) == pytest.approx([0.9 - 0.7, 0.9 - 0.8, 0.9 - 0.6])


def test_contributions_have_mean_one_and_follow_the_scores():
    assert cal_contributions([0.2, 0.2, 0.2], [0.5, 0.5, 0.5], 0.5, 1.0) == pytest.approx([1.0, 1.0, 1.0])
    weights = cal_contributions([0.3, 0.1, 0.2], [0.9, 0.5, 0.7], 0.5, 1.0)
    assert sum(weights) / 3 == pytest.approx(1.0)
    assert weights[0] > weights[2] > weights[1]
    # By hand: λ = 1 keeps only the standardised information, z = (1.2247, -1.2247, 0) for (0.3, 0.1, 0.2).
    z = torch.tensor([0.3, 0.1, 0.2], dtype=torch.float64)
    z = (z - z.mean()) / z.std(unbiased=False) / 0.5
    assert cal_contributions([0.3, 0.1, 0.2], [0, 1, 2], 1.0, 0.5) == pytest.approx((3 * z.softmax(0)).tolist())
    assert gradient_scales(torch.tensor([0.2, 1.5, 9.0]), 2.0).tolist() == [1.0, 1.5, 2.0]
    assert bottleneck_betas(torch.tensor([0.5, 1.0, 2.0]), 0.1).tolist() == pytest.approx([0.075, 0.05, 0.0])
    assert bottleneck_betas(torch.tensor([0.5, 1.0, 2.0]), 0.0).abs().sum() == 0


def test_scale_gradient_is_identity_forward_and_scales_backward():
    x = torch.randn(4, 3, requires_grad=True)
    y = scale_gradient(x, torch.tensor(2.5))
    assert torch.equal(y, x)
    y.pow(2).sum().backward()
    assert torch.allclose(x.grad, 2.5 * 2 * x.detach())


def _gradients(model, batch, objectives=None):
    """Every parameter's gradient of one step's loss (the objectives' when given, else the model's own)."""
    model.zero_grad()
    outputs = model(**batch)
    loss = outputs.loss if objectives is None else objectives.loss(model, batch, outputs, epoch=0)[0]
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def _encoder_grads(gradients, model):
    return {
        name: torch.cat(
            [gradients[f"cldmdf.encoders.{name}.{key}"].flatten() for key, _ in encoder.named_parameters()]
        )
        for name, encoder in model.cldmdf.encoders.items()
    }


@pytest.mark.parametrize("token_bottleneck", [False, True], ids=["hooks", "hooks_and_bottleneck"])
def test_equal_contributions_train_exactly_like_no_cal(token_bottleneck):
    # Equal contributions: every k_m = 1 (the hooks pass gradients through unchanged) and every β_m = 0 (the
    # bottleneck term adds exact zeros), so CAL before its first estimate changes no gradient at all.
    batch = TESTER.prepare_inputs(seed=4)
    torch.manual_seed(0)
    config = TESTER.get_config(use_auxiliary_heads=True, token_bottleneck=token_bottleneck)
    with_cal = CLDMDFForSequenceClassification(config).eval()
    without = CLDMDFForSequenceClassification(config).eval()
    without.load_state_dict(with_cal.state_dict())
    objectives = TrainingObjectives.build(with_cal, cal=True, aib_beta=0.5)
    first, second = _gradients(with_cal, batch, objectives), _gradients(without, batch)
    for name in second:
        assert torch.equal(first[name], second[name]), name
    # Only the bottleneck's log-variance gets a gradient through the β-weighted KL term (evaluation mode: its
    # output is μ), and that gradient is exactly 0.
    for name in set(first) - set(second):
        assert ".log_variance" in name and not first[name].any(), name
    assert len(set(first) - set(second)) == (6 if token_bottleneck else 0)
    # The comparison can fail: unequal contributions do change the encoders' gradients.
    objectives.cal.set_contributions([2.0, 0.5, 0.5])
    changed = _encoder_grads(_gradients(with_cal, batch, objectives), with_cal)
    assert not torch.equal(changed["audio"], _encoder_grads(second, without)["audio"])


def test_probe_heads_train_without_touching_the_encoders_gradients():
    batch = TESTER.prepare_inputs(seed=8)
    with_probes = CLDMDFForSequenceClassification(TESTER.get_config(use_auxiliary_heads=True)).eval()
    without = CLDMDFForSequenceClassification(TESTER.get_config()).eval()
    without.load_state_dict(with_probes.state_dict(), strict=False)
    first, second = _gradients(with_probes, batch), _gradients(without, batch)
    first_encoders, second_encoders = _encoder_grads(first, with_probes), _encoder_grads(second, without)
    for name in first_encoders:
        assert torch.equal(first_encoders[name], second_encoders[name]), name
    outputs = with_probes(**batch)
    assert outputs.loss.item() == pytest.approx((outputs.task_loss + 0.1 * outputs.contrastive_loss
                                                + outputs.aux_loss).item(), rel=1e-6)  # fmt: skip
    for name in with_probes.cldmdf.unimodal_heads:
        grad = first[f"cldmdf.unimodal_heads.{name}.weight"]
        assert grad.abs().sum() > 0, name


def test_the_gradient_reaching_each_encoder_is_scaled_by_k_m():
    batch = TESTER.prepare_inputs(seed=5)
    model = cal_model(token_bottleneck=False).eval()
    cal = CAL(model.cldmdf, k_max=2.0, aib_beta=0.0)
    names = model.cldmdf.modality_names  # sorted: audio, tab, video
    unscaled = _gradients(model, batch)
    cal.set_contributions([3.0, 0.5, 1.5])
    scaled = _gradients(model, batch)
    unscaled_encoders, scaled_encoders = _encoder_grads(unscaled, model), _encoder_grads(scaled, model)
    for name, k in zip(names, [2.0, 1.0, 1.5]):
        # Exact up to float rounding in the encoder's backward (k * g is rounded before it meets the weights).
        torch.testing.assert_close(scaled_encoders[name], k * unscaled_encoders[name], rtol=1e-5, atol=1e-6, msg=name)
    # Only what flows into the encoders is scaled: every other parameter's gradient is unchanged.
    for name in unscaled:
        if not name.startswith("cldmdf.encoders."):
            assert torch.equal(scaled[name], unscaled[name]), name
    # The forward pass is unchanged: same logits whatever the contributions.
    with torch.no_grad():
        after = model(**batch).logits
        cal.set_contributions([1.0, 1.0, 1.0])
        assert torch.equal(after, model(**batch).logits)


def test_token_bottleneck_kl_and_modes():
    bottleneck = CLDMDFTokenBottleneck(6)
    hidden = torch.randn(5, 6)
    mean = bottleneck.mean(hidden)
    log_variance = bottleneck.log_variance(hidden) + bottleneck.log_variance_bias
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(mean, (0.5 * log_variance).exp()), torch.distributions.Normal(0.0, 1.0)
    ).sum(-1)
    bottleneck.eval()
    output, kl = bottleneck(hidden)
    assert torch.equal(output, mean) and torch.allclose(kl, expected, rtol=1e-5)
    bottleneck.train()
    torch.manual_seed(0)
    sampled, _ = bottleneck(hidden)
    assert not torch.equal(sampled, mean)
    assert (sampled - mean).std() < 0.2  # fresh bottleneck: small variance (log σ² starts at -6)


def test_embed_modalities_passes_present_tokens_through_the_bottleneck_and_returns_their_kl():
    model = cal_model().eval()
    base = model.cldmdf
    batch = TESTER.prepare_inputs(seed=9)
    mask = batch["modality_mask"]
    with torch.no_grad():
        tokens, kl = base.embed_modalities(batch["modality_inputs"], mask)
        for index, name in enumerate(base.modality_names):
            present = mask[:, index]
            encoded = base.encoders[name](batch["modality_inputs"][name], present)
            expected_tokens, expected_kl = base.bottlenecks[name](encoded)
            torch.testing.assert_close(tokens[present, index], expected_tokens[present])
            torch.testing.assert_close(kl[present, index], expected_kl[present])
            # Missing entries: the learned missing embedding, untouched, and no divergence.
            assert torch.equal(
                tokens[~present, index], base.missing_embeddings[index].expand(int((~present).sum()), -1)
            )
            assert torch.equal(kl[~present, index], torch.zeros(int((~present).sum())))
        assert torch.equal(model(**batch).bottleneck_kl, kl)
    plain = CLDMDFForSequenceClassification(TESTER.get_config()).cldmdf
    assert plain.embed_modalities(batch["modality_inputs"], mask)[1] is None


def test_aib_loss_weights_and_zero_beta():
    batch = TESTER.prepare_inputs(seed=6)
    model = cal_model().eval()
    objectives = TrainingObjectives.build(model, cal=True, aib_beta=0.5)
    cal = objectives.cal
    outputs = model(**batch)
    assert cal(outputs).item() == 0.0  # all contributions equal: every β_m = 0
    cal.set_contributions([0.5, 1.0, 2.0])
    outputs = model(**batch)
    mask = outputs.modality_mask
    betas = [0.5 * (1 - 0.5 / 2), 0.5 * (1 - 1.0 / 2), 0.0]
    expected = 0.0
    with torch.no_grad():
        for index, name in enumerate(model.cldmdf.modality_names):
            present = mask[:, index]
            encoded = model.cldmdf.encoders[name](batch["modality_inputs"][name], present)
            _, kl = model.cldmdf.bottlenecks[name](encoded)
            expected += betas[index] * kl[present].mean().item()
    assert expected > 0
    assert cal(outputs).item() == pytest.approx(expected, rel=1e-5)
    loss, terms = objectives.loss(model, batch, outputs, epoch=0)
    assert terms["aib_loss"].item() == pytest.approx(expected, rel=1e-5)
    assert loss.item() == pytest.approx(outputs.loss.item() + expected, rel=1e-6)
    cal.aib_beta = 0.0
    assert cal(outputs) is None
    loss, terms = objectives.loss(model, batch, outputs, epoch=0)
    assert terms == {} and torch.equal(loss, outputs.loss)
    # Without the token bottleneck there is nothing to weigh: CAL only accelerates gradients.
    heads_only = cal_model(token_bottleneck=False).eval()
    assert CAL(heads_only.cldmdf, aib_beta=0.5)(heads_only(**batch)) is None


def test_aib_loss_of_a_pretraining_output_averages_over_the_visible_entries():
    torch.manual_seed(0)
    model = CLDMDFForPreTraining(TESTER.get_config(use_auxiliary_heads=True, token_bottleneck=True)).eval()
    cal = CAL(model.cldmdf, aib_beta=0.5)
    cal.set_contributions([0.5, 1.0, 2.0])
    batch = TESTER.prepare_inputs(seed=6, with_labels=False)
    outputs = model(**batch)
    visible = outputs.modality_mask
    assert (visible != batch["modality_mask"]).any()  # some entries are hidden for reconstruction
    with torch.no_grad():
        _, kl = model.cldmdf.embed_modalities(batch["modality_inputs"], batch["modality_mask"])
    betas = bottleneck_betas(torch.tensor([0.5, 1.0, 2.0]), 0.5)
    expected = sum(betas[m] * kl[visible[:, m], m].mean() for m in range(3) if visible[:, m].any())
    assert cal(outputs).item() == pytest.approx(float(expected), rel=1e-5)


def test_mask_invariance_with_both_methods_on():
    model = cal_model()
    objectives = TrainingObjectives.build(model, tuple_weight=0.5, cal=True, aib_beta=0.5)
    objectives.cal.set_contributions([0.5, 1.0, 1.5])
    batch = TESTER.prepare_inputs(seed=7)
    changed = {name: value.clone() for name, value in batch["modality_inputs"].items()}
    for index, name in enumerate(model.cldmdf.modality_names):
        changed[name][~batch["modality_mask"][:, index]] = 1e6
    changed_batch = {**batch, "modality_inputs": changed}
    for mode in ("eval", "train"):  # train: dropout, bottleneck samples and TupleInfoNCE's views, all seeded
        model.train(mode == "train")
        results = []
        for inputs in (batch, changed_batch):
            torch.manual_seed(0)
            with torch.no_grad():
                outputs = model(**inputs)
                loss, terms = objectives.loss(model, inputs, outputs, epoch=0)
            results.append((outputs, loss, terms))
        (first, first_loss, first_terms), (second, second_loss, second_terms) = results
        for key in ("logits", "loss", "bottleneck_kl", "modality_weights", "pooler_output"):
            assert torch.equal(first[key], second[key]), (mode, key)
        assert torch.equal(first_loss, second_loss), mode
        assert set(first_terms) == ({"aib_loss", "tuple_loss"} if mode == "train" else {"aib_loss"})
        for key in first_terms:
            assert torch.isfinite(first_terms[key]) and torch.equal(first_terms[key], second_terms[key]), (mode, key)


def test_statistics_subsets_fall_back_to_leave_one_out_above_eight_modalities():
    assert len(statistics_subsets(3)) == 8
    subsets = statistics_subsets(10)
    assert len(subsets) == 2 + 10 + 10 and (True,) * 10 in subsets and (False,) * 10 in subsets


# ---- Estimates during training (TrainingObjectives.update) -------------------------------------------------------


@pytest.fixture
def accelerator(fresh_accelerate_state):
    from accelerate import Accelerator

    return Accelerator(cpu=True)


VALIDATION = CLDMDFModelTester(batch_size=16)


def validation_batches():
    return [VALIDATION.prepare_inputs(seed=seed) for seed in range(3)]


def test_subset_statistics_by_hand(accelerator):
    model = cal_model().eval()
    batches = validation_batches()
    accuracy, confidence = subset_statistics(model, batches, accelerator)
    assert set(accuracy) == set(statistics_subsets(3))
    labels = torch.cat([batch["labels"] for batch in batches])
    masks = torch.cat([batch["modality_mask"] for batch in batches])
    with torch.no_grad():
        full = [model(batch["modality_inputs"], batch["modality_mask"]) for batch in batches]
    logits = torch.cat([outputs.logits for outputs in full])
    assert accuracy[(True, True, True)] == pytest.approx((logits.argmax(-1) == labels).float().mean().item())
    assert accuracy[(False, False, False)] == pytest.approx(1 / 3)  # no modality left: a uniform guess
    # Only "tab": rows with it are classified from it alone, the others count as a guess.
    hits = 0.0
    for batch in batches:
        mask = batch["modality_mask"]
        rows = mask[:, 1]
        only_tab = torch.zeros_like(mask)
        only_tab[rows, 1] = True
        only_tab[~rows] = mask[~rows]  # rows without "tab" keep their mask: their prediction is not counted
        with torch.no_grad():
            alone = model(batch["modality_inputs"], only_tab).logits
        hits += ((alone.argmax(-1) == batch["labels"]) & rows).sum().item() + (~rows).sum().item() / 3
    assert 0 < rows.sum() < len(rows)  # both kinds of rows occur
    assert accuracy[(False, True, False)] == pytest.approx(hits / len(labels))
    # Confidence: each unimodal head's mean true-class probability over the rows where its modality is present.
    probability = torch.cat([outputs.unimodal_logits for outputs in full]).softmax(-1)
    picked = probability[torch.arange(len(labels)), :, labels]  # (N, M)
    expected = [picked[masks[:, m], m].mean().item() for m in range(3)]
    assert confidence.tolist() == pytest.approx(expected, rel=1e-5)


def test_objectives_update_sets_and_logs_contributions_and_ratios_per_epoch(accelerator):
    model = cal_model()
    objectives = TrainingObjectives.build(model, tuple_weight=0.2, tuple_alphas="auto", cal=True)
    optimizer = torch.optim.Adam([*model.parameters(), *objectives.parameters()], lr=3e-3)
    names = model.config.modality_names
    batches = validation_batches()  # the same batch objects every epoch: reading them must not change them
    previous_confidence, all_logged = None, {}
    for epoch in range(2):
        model.train()
        for step, batch in enumerate(validation_batches()):
            torch.manual_seed(10 * epoch + step)
            loss, _ = objectives.loss(model, batch, model(**batch), epoch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        assert objectives.due(epoch)
        accuracy, confidence = subset_statistics(model, batches, accelerator)
        logged = objectives.update(model, batches, accelerator, epoch)
        # By hand from the same statistics: CAL's contributions (the potential is the confidence plus its increase
        # since the last estimate) and the automatic ratios from the unimodal accuracies.
        confidence = confidence.tolist()
        previous = previous_confidence or confidence
        potential = [c + (c - p) for c, p in zip(confidence, previous)]
        previous_confidence = confidence
        information = shapley_values(accuracy, 3)
        contributions = cal_contributions(information, potential, 0.5, 1.0)
        singletons = [tuple(i == m for i in range(3)) for m in range(3)]
        alphas = auto_tuple_alphas([accuracy[s] for s in singletons], 0.5)
        expected = {}
        for name, phi, weight, alpha in zip(names, information, contributions, alphas):
            expected[f"cal_contribution_{name}_epoch_{epoch}"] = round(weight, 6)
            expected[f"cal_shapley_{name}_epoch_{epoch}"] = round(phi, 6)
            expected[f"tuple_alpha_{name}_epoch_{epoch}"] = round(alpha, 6)
        assert logged == expected
        all_logged.update(expected)
        assert sum(contributions) / 3 == pytest.approx(1.0) and sum(alphas) == pytest.approx(0.5)
        assert all(-1 <= phi <= 1 for phi in information)
        # What the next steps use.
        torch.testing.assert_close(objectives.cal.contributions, torch.tensor(contributions, dtype=torch.float32))
        assert objectives.tuple_infonce.alphas == pytest.approx(alphas)
        assert objectives.tuple_infonce.disturbed_modalities == tuple(k for k in range(3) if alphas[k] > 0)
    assert objectives.log == all_logged and len(all_logged) == 2 * 3 * 3  # kept for all_results.json


def test_the_estimates_are_due_every_interval_epochs_and_only_when_something_is_estimated():
    model = cal_model()
    every_second = TrainingObjectives.build(model, cal=True, interval=2)
    assert [every_second.due(epoch) for epoch in range(4)] == [False, True, False, True]
    assert TrainingObjectives.build(model, tuple_weight=0.1, tuple_alphas="auto").due(0)
    assert not TrainingObjectives.build(model, tuple_weight=0.1, tuple_alphas=[0.1, 0.1, 0.1]).due(0)
    assert not TrainingObjectives.build(model).due(0)
