"""CL-DMDF model tests: invariants, losses, gradients, heads, serialization and bad input."""

import hashlib

import pytest
import torch
import torch.nn.functional as F
from model_tester import CLDMDFModelTester, outputs_equal
from transformers import AutoModel, AutoModelForPreTraining, AutoModelForSequenceClassification

from modeling_cldmdf import (
    BASELINE_MODELS,
    CLDMDFConfig,
    CLDMDFForPreTraining,
    CLDMDFForSequenceClassification,
    CLDMDFModel,
)


@pytest.fixture
def tester():
    return CLDMDFModelTester()


def _model(tester, cls=CLDMDFForSequenceClassification, **overrides):
    torch.manual_seed(0)
    return cls(tester.get_config(**overrides)).eval()


# ---- invariants -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("fusion_use_confidence", [False, True])
def test_values_under_a_false_mask_change_no_output(tester, seed, fusion_use_confidence):
    model = _model(tester, fusion_use_confidence=fusion_use_confidence, aux_weight=0.5)
    batch = tester.prepare_inputs(seed=seed)
    mask = batch["modality_mask"]
    changed = {name: values.clone() for name, values in batch["modality_inputs"].items()}
    for index, name in enumerate(model.config.modality_names):
        missing = ~mask[:, index]
        changed[name][missing] = torch.randn(int(missing.sum()), changed[name].shape[1]) * 1e3
        changed[name][missing, 0] = float("nan")  # even NaN placeholders are ignored
    with torch.no_grad():
        reference = model(**batch, output_attentions=True, output_hidden_states=True)
        perturbed = model(changed, mask, batch["labels"], output_attentions=True, output_hidden_states=True)
    assert reference.loss is not None and reference.feature_attentions is not None
    assert outputs_equal(reference, perturbed)


def _masked_values_replaced(batch: dict, names: list[str]) -> dict:
    """The batch's inputs with every entry under a False mask replaced by large values and a NaN."""
    mask, changed = batch["modality_mask"], {}
    for index, name in enumerate(names):
        values, missing = batch["modality_inputs"][name].clone(), ~mask[:, index]
        values[missing] = torch.randn(int(missing.sum()), values.shape[1]) * 1e3
        values[missing, 0] = float("nan")
        changed[name] = values
    return changed


@pytest.mark.parametrize("cls", [CLDMDFForSequenceClassification, CLDMDFForPreTraining])
@pytest.mark.parametrize("seed", range(3))
def test_values_under_a_false_mask_change_no_gradient_in_training(tester, cls, seed):
    """Training mode (dropout, modality dropout, the pre-training head's random reconstruction mask, all drawn from
    the same seed): the loss and every parameter gradient are bit-identical whatever lies under a False mask, and
    those inputs get an exact zero gradient."""
    overrides = {"aux_weight": 0.5, "modality_dropout": 0.3} if cls is CLDMDFForSequenceClassification else {}
    batch = tester.prepare_inputs(seed=seed, with_labels=cls is CLDMDFForSequenceClassification)
    names = _model(tester, cls, **overrides).config.modality_names
    runs = []
    for inputs in (batch["modality_inputs"], _masked_values_replaced(batch, names)):
        model = _model(tester, cls, **overrides).train()
        inputs = {name: values.clone().requires_grad_() for name, values in inputs.items()}
        torch.manual_seed(seed)
        loss = model(inputs, batch["modality_mask"], batch.get("labels")).loss
        loss.backward()
        grads = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
        runs.append((loss, grads, inputs))
    (loss, grads, inputs), (perturbed_loss, perturbed_grads, perturbed_inputs) = runs
    assert torch.isfinite(loss) and torch.equal(loss, perturbed_loss)
    assert grads.keys() == perturbed_grads.keys() and len(grads) > 10
    for name in grads:
        assert torch.equal(grads[name], perturbed_grads[name]), name
    for index, name in enumerate(names):
        missing = ~batch["modality_mask"][:, index]
        for values in (inputs[name], perturbed_inputs[name]):
            assert torch.equal(values.grad[missing], torch.zeros_like(values.grad[missing])), name


