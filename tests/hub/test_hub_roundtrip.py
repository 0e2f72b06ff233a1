"""CL-DMDF models, processors, cards and datasets through the Hub and back, with the REAL `huggingface_hub`,
`transformers` and `datasets` clients talking to the loopback Hub of `hub_server.py` (fixture `hub_server`).

Nothing of those libraries is mocked: a push is an HTTP upload to 127.0.0.1 and a pull an HTTP download from it.
"""

import hashlib
import json
import os
import re
from pathlib import Path

import pytest
import torch
from bare_process import assert_matches_local, run_in_bare_process
from datasets import DatasetDict, load_dataset
from datasets.exceptions import DatasetNotFoundError
from huggingface_hub import HfApi, ModelCard, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from model_tester import CLDMDFModelTester
from safetensors.torch import load_file
from torch.utils.data import DataLoader
from transformers import AutoModelForSequenceClassification, AutoProcessor

import cldmdf.train_accelerate as train_accelerate
from cldmdf.model_cards.builder import write_model_card
from cldmdf.processing.collator import CLDMDFDataCollator
from cldmdf.processing.loading import load_multimodal_dataset
from cldmdf.training.outputs import push_folder
from modeling_cldmdf import CLDMDFForSequenceClassification
from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor

try:
    from httpx2 import TransportError  # the HTTP client of huggingface_hub >= 2
except ImportError:  # pragma: no cover - huggingface_hub 1.x
    from httpx import TransportError

ROOT = Path(__file__).resolve().parents[2]
UCI = ROOT / "bundled_datasets" / "uci_multifeature"
UCI_VIEWS = ["fac", "fou", "kar", "mor", "pix", "zer"]
TESTER = CLDMDFModelTester()


# ----------------------------------------------------------------------------------------------------------------
# Helpers


def tiny_model(seed: int) -> CLDMDFForSequenceClassification:
    torch.manual_seed(seed)
    return CLDMDFForSequenceClassification(TESTER.get_config()).eval()


def raw_columns(seed: int) -> dict:
    """Per-modality lists with `None` for missing entries, as a dataset gives them to the processor."""
    batch = TESTER.prepare_inputs(seed=seed, with_labels=False)
    columns = {}
    for j, name in enumerate(sorted(TESTER.dims)):
        values, present = batch["modality_inputs"][name].tolist(), batch["modality_mask"][:, j].tolist()
        columns[name] = [value if keep else None for value, keep in zip(values, present)]
    return columns


def fitted_processor(config) -> CLDMDFProcessor:
    return CLDMDFProcessor.from_config(config).fit(raw_columns(seed=100))


