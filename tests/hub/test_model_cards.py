"""Tests for `model_cards`: the card builder, its model-index, the robustness plot and atomic writes. No network."""

from __future__ import annotations

import logging
import socket
import struct
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard, metadata_load

from cldmdf.model_cards._atomic import atomic_path
from cldmdf.model_cards.builder import CARD_TAGS, PLOT_FILENAME, condition_of, infer_task_type, write_model_card
from cldmdf.model_cards.results import parse_results

MODALITIES = {
    "zer": {"type": "dense", "dim": 47},
    "fou": {"type": "dense", "dim": 76},
    "review_text": {"type": "text", "backbone": {"model_type": "bert", "hidden_size": 32}},
}
# Shaped like train_accelerate.py's all_results.json; values with many digits check exact round trips.
RESULTS = {
    "epoch": 3.0,
    "train_runtime": 41.2871,
    "train_samples_per_second": 152.33,
    "best_validation_accuracy": 0.9375,
    "eval_accuracy": 0.9375,
    "eval_loss": 0.2231,
    "test_accuracy": 0.9123456789012345,
    "test_f1": 0.9071234,
    "test_loss": 0.3102,
    "test_rows": 400,
    "test_accuracy_missing_0.1": 0.8875,
    "test_f1_missing_0.1": 0.8812,
    "test_loss_missing_0.1": 0.402,
    "test_accuracy_missing_0.3": 0.8425,
    "test_f1_missing_0.3": 0.8377777777777777,
    "test_accuracy_missing_0.5": 0.7525,
    "test_f1_missing_0.5": 0.7411,
    "test_accuracy_without_fou": 0.9,
    "test_f1_without_fou": 0.8931,
    "test_rows_without_fou": 400,
    "test_accuracy_without_review_text": 0.705,
    "test_f1_without_review_text": 0.6822,
    "test_accuracy_without_zer": 0.911,
    "test_f1_without_zer": 0.9045,
}
# The expected model-index, written from the keys above by hand: (condition, metric) -> value.
EXPECTED_EVAL = {
    (("missing_rate", 0.0), "accuracy"): 0.9123456789012345,
    (("missing_rate", 0.0), "f1"): 0.9071234,
    (("missing_rate", 0.1), "accuracy"): 0.8875,
    (("missing_rate", 0.1), "f1"): 0.8812,
    (("missing_rate", 0.3), "accuracy"): 0.8425,
    (("missing_rate", 0.3), "f1"): 0.8377777777777777,
    (("missing_rate", 0.5), "accuracy"): 0.7525,
    (("missing_rate", 0.5), "f1"): 0.7411,
    (("removed_modality", "fou"), "accuracy"): 0.9,
    (("removed_modality", "fou"), "f1"): 0.8931,
    (("removed_modality", "review_text"), "accuracy"): 0.705,
    (("removed_modality", "review_text"), "f1"): 0.6822,
    (("removed_modality", "zer"), "accuracy"): 0.911,
    (("removed_modality", "zer"), "f1"): 0.9045,
}
COMMAND = (
    "accelerate launch --num_processes 2 train_accelerate.py --dataset_name user/uci-multifeature "
    "--output_dir out/run-1 --learning_rate 3e-4 --run_name 'it''s `quoted` {{ not_jinja }} $HOME'"
)
HYPERPARAMETERS = {"learning_rate": 3e-4, "num_train_epochs": 3, "eval_missing_rates": [0.0, 0.1, 0.3, 0.5]}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted in a model card test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def build(folder, **overrides):
    kwargs = {
        "results": RESULTS,
        "modalities": MODALITIES,
        "dataset_name": "user/uci-multifeature",
        "dataset_revision": "0123456789abcdef0123456789abcdef01234567",
        "hyperparameters": HYPERPARAMETERS,
        "command": COMMAND,
        "model_name": "cldmdf-uci",
        "label_names": [f"digit {i}" for i in range(10)],
        **overrides,
    }
    return write_model_card(folder, **kwargs)


@pytest.fixture(scope="module")
def card_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("card") / "model"
    build(folder)
    return folder