def test_modality_dict_order_does_not_matter(tester):
    model = _model(tester)
    batch = tester.prepare_inputs()
    reversed_inputs = dict(reversed(list(batch["modality_inputs"].items())))
    assert list(reversed_inputs) != list(batch["modality_inputs"])
    with torch.no_grad():
        first = model(**batch, output_attentions=True)
        second = model(reversed_inputs, batch["modality_mask"], batch["labels"], output_attentions=True)
    assert outputs_equal(first, second)


@pytest.mark.parametrize("fusion_mode", ["adaptive", "mean"])
def test_modality_weights_sum_to_one_over_present_and_are_zero_elsewhere(tester, fusion_mode):
    model = _model(tester, fusion_mode=fusion_mode)
    batch = tester.prepare_inputs(with_labels=False)
    with torch.no_grad():
        weights = model(**batch).modality_weights
    mask = batch["modality_mask"]
    assert torch.all(weights[~mask] == 0)
    assert torch.all(weights[mask] > 0)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(tester.batch_size))
    if fusion_mode == "mean":
        torch.testing.assert_close(weights, mask.float() / mask.sum(1, keepdim=True))


def test_return_dict_false_gives_the_same_values_as_a_tuple(tester):
    for cls in (CLDMDFModel, CLDMDFForSequenceClassification):
        model = _model(tester, cls=cls)
        batch = tester.prepare_inputs(with_labels=cls is CLDMDFForSequenceClassification)
        with torch.no_grad():
            as_dict = model(**batch, output_attentions=True)
            as_tuple = model(**batch, output_attentions=True, return_dict=False)
        assert isinstance(as_tuple, tuple)
        assert outputs_equal(as_dict.to_tuple(), as_tuple)


def test_attention_shapes_and_ranges(tester):
    model = _model(tester)
    batch = tester.prepare_inputs()
    with torch.no_grad():
        out = model(**batch, output_attentions=True)
    batch_size, num_modalities = batch["modality_mask"].shape
    assert out.feature_attentions.shape == (2, batch_size, num_modalities, 32)
    assert out.feature_attentions.min() > 0 and out.feature_attentions.max() < 1
    assert out.modality_attentions.shape == (2, batch_size, 4, num_modalities, num_modalities)
    # missing modalities are masked as keys: zero attention to them, rows of probabilities sum to 1
    key_missing = ~batch["modality_mask"].view(1, batch_size, 1, 1, num_modalities).expand_as(out.modality_attentions)
    assert torch.all(out.modality_attentions[key_missing] == 0)
    torch.testing.assert_close(out.modality_attentions.sum(-1), torch.ones(2, batch_size, 4, num_modalities))


@pytest.mark.parametrize(
    "overrides, absent",
    [
        ({"use_feature_attention": False}, "feature_attentions"),
        ({"use_modality_attention": False}, "modality_attentions"),
        ({"num_fusion_layers": 0}, "feature_attentions"),
    ],
)
def test_ablation_switches_remove_their_part(tester, overrides, absent):
    model = _model(tester, **overrides)
    with torch.no_grad():
        out = model(**tester.prepare_inputs(), output_attentions=True)
    assert getattr(out, absent) is None
    assert torch.isfinite(out.logits).all()


