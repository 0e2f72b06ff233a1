"""A saved folder loads with `trust_remote_code=True` in a process where this package cannot be imported."""

import os

import pytest
import torch
from bare_process import assert_matches_local, run_in_bare_process
from model_tester import CLDMDFModelTester

from modeling_cldmdf import CLDMDFForSequenceClassification


@pytest.mark.parametrize("seed", [0])
def test_remote_code_in_a_bare_process_matches_in_process(tmp_path, seed):
    tester = CLDMDFModelTester()
    torch.manual_seed(seed)
    model = CLDMDFForSequenceClassification(tester.get_config()).eval()
    folder = tmp_path / "checkpoint"
    model.save_pretrained(folder)
    batch = tester.prepare_inputs(seed=seed, with_labels=False)

    remote = run_in_bare_process(folder, batch, tmp_path, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert_matches_local(remote, model, batch)
