"""train_accelerate.py: a short real run, reload exactness, resume, bad arguments, atomic saving, Trainer."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from shared_run import run_script
from transformers import AutoModelForSequenceClassification, AutoProcessor

import cldmdf.train_accelerate as train_accelerate
from cldmdf.processing.collator import CLDMDFDataCollator
from cldmdf.processing.loading import load_multimodal_dataset
from cldmdf.training.arguments import validate_args
from cldmdf.training.budget import DEFAULT_MIN_TRAIN_STEPS, training_budget
from cldmdf.training.data import eval_dataloader, get_dataloaders, load_data, select, select_splits
from cldmdf.training.model import build_model, build_processor
from cldmdf.training.outputs import TrainingRun, save_final

ROOT = Path(__file__).resolve().parents[2]
UCI = str(ROOT / "bundled_datasets" / "uci_multifeature")
QUICK = [
    "--dataset_name", UCI,
    "--max_train_samples", "256",
    "--max_eval_samples", "96",
    "--hidden_size", "32",
    "--per_device_train_batch_size", "32",
    "--eval_missing_rates", "0,0.5",
]  # fmt: skip


def run(tmp_path: Path, *extra: str, name: str = "out") -> dict:
    args = train_accelerate.parse_args([*QUICK, "--output_dir", str(tmp_path / name), *extra])
    return train_accelerate.main(args)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    results = run(folder, "--num_train_epochs", "8")
    return folder / "out", results


# Accuracy floors: the 3-seed minimum of what the real model reaches in these exact runs, minus a margin of about one
# seed-to-seed spread. Measured with `--seed 0/1/2` (torch 2.13 CPU, the defaults of d08a807: refit, learning rate
# 2e-3): CL-DMDF 0.927 / 0.844 / 0.896 after 8 epochs, TMC 0.646 / 0.688 / 0.573; chance is 0.1. They tell a model that
# learns from one that does not, not how many views it uses: trained on the `pix` view alone (a copy of the data with
# that column only), CL-DMDF reaches 0.917 / 0.906 / 0.917 and TMC 0.594 / 0.302 / 0.635.
CLDMDF_ACCURACY_FLOOR = 0.76  # 0.844 - 0.08
TMC_ACCURACY_FLOOR = 0.49  # 0.573 - 0.08


def test_outputs_and_flat_results(trained):
    folder, results = trained
    names = {p.name for p in folder.iterdir()}
    assert {"model.safetensors", "config.json", "processor_config.json", "all_results.json", "README.md"} <= names
    assert {"modeling_cldmdf.py", "configuration_cldmdf.py", "processing_cldmdf.py"} <= names
    saved = json.loads((folder / "all_results.json").read_text())
    assert saved == pytest.approx(results)
    for key in ("test_accuracy", "test_f1", "test_accuracy_missing_0.5", "test_f1_missing_0.5", "train_runtime",
                "train_samples_per_second", "test_accuracy_without_fou", "test_accuracy_without_zer"):  # fmt: skip
        assert key in results, key
    assert results["test_rows"] == 96
    assert results["test_accuracy"] >= CLDMDF_ACCURACY_FLOOR


def _test_accuracy(model, processor, limit: int = 96) -> float:
    data = load_multimodal_dataset(UCI)
    rows = list(select(data["test"], limit))  # the rows the script evaluated
    batch = CLDMDFDataCollator(processor, label_column="label")(rows)
    labels = batch.pop("labels")
    with torch.no_grad():
        predictions = model(**batch).logits.argmax(-1)
    return int((predictions == labels).sum()) / len(labels)  # the same float64 division the metric does


def test_saved_folder_reproduces_the_reported_accuracy(trained):
    folder, results = trained
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    processor = AutoProcessor.from_pretrained(folder)
    assert _test_accuracy(model, processor) == results["test_accuracy"]


def test_tmc_baseline_anneals_its_kl_term_and_its_saved_folder_reproduces_the_accuracy(tmp_path):
    tmc = ["--baseline", "tmc"]

    def trained_weights(annealing_epochs: str) -> dict:
        # Two steps of the first epoch, where the annealed KL term weighs 1/4 and the unannealed one 1.
        argv = [*QUICK, "--output_dir", str(tmp_path / annealing_epochs), "--max_train_steps", "2", *tmc]
        argv += ["--no_refit", "--skip_modality_removal", "--max_eval_samples", "32"]
        run = train_accelerate.train(train_accelerate.parse_args([*argv, "--tmc_annealing_epochs", annealing_epochs]))
        return run.model.state_dict()

    # The same seed with the KL term at full weight from the start (0) trains other weights than annealed over 4.
    annealed, full = trained_weights("4"), trained_weights("0")
    assert any(not torch.equal(annealed[key], full[key]) for key in annealed)
    results = run(tmp_path, "--num_train_epochs", "8", *tmc)
    folder = tmp_path / "out"
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    assert type(model).__name__ == "TMCForSequenceClassification" and model.config.model_type == "cldmdf_tmc"
    assert _test_accuracy(model, AutoProcessor.from_pretrained(folder)) == results["test_accuracy"]
    assert results["test_accuracy"] >= TMC_ACCURACY_FLOOR


REMOTE = """
import sys, json
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("modeling_cldmdf", "processing", "train_accelerate", "training", "model_cards",
                                  "evaluation"):
            raise ImportError(name)