def assert_same_weights(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for name in expected:
        assert torch.equal(actual[name], expected[name]), name


def assert_same_batches(first, second) -> None:
    """Bitwise-equal nested batches (dicts of tensors), key by key."""
    if isinstance(first, torch.Tensor):
        assert isinstance(second, torch.Tensor) and first.dtype == second.dtype and torch.equal(first, second)
        return
    assert set(first) == set(second)
    for key in first:
        assert_same_batches(first[key], second[key])


def digest(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def uci_with_missing_views(rows: dict) -> DatasetDict:
    """A few rows of each split of the bundled UCI data (6 dense views), with some views set to None."""
    raw = load_dataset(str(UCI))

    def drop_views(row, i):
        if i % 3 == 0:
            row[UCI_VIEWS[(i // 3) % 6]] = None
        if i % 4 == 1:
            row[UCI_VIEWS[(i + 2) % 6]] = None
        return row

    return DatasetDict(
        {
            split: raw[split].shuffle(seed=0).select(range(count)).map(drop_views, with_indices=True)
            for split, count in rows.items()
        }
    )


def none_positions(dataset) -> set:
    return {(i, name) for i, row in enumerate(dataset) for name in UCI_VIEWS if row[name] is None}


# ----------------------------------------------------------------------------------------------------------------
# Models, processors, cards


def test_model_processor_and_card_round_trip(hub_server, tmp_path):
    repo_id = hub_server.new_repo_id("cldmdf-roundtrip")
    model = tiny_model(seed=0)
    processor = fitted_processor(model.config)
    card = write_model_card(
        tmp_path / "card",
        results={"test_accuracy": 0.75, "test_f1": 0.7, "test_accuracy_missing_0.5": 0.5, "test_f1_missing_0.5": 0.4},
        modalities=model.config.modalities,
        dataset_name="test-user/some-dataset",
        hyperparameters={"learning_rate": 1e-3, "hidden_size": 32},
        command="python train_accelerate.py --hidden_size 32",
        model_name=repo_id,
    )
    model.push_to_hub(repo_id)
    processor.push_to_hub(repo_id)
    card.push_to_hub(repo_id)

    files = set(HfApi().list_repo_files(repo_id))
    assert {"model.safetensors", "config.json", "processor_config.json", "README.md"} <= files
    assert {"modeling_cldmdf.py", "configuration_cldmdf.py", "processing_cldmdf.py"} <= files  # remote code
    assert any(call.startswith(f"POST /{repo_id}.git/info/lfs/objects/batch") for call in hub_server.calls)

    pulled = AutoModelForSequenceClassification.from_pretrained(repo_id).eval()
    pulled_processor = AutoProcessor.from_pretrained(repo_id)
    assert type(pulled) is CLDMDFForSequenceClassification and type(pulled_processor) is CLDMDFProcessor
    assert {"AutoModel", "AutoModelForSequenceClassification"} <= set(pulled.config.auto_map)
    assert_same_weights(pulled.state_dict(), model.state_dict())
    saved = json.loads(Path(hf_hub_download(repo_id, "processor_config.json")).read_text())
    assert saved["auto_map"] == {"AutoProcessor": "processing_cldmdf.CLDMDFProcessor"}
    without_auto_map = [
        {k: v for k, v in p.to_dict().items() if k != "auto_map"} for p in (pulled_processor, processor)
    ]
    assert without_auto_map[0] == without_auto_map[1]  # statistics reload bit-identical

    columns = raw_columns(seed=1)
    batch, pulled_batch = processor(columns), pulled_processor(columns)
    assert_same_batches(pulled_batch, batch)
    assert not batch["modality_mask"].all()  # some modalities really are missing
    with torch.no_grad():
        assert torch.equal(pulled(**pulled_batch).logits, model(**batch).logits)

    pulled_card = ModelCard.load(repo_id)
    assert pulled_card.data.to_dict()["model-index"] == card.data.to_dict()["model-index"]
    results = {(r.metric_name, r.metric_value) for r in pulled_card.data.eval_results}
    assert {(r.metric_name, r.metric_value) for r in card.data.eval_results} == results
    assert any(value == 0.75 for _, value in results)


def test_revisions_tag_branch_and_commit_sha(hub_server):
    api = HfApi()
    repo_id = hub_server.new_repo_id("cldmdf-revisions")
    first, second, third = tiny_model(seed=1), tiny_model(seed=2), tiny_model(seed=3)
    first.push_to_hub(repo_id)
    first_sha = hub_server.head(repo_id)
    api.create_tag(repo_id, tag="v1")
    second.push_to_hub(repo_id, commit_message="second weights")
    second_sha = hub_server.head(repo_id)
    api.create_branch(repo_id, branch="experiment")
    third.push_to_hub(repo_id, revision="experiment")
    assert first_sha != second_sha and hub_server.head(repo_id) == second_sha  # the branch push left main alone
    assert not torch.equal(first.classifier.weight, second.classifier.weight)

    expected = {
        None: second,
        "main": second,
        "v1": first,
        first_sha: first,
        second_sha: second,
        "experiment": third,
        hub_server.head(repo_id, branch="experiment"): third,
    }
    for revision, model in expected.items():
        pulled = AutoModelForSequenceClassification.from_pretrained(repo_id, revision=revision)
        assert_same_weights(pulled.state_dict(), model.state_dict())
    refs = api.list_repo_refs(repo_id)
    assert {t.name: t.target_commit for t in refs.tags} == {"v1": first_sha}
    assert {b.name for b in refs.branches} == {"main", "experiment"}


def test_remote_code_by_repo_id_in_a_bare_process(hub_server, tmp_path):
    repo_id = hub_server.new_repo_id("cldmdf-remote-code")
    model = tiny_model(seed=4)
    model.push_to_hub(repo_id)
    batch = TESTER.prepare_inputs(seed=4, with_labels=False)

    env = dict(os.environ)  # the fixture's HF_ENDPOINT, HF_TOKEN, HF_HUB_DISABLE_XET ...
    assert env["HF_ENDPOINT"] == hub_server.url and "HF_HUB_OFFLINE" not in env
    env["HF_HUB_CACHE"] = str(tmp_path / "fresh_cache")  # the child downloads everything from the server
    remote = run_in_bare_process(repo_id, batch, tmp_path, env=env)

    assert_matches_local(remote, model, batch, atol=1e-6)
    assert (tmp_path / "fresh_cache" / f"models--{repo_id.replace('/', '--')}").is_dir()
    downloads = [c for c in hub_server.calls if re.fullmatch(rf"GET /{repo_id}/resolve/\w+/\w+\.py", c)]
    assert any(c.endswith("/modeling_cldmdf.py") for c in downloads), downloads  # the code came from the server


# ----------------------------------------------------------------------------------------------------------------
# Datasets


def test_dataset_push_then_load_stream_and_collate(hub_server):
    repo_id = hub_server.new_repo_id("uci-missing")
    original = uci_with_missing_views({"train": 24, "validation": 8, "test": 8})
    assert len(none_positions(original["train"])) > 5
    original.push_to_hub(repo_id)

    loaded = load_dataset(repo_id)
    streamed = load_dataset(repo_id, streaming=True)
    assert set(loaded) == set(streamed) == {"train", "validation", "test"}
    for split in original:
        expected_rows = original[split].to_list()
        assert loaded[split].features == original[split].features
        assert loaded[split].to_list() == expected_rows
        assert list(streamed[split]) == expected_rows
        assert none_positions(loaded[split]) == none_positions(original[split])

    data = load_multimodal_dataset(repo_id)
    stream = load_multimodal_dataset(repo_id, streaming=True)
    dims = {"fac": 216, "fou": 76, "kar": 64, "mor": 6, "pix": 240, "zer": 47}
    assert data.modalities == stream.modalities == {name: {"type": "dense", "dim": dim} for name, dim in dims.items()}
    assert (data.label_column, data.row_id_column, data.num_labels) == ("label", "row_id", 10)
    assert (stream.label_column, stream.row_id_column, stream.num_labels) == ("label", "row_id", 10)
    assert data.splits == stream.splits == ["train", "validation", "test"]

    processor = CLDMDFProcessor(data.modalities).fit(data["train"])
    assert CLDMDFProcessor(stream.modalities).fit(stream["train"]).to_dict() == processor.to_dict()
    for missing_rate in (0.0, 0.5):  # 0.5: the evaluation-time pattern, seeded by the row ids
        collator = CLDMDFDataCollator(processor, missing_rate=missing_rate, return_row_ids=True)
        for split in data.splits:
            batches = list(DataLoader(data[split], batch_size=5, collate_fn=collator))
            streamed_batches = list(DataLoader(stream[split], batch_size=5, collate_fn=collator))
            assert len(batches) == len(streamed_batches) == -(-len(original[split]) // 5)
            for batch, streamed_batch in zip(batches, streamed_batches):
                assert_same_batches(batch, streamed_batch)
    assert not batches[0]["modality_mask"].all()


# ----------------------------------------------------------------------------------------------------------------
# The training script: push, then fine-tune from the pushed repo on a dataset pulled by repo id


def test_train_push_then_fine_tune_from_the_hub(hub_server, tmp_path):
    dataset_id, model_id = hub_server.new_repo_id("uci-small"), hub_server.new_repo_id("cldmdf-uci")
    uci_with_missing_views({"train": 64, "validation": 16, "test": 16}).push_to_hub(dataset_id)
    common = ["--dataset_name", dataset_id, "--per_device_train_batch_size", "16", "--eval_missing_rates", "0,0.5",
              "--skip_modality_removal"]  # fmt: skip

    first = train_accelerate.parse_args([*common, "--hidden_size", "32", "--num_train_epochs", "1",
                                         "--output_dir", str(tmp_path / "first"),
                                         "--push_to_hub", "--hub_model_id", model_id,
                                         "--checkpointing_steps", "epoch", "--push_checkpoints"])  # fmt: skip
    results = train_accelerate.main(first)
    # --push_checkpoints: each checkpoint went to its own branch; main holds the final model.
    assert {b.name for b in HfApi().list_repo_refs(model_id).branches} == {"main", "epoch_0"}
    checkpoint_files = set(HfApi().list_repo_files(model_id, revision="epoch_0"))
    assert "model.safetensors" in checkpoint_files and "optimizer.bin" not in checkpoint_files
    assert results["test_rows"] == 16 and 0 <= results["test_accuracy"] <= 1
    files = set(HfApi().list_repo_files(model_id))
    assert {"model.safetensors", "config.json", "processor_config.json", "README.md", "all_results.json"} <= files
    assert {"modeling_cldmdf.py", "processing_cldmdf.py"} <= files
    pushed = load_file(hf_hub_download(model_id, "model.safetensors"))
    assert_same_weights(pushed, load_file(tmp_path / "first" / "model.safetensors"))
    card = ModelCard.load(model_id).data
    assert card.datasets == [dataset_id]
    assert ("accuracy", results["test_accuracy"]) in {(r.metric_type, r.metric_value) for r in card.eval_results}

    learning_rate, steps = 1e-4, 2
    second = train_accelerate.parse_args([*common, "--model_name_or_path", model_id, "--streaming",
                                          "--max_train_steps", str(steps), "--learning_rate", str(learning_rate),
                                          "--weight_decay", "0", "--seed", "1",
                                          "--output_dir", str(tmp_path / "second")])  # fmt: skip
    fine_tuned = train_accelerate.main(second)
    assert fine_tuned["train_steps"] == steps and fine_tuned["test_rows"] == 16
    assert {"test_accuracy", "test_accuracy_missing_0.5"} <= set(fine_tuned)
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "second")
    assert model.config.hidden_size == 32  # not passed to the second run: it comes from the pushed config
    assert ModelCard.load(tmp_path / "second" / "README.md").data.base_model == model_id
    # Started from the pushed weights: two Adam steps of 1e-4 move each weight by well under 1e-3, while a fresh
    # initialisation (std 0.02) is far from them; and the steps did change the weights.
    weights = model.state_dict()
    assert weights.keys() == pushed.keys()
    assert max((weights[k] - pushed[k]).abs().max().item() for k in pushed) < 1e-3
    assert any(not torch.equal(weights[k], pushed[k]) for k in pushed)
    torch.manual_seed(1)
    fresh = CLDMDFForSequenceClassification(model.config).state_dict()
    assert (fresh["classifier.weight"] - pushed["classifier.weight"]).abs().max() > 1e-2


# ----------------------------------------------------------------------------------------------------------------
# Failure paths


@pytest.mark.parametrize("fault", ["status_500", "dropped_connection"])
def test_interrupted_push_keeps_the_remote_and_the_local_folder(hub_server, tmp_path, fault):
    repo_id = hub_server.new_repo_id(f"cldmdf-fault-{fault}")
    args = train_accelerate.parse_args(["--hub_model_id", repo_id, "--push_to_hub"])
    before_model, after_model = tiny_model(seed=5), tiny_model(seed=6)
    before_model.save_pretrained(tmp_path / "before")
    push_folder(args, str(tmp_path / "before"))  # the training script's push
    before = hub_server.head(repo_id)
    folder = tmp_path / "after"
    after_model.save_pretrained(folder)
    fitted_processor(after_model.config).save_pretrained(folder)
    files_before = digest(folder)

    if fault == "status_500":
        hub_server.fail_next_commit(status=500)
        with pytest.raises(HfHubHTTPError) as info:
            push_folder(args, str(folder))
        assert info.value.response.status_code == 500
        assert "500" in str(info.value) and "Injected commit failure" in str(info.value)  # the server's reason
        assert repo_id in str(info.value)  # and which repo / request failed
    else:
        hub_server.drop_next_commit_connection()
        with pytest.raises(TransportError) as info:
            push_folder(args, str(folder))
        assert "disconnected" in str(info.value)  # "Server disconnected without sending a response."
        assert info.value.request.url.path == f"/api/models/{repo_id}/commit/main"  # and which request it was

    assert hub_server.head(repo_id) == before
    assert HfApi().repo_info(repo_id).sha == before
    assert digest(folder) == files_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["after", "before"]
    pulled = AutoModelForSequenceClassification.from_pretrained(repo_id)
    assert_same_weights(pulled.state_dict(), before_model.state_dict())
    # A retry lands the new version on top of the previous one.
    push_folder(args, str(folder))
    assert [c.commit_id for c in HfApi().list_repo_commits(repo_id)][1] == before
    pulled = AutoModelForSequenceClassification.from_pretrained(repo_id)
    assert_same_weights(pulled.state_dict(), after_model.state_dict())


@pytest.mark.parametrize("drops", [1, 6])
def test_a_connection_lost_during_the_weights_upload_is_retried_or_changes_nothing(
    hub_server, tmp_path, monkeypatch, drops
):
    """The LFS upload of model.safetensors is cut off halfway. Once: the client retries and the whole new version
    lands. On every attempt (huggingface_hub tries 1 + 5 times): the push fails before any commit, so the remote keeps
    the previous version whole (no new config with old weights) and no partial blob is stored; a retry lands it."""
    import huggingface_hub.utils._http as hub_http

    monkeypatch.setattr(hub_http.time, "sleep", lambda seconds: None)  # the client's backoff waits (1 + 2 + ... s)
    repo_id = hub_server.new_repo_id(f"cldmdf-upload-drop-{drops}")
    args = train_accelerate.parse_args(["--hub_model_id", repo_id, "--push_to_hub"])
    before_model, after_model = tiny_model(seed=10 + drops), tiny_model(seed=20 + drops)  # weights new to the server
    before_model.save_pretrained(tmp_path / "before")
    push_folder(args, str(tmp_path / "before"))
    before = hub_server.head(repo_id)
    folder = tmp_path / "after"
    after_model.save_pretrained(folder)
    fitted_processor(after_model.config).save_pretrained(folder)
    files_before = digest(folder)
    weights = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert not hub_server.blob_path(weights).exists()  # else the client skips the upload
    calls = len(hub_server.calls)

    hub_server.drop_lfs_uploads(drops)
    if drops == 1:
        push_folder(args, str(folder))
        assert [c for c in hub_server.calls[calls:] if c.startswith("PUT")] == [f"PUT /_lfs_upload/{weights}"] * 2
    else:
        with pytest.raises(RuntimeError, match="Error while uploading 'model.safetensors' to the Hub") as info:
            push_folder(args, str(folder))
        assert isinstance(info.value.__cause__, TransportError)  # "Server disconnected without sending a response."
        assert [c for c in hub_server.calls[calls:] if c.startswith("PUT")] == [f"PUT /_lfs_upload/{weights}"] * 6
        assert hub_server.head(repo_id) == before
        assert not [c for c in hub_server.calls[calls:] if "/commit/" in c]  # nothing was committed, not even in part
        assert not hub_server.blob_path(weights).exists()  # the halves were never stored
        pulled = AutoModelForSequenceClassification.from_pretrained(repo_id)
        assert_same_weights(pulled.state_dict(), before_model.state_dict())
        push_folder(args, str(folder))  # the retry
    assert digest(folder) == files_before
    assert hashlib.sha256(hub_server.blob_path(weights).read_bytes()).hexdigest() == weights
    assert [c.commit_id for c in HfApi().list_repo_commits(repo_id)][1] == before
    pulled = AutoModelForSequenceClassification.from_pretrained(repo_id)
    assert_same_weights(pulled.state_dict(), after_model.state_dict())
    assert AutoProcessor.from_pretrained(repo_id).modality_names == fitted_processor(after_model.config).modality_names


def test_push_without_a_token_is_refused(hub_server, tmp_path, monkeypatch):
    model = tiny_model(seed=7)
    existing = hub_server.new_repo_id("cldmdf-auth")
    model.push_to_hub(existing)
    before = hub_server.head(existing)
    never = hub_server.new_repo_id("cldmdf-never")

    for repo_id in (existing, never):
        with pytest.raises(HfHubHTTPError) as info:
            model.push_to_hub(repo_id, token=False)
        assert info.value.response.status_code == 401
        with pytest.raises(HfHubHTTPError) as info:
            fitted_processor(model.config).push_to_hub(repo_id, token=False)
        assert info.value.response.status_code == 401
    # No token anywhere in the environment: the training script's push and a dataset push are refused too.
    monkeypatch.delenv("HF_TOKEN")
    model.save_pretrained(tmp_path / "model")
    args = train_accelerate.parse_args(["--hub_model_id", existing, "--push_to_hub"])
    with pytest.raises(HfHubHTTPError) as info:
        push_folder(args, str(tmp_path / "model"))
    assert info.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as info:
        uci_with_missing_views({"train": 4}).push_to_hub(hub_server.new_repo_id("uci-never"))
    assert info.value.response.status_code == 401
    monkeypatch.undo()

    assert hub_server.head(existing) == before
    assert not HfApi().repo_exists(never)


def test_private_repo_is_not_readable_without_its_token(hub_server, tmp_path):
    repo_id = hub_server.new_repo_id("cldmdf-private")
    model = tiny_model(seed=8)
    model.push_to_hub(repo_id, private=True)
    fitted_processor(model.config).push_to_hub(repo_id)
    assert HfApi().model_info(repo_id).private is True

    with pytest.raises(RepositoryNotFoundError):
        HfApi(token=False).model_info(repo_id)
    # Fresh caches: on a Hub error the clients fall back to files already cached.
    with pytest.raises(OSError, match=f"(?s){repo_id} is not .*private repository.*token"):
        AutoModelForSequenceClassification.from_pretrained(repo_id, token=False, cache_dir=tmp_path / "anonymous")
    with pytest.raises(OSError, match=repo_id):
        AutoProcessor.from_pretrained(repo_id, token=False, cache_dir=tmp_path / "anonymous")
    pulled = AutoModelForSequenceClassification.from_pretrained(repo_id, cache_dir=tmp_path / "with_token")
    assert_same_weights(pulled.state_dict(), model.state_dict())

    # The training script's --hub_private_repo creates a private repo as well.
    script_repo = hub_server.new_repo_id("cldmdf-private-script")
    model.save_pretrained(tmp_path / "model")
    args = train_accelerate.parse_args(["--push_to_hub", "--hub_model_id", script_repo, "--hub_private_repo"])
    push_folder(args, str(tmp_path / "model"))
    assert HfApi().model_info(script_repo).private is True
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(script_repo, "config.json", token=False, cache_dir=tmp_path / "anonymous")

    dataset_id = hub_server.new_repo_id("uci-private")
    uci_with_missing_views({"train": 8, "validation": 4}).push_to_hub(dataset_id, private=True)
    with pytest.raises(DatasetNotFoundError):
        load_multimodal_dataset(dataset_id, token=False, cache_dir=tmp_path / "anonymous_datasets")
    assert load_multimodal_dataset(dataset_id).num_labels == 10


def test_missing_repo_revision_and_file_give_the_library_errors(hub_server, tmp_path):
    repo_id = hub_server.new_repo_id("cldmdf-config-only")
    tiny_model(seed=9).config.push_to_hub(repo_id)  # a config but no weights
    absent = hub_server.new_repo_id("cldmdf-absent")

    with pytest.raises(OSError, match=f"{absent}.*not a valid model identifier"):
        AutoModelForSequenceClassification.from_pretrained(absent)
    with pytest.raises(OSError, match="no-such-branch.*not a valid git identifier"):
        AutoModelForSequenceClassification.from_pretrained(repo_id, revision="no-such-branch")
    with pytest.raises(OSError, match=f"{repo_id} does not appear to have a file named"):
        AutoModelForSequenceClassification.from_pretrained(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(absent, "config.json")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo_id, "config.json", revision="no-such-branch")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo_id, "model.safetensors")
    with pytest.raises(DatasetNotFoundError):
        load_multimodal_dataset(hub_server.new_repo_id("uci-absent"))

    # The training script turns a missing dataset repo into its one-line user error.
    args = ["--dataset_name", hub_server.new_repo_id("uci-absent"), "--output_dir", str(tmp_path / "never")]
    with pytest.raises(train_accelerate.UserError, match="--dataset_name 'test-user/uci-absent-"):
        train_accelerate.main(train_accelerate.parse_args(args))
    assert not (tmp_path / "never").exists()
