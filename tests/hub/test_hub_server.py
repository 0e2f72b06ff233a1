"""The loopback Hub (`hub_server.py`) driven by the REAL `huggingface_hub`, `datasets` and `transformers` clients.

Needs the `hub_server` fixture from `hub_fixtures.py` (loaded by `conftest.py`).
"""

import hashlib
import json
import os
import urllib.error
import urllib.request

import pytest
import torch
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value, load_dataset
from datasets.exceptions import DatasetNotFoundError
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    snapshot_download,
)
from huggingface_hub.errors import (
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from transformers import BertConfig, BertModel

try:
    from httpx2 import TransportError  # the HTTP client of huggingface_hub >= 2
except ImportError:  # pragma: no cover - huggingface_hub 1.x
    from httpx import TransportError


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _upload(repo_id: str, path: str, data: bytes, **kwargs) -> str:
    return HfApi().upload_file(path_or_fileobj=data, path_in_repo=path, repo_id=repo_id, **kwargs).oid


def test_fixture_points_the_clients_at_the_loopback_server(hub_server):
    from huggingface_hub import constants

    assert os.environ["HF_ENDPOINT"] == constants.ENDPOINT == hub_server.url
    assert constants.HF_HUB_DISABLE_XET and not constants.HF_HUB_OFFLINE
    assert HfApi().whoami()["name"] == hub_server.user


def test_upload_folder_then_download_round_trip(hub_server, tmp_path):
    repo_id = hub_server.new_repo_id("roundtrip")
    HfApi().create_repo(repo_id)
    files = {"config.json": b"{}", "sub/caf\u00e9.txt": "caf\u00e9\n".encode(), "sub/deep/raw.bin": os.urandom(3000)}
    files["empty.txt"] = b""
    for rel, data in files.items():
        (tmp_path / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / rel).write_bytes(data)
    HfApi().upload_folder(folder_path=tmp_path / "src", repo_id=repo_id)
    _upload(repo_id, "single.txt", b"one file")
    files["single.txt"] = b"one file"

    for rel, data in files.items():
        assert _read(hf_hub_download(repo_id, rel)) == data
    snapshot = snapshot_download(repo_id, local_dir=tmp_path / "snap")
    downloaded = {
        os.path.relpath(os.path.join(root, name), snapshot).replace(os.sep, "/")
        for root, _, names in os.walk(snapshot)
        for name in names
        if ".cache" not in root
    }
    assert downloaded == set(files) | {".gitattributes"}
    for rel, data in files.items():
        assert _read(os.path.join(snapshot, rel)) == data
    # An existing repo answers 409 and `exist_ok=True` still returns its url.
    assert HfApi().create_repo(repo_id, exist_ok=True).repo_id == repo_id
    with pytest.raises(HfHubHTTPError) as info:
        HfApi().create_repo(repo_id)
    assert info.value.response.status_code == 409


def test_safetensors_file_goes_through_lfs(hub_server):
    repo_id = hub_server.new_repo_id("lfs")
    HfApi().create_repo(repo_id)
    data = os.urandom(70_000)
    sha256 = hashlib.sha256(data).hexdigest()
    calls_before = len(hub_server.calls)
    _upload(repo_id, "model.safetensors", data)
    calls = hub_server.calls[calls_before:]

    assert any(c.startswith(f"POST /{repo_id}.git/info/lfs/objects/batch") for c in calls)
    assert f"PUT /_lfs_upload/{sha256}" in calls
    assert hub_server.blob_path(sha256).read_bytes() == data  # stored by the PUT, under its sha256
    (info,) = HfApi().get_paths_info(repo_id, ["model.safetensors"])
    assert info.lfs is not None and info.lfs.sha256 == sha256 and info.lfs.size == len(data)
    metadata = get_hf_file_metadata(hf_hub_url(repo_id, "model.safetensors"))
    assert metadata.etag == sha256 and metadata.size == len(data)
    assert _read(hf_hub_download(repo_id, "model.safetensors")) == data
    # A small text file stays a regular git file.
    _upload(repo_id, "notes.txt", b"small")
    assert HfApi().get_paths_info(repo_id, ["notes.txt"])[0].lfs is None


def test_lfs_upload_with_wrong_bytes_is_rejected(hub_server):
    repo_id = hub_server.new_repo_id("lfs-check")
    HfApi().create_repo(repo_id)
    oid = hashlib.sha256(b"the real content").hexdigest()
    batch = {"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": 16}]}
    request = urllib.request.Request(
        f"{hub_server.url}/{repo_id}.git/info/lfs/objects/batch",
        data=json.dumps(batch).encode(),
        headers={"Authorization": f"Bearer {hub_server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        href = json.load(response)["objects"][0]["actions"]["upload"]["href"]
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(urllib.request.Request(href, data=b"something else!!", method="PUT"))
    assert info.value.code == 400
    assert not hub_server.blob_path(oid).exists()


def test_branch_tag_and_commit_sha_revisions(hub_server):
    api = HfApi()
    repo_id = hub_server.new_repo_id("revisions")
    api.create_repo(repo_id)
    first = _upload(repo_id, "weights.txt", b"v1")
    api.create_tag(repo_id, tag="v1.0")
    api.create_branch(repo_id, branch="dev", revision=first)
    second = _upload(repo_id, "weights.txt", b"v2")
    dev = _upload(repo_id, "weights.txt", b"dev", revision="dev")

    assert len({first, second, dev}) == 3
    expected = {"main": b"v2", "v1.0": b"v1", first: b"v1", second: b"v2", "dev": b"dev", dev: b"dev"}
    for revision, content in expected.items():
        assert _read(hf_hub_download(repo_id, "weights.txt", revision=revision)) == content, revision
    refs = api.list_repo_refs(repo_id)
    assert {b.name: b.target_commit for b in refs.branches} == {"main": second, "dev": dev}
    assert {t.name: t.target_commit for t in refs.tags} == {"v1.0": first}
    main_history = [c.commit_id for c in api.list_repo_commits(repo_id)]
    assert main_history[:2] == [second, first] and len(main_history) == 3  # + the initial commit
    assert api.repo_info(repo_id, revision="v1.0").sha == first


def test_commit_is_atomic_when_one_operation_fails(hub_server):
    repo_id = hub_server.new_repo_id("atomic")
    HfApi().create_repo(repo_id)
    before = _upload(repo_id, "kept.txt", b"kept")
    operations = [
        CommitOperationAdd(path_in_repo="new.txt", path_or_fileobj=b"new"),
        CommitOperationDelete(path_in_repo="missing.txt"),
    ]
    with pytest.raises(RemoteEntryNotFoundError):
        HfApi().create_commit(repo_id, operations, commit_message="half valid")
    assert HfApi().repo_info(repo_id).sha == before
    assert "new.txt" not in {f.path for f in HfApi().list_repo_tree(repo_id)}


def test_tree_listing_and_deletions(hub_server):
    api = HfApi()
    repo_id = hub_server.new_repo_id("tree")
    api.create_repo(repo_id)
    paths = ("a.txt", "d/b.txt", "d/e/c.txt")
    operations = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=p.encode()) for p in paths]
    api.create_commit(repo_id, operations, commit_message="three files")

    def tree(path=None, recursive=False):
        return sorted(f.path for f in api.list_repo_tree(repo_id, path_in_repo=path, recursive=recursive))

    assert tree() == [".gitattributes", "a.txt", "d"]
    assert tree("d") == ["d/b.txt", "d/e"]
    assert tree(recursive=True) == [".gitattributes", "a.txt", "d", "d/b.txt", "d/e", "d/e/c.txt"]
    with pytest.raises(RemoteEntryNotFoundError):
        tree("missing-folder")
    api.delete_folder("d/e", repo_id=repo_id)
    api.delete_file("a.txt", repo_id=repo_id)
    assert tree(recursive=True) == [".gitattributes", "d", "d/b.txt"]
    with pytest.raises(RemoteEntryNotFoundError):
        api.delete_file("a.txt", repo_id=repo_id)


