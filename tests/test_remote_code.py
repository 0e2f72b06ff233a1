"""A saved folder loads with `trust_remote_code=True` in a process where this package cannot be imported."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from model_tester import CLDMDFModelTester
from safetensors.torch import load_file, save_file

from modeling_cldmdf import CLDMDFForSequenceClassification

# The child process blocks every import of our packages, then loads only through transformers' remote code path.
BARE_PROCESS = textwrap.dedent(
    """
    import sys

    class BlockLocalPackages:
        blocked = ("modeling_cldmdf", "processing", "model_cards", "train_accelerate")

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.blocked:
                raise ImportError(f"{name} is blocked: this process must use the remote code")

    sys.meta_path.insert(0, BlockLocalPackages())
    try:
        import modeling_cldmdf  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("the package was importable: the test would prove nothing")

    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

    folder, inputs_path, outputs_path = sys.argv[1:4]
    config = AutoConfig.from_pretrained(folder, trust_remote_code=True)
    assert type(config).__name__ == "CLDMDFConfig", type(config)
    assert not type(config).__module__.startswith("modeling_cldmdf"), type(config).__module__
    tensors = load_file(inputs_path)
    mask = tensors.pop("__mask__")
    outputs = {}
    with torch.no_grad():
        head = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
        result = head(tensors, modality_mask=mask, output_attentions=True)
        outputs["logits"] = result.logits
        outputs["modality_weights"] = result.modality_weights
        outputs["modality_attentions"] = result.modality_attentions
        base = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
        outputs["pooler_output"] = base(tensors, modality_mask=mask).pooler_output
    outputs["module"] = torch.tensor([ord(c) for c in type(head).__module__])
    save_file({k: v.contiguous() for k, v in outputs.items()}, outputs_path)
    """
)


@pytest.mark.parametrize("seed", [0])
def test_remote_code_in_a_bare_process_matches_in_process(tmp_path, seed):
    tester = CLDMDFModelTester()
    torch.manual_seed(seed)
    model = CLDMDFForSequenceClassification(tester.get_config()).eval()
    folder = tmp_path / "checkpoint"
    model.save_pretrained(folder)
    batch = tester.prepare_inputs(seed=seed, with_labels=False)
    save_file({**batch["modality_inputs"], "__mask__": batch["modality_mask"]}, tmp_path / "inputs.safetensors")

    script = tmp_path / "bare.py"
    script.write_text(BARE_PROCESS)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    env.pop("PYTHONPATH", None)
    completed = subprocess.run(
        [sys.executable, str(script), str(folder), str(tmp_path / "inputs.safetensors"), str(tmp_path / "out.st")],
        cwd=tmp_path,  # not the repository: nothing of ours on sys.path but the blocked editable install
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    remote = load_file(tmp_path / "out.st")
    module = "".join(chr(c) for c in remote.pop("module").tolist())
    assert module.startswith("transformers_modules"), module

    with torch.no_grad():
        local = model(**batch, output_attentions=True)
        base = model.cldmdf(**batch)
    torch.testing.assert_close(remote["logits"], local.logits, atol=1e-6, rtol=0)
    torch.testing.assert_close(remote["modality_weights"], local.modality_weights, atol=1e-6, rtol=0)
    torch.testing.assert_close(remote["modality_attentions"], local.modality_attentions, atol=1e-6, rtol=0)
    torch.testing.assert_close(remote["pooler_output"], base.pooler_output, atol=1e-6, rtol=0)
