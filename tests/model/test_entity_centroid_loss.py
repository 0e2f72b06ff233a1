"""The entity-centroid InfoNCE against values computed by hand with plain Python loops (docs/methods.md section 1)."""

import math

import numpy as np
import pytest
import torch

from modeling_cldmdf import entity_centroid_loss


def _normalize(v):
    return v / np.linalg.norm(v)


def reference_loss(p, mask, tau, leave_one_out, labels=None):
    """Straight transcription of docs/methods.md: explicit loops over anchors and candidates."""
    p = np.array([[_normalize(v) for v in row] for row in p])
    batch, modalities, _ = p.shape

    def centroid(b, m):
        members = [p[b, j] for j in range(modalities) if mask[b][j] and (not leave_one_out or j != m)]
        return _normalize(np.sum(members, axis=0)) if members else None

    terms = []
    for b in range(batch):
        for m in range(modalities):
            if not mask[b][m] or centroid(b, m) is None:
                continue
            candidates = {c: centroid(c, m) for c in range(batch) if centroid(c, m) is not None}
            logits = {c: float(p[b, m] @ k) / tau for c, k in candidates.items()}
            log_denominator = math.log(sum(math.exp(v) for v in logits.values()))
            positives = [b] if labels is None else [c for c in candidates if labels[c] == labels[b]]
            terms.append(-np.mean([logits[c] - log_denominator for c in positives]))
    return (float(np.mean(terms)) if terms else 0.0), len(terms)


@pytest.fixture
def example():
    generator = torch.Generator().manual_seed(3)
    projections = torch.randn(3, 3, 4, generator=generator, dtype=torch.float64)
    # row 0: all present; row 1: modalities 0 and 2; row 2: only modality 1 (no anchor under leave-one-out)
    mask = torch.tensor([[True, True, True], [True, False, True], [False, True, False]])
    return projections, mask


@pytest.mark.parametrize("leave_one_out", [True, False])
def test_matches_hand_computation(example, leave_one_out):
    projections, mask = example
    loss, anchors = entity_centroid_loss(projections, mask, temperature=0.5, leave_one_out=leave_one_out)
    expected, expected_anchors = reference_loss(projections.numpy(), mask.tolist(), 0.5, leave_one_out)
    assert anchors.item() == expected_anchors == (5 if leave_one_out else 6)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_supervised_centroids_match_hand_computation(example):
    projections, mask = example
    labels = torch.tensor([1, 0, 1])
    loss, _ = entity_centroid_loss(projections, mask, temperature=0.2, leave_one_out=False, labels=labels)
    expected, _ = reference_loss(projections.numpy(), mask.tolist(), 0.2, False, labels=labels.tolist())
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_hand_value_of_a_tiny_case():
    # Two entities, two modalities, orthogonal unit vectors: every similarity is 0 or 1, so the value is closed form.
    p = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    mask = torch.ones(2, 2, dtype=torch.bool)
    tau = 0.5
    loss, anchors = entity_centroid_loss(p, mask, tau, leave_one_out=True)
    # each anchor: positive logit 1/tau, one negative logit 0 -> -log(e^2 / (e^2 + 1))
    assert anchors.item() == 4
    assert loss.item() == pytest.approx(-math.log(math.exp(2) / (math.exp(2) + 1)), rel=1e-6)


def test_single_present_modality_row_is_no_anchor_under_leave_one_out(example):
    projections, mask = example
    # Row 2 has only modality 1: under leave-one-out it has no centroid to be pulled to, so 3 + 2 anchors remain.
    # (Its token still serves as the centroid *candidate* k[2, m] for the other modalities' anchors.)
    _, anchors = entity_centroid_loss(projections, mask, 0.5, leave_one_out=True)
    assert anchors.item() == 5
    only_row_2 = mask.clone()
    only_row_2[:2] = False
    only_row_2[0, 0] = True  # keep row 0 alive with one modality: still no anchor anywhere
    _, anchors = entity_centroid_loss(projections, only_row_2, 0.5, leave_one_out=True)
    assert anchors.item() == 0


def test_no_valid_anchor_gives_exact_zero_and_gradients_without_nan():
    projections = torch.randn(4, 3, 5, requires_grad=True)
    mask = torch.zeros(4, 3, dtype=torch.bool)
    mask[torch.arange(4), torch.tensor([0, 1, 2, 0])] = True
    loss, anchors = entity_centroid_loss(projections, mask, 0.1)
    assert anchors.item() == 0
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(projections.grad).all()


def test_missing_values_never_matter(example):
    projections, mask = example
    changed = projections.clone()
    changed[~mask] = torch.randn(int((~mask).sum()), 4, dtype=torch.float64) * 100
    for leave_one_out in (True, False):
        a, _ = entity_centroid_loss(projections, mask, 0.1, leave_one_out=leave_one_out)
        b, _ = entity_centroid_loss(changed, mask, 0.1, leave_one_out=leave_one_out)
        assert torch.equal(a, b)