def test_the_alone_loss_is_each_row_fused_with_one_modality_alone(tester):
    """In training, `alone_loss` scores each row fused with one present modality alone, weighted into the loss by
    `alone_weight`: a row with a single present modality is already alone (the two losses are the same number); in
    evaluation mode, and at weight 0, there is no such term."""
    model = _model(tester, hidden_dropout_prob=0.0, contrastive_weight=0.0).train()
    batch = tester.prepare_inputs()
    single = torch.zeros_like(batch["modality_mask"])
    single[torch.arange(single.shape[0]), torch.arange(single.shape[0]) % single.shape[1]] = True
    outputs = model(**{**batch, "modality_mask": single})
    torch.testing.assert_close(outputs.alone_loss, outputs.task_loss)
    outputs = model(**batch)  # rows with several modalities: alone, each is harder than fused
    torch.testing.assert_close(outputs.loss, outputs.task_loss + model.config.alone_weight * outputs.alone_loss)
    assert not torch.allclose(outputs.alone_loss, outputs.task_loss)
    assert model.eval()(**batch).alone_loss is None
    assert _model(tester, alone_weight=0.0).train()(**batch).alone_loss is None


def test_contrastive_weight_zero_disables_the_term(tester):
    batch = tester.prepare_inputs()
    with torch.no_grad():
        with_term = _model(tester)(**batch)
        without = _model(tester, contrastive_weight=0.0)(**batch)
    assert without.contrastive_loss is None
    torch.testing.assert_close(without.loss, without.task_loss)
    torch.testing.assert_close(with_term.loss, with_term.task_loss + 0.1 * with_term.contrastive_loss)


def test_inference_without_labels_skips_the_contrastive_loss_and_changes_no_output(tester):
    model = _model(tester)
    batch = tester.prepare_inputs()
    inputs = {"modality_inputs": batch["modality_inputs"], "modality_mask": batch["modality_mask"]}
    with torch.no_grad():
        labelled = model(**batch)
        plain = model(**inputs)
        base = model.cldmdf(**inputs, return_loss=True)  # the base model computes it when asked (as CLIPModel)
        base_without = model.cldmdf(**inputs)
    assert labelled.contrastive_loss is not None and plain.contrastive_loss is None and plain.loss is None
    assert torch.equal(plain.logits, labelled.logits)
    assert torch.equal(plain.modality_weights, labelled.modality_weights)
    assert base.contrastive_loss is not None and torch.equal(base.loss, base.contrastive_loss)
    assert base_without.loss is None and torch.equal(base_without.pooler_output, base.pooler_output)


# ---- training behaviour ---------------------------------------------------------------------------------------------


def test_gradients_reach_every_parameter_that_should_learn(tester):
    model = _model(tester, use_auxiliary_heads=True, aux_weight=0.3).train()
    batch = tester.prepare_inputs()
    batch["modality_mask"][0] = torch.tensor([True, False, True])  # every modality present in some row ...
    batch["modality_mask"][1] = torch.tensor([False, True, False])  # ... and missing in some row
    batch["modality_mask"][2] = torch.tensor([True, True, False])
    model(**batch).loss.backward()
    no_grad = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert no_grad == []
    grad = model.cldmdf.missing_embeddings.grad
    assert torch.all(grad.abs().sum(dim=1) > 0)  # each missing embedding learns when its modality is missing


def test_no_nan_with_all_but_one_modality_missing(tester):
    model = _model(tester).train()
    batch = tester.prepare_inputs()
    mask = torch.zeros_like(batch["modality_mask"])
    mask[torch.arange(tester.batch_size), torch.arange(tester.batch_size) % 3] = True
    batch["modality_mask"] = mask
    out = model(**batch)
    assert out.contrastive_loss.item() == 0.0  # leave-one-out: no row has a second modality
    out.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_modality_dropout_keeps_one_modality_and_only_in_training(tester):
    model = _model(tester, modality_dropout=0.9)
    batch = tester.prepare_inputs()
    with torch.no_grad():
        assert torch.equal(model(**batch).modality_mask, batch["modality_mask"])
        model.train()
        torch.manual_seed(1)
        used = model(**batch).modality_mask
    assert torch.all(used.sum(1) >= 1)
    assert torch.all(~used | batch["modality_mask"])  # never turns a missing modality on
    assert used.sum() < batch["modality_mask"].sum()


