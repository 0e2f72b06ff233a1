"""A saved folder loads with `trust_remote_code=True` in a process where this package cannot be imported."""

import json
import os
import textwrap

import pytest
import torch
from bare_process import (
    BARE_PROCESSOR_WITHOUT_CONFIG,
    BLOCK_LOCAL_PACKAGES,
    assert_matches_local,
    run_bare_script,
    run_in_bare_process,
)
from model_tester import CLDMDFModelTester
from safetensors.torch import load_file, save_file

from modeling_cldmdf import BASELINE_MODELS, CLDMDFForPreTraining, CLDMDFForSequenceClassification


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


EVERY_HEAD = BLOCK_LOCAL_PACKAGES + textwrap.dedent(
    """
    import json
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoConfig, AutoModelForPreTraining, AutoModelForSequenceClassification

    folders, inputs_path, outputs_path = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    tensors = load_file(inputs_path)
    mask, hidden = tensors.pop("__mask__"), tensors.pop("__hidden__")
    outputs = {}
    with torch.no_grad():
        for name, folder in folders.items():
            config = AutoConfig.from_pretrained(folder, trust_remote_code=True)
            assert type(config).__module__.startswith("transformers_modules"), type(config).__module__
            if name == "pretraining":
                model = AutoModelForPreTraining.from_pretrained(folder, trust_remote_code=True).eval()
                outputs[name] = model(tensors, modality_mask=mask, reconstruction_mask=hidden).reconstruction_loss
            else:
                model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
                outputs[name] = model(tensors, modality_mask=mask).logits
            assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    save_file({k: v.contiguous() for k, v in outputs.items()}, outputs_path)
    """
)


def test_every_head_and_reference_model_loads_as_remote_code_in_a_bare_process(tmp_path):
    tester = CLDMDFModelTester()
    torch.manual_seed(0)
    models = {name: model(tester.get_baseline_config(name)).eval() for name, model in BASELINE_MODELS.items()}
    models["pretraining"] = CLDMDFForPreTraining(tester.get_config()).eval()
    folders = {}
    for name, model in models.items():
        model.save_pretrained(tmp_path / name)
        folders[name] = str(tmp_path / name)
    batch = tester.prepare_inputs(with_labels=False)
    mask = batch["modality_mask"]
    hidden = CLDMDFForPreTraining.choose_hidden_modalities(mask, torch.Generator().manual_seed(0))
    inputs, outputs = tmp_path / "inputs.safetensors", tmp_path / "outputs.safetensors"
    save_file({**batch["modality_inputs"], "__mask__": mask, "__hidden__": hidden}, inputs)

    run_bare_script(EVERY_HEAD, [json.dumps(folders), inputs, outputs], tmp_path, dict(os.environ, HF_HUB_OFFLINE="1"))
    remote = load_file(outputs)
    with torch.no_grad():
        for name, model in models.items():
            if name == "pretraining":
                local = model(**batch, reconstruction_mask=hidden).reconstruction_loss
            else:
                local = model(**batch).logits
            torch.testing.assert_close(remote[name], local, atol=1e-6, rtol=0)


def test_a_model_folder_carries_the_processor_code_and_every_file_it_imports(tmp_path):
    """`model.save_pretrained` names the processor class in `auto_map` and copies its files (`PROCESSOR_FILES`): the
    class loads as remote code from a folder that holds only the model, which needs every sibling file that
    `processing_cldmdf.py` imports, directly or not (it then says which file is missing)."""
    folder = tmp_path / "model_only"
    CLDMDFForSequenceClassification(CLDMDFModelTester().get_config()).save_pretrained(folder)
    assert not (folder / "processor_config.json").exists()
    run_bare_script(BARE_PROCESSOR_WITHOUT_CONFIG, [folder], tmp_path, dict(os.environ, HF_HUB_OFFLINE="1"))
