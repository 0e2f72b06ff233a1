"""CUDA paths: the same model gives the same outputs on the GPU as on the CPU, every option trains a step under bf16
autocast, missing entries stay invisible, checkpoints saved from the GPU reload on the CPU, and train_accelerate.py
trains with `--mixed_precision bf16`. The training objectives (TupleInfoNCE, CAL, training/objectives.py) run on the
device with the model.

Skipped where no CUDA device is visible (CI has none). On a GPU machine: `python -m pytest tests/test_cuda.py`, or
`bash scripts/gpu_check.sh OUT_DIR`, which runs these tests and the GPU benchmarks.
"""

import json
import math
from pathlib import Path

import pytest
import torch
from model_tester import CLDMDFModelTester, outputs_equal

from cldmdf.training.objectives import TrainingObjectives
from modeling_cldmdf import BASELINE_MODELS, CLDMDFForPreTraining, CLDMDFForSequenceClassification

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

TESTER = CLDMDFModelTester(batch_size=16)
# Every model and option that adds its own computation on the device: CAL (gradient hooks on the encoders, the token
# bottleneck and its β-weighted KL, the contributions buffer), TupleInfoNCE (augmentations and derangements made on
# the device, its own projection), the confidence gate and the reference models. Each entry: the reference model
# (None: CL-DMDF), config overrides, and the training objectives (`TrainingObjectives.build` arguments).
OPTIONS = {
    "default": (None, {}, {}),
    "cal": (None, {"token_bottleneck": True, "use_auxiliary_heads": True, "aux_weight": 0.3}, {"cal": True}),
    "tuple": (None, {}, {"tuple_weight": 0.1}),
    "confidence_gate": (None, {"use_auxiliary_heads": True, "aux_weight": 0.3, "fusion_use_confidence": True}, {}),
    "early_fusion": ("early_fusion", {}, {}),
    "late_fusion": ("late_fusion", {}, {}),
    "tmc": ("tmc", {}, {}),
}


def to_device(batch: dict, device: str) -> dict:
    return {
        key: to_device(value, device) if isinstance(value, dict) else value.to(device) for key, value in batch.items()
    }


def model_for(name: str, seed: int = 0):
    baseline, overrides, _ = OPTIONS[name]
    torch.manual_seed(seed)
    if baseline is None:
        return CLDMDFForSequenceClassification(TESTER.get_config(**overrides))
    return BASELINE_MODELS[baseline](TESTER.get_baseline_config(baseline, **overrides))


def objectives_for(name: str, model) -> TrainingObjectives:
    """The objectives of option `name` on `model`; CAL with unequal contributions, so that the gradient scales and
    the bottleneck weights β_m all differ."""
    objectives = TrainingObjectives.build(model, **OPTIONS[name][2])
    if objectives.cal is not None:
        objectives.cal.set_contributions([0.5, 1.0, 1.5])
    return objectives