def test_training_reduces_the_loss(tester):
    torch.manual_seed(0)
    model = _model(tester).train()
    batch = tester.prepare_inputs()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# ---- heads and problem types ----------------------------------------------------------------------------------------


def test_multi_label_and_regression_losses(tester):
    batch = tester.prepare_inputs(with_labels=False)
    model = _model(tester, problem_type="multi_label_classification", contrastive_weight=0.0)
    targets = (torch.rand(tester.batch_size, tester.num_labels) > 0.5).float()
    out = model(**batch, labels=targets)
    torch.testing.assert_close(out.loss, F.binary_cross_entropy_with_logits(out.logits, targets))

    model = _model(tester, num_labels=1, contrastive_weight=0.0)
    targets = torch.randn(tester.batch_size)
    out = model(**batch, labels=targets)
    assert model.config.problem_type == "regression"
    torch.testing.assert_close(out.loss, F.mse_loss(out.logits.squeeze(-1), targets))


def test_single_label_loss_is_cross_entropy_plus_weighted_contrastive(tester):
    model = _model(tester)
    batch = tester.prepare_inputs()
    with torch.no_grad():
        out = model(**batch)
    expected = F.cross_entropy(out.logits, batch["labels"]) + 0.1 * out.contrastive_loss
    torch.testing.assert_close(out.loss, expected)


@pytest.mark.parametrize("problem_type", ["single_label_classification", "multi_label_classification", "regression"])
def test_auxiliary_loss_is_the_mean_over_present_entries(tester, problem_type):
    num_labels = 1 if problem_type == "regression" else 3
    model = _model(
        tester, use_auxiliary_heads=True, aux_weight=0.5, contrastive_weight=0.0, num_labels=num_labels,
        problem_type=problem_type,
    )  # fmt: skip
    batch = tester.prepare_inputs()
    mask = batch["modality_mask"]
    generator = torch.Generator().manual_seed(1)
    if problem_type == "multi_label_classification":
        batch["labels"] = (torch.rand(tester.batch_size, 3, generator=generator) < 0.5).float()
    elif problem_type == "regression":
        batch["labels"] = torch.randn(tester.batch_size, generator=generator)
    labels = batch["labels"]
    with torch.no_grad():
        out = model(**batch)

    def entry_loss(logits, label):  # one (row, modality) entry, written out per problem type
        if problem_type == "single_label_classification":
            return F.cross_entropy(logits.view(1, -1), label.view(1))
        if problem_type == "multi_label_classification":
            return F.binary_cross_entropy_with_logits(logits, label)
        return (logits.squeeze() - label) ** 2

    per_entry = [
        entry_loss(out.unimodal_logits[b, m], labels[b])
        for b in range(tester.batch_size)
        for m in range(3)
        if mask[b, m]
    ]
    torch.testing.assert_close(out.aux_loss, torch.stack(per_entry).mean())
    torch.testing.assert_close(out.loss, out.task_loss + 0.5 * out.aux_loss)


def test_pretraining_head(tester):
    model = _model(tester, cls=CLDMDFForPreTraining)
    batch = tester.prepare_inputs(with_labels=False)
    mask = batch["modality_mask"]
    with torch.no_grad():
        out = model(**batch)
    hidden = out.reconstruction_mask
    assert torch.all(~hidden | mask)
    has_two = mask.sum(1) >= 2
    assert torch.equal(hidden.sum(1), has_two.long())
    assert torch.all(out.modality_weights[hidden] == 0)  # the hidden modality is invisible to the fusion

    # with a given reconstruction mask the loss is deterministic and equals MSE on the hidden dense features
    fixed = hidden.clone()
    with torch.no_grad():
        first = model(**batch, reconstruction_mask=fixed)
        second = model(**batch, reconstruction_mask=fixed)
    assert torch.equal(first.loss, second.loss)
    errors = []
    for index, name in enumerate(model.config.modality_names):
        rows = fixed[:, index]
        if rows.any():
            prediction = model.decoders[name](first.pooler_output[rows])
            errors.append(((prediction - batch["modality_inputs"][name][rows]) ** 2).mean(-1))
    torch.testing.assert_close(first.reconstruction_loss, torch.cat(errors).mean())

    model.train()
    model(**batch).loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_pretraining_rejects_a_reconstruction_mask_hiding_a_whole_row(tester):
    model = _model(tester, cls=CLDMDFForPreTraining)
    batch = tester.prepare_inputs(with_labels=False)
    with pytest.raises(ValueError, match="every present modality"):
        model(**batch, reconstruction_mask=batch["modality_mask"].clone())


