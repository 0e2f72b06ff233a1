"""What a user reads from a trained run is what it names: the label names of the predictions, the files the model
card's snippet loads, the refit's start and length, the robustness sweep's missing rates and row counts, the card's
model-index and plot, the regression outputs, and the absence of local paths from the card.

Every test reads the one shared run of `tests/shared_run.py` (the `trained_run` fixture) or trains nothing.
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from accelerate import Accelerator, PartialState
from bare_process import BARE_PROCESSOR_WITHOUT_CONFIG, BLOCK_LOCAL_PACKAGES, run_bare_script
from huggingface_hub import ModelCard
from shared_run import DIGIT_NAMES, NO_KAR_ROWS, ONLY_FOU_ROWS, script_env
from transformers import AutoModelForSequenceClassification, AutoProcessor, pipeline

import cldmdf.train_accelerate as train_accelerate
from cldmdf.evaluation.prediction import compute_metrics, predict, predict_rows
from cldmdf.evaluation.results import Condition, parse_result_key, result_key
from cldmdf.training.data import eval_dataloader
from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor

ROOT = Path(__file__).resolve().parents[2]
MODALITIES = ["fac", "fou", "kar", "mor", "pix", "zer"]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def results_of(folder: Path) -> dict:
    return json.loads((folder / "all_results.json").read_text())


def split_file(folder: Path, split: str = "test") -> datasets.Dataset:
    return datasets.Dataset.from_parquet(str(folder / f"{split}.parquet"))


def load_folder(folder: Path):
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    return model, AutoProcessor.from_pretrained(folder)


def rows_of(split: datasets.Dataset, names=MODALITIES) -> list[dict]:
    return [{name: row[name] for name in names} for row in split]


def predicted_ids(model, processor, rows: list[dict]) -> list[int]:
    """The class ids the saved model predicts, from its logits: nothing of the label names involved."""
    columns = {name: [row[name] for row in rows] for name in processor.modality_names}
    with torch.no_grad():
        return model(**processor(columns, return_tensors="pt")).logits.argmax(-1).tolist()


# ---------------------------------------------------------------------------------------------------------------------
# 1. Label names


def test_every_prediction_names_the_dataset_class_of_the_predicted_id(trained_run):
    """predictions.jsonl, `predict_rows` and the pipeline name the class the logits pick by the dataset's own
    `ClassLabel` names, and the true labels by the same names; an `id2label` shifted at save or predict time fails."""
    split = split_file(trained_run.data_folder)
    names = split.features["label"].names
    assert names == DIGIT_NAMES
    model, processor = load_folder(trained_run.folder)
    assert model.config.id2label == dict(enumerate(names))
    rows = rows_of(split)
    expected = [names[i] for i in predicted_ids(model, processor, rows)]

    lines = read_jsonl(trained_run.folder / "predictions.jsonl")
    assert [line["row_id"] for line in lines] == split["row_id"]
    assert [line["label"] for line in lines] == [names[i] for i in split["label"]]
    assert [line["predicted_label"] for line in lines] == expected
    for line in lines:
        assert type(line["label"]) is type(line["predicted_label"]) is str
        assert list(line["probabilities"]) == names
        assert line["predicted_label"] == max(line["probabilities"], key=line["probabilities"].get)
    # The accuracy a user computes from the file is the reported one.
    accuracy = np.mean([line["label"] == line["predicted_label"] for line in lines])
    assert accuracy == pytest.approx(results_of(trained_run.folder)["test_accuracy"], abs=1e-12)

    assert [record["label"] for record in predict_rows(model, processor, rows)] == expected
    classifier = pipeline(model=str(trained_run.folder), trust_remote_code=True)
    assert [answer["label"] for answer in classifier(rows)] == expected


def test_predictions_of_integer_labels_write_one_type_for_label_and_prediction(tmp_path):
    """Integer classes (no names in the data) are written as the names the model gives them ("0", "1"), in
    `label` as in `predicted_label`. No training: the file is written by an untrained model."""
    from tiny_data import rows, write_folder

    from cldmdf.training.data import load_checked_data
    from cldmdf.training.model import build_model, build_processor
    from cldmdf.training.outputs import write_predictions

    PartialState()  # the logging of a run needs it, as in a run
    folder = write_folder(tmp_path / "data", rows(40, 0, labels=(0, 1)), rows(10, 1, labels=(0, 1)))
    args = train_accelerate.parse_args(["--dataset_name", folder, "--output_dir", str(tmp_path / "o"), "--do_predict"])
    data = load_checked_data(args)
    model = build_model(args, data)
    processor = build_processor(args, model, data)
    lines = read_jsonl(write_predictions(model, processor, args, data, tmp_path))
    assert [line["label"] for line in lines] == ["0", "1"] * 5
    assert all(type(line["predicted_label"]) is str and line["predicted_label"] in ("0", "1") for line in lines)
    assert all(set(line["probabilities"]) == {"0", "1"} for line in lines)


# ---------------------------------------------------------------------------------------------------------------------
# 2. The card's snippet runs on the output folder


def card_snippet(folder: Path) -> str:
    card = (folder / "README.md").read_text()
    return card.split("## How to use", 1)[1].split("```python\n", 1)[1].split("\n```", 1)[0]


def test_the_cards_snippets_run_as_written_on_the_output_folders(trained_run, tmp_path):
    """The card's Python snippet, taken from the README.md each run wrote (classification, regression), runs
    unchanged in a process that cannot import this repository (remote code, offline) next to a copy of the output
    folder: the folder holds every file it loads (processor_config.json, the remote code, the weights). One process
    runs both snippets, one after the other."""
    snippets = []
    for folder in (trained_run.folder, trained_run.regression_folder):
        snippet = card_snippet(folder)
        assert f'checkpoint = "{folder.name}"' in snippet  # the folder's name: it runs from the folder above
        shutil.copytree(folder, tmp_path / folder.name)
        snippets.append(snippet)
    script = BLOCK_LOCAL_PACKAGES + "\n".join(f"exec({snippet!r}, {{}})" for snippet in snippets)
    run_bare_script(script, [], tmp_path, dict(os.environ, HF_HUB_OFFLINE="1"))


# ---------------------------------------------------------------------------------------------------------------------
# 3. The refit


def test_the_refit_starts_from_the_exact_initial_weights(trained_run):
    first, refit = trained_run.fits
    assert (first.prefix, refit.prefix) == ("", "refit_")
    for part in ("model", "objectives"):
        initial, loaded = first.start_weights[part], refit.start_weights[part]
        assert list(loaded) == list(initial), part
        for key, value in initial.items():
            assert torch.equal(loaded[key], value), f"{part}.{key}"
    # ... and not the trained ones (the first fit moved the weights)
    trained = AutoModelForSequenceClassification.from_pretrained(trained_run.folder).state_dict()
    assert any(not torch.equal(trained[key], value) for key, value in first.start_weights["model"].items())


def test_the_refit_runs_the_steps_of_the_best_evaluation_scaled_by_the_rows(trained_run):
    results = results_of(trained_run.folder)
    first, refit = trained_run.fits
    # The run was built so that the best evaluation comes before the last step: the two lengths differ.
    assert results["best_step"] < results["train_steps"] == first.fitted.completed_steps
    train_rows = len(split_file(trained_run.data_folder, "train"))
    rows = train_rows + len(split_file(trained_run.data_folder, "validation"))
    expected = math.ceil(results["best_step"] * rows / train_rows)
    assert expected != math.ceil(results["train_steps"] * rows / train_rows)
    assert refit.max_train_steps == refit.fitted.completed_steps == results["refit_steps"] == expected
    assert results["refit_rows"] == rows


# ---------------------------------------------------------------------------------------------------------------------
# 4. The robustness sweep, its keys, row counts, the card's model-index and the plot


@pytest.fixture(scope="module")
def sweep_inputs(trained_run):
    args = train_accelerate.parse_args(trained_run.argv)
    data = train_accelerate.load_checked_data(args)
    model, processor = load_folder(trained_run.folder)
    return args, data, model, processor


def metrics_at(sweep_inputs, rate: float, removed=None) -> dict:
    args, data, model, processor = sweep_inputs
    loader = eval_dataloader(data["test"], args, data, processor, missing_rate=rate)
    removed = [removed] if isinstance(removed, int) else removed
    return compute_metrics(predict(model, loader, Accelerator(cpu=True), removed), data.problem_type)


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.5])
def test_each_missing_rate_key_holds_the_saved_model_at_that_rate(trained_run, sweep_inputs, rate):
    """`test_<metric>_missing_<η>` is the saved model scored with the evaluation collator at exactly η (the loss
    tells any other rate apart), and that collator removes a share η of the (row, modality) entries."""
    results = results_of(trained_run.folder)
    recomputed = metrics_at(sweep_inputs, rate)
    for metric in ("loss", "accuracy", "f1"):
        assert results[result_key(metric, rate)] == pytest.approx(recomputed[metric], rel=1e-5, abs=1e-7), metric

    args, data, _, processor = sweep_inputs
    masks = [batch["modality_mask"] for batch in eval_dataloader(data["test"], args, data, processor, rate)]
    mask = torch.cat(masks).numpy()
    complete = [i for i in range(len(mask)) if i not in ONLY_FOU_ROWS + NO_KAR_ROWS]  # complete in the data
    share = 1 - mask[complete].mean()
    entries = len(complete) * mask.shape[1]
    # Three binomial standard deviations (the pattern is stratified, so the real error is smaller).
    assert abs(share - rate) <= 3 * math.sqrt(rate * (1 - rate) / entries) + 1e-9, share
    assert mask.any(axis=1).all()


def test_removal_keys_hold_their_rows_and_scores(trained_run, sweep_inputs):
    """`test_rows_without_<m>` counts the test rows that keep another modality in the data; the scores under
    `_without_<m>` are the saved model without m on those rows."""
    results = results_of(trained_run.folder)
    split = split_file(trained_run.data_folder)
    assert results["test_rows"] == len(split)
    for index, name in enumerate(MODALITIES):
        keep_another = sum(any(row[other] is not None for other in MODALITIES if other != name) for row in split)
        without = Condition(without=name)
        assert results[result_key("rows", without)] == keep_another, name
        recomputed = metrics_at(sweep_inputs, 0.0, removed=index)
        assert results[result_key("loss", without)] == pytest.approx(recomputed["loss"], rel=1e-5), name
        assert results[result_key("accuracy", without)] == pytest.approx(recomputed["accuracy"], abs=1e-12), name
    # The rows that have only `fou` in the data leave no modality without it; removing any other keeps them.
    assert results["test_rows_without_fou"] == len(split) - len(ONLY_FOU_ROWS)
    assert results["test_rows_without_kar"] == results["test_rows_without_fac"] == len(split)


def test_alone_keys_hold_the_rows_that_have_the_modality_and_its_scores_alone(trained_run, sweep_inputs):
    """`test_rows_only_<m>` counts the test rows that have m in the data; the scores under `_only_<m>` are the saved
    model with every other modality removed, on those rows."""
    results = results_of(trained_run.folder)
    split = split_file(trained_run.data_folder)
    for index, name in enumerate(MODALITIES):
        alone = Condition(only=name)
        assert results[result_key("rows", alone)] == sum(row[name] is not None for row in split), name
        recomputed = metrics_at(sweep_inputs, 0.0, removed=[i for i in range(len(MODALITIES)) if i != index])
        assert results[result_key("loss", alone)] == pytest.approx(recomputed["loss"], rel=1e-5), name
        assert results[result_key("accuracy", alone)] == pytest.approx(recomputed["accuracy"], abs=1e-12), name
    assert results["test_rows_only_kar"] == len(split) - len(ONLY_FOU_ROWS) - len(NO_KAR_ROWS)


def model_index(folder: Path) -> dict:
    """(all_results.json key the entry describes) -> value, for every model-index entry of the written card."""
    entries = {}
    for result in ModelCard.load(folder / "README.md").data.eval_results:
        args = result.metric_args
        if "removed_modality" in args:
            condition = Condition(without=args["removed_modality"])
        elif "only_modality" in args:
            condition = Condition(only=args["only_modality"])
        else:
            condition = Condition(missing_rate=args["missing_rate"])
        key = result_key(result.metric_type, condition, split=result.dataset_split)
        assert key not in entries, key
        entries[key] = result.metric_value
    return entries


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_cards_model_index_holds_the_results_values(trained_run, task):
    folder = trained_run.folder if task == "classification" else trained_run.regression_folder
    results, entries = results_of(folder), model_index(folder)
    metrics = ("accuracy", "f1") if task == "classification" else ("rmse", "mae", "r2", "mse")
    parsed = {key: parse_result_key(key, metrics=metrics) for key in results}
    expected = {
        key: value
        for key, value in results.items()
        if parsed[key] is not None and parsed[key].condition.reference_for is None
    }
    assert entries == expected
    assert len(entries) >= 2 * (1 + len(MODALITIES)) if task == "classification" else len(entries) >= 8


def plotted(figure) -> dict:
    """{(panel, label): {x: y}} of the robustness figure: lines of the missing-rate panel, bars of the other."""
    rates, removed = figure.axes[:2]
    data = {("rates", line.get_label()): dict(zip(line.get_xdata(), line.get_ydata())) for line in rates.lines}
    names = [tick.get_text().split("\n")[0] for tick in removed.get_xticklabels()]
    for container in removed.containers:
        data[("removed", container.get_label())] = {
            name: bar.get_height() for name, bar in zip(names, container.patches)
        }
    return data


def test_the_robustness_plot_draws_the_results(trained_run):
    results = results_of(trained_run.folder)
    (figure,) = trained_run.figures
    drawn = plotted(figure)
    for metric, label in (("accuracy", "Accuracy"), ("f1", "Macro F1")):
        rates = {rate: results[result_key(metric, rate)] for rate in (0.0, 0.3, 0.5)}
        assert drawn[("rates", label)] == pytest.approx(rates)
        removals = {name: results[result_key(metric, Condition(without=name))] for name in MODALITIES}
        assert drawn[("removed", f"{label} without the modality")] == pytest.approx(removals)


# ---------------------------------------------------------------------------------------------------------------------
# 5. The pipeline's answers, as transformers' text-classification pipeline


def test_the_pipeline_answers_the_top_class_unless_top_k_is_given(trained_run):
    """transformers 5's text-classification pipeline: no `top_k` -> the top class, `[{...}]` for one input and
    one dict per input for a list; `top_k=k` -> the k best sorted, a list per input; `top_k=None` -> every class."""
    classifier = pipeline(model=str(trained_run.folder), trust_remote_code=True)
    rows = rows_of(split_file(trained_run.data_folder))[:3]
    single = classifier(rows[0])
    assert isinstance(single, list) and len(single) == 1 and set(single[0]) == {"label", "score", "modality_weights"}
    many = classifier(rows)
    assert isinstance(many, list) and [type(answer) for answer in many] == [dict] * 3
    everything = classifier(rows, top_k=None)
    assert [len(answer) for answer in everything] == [len(DIGIT_NAMES)] * 3
    for answer, full in zip(many, everything):
        scores = [entry["score"] for entry in full]
        assert scores == sorted(scores, reverse=True) and sum(scores) == pytest.approx(1.0, abs=1e-5)
        assert answer == full[0]
    assert classifier(rows, top_k=2) == [full[:2] for full in everything]
    assert classifier(rows[0], top_k=None) == everything[0]
    assert single == [everything[0][0]]


# ---------------------------------------------------------------------------------------------------------------------
# 6. Regression


def test_regression_answers_values_not_labels_and_scores(trained_run):
    folder = trained_run.regression_folder
    model, processor = load_folder(folder)
    assert model.config.problem_type == "regression" and model.config.num_labels == 1
    split = split_file(trained_run.regression_data_folder)
    rows = rows_of(split, ["body", "serum"])
    columns = {name: [row[name] for row in rows] for name in ("body", "serum")}
    with torch.no_grad():
        values = model(**processor(columns, return_tensors="pt")).logits.squeeze(-1).tolist()

    lines = read_jsonl(folder / "predictions.jsonl")
    assert [line["label"] for line in lines] == pytest.approx(split["target"])
    assert [line["predicted_value"] for line in lines] == pytest.approx(values, abs=1e-5)
    assert all("predicted_label" not in line and "probabilities" not in line for line in lines)

    records = predict_rows(model, processor, rows[:3])
    assert [record["value"] for record in records] == pytest.approx(values[:3], abs=1e-5)
    assert all("label" not in record and "score" not in record for record in records)
    regressor = pipeline(model=str(folder), trust_remote_code=True)
    answers = regressor(rows[:3])
    assert [set(answer) for answer in answers] == [{"value", "modality_weights"}] * 3
    assert [answer["value"] for answer in answers] == pytest.approx(values[:3], abs=1e-5)
    assert regressor(rows[0]) == [answers[0]]
    with pytest.raises(ValueError, match="regression model"):
        regressor(rows[0], top_k=2)

    # The metrics a user computes from the predictions are the reported ones.
    results = results_of(folder)
    labels, predicted = np.array(split["target"], dtype=np.float64), np.array(values, dtype=np.float64)
    errors = predicted - labels
    assert results["test_rmse"] == pytest.approx(math.sqrt(np.mean(errors**2)), rel=1e-4)
    assert results["test_mae"] == pytest.approx(np.mean(np.abs(errors)), rel=1e-4)
    r2 = 1 - np.sum(errors**2) / np.sum((labels - labels.mean()) ** 2)
    assert results["test_r2"] == pytest.approx(r2, rel=1e-4)
    assert {"test_rmse_missing_0.3", "test_mae_missing_0.3", "test_r2_missing_0.3"} <= set(results)
    # (`best_validation_accuracy` is null: the early stopping record of a run without an accuracy)
    assert not any("accuracy" in key and value is not None for key, value in results.items())


def test_the_regression_card_speaks_regression(trained_run):
    folder = trained_run.regression_folder
    card = ModelCard.load(folder / "README.md")
    assert {result.metric_type for result in card.data.eval_results} == {"rmse", "mae", "r2", "mse"}
    assert {result.task_type for result in card.data.eval_results} == {"tabular-regression"}
    text = card.text
    assert "for regression of entities described by" in text and "classification" not in text.split("## Citation")[0]
    snippet = card_snippet(folder)
    assert "argmax" not in snippet and "top_k" not in snippet and "id2label" not in snippet
    assert "| RMSE |" in text and "| R² |" in text
    # what picked its best evaluation: the loss, the only validation metric a regression run compares
    assert "| `metric_for_best_model` | loss |" in text and "| `metric_for_best_model` | accuracy |" not in text
    (figure,) = trained_run.regression_figures
    results = results_of(folder)
    assert plotted(figure)[("rates", "RMSE")] == pytest.approx(
        {0.0: results["test_rmse"], 0.3: results["test_rmse_missing_0.3"]}
    )


# ---------------------------------------------------------------------------------------------------------------------
# 7. No local path in the card; the exact command


def test_the_card_holds_no_local_absolute_path(trained_run):
    text = (trained_run.folder / "README.md").read_text()
    root = str(trained_run.folder.parent)
    assert root not in text and str(ROOT) not in text
    command = text.split("The exact command:", 1)[1].split("```bash\n", 1)[1].split("\n```", 1)[0]
    # Run in this process, not by `accelerate launch`: `python`; the paths are the folder names.
    assert command.startswith("python train_accelerate.py --dataset_name digits --output_dir cldmdf-digits ")
    assert "| `dataset_name` | digits |" in text and "| `output_dir` | cldmdf-digits |" in text
    assert "`digits`" in text
    (figure,) = trained_run.figures
    assert root not in figure.get_suptitle()


def test_the_card_replaces_every_absolute_path_by_its_name(tmp_path):
    from cldmdf.model_cards.builder import command_without_local_paths, write_model_card

    data, base = tmp_path / "my data" / "set", tmp_path / "pretrained"
    command = f"python train_accelerate.py --dataset_name '{data}' --model_name_or_path={base} --seed 1"
    write_model_card(
        tmp_path / "out",
        results={"test_accuracy": 0.5},
        modalities={"a": {"type": "dense", "dim": 2}},
        dataset_name=str(data),
        hyperparameters={"output_dir": str(tmp_path / "out"), "files": [str(data), "relative/file.csv"]},
        command=command,
        base_model=str(base),
    )
    text = (tmp_path / "out" / "README.md").read_text()
    assert str(tmp_path) not in text
    assert "python train_accelerate.py --dataset_name set --model_name_or_path=pretrained --seed 1" in text
    assert "| `output_dir` | out |" in text and "| `files` | set, relative/file.csv |" in text
    assert command_without_local_paths("python x.py --a 'it''s' --b out/run") == "python x.py --a 'it''s' --b out/run"
    assert command_without_local_paths("python x.py --a ~/data/x") == "python x.py --a x"


def test_the_command_names_the_launcher_that_started_the_run(monkeypatch):
    import cldmdf.training.command as command_module
    from cldmdf.training.command import run_command

    argv = ["--seed", "1", "--run_name", "a b"]
    assert run_command(argv, environ={}) == "python train_accelerate.py --seed 1 --run_name 'a b'"
    assert run_command(argv, environ={}, program="/v/bin/cldmdf-train") == "cldmdf-train --seed 1 --run_name 'a b'"
    launched = {"ACCELERATE_MIXED_PRECISION": "no", "ACCELERATE_DYNAMO_BACKEND": "NO"}
    parent = ["/v/bin/python", "/v/bin/accelerate", "launch", "--num_processes", "2", "train_accelerate.py", "--seed"]
    assert run_command(argv, launched, parent) == (
        "accelerate launch --num_processes 2 train_accelerate.py --seed 1 --run_name 'a b'"
    )
    module = ["/v/bin/python", "-m", "accelerate.commands.launch", "--cpu", "/r/train_accelerate.py"]
    assert run_command(argv, launched, module).startswith("accelerate launch --cpu train_accelerate.py --seed 1")
    # launched, the parent not readable: the launcher without its flags
    assert run_command(argv, launched, []).startswith("accelerate launch train_accelerate.py --seed 1")
    # a user's own `export ACCELERATE_MIXED_PRECISION=bf16` before `python train_accelerate.py`
    exported = {"ACCELERATE_MIXED_PRECISION": "bf16"}
    assert run_command(argv, exported, ["bash"]).startswith("python train_accelerate.py")
    # what the script records for the card
    monkeypatch.setattr(command_module, "parent_command_line", lambda: None)
    for name in command_module.LAUNCH_ENV:
        monkeypatch.delenv(name, raising=False)
    assert train_accelerate.parse_args(["--seed", "1"]).command == "python train_accelerate.py --seed 1"
    for name, value in launched.items():
        monkeypatch.setenv(name, value)
    assert train_accelerate.parse_args(["--seed", "1"]).command == "accelerate launch train_accelerate.py --seed 1"


LAUNCHED_SCRIPT = textwrap.dedent(
    """
    import sys

    sys.path.insert(0, sys.argv.pop(1))
    from cldmdf.training.command import run_command  # what `train_accelerate.parse_args` records as `args.command`

    print("COMMAND:", run_command(sys.argv[1:]))
    """
)


def test_a_run_started_by_accelerate_launch_says_so(tmp_path):
    """A real `accelerate launch` (one CPU process): the script's command is `accelerate launch <its flags>
    train_accelerate.py ...`."""
    script = tmp_path / "train_accelerate.py"  # the script's name, as the card shows it; it imports the real one
    script.write_text(LAUNCHED_SCRIPT)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1"]
    launch += ["--mixed_precision", "no", "--dynamo_backend", "no", "--cpu"]
    env = script_env()
    env.pop("ACCELERATE_MIXED_PRECISION", None)
    done = subprocess.run(
        [*launch, str(script), str(ROOT), "--seed", "3"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    command = done.stdout.split("COMMAND: ", 1)[1].strip()
    expected = "accelerate launch --num_processes 1 --num_machines 1 --mixed_precision no --dynamo_backend no --cpu"
    assert command == f"{expected} train_accelerate.py --seed 3"


# ---------------------------------------------------------------------------------------------------------------------
# 8. A folder without processor_config.json


def test_a_folder_without_processor_config_says_which_file_is_missing_and_where(trained_run, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(trained_run.folder, folder)
    (folder / "processor_config.json").unlink()
    message = f"processor_config.json is missing from the folder {str(folder)!r}"
    for load in (AutoProcessor.from_pretrained, CLDMDFProcessor.from_pretrained):
        with pytest.raises(ValueError, match=re.escape(message)):
            load(folder)
    # As remote code, where the package is not installed: transformers reaches the processor through config.json.
    run_bare_script(BARE_PROCESSOR_WITHOUT_CONFIG, [folder], tmp_path, dict(os.environ, HF_HUB_OFFLINE="1"))
