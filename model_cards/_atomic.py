# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""Atomic file output: write a sibling temporary file, then `os.replace` it over the target."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_text"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path beside `path`; on success it replaces `path` in one step, on error it is removed.

    Readers never see a half-written file: they get the old one or the new one. The temporary file is in the same
    folder, so `os.replace` stays on one file system (where it is atomic).

    Args:
        path (`str` or `os.PathLike`):
            The file to (re)write. Its folder is created if needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(descriptor)
    temporary = Path(temporary)
    try:
        yield temporary
        # mkstemp creates the file 0600; a model card is meant to be read by others.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Writes `text` (UTF-8, newlines as given) to `path` atomically and returns `path` as a `Path`.

    Args:
        path (`str` or `os.PathLike`):
            The file to (re)write.
        text (`str`):
            Its new content.
    """
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    return Path(path)
