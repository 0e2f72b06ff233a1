"""`--task pretraining` on rows without labels and with missing modalities, then fine-tuning from its checkpoint, both
through `accelerate launch`."""

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from safetensors.torch import load_file
from shared_run import script_env

ROOT = Path(__file__).resolve().parents[2]
UCI = ROOT / "bundled_datasets" / "uci_multifeature"
SMALL = ["--hidden_size", "32", "--per_device_train_batch_size", "32", "--eval_missing_rates", "0,0.5"]


def unlabelled_incomplete_copy(folder: Path, rows: int = 160) -> Path:
    """The first rows of UCI's train and validation splits without labels, `fou` and `pix` missing in alternate
    rows: what a user pre-trains on."""
    (folder / "data").mkdir(parents=True)
    for split in ("train", "validation"):
        (path,) = (UCI / "data").glob(f"{split}-*.parquet")
        table = pq.read_table(path).slice(0, rows).drop(["label"]).to_pydict()
        for name, offset in (("fou", 0), ("pix", 1)):
            table[name] = [None if (i + offset) % 2 == 0 else value for i, value in enumerate(table[name])]
        pq.write_table(pa.table(table), folder / "data" / f"{split}-00000-of-00001.parquet")
    return folder


def launch(*args: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", str(ROOT / "train_accelerate.py"), *args,
    ]  # fmt: skip
    env = script_env(PYTHONPATH=str(ROOT), ACCELERATE_USE_CPU="1")
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


@pytest.mark.slow
def test_pretraining_on_unlabelled_incomplete_rows_then_fine_tuning_from_its_checkpoint(tmp_path):
    data = unlabelled_incomplete_copy(tmp_path / "unlabelled")
    pretrained = tmp_path / "pretrained"
    launch("--task", "pretraining", "--dataset_name", str(data), "--output_dir", str(pretrained), *SMALL,
           "--max_train_steps", "30")  # fmt: skip

    config = json.loads((pretrained / "config.json").read_text())
    assert config["architectures"] == ["CLDMDFForPreTraining"]
    results = json.loads((pretrained / "all_results.json").read_text())
    # No test split: the losses of the validation split, whole and with half of each row's modalities hidden.
    for key in ("validation_loss", "validation_reconstruction_loss", "validation_loss_missing_0.5"):
        assert results[key] > 0
    assert results["train_steps"] == 30 and results["best_validation_loss"] > 0
    assert "--model_name_or_path" in (pretrained / "README.md").read_text()

    # Fine-tuning with a learning rate of 0 leaves every weight where the checkpoint put it: the classifier's base
    # model is the pre-trained one, not a fresh initialisation.
    tuned = tmp_path / "tuned"
    launch("--dataset_name", str(UCI), "--model_name_or_path", str(pretrained), "--output_dir", str(tuned), *SMALL,
           "--max_train_samples", "128", "--max_eval_samples", "64", "--max_train_steps", "2",
           "--learning_rate", "0")  # fmt: skip
    before, after = load_file(pretrained / "model.safetensors"), load_file(tuned / "model.safetensors")
    base = [key for key in before if key.startswith("cldmdf.")]
    assert base and all((after[key] == before[key]).all() for key in base)
    assert {key for key in after if not key.startswith("cldmdf.")} == {"classifier.weight", "classifier.bias"}
    assert json.loads((tuned / "config.json").read_text())["architectures"] == ["CLDMDFForSequenceClassification"]
    # The processor comes from the checkpoint: the statistics the encoders were trained with.
    assert (tuned / "processor_config.json").read_text() == (pretrained / "processor_config.json").read_text()
