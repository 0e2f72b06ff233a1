"""Tests for the offline `evaluate` metrics in `evaluation/` (accuracy and macro-F1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cldmdf.evaluation import METRIC_NAMES, load_metric, load_metrics, metric_path

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def metrics():
    return load_metrics()


@pytest.fixture(scope="module")
def macro_f1():
    return load_metric("macro_f1")


def reference_macro_f1(references: list[int], predictions: list[int]) -> float:
    """scikit-learn's `f1_score(average="macro", zero_division=0)` written out with precision and recall."""
    scores = []
    for c in sorted(set(references) | set(predictions)):
        tp = sum(r == c and p == c for r, p in zip(references, predictions))
        predicted = sum(p == c for p in predictions)
        actual = sum(r == c for r in references)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def test_three_classes_by_hand(metrics):
    references = [0, 0, 0, 1, 1, 2]
    predictions = [0, 0, 1, 1, 2, 2]
    # class 0: P = 2/2, R = 2/3 -> F1 = 0.8; class 1: P = 1/2, R = 1/2 -> 0.5; class 2: P = 1/2, R = 1/1 -> 2/3
    expected_f1 = (0.8 + 0.5 + 2 / 3) / 3
    result = metrics.compute(predictions=predictions, references=references)
    assert set(result) == {"accuracy", "f1"}
    assert result["accuracy"] == pytest.approx(4 / 6)
    assert result["f1"] == pytest.approx(expected_f1)
    assert result["f1"] == pytest.approx(0.6555555555555556)


def test_perfect_and_all_wrong(metrics):
    references = [0, 1, 2, 2, 1]
    assert metrics.compute(predictions=references, references=references) == {"accuracy": 1.0, "f1": 1.0}
    wrong = [(r + 1) % 3 for r in references]
    assert metrics.compute(predictions=wrong, references=references) == {"accuracy": 0.0, "f1": 0.0}


def test_class_absent_from_predictions_counts_as_zero(metrics):
    # class 2 is never predicted: F1_2 = 0; class 0: 1.0; class 1: P = 1/3, R = 1 -> 0.5
    result = metrics.compute(predictions=[0, 1, 1, 1], references=[0, 1, 2, 2])
    assert result["accuracy"] == pytest.approx(0.5)
    assert result["f1"] == pytest.approx((1.0 + 0.5 + 0.0) / 3)


def test_class_only_in_predictions_is_averaged_over(macro_f1):
    # class 3 never occurs in the references but is predicted once: it joins the average with F1 = 0
    result = macro_f1.compute(predictions=[0, 0, 1, 3], references=[0, 0, 1, 1])
    assert result == {"f1": pytest.approx((1.0 + 2 / 3 + 0.0) / 3)}


def test_accumulated_batches_equal_one_compute_and_tensors_are_accepted(metrics):
    references = np.array([2, 0, 1, 1, 0, 2, 2])
    predictions = torch.tensor([2, 0, 0, 1, 1, 2, 0])
    metrics.add_batch(predictions=predictions[:3], references=references[:3])
    metrics.add_batch(predictions=predictions[3:], references=references[3:])
    batched = metrics.compute()
    whole = metrics.compute(predictions=predictions.tolist(), references=references.tolist())
    assert batched == whole
    assert whole["accuracy"] == pytest.approx(4 / 7)
    assert whole["f1"] == pytest.approx(reference_macro_f1(references.tolist(), predictions.tolist()))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 30).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 4), min_size=n, max_size=n), st.lists(st.integers(0, 6), min_size=n, max_size=n)
        )
    )
)
def test_macro_f1_matches_precision_recall_definition(macro_f1, pair):
    references, predictions = pair
    result = macro_f1.compute(predictions=predictions, references=references)
    assert result["f1"] == pytest.approx(reference_macro_f1(references, predictions), abs=1e-12)


def test_invalid_inputs_raise(metrics):
    with pytest.raises(ValueError, match="at least one example"):
        metrics.compute(predictions=[], references=[])
    with pytest.raises(ValueError, match="Mismatch in the number of predictions"):
        metrics.compute(predictions=[0, 1], references=[0])
    with pytest.raises(ValueError, match="`name` must be one of"):
        load_metric("f1")