@pytest.mark.parametrize("fault", ["status_500", "dropped_connection"])
def test_interrupted_commit_leaves_the_previous_sha(hub_server, fault):
    repo_id = hub_server.new_repo_id(f"fault-{fault}")
    HfApi().create_repo(repo_id)
    before = _upload(repo_id, "data.txt", b"before")
    if fault == "status_500":
        hub_server.fail_next_commit(status=500)
        expected_error = HfHubHTTPError
    else:
        hub_server.drop_next_commit_connection()
        expected_error = TransportError

    with pytest.raises(expected_error) as info:
        _upload(repo_id, "data.txt", b"after" * 5000)
    if fault == "status_500":
        assert info.value.response.status_code == 500
    assert hub_server.head(repo_id) == before
    assert HfApi().repo_info(repo_id).sha == before
    assert _read(hf_hub_download(repo_id, "data.txt", force_download=True)) == b"before"
    # The server is healthy afterwards and the next commit chains on the previous one.
    after = _upload(repo_id, "data.txt", b"after")
    assert [c.commit_id for c in HfApi().list_repo_commits(repo_id)][:2] == [after, before]


def test_write_without_a_valid_token_is_refused(hub_server):
    repo_id = hub_server.new_repo_id("auth")
    HfApi().create_repo(repo_id)
    before = hub_server.head(repo_id)
    for token in (False, "hf_not_a_valid_token"):
        with pytest.raises(HfHubHTTPError) as info:
            HfApi(token=token).create_repo(hub_server.new_repo_id("never"))
        assert info.value.response.status_code == 401
        with pytest.raises(HfHubHTTPError) as info:
            HfApi(token=token).upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
        assert info.value.response.status_code == 401
    assert hub_server.head(repo_id) == before