# ---- serialization --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, auto_class",
    [
        (CLDMDFModel, AutoModel),
        (CLDMDFForSequenceClassification, AutoModelForSequenceClassification),
        (CLDMDFForPreTraining, AutoModelForPreTraining),
    ],
)
def test_save_load_equality_for_every_head(tester, tmp_path, cls, auto_class):
    model = _model(tester, cls=cls)
    model.save_pretrained(tmp_path)
    files = {p.name for p in tmp_path.iterdir()}
    remote_code = {"modeling_cldmdf.py", "configuration_cldmdf.py", "losses_cldmdf.py", "modeling_outputs_cldmdf.py"}
    remote_code |= {"inputs_cldmdf.py", "pipeline_cldmdf.py"}
    assert {"model.safetensors", "config.json", *remote_code} <= files
    # The remote code is the model's own files and what they import: no reference model, no training recipe (the
    # baselines' configs travel: the config reads a reference model saved by 0.1 into its own config class).
    assert "modeling_baselines.py" not in files and not any(name.startswith(("methods", "method_")) for name in files)
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files)
    reloaded = auto_class.from_pretrained(tmp_path).eval()
    assert type(reloaded) is cls
    for key, value in model.state_dict().items():
        assert torch.equal(value, reloaded.state_dict()[key]), key
    batch = tester.prepare_inputs(with_labels=False)
    if cls is CLDMDFForPreTraining:
        batch["reconstruction_mask"] = cls.choose_hidden_modalities(batch["modality_mask"])
    with torch.no_grad():
        assert outputs_equal(model(**batch), reloaded(**batch))


def test_auto_map_lists_every_auto_class(tester, tmp_path):
    import json

    _model(tester, cls=CLDMDFModel).save_pretrained(tmp_path)
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert auto_map == {
        "AutoConfig": "configuration_cldmdf.CLDMDFConfig",
        "AutoModel": "modeling_cldmdf.CLDMDFModel",
        "AutoModelForSequenceClassification": "modeling_cldmdf.CLDMDFForSequenceClassification",
        "AutoModelForPreTraining": "modeling_cldmdf.CLDMDFForPreTraining",
        "AutoProcessor": "processing_cldmdf.CLDMDFProcessor",
    }
    # a base model checkpoint loads into the classification head (new head initialised)
    head = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert torch.equal(head.cldmdf.missing_embeddings, AutoModel.from_pretrained(tmp_path).missing_embeddings)


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_truncated_safetensors_fails_clearly_and_leaves_the_folder_alone(tester, tmp_path):
    _model(tester).save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    before = _digest(tmp_path)
    with pytest.raises(OSError, match="truncated or corrupt"):
        AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert _digest(tmp_path) == before


# ---- bad input ------------------------------------------------------------------------------------------------------


