"""Locks that make two runs in one workspace fail fast instead of interleaving their files.

Two levels, both advisory ``flock`` locks (released by the kernel when their process dies, so a
killed run never leaves a stale lock behind):

- ``exclusive(path)``: one process at a time in a folder, e.g. a model's training ``work_dir``
  (``checkpoints/<scale>/<model>``): a second trainer of the same model fails at once.
- ``workspace()``: one *pipeline run* at a time in a workspace (the folder holding ``params.yaml``;
  the lock file is ``.activemem/workspace.lock`` there).
  Snakemake takes it for its whole run when the workflow starts (``pipeline/rules/common.smk``) and
  passes a token to its jobs in ``ACTIVEMEM_RUN_TOKEN``; a stage started by Snakemake sees its own
  run's token and goes on. A stage started by anything else (``dvc repro``, a shell) takes the lock
  for its own duration, so ``dvc repro`` while ``snakemake`` runs stops at its first stage, naming
  the run that holds the workspace.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

TOKEN_VARIABLE = "ACTIVEMEM_RUN_TOKEN"
WORKSPACE_LOCK = Path(".activemem") / "workspace.lock"


class Busy(RuntimeError):
    """Another live process holds the lock; the message says which and what to do."""


def _holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _describe(info: dict) -> str:
    if not info:
        return "another process"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("since", 0)))
    return f"{info.get('what', 'a run')} (pid {info.get('pid', '?')}, since {since})"


def acquire(path: str | Path, what: str, token: str | None = None):
    """Take the lock at ``path`` without waiting; returns the open file that holds it (close to release)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise Busy(f"{path} is held by {_describe(_holder(path))}: wait for it to finish or stop it, "
                   f"then run again") from None
    # kept across exec(): the train stage re-executes itself under torchrun while holding the lock
    os.set_inheritable(handle.fileno(), True)
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"what": what, "pid": os.getpid(), "since": time.time(), "token": token}))
    handle.flush()
    return handle


def torchrun_worker() -> bool:
    """A torchrun process other than rank 0: rank 0 holds the job's locks for all of its processes."""
    return os.environ.get("RANK", "0") != "0"


@contextmanager
def exclusive(path: str | Path, what: str) -> Iterator[None]:
    if torchrun_worker():
        yield
        return
    handle = acquire(path, what)
    try:
        yield
    finally:
        handle.close()


def start_run(what: str, root: str | Path = ".") -> object:
    """For a pipeline engine: hold the workspace for this whole process and hand its jobs a token."""
    token = os.environ.get(TOKEN_VARIABLE)
    if token and _holder(Path(root) / WORKSPACE_LOCK).get("token") == token:
        return None  # a job of the run that already holds the workspace (e.g. on a cluster node)
    token = secrets.token_hex(8)
    handle = acquire(Path(root) / WORKSPACE_LOCK, what, token)
    os.environ[TOKEN_VARIABLE] = token
    return handle


@contextmanager
def workspace(what: str, root: str | Path = ".") -> Iterator[None]:
    """For one stage: go on inside the run that holds the workspace, else hold it while running (the
    stage's own child processes, e.g. torchrun's workers, inherit the token and go on)."""
    if torchrun_worker():
        yield
        return
    previous = os.environ.get(TOKEN_VARIABLE)
    handle = start_run(what, root)
    try:
        yield
    finally:
        if handle is not None:
            handle.close()
            if previous is None:
                os.environ.pop(TOKEN_VARIABLE, None)
            else:
                os.environ[TOKEN_VARIABLE] = previous
