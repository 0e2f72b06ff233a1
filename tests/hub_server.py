"""A small Hugging Face Hub-protocol server on 127.0.0.1, for tests.

The real `huggingface_hub`, `transformers` and `datasets` clients talk to it through `HF_ENDPOINT`: repos (model,
dataset, space; public or private), atomic commits with a parent chain, branches, tags, the git-LFS "basic" transfer,
`resolve` downloads (HEAD/GET, byte ranges), tree and paths-info listings. Only the standard library is used.

File contents live in a content-addressed blob store (`<storage_dir>/blobs/<sha256>`); commits, refs and per-commit
trees live in memory behind one lock, so a commit either lands whole with a new 40-hex sha or changes nothing.

Example:

```python
>>> server = HubServer(tokens=["hf_test_token"]).start()
>>> # HF_ENDPOINT=server.url, HF_HUB_DISABLE_XET=1, HF_TOKEN=hf_test_token, then use the real clients
>>> server.fail_next_commit(status=500)  # fault injection (also `drop_next_commit_connection`, `drop_lfs_uploads`)
>>> server.stop()
```
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["HubServer", "LFS_SUFFIXES"]

# The real Hub routes these through LFS via the default `.gitattributes`; `datasets` relies on `*.parquet` being LFS.
LFS_SUFFIXES = (
    ".safetensors", ".parquet", ".arrow", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx", ".npy",
    ".npz", ".pkl", ".pickle", ".joblib", ".zip", ".gz", ".tar", ".zst", ".tflite", ".model", ".lance",
)  # fmt: skip
_GITATTRIBUTES = "".join(f"*{suffix} filter=lfs diff=lfs merge=lfs -text\n" for suffix in LFS_SUFFIXES).encode()
_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_OCTET = "application/octet-stream"
_API = r"/api/(?P<kind>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)"  # /api/{type}s/{namespace}/{name}
_GIT = r"/(?:(?P<kind>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)"  # /[{type}s/]{namespace}/{name}, models unprefixed


class HubError(Exception):
    """An error answered to the client, with the `X-Error-Code` the real Hub sends (if any)."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


class _Dropped(Exception):
    """The connection was closed on purpose (fault injection): nothing must be written back."""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


@dataclass(frozen=True)
class _Entry:
    """One file of a commit's tree. `git_oid` is the git blob id (of the LFS pointer for LFS files)."""

    sha256: str
    size: int
    lfs: bool
    git_oid: str

    def info(self, path: str) -> dict[str, Any]:
        item: dict[str, Any] = {"type": "file", "oid": self.git_oid, "size": self.size, "path": path}
        if self.lfs:
            pointer_size = len(_lfs_pointer(self.sha256, self.size))
            item["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": pointer_size}
        return item

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.git_oid


@dataclass
class _Commit:
    oid: str
    parent: str | None
    title: str
    message: str
    date: str
    tree: dict[str, _Entry]


