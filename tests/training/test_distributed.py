"""Two CPU processes through `accelerate launch` (gloo): synchronised gradients and exactly-once evaluation."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from shared_run import script_env

ROOT = Path(__file__).resolve().parents[2]
UCI = str(ROOT / "bundled_datasets" / "uci_multifeature")

# Each rank trains through train_accelerate.train (the script's own loop) and dumps its parameters and results.
DRIVER = textwrap.dedent(
    """
    import json, os, sys
    from safetensors.torch import save_file
    import cldmdf.train_accelerate as train_accelerate
    from cldmdf.training.data import eval_dataloader

    out = sys.argv[1]
    args = train_accelerate.parse_args(sys.argv[2:])
    accelerator, model, processor, data, results, _ = train_accelerate.train(args)
    state = accelerator.unwrap_model(model).state_dict()
    rank = accelerator.process_index
    save_file({k: v.contiguous() for k, v in state.items()}, os.path.join(out, f"rank{rank}.safetensors"))
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump({"results": results, "num_processes": accelerator.num_processes}, f)

    # Row identity of the sharded evaluation: `predict` over the prepared test loader (what the robustness sweep
    # runs) against each row evaluated by this rank alone on the unsharded loader, with the same weights.
    import torch
    from cldmdf.evaluation.prediction import per_row_loss, predict

    test = data["test"]
    gathered = predict(model, accelerator.prepare(eval_dataloader(test, args, data, processor)), accelerator)
    single = accelerator.unwrap_model(model).eval()
    losses, labels = [], []
    with torch.no_grad():
        for batch in eval_dataloader(test, args, data, processor):
            labels.append(batch.pop("labels"))
            losses.append(per_row_loss(single(**batch).logits, labels[-1], single))
    rows = {"gathered_loss": gathered["loss"], "gathered_labels": gathered["labels"],
            "single_loss": torch.cat(losses), "single_labels": torch.cat(labels)}  # fmt: skip
    save_file({k: v.contiguous() for k, v in rows.items()}, os.path.join(out, f"rows{rank}.safetensors"))
    """
)

# Deterministic per-row computation: no dropout, no modality dropout, no alone pass (its modality is drawn at
# random per row), no batch-coupled contrastive term, so a 2 x 16 DDP step and a 1 x 32 step see the same rows and
# must give the same update.
COMMON = [
    "--dataset_name", UCI, "--max_train_samples", "128", "--max_eval_samples", "101", "--hidden_size", "32",
    "--max_train_steps", "3", "--lr_scheduler_type", "constant", "--early_stopping_patience", "0",
    "--config_overrides", "hidden_dropout_prob=0.0,modality_dropout=0.0,contrastive_weight=0.0,alone_weight=0.0",
    "--eval_missing_rates", "0,0.3", "--skip_modality_removal", "--per_device_eval_batch_size", "16",
]  # fmt: skip


def _launch(tmp_path: Path, name: str, processes: int, batch: int) -> Path:
    out = tmp_path / name
    out.mkdir()
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = script_env(PYTHONPATH=str(ROOT))
    args = [*COMMON, "--per_device_train_batch_size", str(batch), "--output_dir", str(out / "run")]
    if processes == 1:
        command = [sys.executable, str(driver), str(out), *args]
    else:
        env["ACCELERATE_USE_CPU"] = "1"
        command = [
            sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port",
            "29517", str(driver), str(out), *args,
        ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


@pytest.mark.slow
def test_two_processes_train_like_one_with_twice_the_batch(tmp_path):
    two = _launch(tmp_path, "two", processes=2, batch=16)
    one = _launch(tmp_path, "one", processes=1, batch=32)

    info = [json.loads((two / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [i["num_processes"] for i in info] == [2, 2]
    rank0, rank1 = load_file(two / "rank0.safetensors"), load_file(two / "rank1.safetensors")
    for key in rank0:  # synchronised gradients: the ranks hold bit-identical parameters
        assert torch.equal(rank0[key], rank1[key]), key

    single = load_file(one / "rank0.safetensors")
    for key in single:
        # AdamW normalises each update, so the summation-order noise of a 2 x 16 all-reduce versus one 32-row batch
        # (~1e-7 in the gradients) can reach ~1e-5 in the parameters after 3 steps; a rank that trained on its own
        # data would differ at the scale of the learning rate (1e-3).
        torch.testing.assert_close(rank0[key], single[key], rtol=0, atol=1e-4)

    # every test row is evaluated exactly once (gather_for_metrics drops the padding of the last batch), in order: the
    # gathered per-row losses are the rows' own, so a row evaluated twice and one dropped cannot add up to 101.
    for rank in (0, 1):
        rows = load_file(two / f"rows{rank}.safetensors")
        assert torch.equal(rows["gathered_labels"], rows["single_labels"])
        torch.testing.assert_close(rows["gathered_loss"], rows["single_loss"], rtol=1e-6, atol=1e-6)
        assert rows["single_loss"].unique().numel() == 101  # per-row losses tell the rows apart
    results = info[0]["results"]
    assert results["test_rows"] == 101
    assert results["test_accuracy"] == info[1]["results"]["test_accuracy"]
    single_results = json.loads((one / "rank0.json").read_text())["results"]
    assert results["test_accuracy"] == pytest.approx(single_results["test_accuracy"], abs=1 / 101)
    assert results["test_accuracy_missing_0.3"] == pytest.approx(
        single_results["test_accuracy_missing_0.3"], abs=1 / 101
    )
