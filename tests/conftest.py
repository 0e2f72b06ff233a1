import os
import sys

import pytest

# Tests import their helpers (model_tester, hub fixtures) as top-level modules.
sys.path.insert(0, os.path.dirname(__file__))
# Nothing in the suite may reach the network: the real Hub is unreachable from CI.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One torch thread in this process and every process it starts, as `accelerate launch` sets on CPU: the models are
# tiny, and on two shared cores a second thread per process made the runs four to ten times slower. Set before torch
# is imported (it reads the variable once); OMP_NUM_THREADS=N in the environment still chooses.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from hub_fixtures import hub_server  # noqa: E402, F401  (a Hub-protocol server on 127.0.0.1, see hub_server.py)


@pytest.fixture
def fresh_accelerate_state():
    """Accelerate keeps its state (mixed precision, dynamo backend...) in process-wide singletons that the first
    `Accelerator` of the process fills. A test that sets them through the environment starts and ends fresh."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """The one real training run (classification + regression) that the tests of a run's outputs read: see
    `tests/shared_run.py`. Read its folders; never write into them."""
    from shared_run import train_shared_run

    return train_shared_run(tmp_path_factory.mktemp("shared_run"))


@pytest.fixture(scope="module")
def tiny_saved_model(tmp_path_factory):
    """An untrained two-modality CL-DMDF (`a`: 3, `b`: 2 dense features; labels low / mid / high) and its fitted
    processor, saved to a folder: `(model, processor, folder)`, for the pipeline and prediction tests."""
    import numpy as np
    import torch

    from modeling_cldmdf import CLDMDFConfig, CLDMDFForSequenceClassification
    from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor

    torch.manual_seed(0)
    config = CLDMDFConfig(
        modalities={"a": {"type": "dense", "dim": 3}, "b": {"type": "dense", "dim": 2}},
        hidden_size=16,
        num_fusion_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        num_labels=3,
        id2label={0: "low", 1: "mid", 2: "high"},
        label2id={"low": 0, "mid": 1, "high": 2},
    )
    model = CLDMDFForSequenceClassification(config).eval()
    rng = np.random.default_rng(0)
    train = {"a": rng.normal(size=(32, 3)).tolist(), "b": rng.normal(size=(32, 2)).tolist()}
    processor = CLDMDFProcessor.from_config(config).fit(train)
    folder = tmp_path_factory.mktemp("saved")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return model, processor, folder