@dataclass
class _Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: str
    commits: dict[str, _Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> _Commit:
        """Branch, tag (also as `refs/heads/...`/`refs/tags/...`) or full commit sha -> commit."""
        name = revision.removeprefix("refs/heads/").removeprefix("refs/tags/")
        oid = self.branches.get(name) or self.tags.get(name) or (revision if revision in self.commits else None)
        if oid is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return self.commits[oid]

    @property
    def url_path(self) -> str:
        return _URL_PREFIX[self.repo_type] + self.repo_id


class HubServer:
    """A Hub-protocol HTTP server on 127.0.0.1 with its own temporary storage.

    Args:
        tokens (`Iterable[str]`, *optional*, defaults to `("hf_test_token",)`):
            Tokens accepted in `Authorization: Bearer <token>`. Writes need one; private repos answer 404 without one.
        user (`str`, *optional*, defaults to `"test-user"`):
            Namespace given to repos created without one, and the name `whoami` answers.
        storage_dir (`str` or `Path`, *optional*):
            Where blobs are stored. Defaults to a fresh temporary directory, removed by `stop()`.
        lfs_threshold (`int`, *optional*, defaults to 10 MiB):
            Files at least this large are uploaded through LFS whatever their suffix.
    """

    def __init__(
        self,
        tokens: Iterable[str] = ("hf_test_token",),
        user: str = "test-user",
        storage_dir: str | Path | None = None,
        lfs_threshold: int = 10 * 1024 * 1024,
    ) -> None:
        self.tokens = set(tokens)
        self.user = user
        self.lfs_threshold = lfs_threshold
        self._own_storage = storage_dir is None
        self.storage_dir = Path(storage_dir or tempfile.mkdtemp(prefix="hub_server_"))
        (self.storage_dir / "blobs").mkdir(parents=True, exist_ok=True)
        self.calls: list[str] = []  # "METHOD /path" of every request, for tests and debugging
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._pending_lfs: set[str] = set()  # oids announced by an LFS batch call, not yet uploaded
        self._commit_faults: list[tuple[str, int]] = []
        self._upload_drops = 0  # LFS uploads still to cut off halfway (`drop_lfs_uploads`)
        self._lock = threading.Lock()
        self._counter = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------------------------------------- lifecycle
    def start(self) -> HubServer:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread. Returns `self`."""
        handler = type("_BoundHandler", (_Handler,), {"hub": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="hub-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the storage directory if this server created it."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._own_storage:
            shutil.rmtree(self.storage_dir, ignore_errors=True)

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("HubServer is not started: call start() first.")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def token(self) -> str:
        """One valid token (the first in sorted order)."""
        return sorted(self.tokens)[0]

    # ------------------------------------------------------------------------------------------ test helpers
    def fail_next_commit(self, status: int = 500) -> None:
        """Answer the next `/commit` request with `status` without applying it."""
        self._commit_faults.append(("fail", status))

    def drop_next_commit_connection(self) -> None:
        """Close the socket of the next `/commit` request halfway through its body, without applying it."""
        self._commit_faults.append(("drop", 0))

    def drop_lfs_uploads(self, count: int = 1) -> None:
        """Close the socket of the next `count` LFS uploads (`PUT` of the bytes) halfway through their body, storing
        nothing: a connection lost while the weights are on their way, before any commit."""
        self._upload_drops += count

    def head(self, repo_id: str, repo_type: str = "model", branch: str = "main") -> str:
        """Commit sha a branch points to (server side, no HTTP)."""
        with self._lock:
            return self._repos[(repo_type, repo_id)].branches[branch]

    def new_repo_id(self, name: str = "repo") -> str:
        """A repo id in the server's user namespace that no other call returns."""
        return f"{self.user}/{name}-{uuid.uuid4().hex[:8]}"

    # ----------------------------------------------------------------------------------------------- storage
    def put_blob(self, data: bytes) -> str:
        """Store `data` content-addressed; returns its sha256."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.storage_dir / "blobs" / sha
        if not path.exists():
            tmp = path.with_name(f"{sha}.{uuid.uuid4().hex}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)  # atomic: concurrent readers never see a partial blob
        return sha

    def blob_path(self, sha256: str) -> Path:
        return self.storage_dir / "blobs" / sha256

    def _entry(self, data: bytes, lfs: bool) -> _Entry:
        sha = self.put_blob(data)
        return _Entry(sha, len(data), lfs, _git_oid(_lfs_pointer(sha, len(data)) if lfs else data))

    def _new_commit(self, repo: _Repo, parent: str | None, title: str, message: str, tree: dict) -> _Commit:
        """Build (not publish) a commit; caller holds the lock."""
        self._counter += 1
        files = sorted((p, e.git_oid) for p, e in tree.items())
        seed = json.dumps([repo.repo_id, parent, title, files, self._counter])
        commit = _Commit(hashlib.sha1(seed.encode()).hexdigest(), parent, title, message, _now(), tree)
        repo.commits[commit.oid] = commit
        return commit

    def create_repo(self, repo_id: str, repo_type: str = "model", private: bool = False) -> tuple[_Repo, bool]:
        """Create a repo with an initial commit holding `.gitattributes`. Returns `(repo, created)`."""
        with self._lock:
            if (repo_type, repo_id) in self._repos:
                return self._repos[(repo_type, repo_id)], False
            repo = _Repo(repo_type, repo_id, private, _now())
            tree = {".gitattributes": self._entry(_GITATTRIBUTES, lfs=False)}
            repo.branches["main"] = self._new_commit(repo, None, "initial commit", "", tree).oid
            self._repos[(repo_type, repo_id)] = repo
            return repo, True

    def upload_mode(self, path: str, size: int) -> str:
        return "lfs" if path.endswith(LFS_SUFFIXES) or size >= self.lfs_threshold else "regular"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so every response carries an exact Content-Length
    hub: HubServer
    ROUTES = [
        ("POST", r"/api/repos/create", "create_repo"),
        ("DELETE", r"/api/repos/delete", "delete_repo"),
        ("GET", r"/api/whoami-v2", "whoami"),
        ("POST", r"/api/validate-yaml", "validate_yaml"),
        ("GET", _API + r"(?:/revision/(?P<rev>[^/]+))?", "repo_info"),
        ("POST", _API + r"/preupload/(?P<rev>[^/]+)", "preupload"),
        ("POST", _API + r"/commit/(?P<rev>[^/]+)", "commit"),
        ("GET", _API + r"/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", "tree"),
        ("POST", _API + r"/paths-info/(?P<rev>[^/]+)", "paths_info"),
        ("GET", _API + r"/refs", "refs"),
        ("GET", _API + r"/commits/(?P<rev>[^/]+)", "commits"),
        ("POST", _API + r"/branch/(?P<name>[^/]+)", "create_branch"),
        ("DELETE", _API + r"/branch/(?P<name>[^/]+)", "delete_branch"),
        ("POST", _API + r"/tag/(?P<rev>[^/]+)", "create_tag"),
        ("DELETE", _API + r"/tag/(?P<name>[^/]+)", "delete_tag"),
        ("POST", _GIT + r"\.git/info/lfs/objects/batch", "lfs_batch"),
        ("PUT", r"/_lfs_upload/(?P<oid>[0-9a-f]{64})", "lfs_upload"),
        ("GET", _GIT + r"/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
        ("HEAD", _GIT + r"/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
    ]

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean; `HubServer.calls` records every request

    # -------------------------------------------------------------------------------------------- plumbing
    def _dispatch(self) -> None:
        method, split = self.command, urlsplit(self.path)
        self.query = parse_qs(split.query)
        self.hub.calls.append(f"{method} {self.path}")
        self._body: bytes | None = None
        try:
            for route_method, pattern, name in self.ROUTES:
                match = re.fullmatch(pattern, split.path) if route_method == method else None
                if match:
                    params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                    getattr(self, f"_{name}")(**params)
                    break
            else:
                raise HubError(404, f"No route for {method} {split.path} on this test Hub")
        except _Dropped:
            return
        except HubError as err:
            headers = {"X-Error-Message": err.message, **err.headers}
            if err.code:
                headers["X-Error-Code"] = err.code
            self._send_json({"error": err.message}, err.status, headers)
        except Exception as err:
            # A malformed request or a gap in this server: answer 400 with the reason, since clients retry a 500
            # for ~20 s and a handler that dies sends nothing at all.
            message = f"Test Hub could not handle {method} {split.path}: {type(err).__name__}: {err}"
            self._send_json({"error": message}, 400, {"X-Error-Message": message})

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch

    def _read_body(self) -> bytes:
        if self._body is None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._body = b"".join(chunks)
            else:
                self._body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return self._body

    def _json_body(self) -> Any:
        body = self._read_body()
        try:
            return json.loads(body) if body else {}
        except ValueError as err:
            raise HubError(400, f"Invalid JSON body: {err}") from err

    def _send(self, status: int, body: bytes, headers: dict | None = None, content_type: str = "") -> None:
        self._read_body()  # drain an unread request body, so the kept-alive connection stays usable
        self.send_response(status)
        for key, value in (headers or {}).items():
            # Header values must be latin-1: escape anything else (a non-ASCII path in an error message).
            self.send_header(key, str(value).encode("ascii", "backslashreplace").decode())
        if content_type:
            self.send_header("Content-Type", content_type)
        if "Content-Length" not in (headers or {}):  # a HEAD of a file states the size of the body it omits
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, obj: Any, status: int = 200, headers: dict | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers, "application/json; charset=utf-8")

    def _param(self, name: str, default: str = "") -> str:
        return self.query.get(name, [default])[0]

    # ------------------------------------------------------------------------------------------------ auth
    def _authenticated(self) -> bool:
        """True with a valid token, False with none; a wrong token is refused like the real Hub does."""
        auth = self.headers.get("Authorization", "")
        if not auth:
            return False
        if auth.removeprefix("Bearer ").strip() not in self.hub.tokens:
            raise HubError(401, "Invalid credentials in Authorization header")
        return True

    def _require_write(self) -> None:
        if not self._authenticated():
            raise HubError(401, "Invalid username or password.")

    def _get_repo(self, repo_type: str, repo_id: str, write: bool = False) -> _Repo:
        if write:
            self._require_write()
        repo = self.hub._repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not self._authenticated()):
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    # ----------------------------------------------------------------------------------------- repo admin
    def _create_repo(self) -> None:
        self._require_write()
        body = self._json_body()
        repo_type = body.get("type") or "model"
        if repo_type not in _URL_PREFIX:
            raise HubError(400, f"Invalid repo type {repo_type!r}")
        repo_id = f"{body.get('organization') or self.hub.user}/{body['name']}"
        private = body.get("visibility", "private" if body.get("private") else "public") != "public"
        repo, created = self.hub.create_repo(repo_id, repo_type, private)
        answer = {"url": f"{self.hub.url}/{repo.url_path}", "name": repo_id, "id": repo_id}
        if created:
            self._send_json(answer)
        else:
            self._send_json({**answer, "error": "You already created this repo"}, 409)

    def _delete_repo(self) -> None:
        self._require_write()
        body = self._json_body()
        key = (body.get("type") or "model", f"{body.get('organization') or self.hub.user}/{body['name']}")
        with self.hub._lock:
            if self.hub._repos.pop(key, None) is None:
                raise HubError(404, "Repository not found", "RepoNotFound")
        self._send_json({})

    def _whoami(self) -> None:
        if not self._authenticated():
            raise HubError(401, "Invalid credentials in Authorization header")
        self._send_json({"type": "user", "name": self.hub.user, "fullname": self.hub.user, "orgs": [],
                         "auth": {"type": "access_token", "accessToken": {"role": "write"}}})  # fmt: skip

    def _validate_yaml(self) -> None:
        self._json_body()
        self._send_json({"errors": [], "warnings": []})

    def _repo_info(self, kind: str, repo: str, rev: str = "main") -> None:
        hub_repo = self._get_repo(_TYPES[kind], repo)
        commit = hub_repo.resolve(rev)
        blobs = self._param("blobs").lower() in ("1", "true")
        siblings = []
        for path, entry in sorted(commit.tree.items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:  # `files_metadata=True`
                sibling.update(size=entry.size, blobId=entry.git_oid)
                if entry.lfs:
                    pointer_size = len(_lfs_pointer(entry.sha256, entry.size))
                    sibling["lfs"] = {"size": entry.size, "sha256": entry.sha256, "pointerSize": pointer_size}
            siblings.append(sibling)
        self._send_json({
            "_id": hashlib.md5(repo.encode()).hexdigest()[:24], "id": repo, "author": repo.split("/")[0],
            "sha": commit.oid, "lastModified": commit.date, "createdAt": hub_repo.created_at,
            "private": hub_repo.private, "gated": False, "disabled": False, "downloads": 0, "likes": 0, "tags": [],
            "siblings": siblings, "usedStorage": sum(e.size for e in commit.tree.values()),
            **({"modelId": repo} if kind == "models" else {}),
        })  # fmt: skip

    # ------------------------------------------------------------------------------------------------ refs
    def _refs(self, kind: str, repo: str) -> None:
        hub_repo = self._get_repo(_TYPES[kind], repo)

        def refs(kind: str, items: dict[str, str]) -> list[dict]:
            return [{"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": oid} for n, oid in sorted(items.items())]

        answer = {"branches": refs("heads", hub_repo.branches), "tags": refs("tags", hub_repo.tags), "converts": []}
        self._send_json({**answer, "pullRequests": []} if self._param("include_prs") else answer)

    def _commits(self, kind: str, repo: str, rev: str) -> None:
        hub_repo = self._get_repo(_TYPES[kind], repo)
        commit: _Commit | None = hub_repo.resolve(rev)
        history = []
        while commit is not None:
            history.append({"id": commit.oid, "title": commit.title, "message": commit.message,
                            "date": commit.date, "authors": [{"user": self.hub.user}]})  # fmt: skip
            commit = hub_repo.commits.get(commit.parent or "")
        self._send_json(history)

    def _create_branch(self, kind: str, repo: str, name: str) -> None:
        hub_repo = self._get_repo(_TYPES[kind], repo, write=True)
        start = self._json_body().get("startingPoint") or "main"
        with self.hub._lock:
            oid = hub_repo.resolve(start).oid
            if name in hub_repo.branches:
                raise HubError(409, f"Reference refs/heads/{name} already exists")
            hub_repo.branches[name] = oid
        self._send_json({})

    def _delete_branch(self, kind: str, repo: str, name: str) -> None:
        hub_repo = self._get_repo(_TYPES[kind], repo, write=True)
        with self.hub._lock:
            if name == "main" or hub_repo.branches.pop(name, None) is None:
                raise HubError(404 if name != "main" else 403, f"Cannot delete branch {name}", "RevisionNotFound")
        self._send_json({})

    def _create_tag(self, kind: str, repo: str, rev: str) -> None:
        hub_repo = self._get_repo(_TYPES[kind], repo, write=True)
        tag = self._json_body().get("tag")
        if not tag:
            raise HubError(400, "Missing 'tag' in body")
        with self.hub._lock:
            oid = hub_repo.resolve(rev).oid
            if tag in hub_repo.tags:
                raise HubError(409, f"Tag {tag} already exists")
            hub_repo.tags[tag] = oid
        self._send_json({})

    def _delete_tag(self, kind: str, repo: str, name: str) -> None:
        hub_repo = self._get_repo(_TYPES[kind], repo, write=True)
        with self.hub._lock:
            if hub_repo.tags.pop(name, None) is None:
                raise HubError(404, f"Tag {name} not found", "RevisionNotFound")
        self._send_json({})

    # -------------------------------------------------------------------------------------------- listings
    def _tree(self, kind: str, repo: str, rev: str, path: str = "") -> None:
        hub_repo = self._get_repo(_TYPES[kind], repo)
        commit = hub_repo.resolve(rev)
        base = path.strip("/")
        prefix = f"{base}/" if base else ""
        recursive = self._param("recursive").lower() in ("1", "true")
        names: set[str] = set()
        for file_path in commit.tree:
            if not file_path.startswith(prefix):
                continue
            parts = file_path[len(prefix) :].split("/")
            depth = len(parts) if recursive else 1
            names.update(prefix + "/".join(parts[: i + 1]) for i in range(depth))
        if base and not names:
            raise HubError(404, f"{base} does not exist on {rev}", "EntryNotFound")
        self._send_json([self._path_info(hub_repo, commit, name) for name in sorted(names)])

    def _paths_info(self, kind: str, repo: str, rev: str) -> None:
        hub_repo = self._get_repo(_TYPES[kind], repo)
        commit = hub_repo.resolve(rev)
        form = parse_qs(self._read_body().decode())
        infos = []
        for path in form.get("paths", []):
            path = path.strip("/")
            if path in commit.tree or any(p.startswith(f"{path}/") for p in commit.tree):
                infos.append(self._path_info(hub_repo, commit, path, form.get("expand", [""])[0].lower() == "true"))
        self._send_json(infos)

    def _path_info(self, repo: _Repo, commit: _Commit, path: str, expand: bool | None = None) -> dict[str, Any]:
        """Tree item for a file or directory; with `expand`, also the last commit that changed it."""

        def snapshot(tree: dict[str, _Entry]) -> Any:
            return tree.get(path) or sorted((p, e) for p, e in tree.items() if p.startswith(f"{path}/"))

        if path in commit.tree:
            item = commit.tree[path].info(path)
        else:
            oid = hashlib.sha1(repr(snapshot(commit.tree)).encode()).hexdigest()
            item = {"type": "directory", "oid": oid, "size": 0, "path": path}
        if expand if expand is not None else self._param("expand").lower() == "true":
            last, current = commit, snapshot(commit.tree)
            while last.parent is not None and snapshot(repo.commits[last.parent].tree) == current:
                last = repo.commits[last.parent]
            item["lastCommit"] = {"id": last.oid, "title": last.title, "date": last.date}
        return item

    # -------------------------------------------------------------------------------------------- uploads
    def _preupload(self, kind: str, repo: str, rev: str) -> None:
        hub_repo = self._get_repo(_TYPES[kind], repo, write=True)
        commit = hub_repo.resolve(rev)
        files = []
        for item in self._json_body().get("files", []):
            mode = self.hub.upload_mode(item["path"], int(item.get("size", 0)))
            existing = commit.tree.get(item["path"])
            remote_oid = None if existing is None else existing.sha256 if mode == "lfs" else existing.git_oid
            files.append({"path": item["path"], "uploadMode": mode, "shouldIgnore": False, "oid": remote_oid})
        self._send_json({"files": files, "commitOid": commit.oid})

    def _lfs_batch(self, repo: str, kind: str = "models") -> None:
        self._get_repo(_TYPES[kind], repo, write=True)  # exists, and the token may write
        body = self._json_body()
        if body.get("operation") != "upload":
            raise HubError(400, "This test Hub only implements the LFS upload operation")
        objects = []
        for obj in body.get("objects", []):
            oid, size = obj["oid"], int(obj["size"])
            item: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
            blob = self.hub.blob_path(oid)
            if not (blob.exists() and blob.stat().st_size == size):
                self.hub._pending_lfs.add(oid)
                item["actions"] = {"upload": {"href": f"{self.hub.url}/_lfs_upload/{oid}", "expires_in": 3600}}
            objects.append(item)
        self._send(200, json.dumps({"transfer": "basic", "objects": objects}).encode(), None,
                   "application/vnd.git-lfs+json")  # fmt: skip

    def _lfs_upload(self, oid: str) -> None:
        # Like a pre-signed storage URL: no Authorization, but only for oids announced by a batch call.
        if oid not in self.hub._pending_lfs:
            raise HubError(403, f"No upload was requested for LFS object {oid}")
        with self.hub._lock:
            drop, self.hub._upload_drops = self.hub._upload_drops > 0, max(0, self.hub._upload_drops - 1)
        if drop:
            self.rfile.read(max(1, int(self.headers.get("Content-Length") or 2) // 2))
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            raise _Dropped()
        data = self._read_body()
        if hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, f"sha256 of the uploaded bytes does not match the LFS oid {oid}")
        self.hub.put_blob(data)
        self.hub._pending_lfs.discard(oid)
        self._send(200, b"", {"ETag": f'"{oid}"'})

    def _commit(self, kind: str, repo: str, rev: str) -> None:
        if self.hub._commit_faults:
            kind, status = self.hub._commit_faults.pop(0)
            if kind == "drop":
                self.rfile.read(max(1, int(self.headers.get("Content-Length") or 2) // 2))
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                raise _Dropped()
            self._read_body()
            raise HubError(status, "Injected commit failure")
        hub_repo = self._get_repo(_TYPES[kind], repo, write=True)
        if self._param("create_pr"):
            raise HubError(400, "Pull requests are not supported by this test Hub")
        lines = [json.loads(line) for line in self._read_body().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "The first NDJSON line of a commit must be its header")
        header, rev = lines[0]["value"], rev.removeprefix("refs/heads/")
        with self.hub._lock:
            if rev not in hub_repo.branches:
                hub_repo.resolve(rev)  # raises RevisionNotFound for an unknown revision
                raise HubError(400, f"Can only commit to a branch, not to {rev}")
            parent = hub_repo.commits[hub_repo.branches[rev]]
            if header.get("parentCommit") not in (None, parent.oid):
                raise HubError(412, f"A commit has happened since {header['parentCommit']}. Pull and retry.")
            tree = self._apply(dict(parent.tree), lines[1:])
            summary = header.get("summary") or "commit"
            new = self.hub._new_commit(hub_repo, parent.oid, summary, header.get("description", ""), tree)
            hub_repo.branches[rev] = new.oid  # the single step that publishes the commit
        url = f"{self.hub.url}/{hub_repo.url_path}/commit/{new.oid}"
        self._send_json({"success": True, "commitOid": new.oid, "commitUrl": url, "pullRequestUrl": None})

    def _apply(self, tree: dict[str, _Entry], operations: list[dict]) -> dict[str, _Entry]:
        """Apply commit operations to a copy of the parent tree; raises (changing nothing) on a bad operation."""
        for op in operations:
            key, value = op.get("key"), op.get("value", {})
            path = value.get("path", "").strip("/")
            if key == "file":
                data = base64.b64decode(value["content"]) if value.get("encoding") == "base64" else value["content"]
                tree[path] = self.hub._entry(data if isinstance(data, bytes) else data.encode(), lfs=False)
            elif key == "lfsFile":
                blob = self.hub.blob_path(value["oid"])
                if not blob.exists() or value.get("size", blob.stat().st_size) != blob.stat().st_size:
                    raise HubError(400, f"LFS object {value['oid']} of {path} was not uploaded")
                size = blob.stat().st_size
                tree[path] = _Entry(value["oid"], size, True, _git_oid(_lfs_pointer(value["oid"], size)))
            elif key == "deletedFile":
                if tree.pop(path, None) is None:
                    raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
            elif key == "deletedFolder":
                doomed = [p for p in tree if p.startswith(f"{path}/")]
                if not doomed:
                    raise HubError(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
                for p in doomed:
                    del tree[p]
            else:
                raise HubError(400, f"Unsupported commit operation {key!r}")
        return tree

    # ------------------------------------------------------------------------------------------- download
    def _resolve(self, repo: str, rev: str, path: str, kind: str = "models") -> None:
        hub_repo = self._get_repo(_TYPES[kind], repo)
        commit = hub_repo.resolve(rev)
        entry = commit.tree.get(path)
        if entry is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": commit.oid})
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{entry.etag}"', "Accept-Ranges": "bytes"}
        if entry.lfs:  # what the real Hub puts on its redirect to the CDN; clients prefer them to ETag/Content-Length
            headers.update({"X-Linked-Etag": f'"{entry.sha256}"', "X-Linked-Size": entry.size})
        first, last, status = 0, entry.size - 1, 200
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if match and any(match.groups()):
            start, end = match.groups()
            first = int(start) if start else max(0, entry.size - int(end))
            last = min(int(end), entry.size - 1) if start and end else entry.size - 1
            if first > last:
                raise HubError(416, "Range not satisfiable", headers={"Content-Range": f"bytes */{entry.size}"})
            headers["Content-Range"], status = f"bytes {first}-{last}/{entry.size}", 206
        headers["Content-Length"] = last - first + 1
        with open(self.hub.blob_path(entry.sha256), "rb") as blob:
            blob.seek(first)
            self._send(status, b"" if self.command == "HEAD" else blob.read(last - first + 1), headers, _OCTET)