@pytest.mark.parametrize("name", ["default", "cal", "confidence_gate", "early_fusion", "late_fusion", "tmc"])
def test_outputs_on_cuda_match_the_cpu_in_float32(name):
    model = model_for(name).eval()
    objectives = objectives_for(name, model)
    batch = TESTER.prepare_inputs(seed=1)
    with torch.no_grad():
        cpu = model(**batch)
        cpu_loss, cpu_terms = objectives.loss(model, batch, cpu, epoch=0)
        model.to("cuda")
        objectives.to("cuda")
        gpu_batch = to_device(batch, "cuda")
        gpu = model(**gpu_batch)
        gpu_loss, gpu_terms = objectives.loss(model, gpu_batch, gpu, epoch=0)
    assert gpu.logits.device.type == "cuda"
    torch.testing.assert_close(gpu.logits.cpu(), cpu.logits, atol=2e-4, rtol=2e-4)
    torch.testing.assert_close(gpu.loss.cpu(), cpu.loss, atol=2e-4, rtol=2e-4)
    torch.testing.assert_close(gpu_loss.cpu(), cpu_loss, atol=2e-4, rtol=2e-4)
    assert set(gpu_terms) == set(cpu_terms)
    for key in cpu_terms:  # CAL's bottleneck loss
        torch.testing.assert_close(gpu_terms[key].cpu(), cpu_terms[key], atol=2e-4, rtol=2e-4)
    if cpu.modality_weights is not None:
        torch.testing.assert_close(gpu.modality_weights.cpu(), cpu.modality_weights, atol=2e-4, rtol=2e-4)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_a_bf16_autocast_training_step_on_cuda_is_finite_and_reaches_every_trained_parameter(name):
    model = model_for(name).to("cuda").train()
    objectives = objectives_for(name, model).to("cuda")
    batch = to_device(TESTER.prepare_inputs(seed=2), "cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        outputs = model(**batch)
        loss, terms = objectives.loss(model, batch, outputs, epoch=0)
    assert set(terms) == {"cal": {"aib_loss"}, "tuple": {"tuple_loss"}}.get(name, set())
    assert loss.dtype == torch.float32 and math.isfinite(loss.item())
    loss.backward()
    grads = {f"model.{n}": p.grad for n, p in model.named_parameters() if p.grad is not None}
    grads.update({f"objectives.{n}": p.grad for n, p in objectives.named_parameters() if p.grad is not None})
    assert grads, "no parameter got a gradient"
    assert all(p.grad is not None for p in objectives.parameters())  # TupleInfoNCE's projection
    for param_name, grad in grads.items():
        assert grad.device.type == "cuda" and grad.dtype == torch.float32, param_name
        assert torch.isfinite(grad).all(), f"non-finite gradient in {param_name}"
    if outputs.modality_weights is not None:
        mask = batch["modality_mask"]
        weights = outputs.modality_weights.float()
        assert torch.all(weights[~mask] == 0)
        torch.testing.assert_close(weights.sum(dim=1), torch.ones_like(weights[:, 0]), atol=1e-2, rtol=0)


def test_values_under_a_false_mask_never_reach_an_output_on_cuda():
    model = model_for("confidence_gate").to("cuda").eval()
    batch = to_device(TESTER.prepare_inputs(seed=3), "cuda")
    mask = batch["modality_mask"]
    changed = {name: value.clone() for name, value in batch["modality_inputs"].items()}
    for index, name in enumerate(model.cldmdf.modality_names):
        changed[name][~mask[:, index]] = 1e6
    with torch.no_grad():
        first = model(**batch, output_attentions=True)
        second = model(changed, mask, batch["labels"], output_attentions=True)
    assert outputs_equal(first, second)


def test_pretraining_with_tuple_infonce_runs_a_bf16_step_on_cuda():
    torch.manual_seed(0)
    config = TESTER.get_config(reconstruction_weight=0.0, contrastive_weight=0.0)
    model = CLDMDFForPreTraining(config).to("cuda").train()
    objectives = TrainingObjectives.build(model, tuple_weight=1.0).to("cuda")
    batch = to_device(TESTER.prepare_inputs(seed=4, with_labels=False), "cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        outputs = model(**batch)
        loss, terms = objectives.loss(model, batch, outputs, epoch=0)
    assert math.isfinite(loss.item()) and loss.item() == pytest.approx(terms["tuple_loss"].item())
    loss.backward()
    parameters = [*model.parameters(), *objectives.parameters()]
    assert all(torch.isfinite(p.grad).all() for p in parameters if p.grad is not None)
    assert all(p.grad is not None for p in model.cldmdf.encoders.parameters())


def test_a_checkpoint_saved_from_cuda_reloads_on_the_cpu_with_the_same_weights_and_outputs(tmp_path):
    model = model_for("cal").to("cuda").eval()
    model.save_pretrained(tmp_path)
    reloaded = CLDMDFForSequenceClassification.from_pretrained(tmp_path).eval()
    gpu_state = model.state_dict()
    for name, tensor in reloaded.state_dict().items():
        assert tensor.device.type == "cpu" and torch.equal(tensor, gpu_state[name].cpu()), name
    batch = TESTER.prepare_inputs(seed=5)
    with torch.no_grad():
        on_gpu = model(**to_device(batch, "cuda")).logits.cpu()
        on_cpu = reloaded(**batch).logits
    torch.testing.assert_close(on_cpu, on_gpu, atol=2e-4, rtol=2e-4)


def test_train_accelerate_trains_in_bf16_on_cuda_and_saves_float32_weights(
    tmp_path, monkeypatch, fresh_accelerate_state
):
    from safetensors.torch import load_file

    # here, not at the top: collecting this file must not need the training script
    import cldmdf.train_accelerate as train_accelerate

    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")
    dataset = str(ROOT / "bundled_datasets" / "uci_multifeature")
    args = train_accelerate.parse_args(
        [
            "--dataset_name", dataset,
            "--output_dir", str(tmp_path / "out"),
            "--max_train_samples", "512",
            "--num_train_epochs", "5",
            "--eval_missing_rates", "0,0.5",
        ]
    )  # fmt: skip
    results = train_accelerate.main(args)
    from accelerate.state import AcceleratorState

    assert AcceleratorState().mixed_precision == "bf16"
    saved = json.loads((tmp_path / "out" / "all_results.json").read_text())
    assert saved["test_accuracy"] == pytest.approx(results["test_accuracy"])
    # 10 balanced classes: chance is 0.1; 512 rows and 5 epochs of the default model are far above it.
    assert results["test_accuracy"] > 0.8 and results["test_accuracy_missing_0.5"] > 0.6
    weights = load_file(tmp_path / "out" / "model.safetensors")
    assert all(t.dtype == torch.float32 and torch.isfinite(t).all() for t in weights.values())
