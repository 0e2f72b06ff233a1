"""The companion methods (METHODS.md sections 2 and 3): TupleInfoNCE and CAL, against values computed by hand."""

import itertools
import json
import math

import pytest
import torch
import torch.nn.functional as F
from model_tester import CLDMDFModelTester

from modeling_cldmdf import CLDMDFForPreTraining, CLDMDFForSequenceClassification
from modeling_cldmdf.method_estimates import statistics_subsets
from modeling_cldmdf.methods_cldmdf import (
    CLDMDFInformationBottleneck,
    auto_tuple_alphas,
    bottleneck_betas,
    cal_contributions,
    derangement,
    disturbance_ratios,
    gradient_scales,
    leave_one_out_values,
    scale_gradient,
    shapley_values,
    swap_modality,
    tuple_infonce_loss,
)

TESTER = CLDMDFModelTester()


def hand_tuple_infonce(u1, u2, tau, disturbed=()):
    """Row-by-row Python loops over the METHODS.md formula (no vectorisation shared with the implementation)."""
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
    assert auto_tuple_alphas([0.7, 0.7], total=0.4) == pytest.approx([0.2, 0.2])


def test_model_tuple_loss_is_finite_with_two_rows_and_reaches_every_encoder():
    config = TESTER.get_config(tuple_weight=1.0, tuple_alphas=[0.2, 0.2, 0.2])
    model = CLDMDFForSequenceClassification(config).train()
    batch = CLDMDFModelTester(batch_size=2).prepare_inputs()
    batch["modality_mask"] = torch.ones(2, 3, dtype=torch.bool)
    outputs = model(**batch)
    assert torch.isfinite(outputs.tuple_loss)
    expected = outputs.task_loss + config.contrastive_weight * outputs.contrastive_loss + outputs.tuple_loss
    assert outputs.loss.item() == pytest.approx(expected.item(), rel=1e-6)
    outputs.tuple_loss.backward()
    for name, encoder in model.cldmdf.encoders.items():
        assert encoder.fc1.weight.grad is not None and encoder.fc1.weight.grad.abs().sum() > 0, name
        assert torch.isfinite(encoder.fc1.weight.grad).all()
    assert model.eval()(**batch).tuple_loss is None  # a training-time objective only


@pytest.mark.parametrize("alphas", [[0.1, 0.0, 0.3], [0.0, 0.0, 0.0], [0.2, 0.25, 0.15]])
def test_set_tuple_alphas_gives_the_loss_of_a_model_built_with_those_alphas(alphas):
    # The loss reads which modalities are disturbed and their ratios from what set_tuple_alphas stored (the training
    # script's "auto" updates): it must equal the loss of the same weights configured with those α from the start.
    batch = TESTER.prepare_inputs()
    torch.manual_seed(0)
    updated = CLDMDFForSequenceClassification(TESTER.get_config(tuple_weight=1.0)).eval()
    updated.cldmdf.set_tuple_alphas(alphas)
    configured = CLDMDFForSequenceClassification(TESTER.get_config(tuple_weight=1.0, tuple_alphas=alphas)).eval()
    configured.load_state_dict(updated.state_dict())
    assert updated.cldmdf.disturbed_modalities == tuple(k for k, a in enumerate(alphas) if a > 0)
    losses = [
        model.cldmdf.tuple_loss(batch["modality_inputs"], batch["modality_mask"], torch.Generator().manual_seed(3))
        for model in (updated, configured)
    ]
    # Equal up to float32 rounding: the stored ratios and the configured ones reach the loss by different casts.
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-6, atol=0)
    plain = updated.cldmdf.tuple_loss(
        batch["modality_inputs"], batch["modality_mask"], torch.Generator().manual_seed(3)
    )
    updated.cldmdf.set_tuple_alphas([0.3, 0.3, 0.3])
    other = updated.cldmdf.tuple_loss(
        batch["modality_inputs"], batch["modality_mask"], torch.Generator().manual_seed(3)
    )
    assert other.item() > plain.item()  # more disturbed negatives, weighted more: a larger denominator


def test_model_tuple_loss_ignores_values_under_a_false_mask():
    model = CLDMDFForSequenceClassification(TESTER.get_config(tuple_weight=1.0)).eval()
    batch = TESTER.prepare_inputs(seed=3)
    mask = batch["modality_mask"]
    changed = {name: value.clone() for name, value in batch["modality_inputs"].items()}
    for index, name in enumerate(model.cldmdf.modality_names):
        changed[name][~mask[:, index]] = float("nan")
    with torch.no_grad():
        first = model.cldmdf.tuple_loss(batch["modality_inputs"], mask, torch.Generator().manual_seed(0))
        second = model.cldmdf.tuple_loss(changed, mask, torch.Generator().manual_seed(0))
    assert torch.isfinite(first) and first.item() == second.item()