def _bad_input_cases(tester):
    batch = tester.prepare_inputs()
    inputs, mask, labels = batch["modality_inputs"], batch["modality_mask"], batch["labels"]
    all_missing = mask.clone()
    all_missing[[2, 5]] = False
    nan_inputs = dict(inputs, tab=inputs["tab"].clone())
    present_row = int(mask[:, 2].nonzero()[0])  # "tab" is modality 2 in sorted order (audio, tab, video)
    nan_inputs["tab"][present_row, 1] = float("nan")
    return [
        (
            dict(inputs, lidar=inputs["tab"]),
            mask,
            labels,
            ValueError,
            r"Unknown modality.*lidar.*\['audio', 'tab', 'video'\]",
        ),
        (dict(inputs, tab=inputs["tab"][:, :4]), mask, labels, ValueError, r"'tab'.*feature dim 4, expected 5"),
        (inputs, mask[:, :2], labels, ValueError, r"`modality_mask` has shape \(8, 2\), expected .* \(8, 3\)"),
        (inputs, mask.float() * 0.5, labels, TypeError, "modality_mask"),
        (inputs, mask.long() * 2, labels, TypeError, r"dtype torch.int64 with values other than 0/1"),
        (nan_inputs, mask, labels, ValueError, rf"'tab'.*NaN/inf in present rows \[{present_row}\]"),
        (inputs, all_missing, labels, ValueError, r"Rows \[2, 5\] have every modality missing"),
        (dict(inputs, tab=inputs["tab"][:5]), mask, labels, ValueError, r"has \d rows but other modalities have \d"),
        (inputs, mask, labels.float(), TypeError, "integer class ids"),
        (inputs, mask, labels[:5], ValueError, r"shape \(8,\)"),
        (inputs, mask, labels + 10, ValueError, r"class ids in \[0, 3\)"),
        ({}, mask, labels, TypeError, "non-empty dict"),
        ({"tab": inputs["tab"]}, mask, labels, ValueError, r"marks \[.*'audio'.*\] present"),
        (dict(inputs, tab=inputs["tab"].unsqueeze(0)), mask, labels, ValueError, r"shape \(batch_size, dim\)"),
    ]


def test_bad_input_gets_a_clear_error(tester):
    model = _model(tester)
    for inputs, mask, labels, error, message in _bad_input_cases(tester):
        with pytest.raises(error, match=message):
            model(inputs, mask, labels)


HOST_READS = ("__bool__", "item", "tolist", "nonzero", "cpu", "numpy")  # each one a device sync on a GPU


@pytest.mark.parametrize("training", [False, True])
def test_a_forward_reads_values_back_from_the_device_twice(tester, monkeypatch, training):
    # The value checks of the inputs are read in one go, the label range in another: a GPU step waits twice for the
    # device, not once per check (it was nine times for this batch).
    model = _model(tester).train(training)
    batch = tester.prepare_inputs()
    reads = []
    for name in HOST_READS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            reads.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    model(**batch).loss.backward()
    monkeypatch.undo()
    assert sorted(reads) == ["__bool__", "tolist"], reads


@pytest.mark.parametrize("name", ["empty_rows", "non_binary", "absent_but_marked"])
def test_a_modality_named_like_a_value_check_gets_its_own_error(name):
    # The value checks are read in one go, keyed by (check, modality): a modality's name cannot stand for a check.
    config = CLDMDFConfig(modalities={name: {"type": "dense", "dim": 3}, "b": {"type": "dense", "dim": 2}})
    model = CLDMDFForSequenceClassification(config).eval()
    inputs = {name: torch.randn(4, 3), "b": torch.randn(4, 2)}
    inputs[name][1, 0] = float("nan")
    with pytest.raises(ValueError, match=rf"`modality_inputs\['{name}'\]` has NaN/inf in present rows \[1\]"):
        model(inputs)


def test_an_integer_zero_one_mask_is_the_boolean_mask(tester):
    model = _model(tester).eval()
    batch = tester.prepare_inputs()
    with torch.no_grad():
        boolean = model(**batch)
        integer = model(batch["modality_inputs"], batch["modality_mask"].to(torch.int64), batch["labels"])
    assert outputs_equal(boolean, integer)