sys.meta_path.insert(0, Block())
import numpy as np, pyarrow.parquet as pq, torch
from transformers import AutoModelForSequenceClassification, AutoProcessor
folder, parquet, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
table = pq.read_table(parquet).slice(0, limit).to_pydict()
batch = processor({name: table[name] for name in processor.modality_names})
with torch.no_grad():
    predictions = model(**batch).logits.argmax(-1)
print(json.dumps(int((predictions == torch.tensor(table["label"])).sum()) / limit))
"""


def test_saved_folder_reproduces_the_accuracy_as_remote_code(trained, tmp_path):
    folder, results = trained
    script = tmp_path / "remote.py"
    script.write_text(REMOTE)
    parquet = tmp_path / "evaluated.parquet"
    select(load_multimodal_dataset(UCI)["test"], 96).to_parquet(parquet)
    env = dict(os.environ, HF_MODULES_CACHE=str(tmp_path / "modules"), HF_HUB_OFFLINE="1")
    done = subprocess.run(
        [sys.executable, str(script), str(folder), str(parquet), "96"], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == results["test_accuracy"]


def test_card_is_written_with_model_index(trained):
    from huggingface_hub import ModelCard

    folder, results = trained
    card = ModelCard.load(folder / "README.md")
    values = {(r.metric_name, r.metric_value) for r in card.data.eval_results}
    assert any(v == results["test_accuracy"] for _, v in values)
    assert "train_accelerate.py" in card.text


def _digest(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


RUN_TIME_KEYS = {
    "train_runtime",
    "refit_runtime",
    "train_samples_per_second",
    "train_seconds_per_epoch",
    "peak_memory_mb",
}


def assert_same_run(first: Path, second: Path) -> None:
    """Bit-identical final weights and the same `all_results.json`, apart from wall-clock timings."""
    weights, other = load_file(first / "model.safetensors"), load_file(second / "model.safetensors")
    assert weights.keys() == other.keys()
    for key in weights:
        assert torch.equal(weights[key], other[key]), key
    results, other = (json.loads((folder / "all_results.json").read_text()) for folder in (first, second))
    for key in RUN_TIME_KEYS:
        results.pop(key), other.pop(key)
    assert results == other


def interrupted_after(straight: Path, checkpoint: str, folder: Path) -> None:
    """The output folder a run interrupted right after saving `checkpoint` leaves: the straight run's checkpoints up to
    that one (the same bytes, as the runs are deterministic) with their modification times, and no model."""
    saved = sorted((straight / "checkpoints").iterdir(), key=lambda path: path.stat().st_mtime)
    names = [path.name for path in saved]
    for path in saved[: names.index(checkpoint) + 1]:
        shutil.copytree(path, folder / "checkpoints" / path.name)  # copies the mtimes `latest` compares


# The resume tests run with the default cosine schedule (its learning rate differs at every step: a scheduler that is
# not restored changes the weights) and interrupt the same command line that ran straight through.
def test_resume_mid_epoch_from_latest_is_bit_identical_under_the_default_cosine_schedule(tmp_path, capsys):
    common = ["--max_eval_samples", "32", "--skip_modality_removal", "--max_train_steps", "24"]
    common += ["--checkpointing_steps", "3", "--save_total_limit", "0"]  # 0: every checkpoint kept
    run(tmp_path, *common, name="straight")  # 8 steps an epoch: step_12 is halfway through the second epoch
    assert train_accelerate.parse_args([]).lr_scheduler_type == "cosine"
    interrupted_after(tmp_path / "straight", "step_12", tmp_path / "resumed")  # step_3, 6, 9, 12: not by name
    capsys.readouterr()
    run(tmp_path, *common, "--resume_from_checkpoint", "latest", name="resumed")
    assert f"Resumed from checkpoint: {tmp_path / 'resumed' / 'checkpoints' / 'step_12'}" in capsys.readouterr().out
    assert_same_run(tmp_path / "straight", tmp_path / "resumed")
    # and the checkpoint's weights really differ from the final ones
    checkpoint = load_file(tmp_path / "straight" / "checkpoints" / "step_12" / "model.safetensors")
    final = load_file(tmp_path / "straight" / "model.safetensors")
    assert not torch.equal(checkpoint["classifier.weight"], final["classifier.weight"])


def test_resume_from_the_last_step_checkpoint_trains_no_further_step(tmp_path):
    """A run interrupted after saving its final step (mid-epoch: 8 steps an epoch) and resumed from it is done."""
    common = ["--max_eval_samples", "32", "--skip_modality_removal", "--max_train_steps", "5"]
    common += ["--checkpointing_steps", "5"]
    straight = run(tmp_path, *common, name="straight")
    interrupted_after(tmp_path / "straight", "step_5", tmp_path / "resumed")
    resumed = run(tmp_path, *common, "--resume_from_checkpoint", "latest", name="resumed")
    assert straight["train_steps"] == resumed["train_steps"] == 5
    assert_same_run(tmp_path / "straight", tmp_path / "resumed")


# Early stopping that triggers: at this learning rate validation stops improving after a few epochs (measured: best
# epoch 6, stopped after epoch 8 with patience 3). Evaluated once an epoch (8 steps), allowed to stop from the start.
# Resuming one epoch after the best one needs the best score, the best weights and the count of evaluations without
# improvement from the checkpoint.
EARLY_STOPPING = [
    "--max_eval_samples", "32", "--skip_modality_removal", "--learning_rate", "1e-1", "--num_train_epochs", "12",
    "--early_stopping_patience", "3", "--eval_steps", "8", "--min_train_steps", "0",
]  # fmt: skip


@pytest.mark.parametrize("checkpointing", ["epoch", "8"])
def test_resume_after_the_best_epoch_restores_early_stopping_and_is_bit_identical(tmp_path, checkpointing):
    """`epoch`: from `epoch_N`. `8`, the steps of an epoch: from `step_N` at an epoch's end, saved before that epoch's
    validation, which the resumed run must still do."""
    # --save_total_limit 0: every checkpoint kept, so that one saved after the best evaluation can be resumed from.
    straight = run(tmp_path, *EARLY_STOPPING, "--checkpointing_steps", checkpointing, "--save_total_limit", "0",
                   name="straight")  # fmt: skip
    best, trained = straight["best_epoch"], straight["epochs_trained"]
    assert 0 < best and best + 2 < trained < 12  # stopped early, more than one epoch after the best one
    if checkpointing == "epoch":
        checkpoint = tmp_path / "straight" / "checkpoints" / f"epoch_{best + 1}"  # one epoch without improvement
    else:
        checkpoint = tmp_path / "straight" / "checkpoints" / f"step_{8 * (best + 1)}"  # the best epoch's last step
    assert checkpoint.is_dir()
    run(tmp_path, *EARLY_STOPPING, "--checkpointing_steps", checkpointing, "--resume_from_checkpoint", str(checkpoint),
        name="resumed")  # fmt: skip
    assert_same_run(tmp_path / "straight", tmp_path / "resumed")


@pytest.mark.slow
def test_accelerate_dynamo_backend_inductor_compiles_trains_and_saves_plain_weights(
    tmp_path, monkeypatch, fresh_accelerate_state
):
    # What `accelerate launch --dynamo_backend inductor train_accelerate.py` sets: accelerator.prepare compiles.
    monkeypatch.setenv("ACCELERATE_DYNAMO_BACKEND", "INDUCTOR")
    args = train_accelerate.parse_args(
        [*QUICK, "--output_dir", str(tmp_path / "out"), "--max_train_steps", "8", "--skip_modality_removal"]
    )
    run = train_accelerate.train(args)
    model, results = run.model, run.results
    assert isinstance(model, torch._dynamo.eval_frame.OptimizedModule)
    # The same 8 steps (and their refit) run eagerly reach 0.292 / 0.490 / 0.688 test accuracy with --seed 0 / 1 / 2
    # (measured at d08a807); chance is 0.1.
    assert results["test_accuracy"] >= 0.20  # 0.292 - 0.09
    save_final(run, args)
    saved = load_file(tmp_path / "out" / "model.safetensors")
    trained = model._orig_mod.state_dict()
    assert saved.keys() == trained.keys()  # no `_orig_mod.` prefix: loads into an uncompiled model
    assert all(torch.equal(saved[key], trained[key]) for key in saved)
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "out")
    assert all(torch.equal(value, saved[key]) for key, value in reloaded.state_dict().items())


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--dataset_name", "/does/not/exist"], "no such file or folder"),
        (["--label_column_name", "nope"], "'nope' is not a column"),
        (["--eval_missing_rates", "0,1.2"], r"must be in \[0, 1\)"),
        (["--resume_from_checkpoint", "/no/checkpoint"], "is not a checkpoint folder"),
        (["--config_overrides", "hidden_size=30,num_attention_heads=4"], "divisible"),
        (["--model_name_or_path", "/no/such/model"], "--model_name_or_path '/no/such/model': "),
        (["--tuple_weight", "0.1", "--tuple_alphas", "0.1,x"], '--tuple_alphas must be "auto" or'),
        (["--baseline", "early_fusion", "--cal"], "cannot use TupleInfoNCE or CAL"),
        (["--baseline", "tmc", "--tuple_weight", "0.1"], "--baseline tmc cannot use TupleInfoNCE or CAL"),
        (["--baseline", "late_fusion", "--contrastive_weight", "0"], r"\['contrastive_weight'\] are not fields of"),
        (["--task", "pretraining", "--baseline", "tmc"], "--baseline has no pre-training"),
        (["--train_missing_rate", "1.2"], r"--train_missing_rate must be in \[0, 1\), got 1.2"),
        # UCI has 6 modalities: every row keeps one, so η < 5/6.
        (["--train_missing_rate", "0.9"], r"--train_missing_rate got \[0.9\]: .* below \(M - 1\) / M = 0.833333"),
        (["--eval_missing_rates", "0,0.9"], r"--eval_missing_rates got \[0.9\]: with the 6 modalities"),
        (["--refit", "--evaluation_split", "validation"], "--refit cannot run: the final evaluation reads the valid"),
    ],
)
def test_bad_arguments_stop_with_one_clear_line(tmp_path, capsys, extra, message):
    """In process: what `cli` (the script's exit status) prints; the script itself in the test below."""
    output = tmp_path / "never"
    assert train_accelerate.cli([*QUICK, "--output_dir", str(output), *extra]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("train_accelerate.py: error: ")
    assert re.search(message, last), last
    assert "Traceback" not in err
    assert not output.exists()


def test_the_script_exits_2_with_one_error_line_and_no_traceback(tmp_path):
    output = tmp_path / "never"
    done = run_script(*QUICK, "--output_dir", str(output), "--label_column_name", "nope", timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("train_accelerate.py: error: ") and "'nope' is not a column" in last, last
    assert "Traceback" not in done.stderr
    assert not output.exists()


@pytest.mark.parametrize("rate", [0.0, 0.5])
def test_train_missing_rate_removes_the_same_share_of_train_and_validation_entries_every_epoch(tmp_path, rate):
    args = train_accelerate.parse_args([*QUICK, "--output_dir", str(tmp_path), "--train_missing_rate", str(rate)])
    validate_args(args)
    data = select_splits(args, load_data(args))
    processor = build_processor(args, build_model(args, data), data)
    train_loader, eval_splits = get_dataloaders(None, args, data, processor)
    validation_loader = eval_dataloader(eval_splits["validation"], args, data, processor, rate)
    for loader in (train_loader, validation_loader):
        masks = [torch.cat([batch["modality_mask"] for batch in loader]) for _ in range(2)]  # two epochs
        for mask in masks:
            assert mask.any(dim=1).all()  # every row keeps a modality
            assert abs((1 - mask.float().mean().item()) - rate) < 0.02
        # The same entries are missing in each epoch (the train loader reshuffles its rows: compared as multisets).
        assert sorted(map(tuple, masks[0].tolist())) == sorted(map(tuple, masks[1].tolist()))
    assert torch.equal(masks[0], masks[1])  # validation, in a fixed order: row by row
    if rate:
        assert not masks[0].all()


def test_evaluation_split_validation_measures_the_split_that_chose_the_epoch(tmp_path):
    results = run(tmp_path, "--num_train_epochs", "1", "--evaluation_split", "validation", "--skip_modality_removal")
    assert not [key for key in results if key.startswith("test_")]
    assert results["validation_rows"] == 96
    # One epoch: the best model is the last one, and its validation accuracy was measured on the same rows.
    assert results["validation_accuracy"] == pytest.approx(results["best_validation_accuracy"], abs=1e-12)
    assert 0 <= results["validation_accuracy_missing_0.5"] <= 1


def test_a_dataset_without_test_split_is_evaluated_on_validation(tmp_path):
    rows = load_multimodal_dataset(UCI)["train"].select(range(300))
    rows.to_parquet(str(tmp_path / "only_train.parquet"))
    data = ["--dataset_name", str(tmp_path / "only_train.parquet"), "--max_train_steps", "1"]
    results = run(tmp_path, *data, "--skip_modality_removal")
    assert "validation_accuracy_missing_0.5" in results and "test_accuracy" not in results
    assert (tmp_path / "out" / "model.safetensors").is_file() and (tmp_path / "out" / "README.md").is_file()
    with pytest.raises(train_accelerate.UserError, match=r"--evaluation_split test: the dataset has only the splits"):
        run(tmp_path, *data, "--evaluation_split", "test", name="never")
    assert not (tmp_path / "never").exists()


def test_fine_tuning_keeps_the_checkpoint_processor(trained, tmp_path):
    folder, _ = trained
    run(tmp_path, "--model_name_or_path", str(folder), "--max_train_samples", "64", "--max_train_steps", "1")
    saved = json.loads((folder / "processor_config.json").read_text())
    fine_tuned = json.loads((tmp_path / "out" / "processor_config.json").read_text())
    # Refitting on the 64-row subset would have changed the standardisation the weights were trained with.
    assert fine_tuned["dense_statistics"] == saved["dense_statistics"]


def test_an_interrupted_save_keeps_the_previous_model(trained, tmp_path, monkeypatch):
    folder = tmp_path / "model"
    shutil.copytree(trained[0], folder)
    before = _digest(folder)
    args = train_accelerate.parse_args([*QUICK, "--output_dir", str(folder)])

    class Exploding:
        def save_pretrained(self, path):
            Path(path, "processor_config.json").write_text("{half")
            raise KeyboardInterrupt("interrupted while saving")

    model = AutoModelForSequenceClassification.from_pretrained(trained[0])
    from accelerate import Accelerator

    with pytest.raises(KeyboardInterrupt):
        save_final(TrainingRun(Accelerator(cpu=True), model, Exploding(), None, {}, {}), args)
    assert _digest(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging folder left behind


def test_transformers_trainer_trains_with_the_collator(tmp_path):
    from transformers import Trainer, TrainingArguments

    from modeling_cldmdf import CLDMDFConfig, CLDMDFForSequenceClassification
    from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor

    data = load_multimodal_dataset(UCI)
    config = CLDMDFConfig(modalities=data.modalities, hidden_size=32, num_labels=data.num_labels)
    torch.manual_seed(0)
    model = CLDMDFForSequenceClassification(config)
    processor = CLDMDFProcessor.from_config(config).fit(data["train"])
    arguments = TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=32, max_steps=20, learning_rate=3e-3,
        remove_unused_columns=False, report_to=[], use_cpu=True, logging_steps=5, save_strategy="no",
    )  # fmt: skip
    trainer = Trainer(
        model=model, args=arguments, train_dataset=data["train"].select(range(320)),
        eval_dataset=data["validation"], data_collator=CLDMDFDataCollator(processor),
    )  # fmt: skip
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    # Measured with torch.manual_seed(0 / 1 / 2): the logged loss of the last 5 steps is 0.60 / 0.60 / 0.54 of the
    # first 5 steps'; with the classification loss detached from the model (only the contrastive term trains) 0.95.
    assert len(losses) == 4 and losses[-1] <= 0.7 * losses[0]
    # The validation loss drops by 0.158 / 0.125 / 0.121 (it holds the contrastive term too, which keeps falling in the
    # detached variant: this bound checks that evaluation sees the trained model, the one above that it learned).
    assert trainer.evaluate()["eval_loss"] <= before - 0.06


def _two_view_folder(folder: Path, views: tuple[str, ...] = ("fou", "zer"), rows: int = 120) -> Path:
    """A Hub-layout folder (parquet per split + card with `configs:`) of UCI rows with only `views` as modalities."""
    data = load_multimodal_dataset(UCI)
    (folder / "data").mkdir(parents=True)
    files = []
    for split in ("train", "validation", "test"):
        table = data[split].shuffle(seed=0).select(range(rows)).select_columns([*views, "label", "row_id"])
        table.to_parquet(str(folder / "data" / f"{split}-00000-of-00001.parquet"))
        files.append(f"  - split: {split}\n    path: data/{split}-00000-of-00001.parquet")
    card = "---\nconfigs:\n- config_name: default\n  data_files:\n" + "\n".join(files) + "\n---\n"
    (folder / "README.md").write_text(card)
    return folder


@pytest.mark.slow
def test_two_dense_modalities_train_and_evaluate_with_no_flag_but_the_dataset(tmp_path):
    """The commonest case (two modalities) with the defaults: η = 0.5 cannot be met by M = 2 and is skipped with a
    log line, not an error; the step budget and early stopping run as they would on a user's data (~30 s)."""
    dataset = _two_view_folder(tmp_path / "two_views")
    output = tmp_path / "out"
    done = run_script("--dataset_name", str(dataset), "--output_dir", str(output))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "evaluation missing rates [0.5] skipped: with 2 modalities" in done.stderr
    results = json.loads((output / "all_results.json").read_text())
    assert {"test_accuracy", "test_accuracy_missing_0.1", "test_accuracy_missing_0.3"} <= set(results)
    assert "test_accuracy_missing_0.5" not in results
    assert {"test_accuracy_without_fou", "test_accuracy_without_zer"} <= set(results)
    # The budget adapts to the data: 120 training rows are 2 batches an epoch, and the run still gets at least
    # --min_train_steps updates (30 epochs would be 60) unless early stopping ends it after that floor.
    assert results["train_steps"] >= DEFAULT_MIN_TRAIN_STEPS
    assert results["test_accuracy"] > 0.5  # fou + zer on 10 digits; the two-view references reach ~0.9 on all rows
    assert (output / "model.safetensors").is_file() and (output / "README.md").is_file()


def test_one_modality_trains_and_evaluates_only_what_it_can(tmp_path):
    dataset = _two_view_folder(tmp_path / "one_view", views=("pix",), rows=64)
    args = train_accelerate.parse_args(
        ["--dataset_name", str(dataset), "--output_dir", str(tmp_path / "out"), "--max_train_steps", "3"]
    )
    results = train_accelerate.main(args)
    assert args.eval_missing_rates is None  # the arguments stay what the user typed; the run evaluates η = 0 only
    assert "test_accuracy" in results
    assert not [key for key in results if "missing" in key or "without" in key]


def test_a_missing_rate_typed_by_the_user_that_two_modalities_cannot_meet_is_an_error(tmp_path):
    dataset = _two_view_folder(tmp_path / "two_views", rows=32)
    args = train_accelerate.parse_args(
        ["--dataset_name", str(dataset), "--output_dir", str(tmp_path / "out"), "--eval_missing_rates", "0,0.5"]
    )
    with pytest.raises(train_accelerate.UserError, match=r"--eval_missing_rates got \[0.5\]: with the 2 modalities"):
        train_accelerate.main(args)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "rows, extra, expected",
    [
        (1440, [], (1000, 44, 20)),  # UCI: 23 batches an epoch; the floor of 1000 steps is above 30 epochs (690)
        (100_000, [], (46_890, 30, 938)),  # large data: 30 epochs, evaluated 50 times
        (100, [], (1000, 500, 20)),  # 2 batches an epoch: 1000 steps all the same
        (1440, ["--num_train_epochs", "2"], (46, 2, 1)),  # explicit epochs: as asked
        (1440, ["--max_train_steps", "7", "--eval_steps", "3"], (7, 1, 3)),
    ],
)
def test_training_budget_adapts_to_the_dataset_size(rows, extra, expected):
    args = train_accelerate.parse_args(["--per_device_train_batch_size", "64", *extra])
    steps_per_epoch = -(-rows // 64)
    assert training_budget(args, steps_per_epoch) == expected
