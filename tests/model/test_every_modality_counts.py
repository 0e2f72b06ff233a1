"""Every modality pulls its weight: a model trained where each modality alone predicts the label must predict it from
each modality alone, and its fused prediction must depend on every present modality. A fusion that silently uses one
modality, or an image branch that never learns, fails here."""

import pytest
import torch

from modeling_cldmdf import CLDMDFConfig, CLDMDFForSequenceClassification

NUM_CLASSES = 4
NAMES = ("a", "b", "photo")  # sorted: the order of the mask's columns


def rows(count: int, seed: int) -> tuple[dict, torch.Tensor]:
    """Each modality carries the whole label through its own noisy channel: `a` and `b` as class centres in different
    bases, `photo` as a bright 3 x 3 blob in the quadrant of the class (8 x 8, grayscale)."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, NUM_CLASSES, (count,), generator=generator)
    centres_a = torch.tensor([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0], [-2.0, -2.0, -2.0]])
    centres_b = torch.tensor([[1.5, 1.5], [-1.5, 1.5], [-1.5, -1.5], [1.5, -1.5]])
    a = centres_a[labels] + 0.7 * torch.randn(count, 3, generator=generator)
    b = centres_b[labels] + 0.7 * torch.randn(count, 2, generator=generator)
    photo = 0.3 * torch.rand(count, 1, 8, 8, generator=generator)
    for row, label in enumerate(labels.tolist()):
        top, left = 4 * (label // 2), 4 * (label % 2)
        photo[row, 0, top : top + 3, left : left + 3] += 0.7
    return {"a": a, "b": b, "photo": photo}, labels


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    photo = {"type": "image", "image_size": 8, "num_channels": 1, "cnn_channels": [8, 16], "pool_size": 2}
    config = CLDMDFConfig(
        modalities={"a": {"type": "dense", "dim": 3}, "b": {"type": "dense", "dim": 2}, "photo": photo},
        num_labels=NUM_CLASSES,
        hidden_size=32,
        num_fusion_layers=1,
        intermediate_size=64,
        feature_attention_hidden_size=16,
        hidden_dropout_prob=0.1,
    )
    model = CLDMDFForSequenceClassification(config)
    model.initial_encoders = {k: v.clone() for k, v in model.cldmdf.encoders.state_dict().items()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    inputs, labels = rows(1024, seed=1)
    for step in range(150):
        batch = torch.randint(0, len(labels), (64,), generator=torch.Generator().manual_seed(step))
        loss = model({name: value[batch] for name, value in inputs.items()}, labels=labels[batch]).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def accuracy(model, inputs: dict, labels: torch.Tensor, present: list[str]) -> float:
    mask = torch.tensor([[name in present for name in NAMES]]).expand(len(labels), -1)
    with torch.no_grad():
        logits = model(inputs, modality_mask=mask).logits
    return (logits.argmax(-1) == labels).float().mean().item()


@pytest.mark.parametrize("name", NAMES)
def test_each_modality_alone_predicts_the_label(trained, name):
    inputs, labels = rows(512, seed=2)
    # Chance is 0.25; each modality alone carries the label (a linear model on any one of them gets above 0.9).
    assert accuracy(trained, inputs, labels, [name]) > 0.8


def test_every_encoder_learns(trained):
    """Each encoder moved away from its initialisation: an image branch whose gradients vanish (or that is frozen)
    can still score above chance through random features, but it does not learn."""
    for name in NAMES:
        initial = trained.initial_encoders
        layers = [key for key, value in initial.items() if key.startswith(f"{name}.") and value.dim() > 1]
        assert layers, name
        for key in layers:  # the convolutions and linear layers
            before, after = initial[key], trained.cldmdf.encoders.state_dict()[key]
            assert (after - before).norm() > 0.05 * before.norm(), key


def test_the_fused_prediction_depends_on_every_present_modality(trained):
    inputs, labels = rows(256, seed=3)
    with torch.no_grad():
        fused = trained(inputs).logits.softmax(-1)
    for name in NAMES:
        # The same rows with this modality's values taken from other rows (a shuffled column).
        shuffled = {**inputs, name: inputs[name].roll(1, dims=0)}
        with torch.no_grad():
            changed = trained(shuffled).logits.softmax(-1)
        assert (changed - fused).abs().max(dim=-1).values.mean() > 0.05, name