def test_eval_results_one_per_condition_and_metric(card_dir):
    card = ModelCard.load(card_dir / "README.md")
    eval_results = card.data.eval_results
    found = {(condition_of(result), result.metric_type): result.metric_value for result in eval_results}
    assert len(found) == len(eval_results)  # (condition, metric) pairs are unique
    assert found == EXPECTED_EVAL
    assert len({result.metric_name for result in eval_results}) == len(eval_results)
    for result in eval_results:
        assert result.dataset_type == "user/uci-multifeature"
        assert result.dataset_split == "test"
        assert result.dataset_revision == "0123456789abcdef0123456789abcdef01234567"
        assert result.task_type == "multimodal-classification"
    assert card.data.model_name == "cldmdf-uci"
    named = {result.metric_name: result.metric_value for result in eval_results}
    assert named["Accuracy (missing rate 0.3)"] == 0.8425
    assert named["Macro F1 (without review_text)"] == 0.6822


def test_model_index_survives_save_and_load(card_dir, tmp_path):
    first = ModelCard.load(card_dir / "README.md")
    first.save(tmp_path / "README.md")
    second = ModelCard.load(tmp_path / "README.md")
    assert second.data.to_dict()["model-index"] == first.data.to_dict()["model-index"]
    assert [r.__dict__ for r in second.data.eval_results] == [r.__dict__ for r in first.data.eval_results]
    assert second.text == first.text


def test_returned_card_is_the_written_file(tmp_path):
    card = build(tmp_path / "model")
    assert (tmp_path / "model" / "README.md").read_text(encoding="utf-8") == str(card)


def test_metadata(card_dir):
    metadata = metadata_load(card_dir / "README.md")
    assert metadata["library_name"] == "transformers"
    assert metadata["license"] == "apache-2.0"
    assert metadata["datasets"] == ["user/uci-multifeature"]
    assert set(CARD_TAGS) == {"cldmdf", "multimodal", "missing-modalities", "custom_code"}
    assert set(CARD_TAGS) <= set(metadata["tags"])
    assert metadata["metrics"] == ["accuracy", "f1"]
    assert "pipeline_tag" not in metadata
    assert "base_model" not in metadata


def test_plot_is_a_png_referenced_in_the_card(card_dir):
    data = (card_dir / PLOT_FILENAME).read_bytes()
    assert data[:8] == PNG_MAGIC
    width, height = struct.unpack(">II", data[16:24])  # IHDR: the first chunk
    assert data[12:16] == b"IHDR" and width > 400 and height > 200
    assert f"]({PLOT_FILENAME})" in (card_dir / "README.md").read_text(encoding="utf-8")


def test_text_sections_and_verbatim_command(card_dir):
    text = (card_dir / "README.md").read_text(encoding="utf-8")
    assert COMMAND in text  # not re-rendered by Jinja, not escaped
    command_line = next(line for line in text.splitlines() if "accelerate launch" in line)
    assert command_line == COMMAND
    for heading in (
        "## Model description",
        "## Intended uses & limitations",
        "## How to use",
        "## Deploy without torch",
        "## Training procedure",
        "## Evaluation results",
        "## Citation",
    ):
        assert heading in text
    assert "trust_remote_code=True" in text and "AutoProcessor" in text
    assert "AutoModelForSequenceClassification" in text
    assert "| `fou` | dense | 76 |" in text
    assert "| `review_text` | text | 32 | bert built from a config, pooled → Linear |" in text
    assert "| `learning_rate` | 0.0003 |" in text
    assert "| 0.3 | 0.8425 | 0.8378 |" in text  # missing-rate table: accuracy, F1 to 4 decimals
    # Without a row count nor a score on the same rows, a removal is not compared with the whole split's score.
    assert "| `review_text` | 0.7050 | 0.6822 | – | – | – | – |" in text
    # `fou` was removed from all 400 rows: the whole split is its reference.
    assert "| `fou` | 0.9000 | 0.8931 | 400 | 0.9123 | -0.0123 | 0.9071 |" in text
    assert "| `train_runtime` | 41.2871 |" in text
    assert "| 9 | digit 9 |" in text
    assert "arXiv" in text and "2606.02659" in text and "Li and Zhang and Han and Ding and Kou" in text
    # the usage snippet is valid Python
    snippet = text.split("```python\n", 1)[1].split("\n```", 1)[0]
    compile(snippet, "usage", "exec")


def test_every_reference_model_has_a_card_description_naming_its_class():
    from cldmdf.model_cards.builder import BASELINE_CARDS, BASELINE_CLASSES
    from modeling_cldmdf import BASELINE_MODELS

    assert set(BASELINE_CARDS) == set(BASELINE_MODELS)
    assert BASELINE_CLASSES == {name: model.__name__ for name, model in BASELINE_MODELS.items()}


