# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""The command that started the run, as the model card shows it: `accelerate launch [its flags] train_accelerate.py
...` for a run started by `accelerate launch`, `cldmdf-train ...` for the installed console script, `python
train_accelerate.py ...` otherwise.

`accelerate launch` (accelerate 1.x) starts the script in a child process whose environment it fills: every
launcher (`simple_launcher`, `multi_gpu_launcher`, DeepSpeed, FSDP) sets `ACCELERATE_MIXED_PRECISION`, and the simple
and multi-GPU ones `ACCELERATE_DYNAMO_BACKEND` as well. Since a user may export `ACCELERATE_MIXED_PRECISION`
themselves before `python train_accelerate.py`, both are required, or one and a parent process that is `accelerate
launch`; the launcher's own flags (`--num_processes 2`...) are read from that parent's command line when the system
shows it (psutil, a dependency of accelerate).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from typing import Optional

SCRIPT = "train_accelerate.py"
# The same script installed as a console script (`[project.scripts]` of pyproject.toml).
CONSOLE_SCRIPT = "cldmdf-train"
# Set by every `accelerate launch` launcher, and by the simple and multi-GPU ones (the usual two) respectively.
LAUNCH_ENV = ("ACCELERATE_MIXED_PRECISION", "ACCELERATE_DYNAMO_BACKEND")


def parent_command_line() -> Optional[list[str]]:
    """The parent process's argv, or None when the system does not show it."""
    try:
        import psutil

        return psutil.Process(os.getppid()).cmdline()
    except Exception:  # no psutil, no permission, a parent gone: the launcher's flags are then left out
        return None


def launch_flags(parent: Optional[Sequence[str]]) -> Optional[list[str]]:
    """The flags of `accelerate launch` in `parent` (an argv): what lies between `launch` (or `-m
    accelerate.commands.launch`) and the script; None when `parent` is not an `accelerate launch` command."""
    if not parent:
        return None
    parent = list(parent)
    start = None
    for index, token in enumerate(parent):
        name = os.path.basename(token)
        if name in ("accelerate", "accelerate.exe") and index + 1 < len(parent) and parent[index + 1] == "launch":
            start = index + 2
            break
        if token == "accelerate.commands.launch":  # python -m accelerate.commands.launch
            start = index + 1
            break
    if start is None:
        return None
    for index in range(start, len(parent)):
        if os.path.basename(parent[index]) == SCRIPT:
            return parent[start:index]
    return None


def run_command(
    argv: Sequence[str],
    environ: Mapping[str, str] = os.environ,
    parent: Optional[Sequence[str]] = None,
    program: Optional[str] = None,
) -> str:
    """The command line of this run, quoted as a shell would need it.

    Args:
        argv (`Sequence[str]`): the script's arguments (`sys.argv[1:]`).
        environ (`Mapping[str, str]`, defaults to `os.environ`): the environment of the process.
        parent (`Sequence[str]`, *optional*): the parent process's argv; read from the system when not given.
        program (`str`, *optional*): the program the process runs (`sys.argv[0]`); the console script is named as
            such, anything else as `python train_accelerate.py`.
    """
    if program is not None and os.path.basename(program) == CONSOLE_SCRIPT:
        return shlex.join([CONSOLE_SCRIPT, *argv])
    launched = [name for name in LAUNCH_ENV if name in environ]
    if launched:
        parent = parent_command_line() if parent is None else parent
        flags = launch_flags(parent)
        if flags is not None or len(launched) == len(LAUNCH_ENV):
            return shlex.join(["accelerate", "launch", *(flags or []), SCRIPT, *argv])
    return shlex.join(["python", SCRIPT, *argv])