def test_compute_metrics_loads_the_modules_once_and_each_call_stands_alone(monkeypatch):
    """The validations of a run share one pair of metric modules: each call scores only its own rows, also after a
    call that raised (no rows), and `evaluate.load` runs at most once per process."""
    import cldmdf.evaluation.prediction as prediction

    loads = []
    monkeypatch.setattr(prediction, "load_metrics", lambda: loads.append(1) or load_metrics())
    prediction._classification_metrics.cache_clear()
    try:

        def outputs(predictions, labels):
            count = len(labels)
            return {
                "predictions": torch.tensor(predictions),
                "labels": torch.tensor(labels),
                "valid": torch.ones(count, dtype=torch.bool),
                "loss": torch.zeros(count),
            }

        first = prediction.compute_metrics(outputs([0, 1, 1, 2], [0, 1, 2, 2]), "single_label_classification")
        assert first["accuracy"] == 0.75 and first["f1"] == pytest.approx(
            reference_macro_f1([0, 1, 2, 2], [0, 1, 1, 2])
        )
        with pytest.raises(ValueError, match="at least one example"):
            prediction.compute_metrics(outputs([], []), "single_label_classification")
        second = prediction.compute_metrics(outputs([0, 0], [0, 1]), "single_label_classification")
        assert second["accuracy"] == 0.5 and second["f1"] == pytest.approx(reference_macro_f1([0, 1], [0, 0]))
        assert len(loads) == 1
    finally:
        prediction._classification_metrics.cache_clear()


def test_metric_paths_are_absolute_module_folders():
    for name in METRIC_NAMES:
        path = Path(metric_path(name))
        assert path.is_absolute()
        assert (path / f"{name}.py").is_file()


_WORKER = textwrap.dedent(
    """
    import json, socket, sys, time

    def no_network(*args, **kwargs):
        raise OSError("network access attempted in an offline test")

    socket.socket.connect = no_network
    socket.create_connection = no_network
    repo_root, barrier, worker_id = sys.argv[1:4]
    sys.path.insert(0, repo_root)
    from pathlib import Path

    from cldmdf.evaluation import load_metrics

    # Barrier: both processes load and compute at the same moment, once both have imported evaluate.
    Path(barrier, f"ready-{worker_id}").touch()
    deadline = time.time() + 60
    while len(list(Path(barrier).glob("ready-*"))) < 2 and time.time() < deadline:
        time.sleep(0.005)
    metrics = load_metrics()
    metrics.add_batch(predictions=[0, 0, 1, 1, 2, 2], references=[0, 0, 0, 1, 1, 2])
    print(json.dumps(metrics.compute()))
    """
)


def test_offline_and_two_processes_at_once(tmp_path):
    """Two processes in the same cwd and HF_HOME, sockets disabled, offline env: both load and compute."""
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1", "HF_EVALUATE_OFFLINE": "1"}
    env.pop("HF_MODULES_CACHE", None)
    env.pop("HF_METRICS_CACHE", None)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(REPO_ROOT), str(barrier), str(worker_id)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker_id in range(2)
    ]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    for worker, (stdout, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr
        result = json.loads(stdout.strip().splitlines()[-1])
        assert result == {"accuracy": pytest.approx(4 / 6), "f1": pytest.approx((0.8 + 0.5 + 2 / 3) / 3)}
    # keep_in_memory: no Arrow cache file (and no lock on one) was written in the metrics cache
    metrics_cache = tmp_path / "hf_home" / "metrics"
    assert not list(metrics_cache.rglob("*.arrow")) and not list(metrics_cache.rglob("*.arrow.lock"))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 30), st.integers(2, 6))  # 1 label is binary to scikit-learn
def test_multi_label_metrics_equal_scikit_learns(seed, rows, num_labels):
    from sklearn.metrics import accuracy_score, f1_score

    from cldmdf.evaluation.prediction import multi_label_metrics

    rng = np.random.default_rng(seed)
    predicted, true = rng.random((rows, num_labels)) < 0.4, rng.random((rows, num_labels)) < 0.4
    metrics = multi_label_metrics(torch.from_numpy(predicted), torch.from_numpy(true).float())
    assert metrics["subset_accuracy"] == pytest.approx(accuracy_score(true, predicted))
    assert metrics["f1"] == pytest.approx(f1_score(true, predicted, average="macro", zero_division=0))
    assert metrics["micro_f1"] == pytest.approx(f1_score(true, predicted, average="micro", zero_division=0))