@pytest.mark.parametrize("baseline", ["early_fusion", "late_fusion", "tmc"])
def test_the_card_of_a_baseline_describes_that_method_not_cldmdf(tmp_path, baseline):
    text = build(tmp_path / baseline, baseline=baseline).text
    cldmdf = (Path(__file__).resolve().parents[2] / "model_cards" / "template.md").read_text()
    name = {"early_fusion": "early fusion", "late_fusion": "late fusion", "tmc": "TMC"}[baseline]
    first = text.split("\n\n", 1)[1].split("\n\n", 1)[0]  # the paragraph under the title
    assert first.startswith(f"A **{name}") and f"`--baseline {baseline}`" in first, first
    from modeling_cldmdf import BASELINE_MODELS

    assert f"`{BASELINE_MODELS[baseline].__name__}`" in first
    assert "Dual attention" not in text and "Dual attention" in cldmdf
    assert "## Model description\n\n" in text and "\n\nModalities, in the model's (sorted) order:" in text
    assert "## Citation" in text  # the library's citation stays
    encoder = "none: concatenated as is" if baseline == "early_fusion" else "Linear → GELU"
    assert f"| `fou` | dense | 76 | {encoder}" in text


def test_the_card_of_cldmdf_keeps_its_description(card_dir):
    text = (card_dir / "README.md").read_text(encoding="utf-8")
    assert "\n\nA [CL-DMDF](#citation) model (contrastive" in text
    assert "pulls each modality towards the centroid of its entity.\n\nModalities, in the model's" in text
    assert "reference method" not in text


def test_only_card_and_plot_are_left_in_the_folder(card_dir):
    assert sorted(path.name for path in card_dir.iterdir()) == sorted(["README.md", PLOT_FILENAME])


def test_without_matplotlib_the_card_has_no_image(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with caplog.at_level(logging.WARNING, logger="cldmdf.model_cards.plots"):
        card = build(tmp_path)
    assert not (tmp_path / PLOT_FILENAME).exists()
    assert PLOT_FILENAME not in card.text and "![" not in card.text
    assert "matplotlib is not installed" in caplog.text
    assert len(card.data.eval_results) == len(EXPECTED_EVAL)


def test_local_dataset_and_base_model_stay_out_of_the_metadata(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    card = build(tmp_path / "model", dataset_name=str(data), dataset_revision=None, base_model=str(tmp_path))
    metadata = metadata_load(tmp_path / "model" / "README.md")
    assert "datasets" not in metadata and "base_model" not in metadata
    # The model-index names the local dataset by its folder name: no path of this machine in the Hub metadata.
    assert {(result.dataset_type, result.dataset_name) for result in card.data.eval_results} == {("data", "data")}
    # Nor in the text: the card goes to the Hub, where a folder of this machine means nothing.
    assert str(tmp_path) not in (tmp_path / "model" / "README.md").read_text(encoding="utf-8")
    assert "`data`" in card.text  # the card's text names the dataset by its folder


def test_hub_base_model_goes_into_the_metadata(tmp_path):
    build(tmp_path, base_model="user/cldmdf-pretrained")
    assert metadata_load(tmp_path / "README.md")["base_model"] == "user/cldmdf-pretrained"


def test_results_without_test_metrics_give_no_model_index(tmp_path):
    card = build(tmp_path, results={"train_runtime": 3.5, "epoch": 1.0})
    assert "model-index" not in metadata_load(tmp_path / "README.md")
    assert not card.data.eval_results
    assert not (tmp_path / PLOT_FILENAME).exists()
    assert "No test-split results were recorded." in card.text


def test_task_type_follows_modality_types():
    assert infer_task_type(MODALITIES) == "multimodal-classification"
    assert infer_task_type({"a": {"type": "dense", "dim": 2}, "b": {"type": "dense", "dim": 3}}) == (
        "tabular-classification"
    )
    assert infer_task_type({"t": {"type": "text", "backbone": "bert-base-uncased"}}) == "text-classification"


def test_parse_results_conditions():
    parsed = parse_results(RESULTS, modality_names=MODALITIES)
    assert list(parsed.missing_rates) == [0.0, 0.1, 0.3, 0.5]
    assert list(parsed.removed_modalities) == ["fou", "review_text", "zer"]
    assert parsed.complete == {"accuracy": 0.9123456789012345, "f1": 0.9071234, "loss": 0.3102, "rows": 400.0}
    assert list(parsed.other) == [
        "epoch",
        "train_runtime",
        "train_samples_per_second",
        "best_validation_accuracy",
        "eval_accuracy",
        "eval_loss",
    ]
    # `missing_0` is the complete condition: agreeing values merge, contradicting ones are an error
    assert parse_results({"test_accuracy": 0.5, "test_accuracy_missing_0": 0.5}).missing_rates == {
        0.0: {"accuracy": 0.5}
    }
    with pytest.raises(ValueError, match="contradicts"):
        parse_results({"test_accuracy": 0.5, "test_accuracy_missing_0.0": 0.6})


@pytest.mark.parametrize(
    ("results", "error", "match"),
    [
        ({"test_accuracy_without_audio": 0.5}, ValueError, "names modality 'audio'"),
        ({"test_accuracy_missing_abc": 0.5}, ValueError, "is not a number"),
        ({"test_accuracy_missing_1.5": 0.5}, ValueError, r"must be in \[0, 1\)"),
        ({"test_f1": float("nan")}, ValueError, "must be finite"),
        ({"test_f1": "0.5"}, TypeError, "must be a real number"),
    ],
)
def test_bad_results_raise(tmp_path, results, error, match):
    with pytest.raises(error, match=match):
        build(tmp_path, results=results)
    assert not (tmp_path / "README.md").exists()


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"modalities": {}}, ValueError, "`modalities` must be a non-empty mapping"),
        ({"modalities": {"a": {"type": "audio"}}}, ValueError, r"`modalities\['a'\]\['type'\]` must be one of"),
        ({"modalities": {"a": {"type": "dense", "dim": 0}}}, ValueError, "must be a positive int"),
        ({"command": "  "}, ValueError, "`command` must be a non-empty string"),
        ({"dataset_name": None}, ValueError, "`dataset_name` must be a non-empty string"),
        ({"label_names": "abc"}, TypeError, "`label_names` must be a list of str"),
        ({"hyperparameters": [("lr", 1)]}, TypeError, "`hyperparameters` must be a mapping"),
        ({"baseline": "cldmdf"}, ValueError, r"`baseline` must be None \(CL-DMDF\) or one of"),
    ],
)
def test_bad_arguments_raise(tmp_path, overrides, error, match):
    with pytest.raises(error, match=match):
        build(tmp_path, **overrides)


