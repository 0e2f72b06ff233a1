"""pytest fixtures that point the real Hugging Face clients at a `HubServer` on 127.0.0.1.

`tests/conftest.py` puts `tests/` on `sys.path`; load the fixture there with
`from hub_fixtures import hub_server  # noqa: E402, F401` (or `pytest_plugins = ["hub_fixtures"]`). A test then asks
for `hub_server` and uses the libraries as usual:

```python
def test_push(hub_server):
    repo_id = hub_server.new_repo_id("tiny-bert")  # "test-user/tiny-bert-<random>": repos live for the session
    model.push_to_hub(repo_id)  # HF_TOKEN is set: writes are authenticated
    BertModel.from_pretrained(repo_id)
    hub_server.fail_next_commit(status=500)  # fault injection for the next commit
```

`hub_server` is session-scoped: from the first test that uses it until the end of the session, `HF_ENDPOINT`, the
token and every Hugging Face cache point at temporary directories (offline mode is switched off), then all is
restored. `hub_environment(server, home)` does the same for a narrower scope.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

try:
    from .hub_server import HubServer
except ImportError:  # `tests/` put on sys.path (rootdir-relative import mode) instead of imported as a package
    from hub_server import HubServer  # type: ignore[no-redef]

__all__ = ["HUB_TOKEN", "hub_environment", "hub_server"]

HUB_TOKEN = "hf_test_token_for_the_loopback_hub"


def _optional_module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


@contextlib.contextmanager
def hub_environment(server: HubServer, home: str | Path, token: str | None = None) -> Iterator[None]:
    """Point `huggingface_hub`, `datasets` and `transformers` at `server`, with caches under `home`.

    Environment variables cover code that reads them later; the module constants the libraries computed from the
    environment at import time are patched too (configuration, not behaviour). Everything is restored on exit.

    Args:
        server (`HubServer`):
            A started server.
        home (`str` or `Path`):
            Directory that receives `HF_HOME`, the hub cache and the datasets cache.
        token (`str`, *optional*):
            Token exported as `HF_TOKEN`. Defaults to `server.token`.
    """
    home = Path(home)
    token = token or server.token
    paths = {name: home / sub for name, sub in [("home", "hf"), ("hub", "hf/hub"), ("ds", "hf/datasets")]}
    env = {
        "HF_ENDPOINT": server.url,
        "HF_TOKEN": token,
        "HF_HUB_DISABLE_XET": "1",  # hf_xet would upload through a CAS service this server does not have
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HOME": str(paths["home"]),
        "HF_HUB_CACHE": str(paths["hub"]),
        "HF_DATASETS_CACHE": str(paths["ds"]),
        "HF_XET_CACHE": str(paths["home"] / "xet"),
        "HF_ASSETS_CACHE": str(paths["home"] / "assets"),
    }
    with pytest.MonkeyPatch.context() as mp:
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_TOKEN_PATH",
                     "HUGGINGFACE_HUB_CACHE", "HUGGINGFACE_CO_STAGING", "HF_OIDC_RESOURCE"):  # fmt: skip
            mp.delenv(name, raising=False)
        for name, value in env.items():
            mp.setenv(name, value)
        _patch_import_time_constants(mp, server.url, paths)
        try:
            yield
        finally:
            _clear_file_system_cache()


def _patch_import_time_constants(mp: pytest.MonkeyPatch, url: str, paths: dict[str, Path]) -> None:
    """Values the libraries copied from the environment when first imported (see their `constants`/`config`)."""
    from huggingface_hub import constants, hf_api

    home = paths["home"]
    for name, value in {
        "ENDPOINT": url,
        "HUGGINGFACE_CO_URL_TEMPLATE": url + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_URL_HOSTS": constants.HF_URL_HOSTS | {"127.0.0.1"},
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(paths["hub"]),
        "HUGGINGFACE_HUB_CACHE": str(paths["hub"]),
        "HF_ASSETS_CACHE": str(home / "assets"),
        "HUGGINGFACE_ASSETS_CACHE": str(home / "assets"),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_TOKEN_PATH": str(home / "token"),
        "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
        "HF_HUB_DISABLE_XET": True,
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_OFFLINE": False,
    }.items():
        mp.setattr(constants, name, value)
    mp.setattr(hf_api.api, "endpoint", url)  # the module-level HfApi behind `huggingface_hub.create_repo` & co.

    datasets_config = _optional_module("datasets.config")
    if datasets_config is not None:
        for name, value in {
            "HF_ENDPOINT": url,
            "HUB_DATASETS_URL": url + "/datasets/{repo_id}/resolve/{revision}/{path}",
            "HF_CACHE_HOME": str(home),
            "HF_DATASETS_CACHE": paths["ds"],
            "DOWNLOADED_DATASETS_PATH": paths["ds"] / "downloads",
            "EXTRACTED_DATASETS_PATH": paths["ds"] / "downloads" / "extracted",
            "HF_HUB_OFFLINE": False,
            "HF_DATASETS_OFFLINE": False,
        }.items():
            mp.setattr(datasets_config, name, value)

    transformers_hub = _optional_module("transformers.utils.hub")
    if transformers_hub is not None:
        mp.setattr(transformers_hub, "_hf_api", None)  # shared HfApi, rebuilt lazily with the patched endpoint

    _clear_file_system_cache()


def _clear_file_system_cache() -> None:
    from huggingface_hub import HfFileSystem

    HfFileSystem.clear_instance_cache()  # cached instances keep their endpoint, token and directory listings


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """A `HubServer` on a free port, with the Hugging Face libraries pointed at it for the rest of the session."""
    root = tmp_path_factory.mktemp("loopback_hub")
    server = HubServer(tokens=[HUB_TOKEN], storage_dir=root / "storage").start()
    try:
        with hub_environment(server, root / "home"):
            yield server
    finally:
        server.stop()