def test_private_repo_is_invisible_without_token(hub_server, tmp_path):
    model_id, dataset_id = hub_server.new_repo_id("private-model"), hub_server.new_repo_id("private-data")
    HfApi().create_repo(model_id, private=True)
    _upload(model_id, "secret.txt", b"secret")
    Dataset.from_dict({"a": [1, 2]}).push_to_hub(dataset_id, private=True)

    assert HfApi().model_info(model_id).private is True
    assert _read(hf_hub_download(model_id, "secret.txt")) == b"secret"
    anonymous = HfApi(token=False)
    with pytest.raises(RepositoryNotFoundError):
        anonymous.model_info(model_id)
    # A fresh cache: on a Hub error hf_hub_download falls back to an already cached copy of the file.
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(model_id, "secret.txt", token=False, cache_dir=tmp_path)
    with pytest.raises(RepositoryNotFoundError):
        anonymous.list_repo_files(dataset_id, repo_type="dataset")
    with pytest.raises(DatasetNotFoundError):
        load_dataset(dataset_id, token=False)
    assert load_dataset(dataset_id)["train"]["a"] == [1, 2]


def test_missing_repo_revision_and_file_raise_the_library_errors(hub_server):
    repo_id = hub_server.new_repo_id("errors")
    HfApi().create_repo(repo_id)
    _upload(repo_id, "present.txt", b"here")

    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(hub_server.new_repo_id("absent"), "present.txt")
    with pytest.raises(RepositoryNotFoundError):
        HfApi().model_info(hub_server.new_repo_id("absent"))
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo_id, "present.txt", revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        HfApi().model_info(repo_id, revision="f" * 40)
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(repo_id, "absent.txt")
    with pytest.raises(DatasetNotFoundError):
        load_dataset(hub_server.new_repo_id("absent-dataset"))
    with pytest.raises(OSError, match="not a valid model identifier|does not appear to have"):
        BertModel.from_pretrained(hub_server.new_repo_id("absent-model"))