def test_atomic_path_keeps_the_old_file_on_error(tmp_path):
    target = tmp_path / "README.md"
    target.write_text("old card")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half-written")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old card"
    assert [path.name for path in tmp_path.iterdir()] == ["README.md"]
    with atomic_path(target) as temporary:
        temporary.write_text("new card")
    assert target.read_text() == "new card"
    assert [path.name for path in tmp_path.iterdir()] == ["README.md"]


# Real missingness: `zer` is the only modality of 100 of the 400 rows, so its removal is scored on the other 300, whose
# accuracy with every modality (0.97) is above the whole split's (0.90).
SUBSET_RESULTS = {
    "test_accuracy": 0.90,
    "test_f1": 0.89,
    "test_rows": 400,
    "test_accuracy_missing_0.5": 0.85,
    "test_accuracy_without_zer": 0.95,
    "test_f1_without_zer": 0.94,
    "test_rows_without_zer": 300,
    "test_accuracy_with_zer": 0.97,
    "test_f1_with_zer": 0.96,
    "test_accuracy_without_fou": 0.50,
    "test_rows_without_fou": 300,  # a run from before `with_` keys: no reference on its rows
}


def test_a_removal_is_compared_with_every_modality_on_the_same_rows(tmp_path):
    parsed = parse_results(SUBSET_RESULTS, modality_names=MODALITIES)
    assert parsed.removal_references == {"zer": {"accuracy": 0.97, "f1": 0.96}}
    assert "test_accuracy_with_zer" not in parsed.other
    assert parsed.removal_reference("zer", "accuracy") == 0.97
    assert parsed.removal_reference("fou", "accuracy") is None  # 300 of 400 rows: the split is not its reference
    text = build(tmp_path, results=SUBSET_RESULTS).text
    columns = "| Accuracy | Macro F1 | Rows | Accuracy, all modalities, same rows | Δ accuracy (same rows) |"
    assert columns in text
    # -0.02 on the same 300 rows, not +0.05 against the 400 rows of the whole split.
    assert "| `zer` | 0.9500 | 0.9400 | 300 | 0.9700 | -0.0200 | 0.9600 |" in text
    assert "| `fou` | 0.5000 | – | 300 | – | – | – |" in text
    assert "+0.0500" not in text
    assert "compared with every modality's score on those same rows" in text
    with pytest.raises(ValueError, match="names modality 'audio'"):
        parse_results({"test_accuracy_with_audio": 0.5}, modality_names=MODALITIES)