def test_missing_modality_entry_defaults_to_missing(tester):
    model = _model(tester)
    batch = tester.prepare_inputs(with_labels=False)
    only_tab = {"tab": batch["modality_inputs"]["tab"]}
    with torch.no_grad():
        out = model(only_tab)
    assert torch.equal(out.modality_mask, torch.tensor([[False, True, False]]).expand(tester.batch_size, -1))
    assert torch.all(out.modality_weights[:, 1] == 1)


@pytest.mark.parametrize(
    "baseline, overrides",
    [
        (None, {}),
        (None, {"contrastive_weight": 0.0}),
        (None, {"token_bottleneck": True, "use_auxiliary_heads": True}),
        ("early_fusion", {}),
        ("late_fusion", {}),
    ],
    ids=["cldmdf", "no_contrastive", "bottleneck_heads", "early_fusion", "late_fusion"],
)
def test_floating_point_ops_match_the_flop_counter(baseline, overrides):
    from torch.utils.flop_counter import FlopCounterMode

    dims = {"a": 40, "b": 7, "c": 64}
    common = dict(modalities={name: {"type": "dense", "dim": dim} for name, dim in dims.items()}, hidden_size=32)
    if baseline is None:
        config = CLDMDFConfig(**common, num_attention_heads=4, intermediate_size=64, num_labels=5, **overrides)
        model = CLDMDFForSequenceClassification(config).train()
    else:
        model = BASELINE_MODELS[baseline](BASELINE_MODELS[baseline].config_class(**common, num_labels=5)).train()
    inputs = {name: torch.randn(16, dim) for name, dim in dims.items()}
    mask = torch.ones(16, 3, dtype=torch.bool)
    with FlopCounterMode(display=False) as counter:
        model(inputs, modality_mask=mask, labels=torch.randint(0, 5, (16,))).loss.backward()
    estimate = model.floating_point_ops({"modality_inputs": inputs, "modality_mask": mask})
    # The fusion layers run once per modality token: counting each parameter once a row would be ~M x too low.
    assert estimate == pytest.approx(counter.get_total_flops(), rel=0.1)


@pytest.mark.parametrize(
    "baseline, overrides, objectives",
    [
        (None, {}, {}),
        ("early_fusion", {}, {}),
        ("late_fusion", {}, {}),
        ("tmc", {}, {}),
        (None, {"token_bottleneck": True, "use_auxiliary_heads": True, "aux_weight": 0.3}, {"cal": True}),
        (None, {"fusion_use_confidence": True}, {"tuple_weight": 0.1}),
    ],
    ids=["cldmdf", "early_fusion", "late_fusion", "tmc", "cal_bottleneck_aux_heads", "tuple_infonce_confidence"],
)
def test_training_and_inference_trace_as_one_torch_compile_graph(tester, baseline, overrides, objectives):
    # The checks that read values (NaN, empty rows, label range) need a device sync each; under torch.compile they are
    # skipped, so nothing in a step breaks the graph (which would split it and cost a recompile per module instance).
    # The training objectives (TupleInfoNCE, CAL's hooks and bottleneck loss, TMC's annealing) are in the graph too.
    import torch._dynamo

    from cldmdf.training.objectives import TrainingObjectives

    torch.manual_seed(0)
    if baseline is None:
        model = CLDMDFForSequenceClassification(tester.get_config(**overrides))
    else:
        model = BASELINE_MODELS[baseline](tester.get_baseline_config(baseline))
    training = TrainingObjectives.build(model, **objectives)
    batch = tester.prepare_inputs()
    inputs = {"modality_inputs": batch["modality_inputs"], "modality_mask": batch["modality_mask"]}
    torch._dynamo.reset()
    train = torch._dynamo.explain(lambda: training.loss(model.train(), batch, model(**batch), epoch=0)[0])()
    infer = torch._dynamo.explain(lambda: model.eval()(**inputs).logits)()
    assert (train.graph_break_count, infer.graph_break_count) == (0, 0), train.break_reasons + infer.break_reasons
    assert (train.graph_count, infer.graph_count) == (1, 1)