def test_resolve_serves_byte_ranges(hub_server):
    repo_id = hub_server.new_repo_id("ranges")
    HfApi().create_repo(repo_id)
    data = bytes(range(256)) * 4
    _upload(repo_id, "blob.bin", data)
    url = hf_hub_url(repo_id, "blob.bin")
    for header, expected in [("bytes=10-19", data[10:20]), ("bytes=1000-", data[1000:]), ("bytes=-5", data[-5:])]:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Range": header})) as response:
            assert response.status == 206 and response.read() == expected
            assert response.headers["Content-Range"].endswith(f"/{len(data)}")


@pytest.fixture
def small_dataset_dict():
    features = Features(
        {
            "dense": List(Value("float32")),
            "text": Value("string"),
            "label": ClassLabel(names=["neg", "pos"]),
        }
    )
    train = {"dense": [[0.5, 1.5], None, [2.0, -1.0]], "text": ["a", "b", None], "label": [0, 1, 1]}
    test = {"dense": [None, [0.25, 4.0]], "text": [None, "z"], "label": [1, 0]}
    return DatasetDict(
        {"train": Dataset.from_dict(train, features=features), "test": Dataset.from_dict(test, features=features)}
    )


def test_datasetdict_push_to_hub_then_load_and_stream(hub_server, small_dataset_dict):
    repo_id = hub_server.new_repo_id("nullable")
    small_dataset_dict.push_to_hub(repo_id)

    loaded = load_dataset(repo_id)
    streamed = load_dataset(repo_id, streaming=True)
    assert set(loaded) == set(streamed) == {"train", "test"}
    for split, original in small_dataset_dict.items():
        expected_rows = original.to_list()
        assert loaded[split].features == original.features
        assert loaded[split].to_list() == expected_rows
        assert list(streamed[split]) == expected_rows
    assert loaded["train"][1]["dense"] is None and loaded["test"][0]["text"] is None
    parquet_files = [p for p in HfApi().list_repo_files(repo_id, repo_type="dataset") if p.endswith(".parquet")]
    paths_info = HfApi().get_paths_info(repo_id, parquet_files, repo_type="dataset")
    assert len(parquet_files) == 2 and all(info.lfs is not None for info in paths_info)


def test_transformers_push_to_hub_then_from_pretrained(hub_server):
    config = BertConfig(
        vocab_size=64,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    torch.manual_seed(0)
    model = BertModel(config)
    repo_id = hub_server.new_repo_id("tiny-bert")
    model.push_to_hub(repo_id)

    assert any(c.startswith(f"POST /{repo_id}.git/info/lfs/objects/batch") for c in hub_server.calls)
    reloaded = BertModel.from_pretrained(repo_id)
    expected, actual = model.state_dict(), reloaded.state_dict()
    assert expected.keys() == actual.keys()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=0, atol=0, msg=name)
    assert reloaded.config.hidden_size == 16 and reloaded.config.vocab_size == 64


def test_failed_dataset_push_keeps_the_previous_version(hub_server, small_dataset_dict):
    repo_id = hub_server.new_repo_id("dataset-versions")
    small_dataset_dict.push_to_hub(repo_id)
    before = HfApi().repo_info(repo_id, repo_type="dataset").sha
    files_before = sorted(HfApi().list_repo_files(repo_id, repo_type="dataset"))
    changed = small_dataset_dict.map(lambda row: {"text": (row["text"] or "") + "!"})

    hub_server.fail_next_commit(status=500)
    with pytest.raises(HfHubHTTPError):
        changed.push_to_hub(repo_id)
    assert HfApi().repo_info(repo_id, repo_type="dataset").sha == before
    assert sorted(HfApi().list_repo_files(repo_id, repo_type="dataset")) == files_before
    assert load_dataset(repo_id)["train"].to_list() == small_dataset_dict["train"].to_list()

    changed.push_to_hub(repo_id)
    assert load_dataset(repo_id)["test"]["text"] == ["!", "z!"]
    assert list(load_dataset(repo_id, streaming=True)["test"])[1]["text"] == "z!"