def test_tuple_infonce_as_the_pretraining_objective():
    config = TESTER.get_config(tuple_weight=1.0, reconstruction_weight=0.0, contrastive_weight=0.0)
    model = CLDMDFForPreTraining(config).train()
    batch = TESTER.prepare_inputs(with_labels=False)
    torch.manual_seed(0)
    outputs = model(**batch)
    assert outputs.loss.item() == pytest.approx(outputs.tuple_loss.item(), rel=1e-6)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(30):
        torch.manual_seed(step)
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5  # the objective is learnable on a fixed batch


def test_methods_are_refused_with_early_fusion():
    with pytest.raises(ValueError, match="early_fusion"):
        TESTER.get_config(baseline="early_fusion", tuple_weight=0.5)
    with pytest.raises(ValueError, match="early_fusion"):
        TESTER.get_config(baseline="early_fusion", cal=True)


def test_setters_validate():
    model = CLDMDFForSequenceClassification(TESTER.get_config(cal=True, tuple_weight=0.1)).cldmdf
    with pytest.raises(ValueError, match="positive"):
        model.set_modality_contributions([1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="3 "):
        model.set_modality_contributions([1.0, 1.0])
    with pytest.raises(ValueError, match="less than 1"):
        model.set_tuple_alphas([0.5, 0.3, 0.3])


@pytest.mark.parametrize("tuple_alphas", [[0.1, 0.2, 0.3], "auto"])
def test_a_reloaded_checkpoint_starts_from_the_initial_contributions_and_ratios(tmp_path, tuple_alphas):
    # W^m and α_k are not in the weights file; from_pretrained builds the model on the meta device, so without a
    # rebuild W came back as zeros (α, then a buffer too, as garbage): β_m = β (1 - 0/0) made the first loss NaN.
    config = TESTER.get_config(cal=True, tuple_weight=0.1, tuple_alphas=tuple_alphas, tuple_alpha_total=0.6)
    model = CLDMDFForSequenceClassification(config)
    model.cldmdf.set_modality_contributions([0.5, 1.0, 1.5])  # an estimate made while training is not saved
    model.save_pretrained(tmp_path)
    loaded = CLDMDFForSequenceClassification.from_pretrained(tmp_path).train()
    assert torch.equal(loaded.cldmdf.modality_contributions, torch.ones(3))
    expected = [0.1, 0.2, 0.3] if tuple_alphas != "auto" else [0.2, 0.2, 0.2]
    assert loaded.cldmdf.tuple_alphas_in_use == pytest.approx(expected)
    ratios = [alpha / (1 - sum(expected)) for alpha in expected]
    torch.testing.assert_close(loaded.cldmdf.tuple_ratio_values, torch.tensor(ratios))
    outputs = loaded(**TESTER.prepare_inputs())
    assert outputs.aib_loss.item() == 0.0  # equal contributions: every β_m = 0
    assert torch.isfinite(outputs.loss)


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


def _encoder_grads(model, batch):
    model.zero_grad()
    model(**batch).loss.backward()
    return {
        name: torch.cat([p.grad.flatten() for p in encoder.parameters()])
        for name, encoder in model.cldmdf.encoders.items()
    }


def test_equal_contributions_train_exactly_like_no_cal():
    batch = TESTER.prepare_inputs(seed=4)
    torch.manual_seed(0)
    with_cal = CLDMDFForSequenceClassification(TESTER.get_config(cal=True, aib_beta=0.0)).eval()
    without = CLDMDFForSequenceClassification(TESTER.get_config(use_auxiliary_heads=True)).eval()
    without.load_state_dict(with_cal.state_dict())
    first, second = _encoder_grads(with_cal, batch), _encoder_grads(without, batch)
    for name in first:
        assert torch.equal(first[name], second[name]), name


def test_probe_heads_train_without_touching_the_encoders_gradients():
    batch = TESTER.prepare_inputs(seed=8)
    with_probes = CLDMDFForSequenceClassification(TESTER.get_config(use_auxiliary_heads=True)).eval()
    without = CLDMDFForSequenceClassification(TESTER.get_config()).eval()
    without.load_state_dict(with_probes.state_dict(), strict=False)
    first, second = _encoder_grads(with_probes, batch), _encoder_grads(without, batch)
    for name in first:
        assert torch.equal(first[name], second[name]), name
    outputs = with_probes(**batch)
    assert outputs.loss.item() == pytest.approx((outputs.task_loss + 0.1 * outputs.contrastive_loss
                                                + outputs.aux_loss).item(), rel=1e-6)  # fmt: skip
    for head in with_probes.cldmdf.unimodal_heads.values():
        assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0


def test_the_gradient_reaching_each_encoder_is_scaled_by_k_m():
    batch = TESTER.prepare_inputs(seed=5)
    model = CLDMDFForSequenceClassification(TESTER.get_config(cal=True, aib_beta=0.0, cal_k_max=2.0)).eval()
    names = model.cldmdf.modality_names  # sorted: audio, tab, video
    unscaled = _encoder_grads(model, batch)
    model.cldmdf.set_modality_contributions([3.0, 0.5, 1.5])
    scaled = _encoder_grads(model, batch)
    for name, k in zip(names, [2.0, 1.0, 1.5]):
        # Exact up to float rounding in the encoder's backward (k * g is rounded before it meets the weights).
        torch.testing.assert_close(scaled[name], k * unscaled[name], rtol=1e-5, atol=1e-6, msg=name)
    # The forward pass is unchanged: same logits whatever the contributions.
    with torch.no_grad():
        after = model(**batch).logits
        model.cldmdf.set_modality_contributions([1.0, 1.0, 1.0])
        assert torch.equal(after, model(**batch).logits)


def test_information_bottleneck_kl_and_modes():
    bottleneck = CLDMDFInformationBottleneck(6)
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


def test_aib_loss_weights_and_zero_beta():
    batch = TESTER.prepare_inputs(seed=6)
    model = CLDMDFForSequenceClassification(TESTER.get_config(cal=True, aib_beta=0.5)).eval()
    assert model(**batch).aib_loss.item() == 0.0  # all contributions equal: every β_m = 0
    model.cldmdf.set_modality_contributions([0.5, 1.0, 2.0])
    outputs = model(**batch)
    mask = outputs.modality_mask
    tokens = model.cldmdf.encode_modalities(batch["modality_inputs"], mask)
    betas = [0.5 * (1 - 0.5 / 2), 0.5 * (1 - 1.0 / 2), 0.0]
    expected = 0.0
    for index, name in enumerate(model.cldmdf.modality_names):
        _, kl = model.cldmdf.bottlenecks[name](tokens[:, index])
        expected += betas[index] * kl[mask[:, index]].mean().item()
    assert outputs.aib_loss.item() == pytest.approx(expected, rel=1e-5)
    model.config.aib_beta = 0.0
    assert model(**batch).aib_loss.item() == 0.0


def test_mask_invariance_with_both_methods_on():
    model = CLDMDFForSequenceClassification(TESTER.get_config(cal=True, tuple_weight=0.5)).eval()
    model.cldmdf.set_modality_contributions([0.5, 1.0, 1.5])
    batch = TESTER.prepare_inputs(seed=7)
    changed = {name: value.clone() for name, value in batch["modality_inputs"].items()}
    for index, name in enumerate(model.cldmdf.modality_names):
        changed[name][~batch["modality_mask"][:, index]] = 1e6
    with torch.no_grad():
        first = model(**batch)
        second = model(changed, batch["modality_mask"], batch["labels"])
    for key in ("logits", "loss", "aib_loss", "modality_weights", "pooler_output"):
        assert torch.equal(first[key], second[key]), key


def test_statistics_subsets_fall_back_to_leave_one_out_above_eight_modalities():
    assert len(statistics_subsets(3)) == 8
    subsets = statistics_subsets(10)
    assert len(subsets) == 2 + 10 + 10 and (True,) * 10 in subsets and (False,) * 10 in subsets


def test_training_logs_contributions_and_ratios_per_epoch(tmp_path):
    from test_train_accelerate import run

    results = run(tmp_path, "--num_train_epochs", "2", "--cal", "--tuple_weight", "0.2", "--tuple_alphas", "auto")
    names = ["fac", "fou", "kar", "mor", "pix", "zer"]  # UCI Multiple Features' views
    saved = json.loads((tmp_path / "out" / "all_results.json").read_text())
    for epoch in range(results["epochs_trained"]):
        weights = [saved[f"cal_contribution_{name}_epoch_{epoch}"] for name in names]
        assert sum(weights) / len(weights) == pytest.approx(1.0, abs=1e-4)
        shapley = [saved[f"cal_shapley_{name}_epoch_{epoch}"] for name in names]
        assert all(-1 <= value <= 1 for value in shapley)
        alphas = [saved[f"tuple_alpha_{name}_epoch_{epoch}"] for name in names]
        assert sum(alphas) == pytest.approx(0.5, abs=1e-4) and min(alphas) == 0.0