def test_the_removal_panel_marks_each_bar_with_its_same_rows_reference():
    from matplotlib.figure import Figure

    from cldmdf.model_cards.plots import _draw_removed_modalities

    axes = Figure().subplots()
    _draw_removed_modalities(axes, parse_results(SUBSET_RESULTS))
    assert axes.get_ylim() == (0.0, 1.05)
    assert [label.get_text() for label in axes.get_xticklabels()] == ["fou", "zer"]
    assert axes.get_title() == "Each modality removed, or alone (300 rows each)"
    references = {collection.get_label(): collection.get_segments() for collection in axes.collections}
    (segment,) = references["Accuracy, all modalities, same rows"]  # zer's rows only: none is known on fou's
    assert segment[0][1] == segment[1][1] == 0.97
    assert (segment[0][0], segment[1][0]) == pytest.approx((0.6, 1.0))  # across zer's accuracy bar, x = 0.8 ± 0.2
    assert not axes.lines  # no dashed line of the whole split's score
    # Removals scored on different rows: each bar says on how many; fou's 400 rows are the split's, its reference.
    axes = Figure().subplots()
    _draw_removed_modalities(axes, parse_results({**SUBSET_RESULTS, "test_rows_without_fou": 400}))
    assert [label.get_text() for label in axes.get_xticklabels()] == ["fou\n400 rows", "zer\n300 rows"]
    segments = {collection.get_label(): collection.get_segments() for collection in axes.collections}
    assert [segment[0][1] for segment in segments["Accuracy, all modalities, same rows"]] == [0.90, 0.97]


def test_the_missing_rate_axis_starts_at_zero_and_names_the_rows():
    from matplotlib.figure import Figure

    from cldmdf.model_cards.plots import _draw_missing_rates

    parsed = parse_results({"test_accuracy": 0.97, "test_rows": 400, "test_accuracy_missing_0.5": 0.95})
    axes = Figure().subplots()
    _draw_missing_rates(axes, parsed.missing_rates)
    # 0.97 and 0.95 are two points on a 0-1 axis, not a cliff across the whole panel.
    assert axes.get_ylim() == (0.0, 1.05)
    assert "400 rows" in axes.get_title()


@pytest.mark.parametrize("dense_input_norm", [False, True])
def test_the_dense_encoder_cell_says_whether_a_layer_norm_comes_first(tmp_path, dense_input_norm):
    text = build(tmp_path, dense_input_norm=dense_input_norm).text
    cell = ("LayerNorm → " if dense_input_norm else "") + "Linear → GELU → Dropout → Linear"
    assert f"| `fou` | dense | 76 | {cell} |" in text
    assert ("LayerNorm" in text) is dense_input_norm


def test_each_modality_alone_is_a_row_of_the_card_an_eval_result_and_a_mark_of_the_plot(tmp_path):
    from matplotlib.figure import Figure

    from cldmdf.model_cards.plots import _draw_removed_modalities

    results = {**SUBSET_RESULTS, "test_accuracy_only_zer": 0.91, "test_rows_only_zer": 380}
    parsed = parse_results(results, modality_names=MODALITIES)
    assert parsed.alone_modalities == {"zer": {"accuracy": 0.91, "rows": 380}}
    assert "test_accuracy_only_zer" not in parsed.other
    card = build(tmp_path, results=results)
    assert "| `zer` | 0.9100 | 380 |" in card.text.split("| Alone |")[1]
    (alone,) = [result for result in card.data.eval_results if condition_of(result) == ("only_modality", "zer")]
    assert (alone.metric_value, alone.metric_name) == (0.91, "Accuracy (zer alone)")
    axes = Figure().subplots()
    _draw_removed_modalities(axes, parsed)
    marks = {collection.get_label(): collection for collection in axes.collections}
    assert marks["Accuracy, the modality alone"].get_offsets().tolist() == [[pytest.approx(0.8), 0.91]]
    with pytest.raises(ValueError, match="names modality 'audio'"):
        parse_results({"test_accuracy_only_audio": 0.5}, modality_names=MODALITIES)
