"""EarlyStopping (training/budget.py): which evaluation is the best, when a run stops, and its checkpointed state."""


import torch
from torch import nn

from cldmdf.training.budget import EarlyStopping


def _model(value: float) -> nn.Module:
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(value)
    return model


# (validation, step): accuracy peaks at step 2 and is tied at step 4, where the loss is lower; the loss is lowest at 3.
EVALUATIONS = [
    ({"accuracy": 0.80, "loss": 0.90}, 1),
    ({"accuracy": 0.90, "loss": 0.60}, 2),
    ({"accuracy": 0.85, "loss": 0.40}, 3),
    ({"accuracy": 0.90, "loss": 0.50}, 4),
]


def _run(stopper: EarlyStopping) -> EarlyStopping:
    for validation, step in EVALUATIONS:
        stopper.update(validation, step, epoch=0, model=_model(step))
    return stopper


def test_accuracy_picks_the_best_evaluation_and_the_loss_breaks_its_ties():
    stopper = _run(EarlyStopping(patience=0))
    assert stopper.best_step == 4 and stopper.best_state["weight"].item() == 4.0  # 0.90 twice: the lower loss
    assert stopper.summary() == {
        "best_validation_loss": 0.5,
        "best_validation_accuracy": 0.9,
        "best_epoch": 0,
        "best_step": 4,
    }


def test_the_loss_alone_picks_the_lowest_loss():
    stopper = _run(EarlyStopping(patience=0, metric="loss"))
    assert stopper.best_step == 3 and stopper.best_state["weight"].item() == 3.0
    assert stopper.summary()["best_validation_loss"] == 0.4 and stopper.summary()["best_validation_accuracy"] == 0.85


def test_a_run_stops_after_patience_evaluations_without_a_new_best_loss_or_accuracy_never_before_min_steps():
    flat = {"accuracy": 0.5, "loss": 1.0}
    stopper = EarlyStopping(patience=2, min_steps=5)
    assert stopper.update(flat, 1, 0, _model(1)) is False  # the first evaluation is a best
    assert stopper.update(flat, 2, 0, _model(2)) is False  # 1 without improvement
    assert stopper.update(flat, 3, 0, _model(3)) is False  # 2, but before min_steps
    assert stopper.update({"accuracy": 0.5, "loss": 0.9}, 4, 0, _model(4)) is False  # a new best loss: count reset
    assert stopper.update(flat, 5, 0, _model(5)) is False
    assert stopper.update(flat, 6, 0, _model(6)) is True


def test_the_state_round_trips_through_a_checkpoint_folder(tmp_path):
    stopper = _run(EarlyStopping(patience=3, min_steps=2, metric="loss"))
    restored = EarlyStopping(patience=3, min_steps=2, metric="loss")
    restored.load(str(tmp_path))  # an empty folder: nothing to restore
    assert restored.best_step is None
    stopper.save(str(tmp_path))
    restored.load(str(tmp_path))
    for key in ("best_validation", "best_step", "best_loss", "best_accuracy", "bad_evaluations"):
        assert getattr(restored, key) == getattr(stopper, key), key
    assert torch.equal(restored.best_state["weight"], stopper.best_state["weight"])
