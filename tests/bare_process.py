"""Run a CL-DMDF checkpoint as remote code in a child process where this repository's packages cannot be imported.

Shared by `test_remote_code.py` (a saved folder) and `test_hub_roundtrip.py` (a repo id on the loopback Hub).
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Optional

import torch
from safetensors.torch import load_file, save_file

__all__ = [
    "BARE_PROCESS",
    "BARE_PROCESSOR_WITHOUT_CONFIG",
    "BLOCK_LOCAL_PACKAGES",
    "assert_matches_local",
    "run_in_bare_process",
]

# The first lines of every child script: block every import of our packages, so that what follows loads only
# through transformers' remote code path.
BLOCK_LOCAL_PACKAGES = textwrap.dedent(
    """
    import sys

    class BlockLocalPackages:
        blocked = ("modeling_cldmdf", "processing", "model_cards", "train_accelerate", "training")

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
    """
)

# argv[1]: a folder without processor_config.json; the remote processor class must say that file is missing.
BARE_PROCESSOR_WITHOUT_CONFIG = BLOCK_LOCAL_PACKAGES + textwrap.dedent(
    """
    from transformers import AutoProcessor

    try:
        AutoProcessor.from_pretrained(sys.argv[1], trust_remote_code=True)
    except ValueError as error:
        assert f"processor_config.json is missing from the folder {sys.argv[1]!r}" in str(error), error
    else:
        raise SystemExit("loaded a processor from a folder without processor_config.json")
    """
)

BARE_PROCESS = BLOCK_LOCAL_PACKAGES + textwrap.dedent(
    """
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


def run_bare_script(script: str, args: list, workdir: Path, env: Optional[dict] = None) -> None:
    """Runs the Python source `script` with `args` in a child process that cannot import this repository and asserts
    it succeeded (its stderr is the failure message).

    The script runs from `workdir` (not the repository: nothing of ours on `sys.path` but the editable install, which
    the script blocks), `env` is the child's whole environment (default: this one) without `PYTHONPATH`, and
    `HF_MODULES_CACHE` points into `workdir`, so remote code is fetched afresh.
    """
    workdir = Path(workdir)
    path = workdir / "bare.py"
    path.write_text(script)
    env = dict(os.environ if env is None else env, HF_MODULES_CACHE=str(workdir / "modules"))
    env.pop("PYTHONPATH", None)
    completed = subprocess.run(
        [sys.executable, str(path), *map(str, args)], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-3000:]


def run_in_bare_process(target: str, batch: dict, workdir: Path, env: Optional[dict] = None) -> dict:
    """Loads `target` (a folder or a Hub repo id) with `trust_remote_code=True` in a child process that cannot import
    this repository, runs it on `batch` (`modality_inputs` + `modality_mask`) and returns its outputs: `logits`,
    `modality_weights`, `modality_attentions`, `pooler_output` (tensors) and `module` (the model class's module).

    `workdir` and `env` are as in `run_bare_script`.
    """
    workdir = Path(workdir)
    inputs, outputs = workdir / "inputs.safetensors", workdir / "outputs.safetensors"
    save_file({**batch["modality_inputs"], "__mask__": batch["modality_mask"]}, inputs)
    run_bare_script(BARE_PROCESS, [target, inputs, outputs], workdir, env)
    result: dict = load_file(outputs)
    result["module"] = "".join(chr(c) for c in result.pop("module").tolist())
    return result


def assert_matches_local(remote: dict, model: torch.nn.Module, batch: dict, atol: float = 1e-6) -> None:
    """The bare process's outputs equal `model`'s on `batch` (same tolerance as the in-process comparison)."""
    assert remote["module"].startswith("transformers_modules"), remote["module"]
    with torch.no_grad():
        local = model(**batch, output_attentions=True)
        base = model.cldmdf(**batch)
    torch.testing.assert_close(remote["logits"], local.logits, atol=atol, rtol=0)
    torch.testing.assert_close(remote["modality_weights"], local.modality_weights, atol=atol, rtol=0)
    torch.testing.assert_close(remote["modality_attentions"], local.modality_attentions, atol=atol, rtol=0)
    torch.testing.assert_close(remote["pooler_output"], base.pooler_output, atol=atol, rtol=0)
