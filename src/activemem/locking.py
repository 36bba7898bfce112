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

Snakemake's run also holds DVC's own repo lock (``.dvc/tmp/lock``, ``start_pipeline``). DVC acts
before any stage command starts (it deletes a stage's outputs, or checks cached ones out over them),
so the workspace lock alone would refuse ``dvc repro`` only after it had changed Snakemake's files;
holding DVC's lock makes ``dvc repro`` fail before its first action, and a Snakemake started while a
``dvc`` command holds that lock stops before its first job. Either engine's run thus owns the
workspace from its first action or touches nothing.

A job of a Snakemake run ends when that run's process ends (``_end_with_run``): after a ``kill -9``
of Snakemake no orphaned training goes on writing, so the rerun Snakemake then asks for can start.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import select
import socket
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

TOKEN_VARIABLE = "ACTIVEMEM_RUN_TOKEN"
WORKSPACE_LOCK = Path(".activemem") / "workspace.lock"
# DVC's repo lock (dvc/repo/__init__.py: ``<repo>/.dvc/tmp/lock``), an flock taken without waiting
# (zc.lockfile), retried for 3 s, then "Unable to acquire lock" (exit 255). Not with DVC's
# ``core.hardlink_lock`` option, which swaps it for a lock file that flock does not see.
DVC_LOCK = Path(".dvc") / "tmp" / "lock"
# DVC lets go of that lock while a stage's command runs (so that two `dvc repro` of separate branches
# can run at once); the stage is then listed, with the pid of its dvc process, in DVC's rwlock file,
# edited under a lock of the same kind (dvc/rwlock.py).
DVC_RWLOCK = Path(".dvc") / "tmp" / "rwlock"


class Busy(RuntimeError):
    """Another live process holds the lock; the message says which and what to do."""


def _holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def describe(info: dict) -> str:
    if not info:
        return "another process"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("since", 0)))
    return f"{info.get('what', 'a run')} (pid {info.get('pid', '?')}, since {since})"


# How long a lock is tried before it counts as held: a moment, so that a Snakemake that only looks
# whether the workspace is in use (``workspace_holder``) never makes a stage starting just then fail.
RETRY_SECONDS = 0.5


def _try_flock(handle) -> bool:
    deadline = time.monotonic() + RETRY_SECONDS
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def _flock(path: Path, holder):
    """Open ``path`` and ``flock`` it without waiting (beyond a moment); a ``Busy`` naming ``holder(path)``
    when another process has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    if not _try_flock(handle):
        handle.close()
        raise Busy(f"{path} is held by {holder(path)}; wait for it to finish or stop it, then run again") from None
    return handle


def _sign(handle, text: str) -> None:
    """Say in the lock file who holds it (what the messages above read)."""
    handle.seek(0)
    handle.truncate()
    handle.write(text)
    handle.flush()


def acquire(path: str | Path, what: str, token: str | None = None):
    """Take the lock at ``path`` without waiting; returns the open file that holds it (close to release)."""
    handle = _flock(Path(path), lambda p: describe(_holder(p)))
    # kept across exec(): the train stage re-executes itself under torchrun while holding the lock
    os.set_inheritable(handle.fileno(), True)
    _sign(handle, json.dumps({"what": what, "pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
                              "token": token}))
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


def _run_info(root: str | Path) -> dict | None:
    """The lock file's record of the run this process belongs to (its token is ours), else None."""
    token = os.environ.get(TOKEN_VARIABLE)
    info = _holder(Path(root) / WORKSPACE_LOCK)
    return info if token and info.get("token") == token else None


def run_holder(root: str | Path = ".") -> dict | None:
    """What holds the workspace for the run this process belongs to (``what``: ``snakemake (scale …)``
    or ``stage <name>``, ``pid``, ``host``), None outside a run."""
    return _run_info(root)


def start_run(what: str, root: str | Path = ".") -> object:
    """For a pipeline engine: hold the workspace for this whole process and hand its jobs a token."""
    if _run_info(root) is not None:
        return None  # a job of the run that already holds the workspace (e.g. on a cluster node)
    token = secrets.token_hex(8)
    handle = acquire(Path(root) / WORKSPACE_LOCK, what, token)
    os.environ[TOKEN_VARIABLE] = token
    return handle


ENGINES = ("dvc", "snakemake")


def command_of(pid: int) -> str | None:
    """The engine command a process runs, from its command line: ``dvc repro`` or ``snakemake --cores 2``
    (from the word ``dvc`` or ``snakemake`` on, whether started as ``python -m dvc`` or ``.../bin/dvc``);
    None where it runs neither or is gone."""
    try:
        words = [w.decode(errors="replace") for w in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if w]
    except OSError:
        return None
    start = next((i for i, w in enumerate(words) if Path(w).name in ENGINES), None)
    return None if start is None else " ".join([Path(words[start]).name, *words[start + 1:]])


def _dvc_holder(path: Path) -> str:
    """Who holds DVC's lock: zc.lockfile writes " <pid>" into it, and so does a Snakemake run, which holds
    it for all of its run (``start_pipeline``); the pid's command line says which command it is."""
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return "a dvc command: DVC is working in this folder"
    command = command_of(pid)
    if command is None:
        return f"a dvc command (pid {pid}): DVC is working in this folder"
    if command.startswith("snakemake"):
        return f"`{command}` (pid {pid}): a Snakemake run holds DVC's lock for all of its run"
    return f"`{command}` (pid {pid}): DVC is working in this folder"


def hold_dvc(root: str | Path = ".") -> object:
    """Take DVC's repo lock the way DVC takes it (flock, no waiting); None where ``root`` is no DVC repo."""
    root = Path(root)
    if not (root / ".dvc").is_dir():
        return None
    handle = _flock(root / DVC_LOCK, _dvc_holder)
    running = _dvc_stages_running(root)
    if running:
        handle.close()
        raise Busy(f"{root / DVC_RWLOCK} lists a stage of {running} in progress: DVC is working in this folder; "
                   f"wait for it to finish or stop it, then run again")
    _sign(handle, f" {os.getpid()}\n")  # what DVC's own lock writes (its error pages tell users to look)
    return handle


def _dvc_stages_running(root: Path) -> str | None:
    """The dvc command (its ``cmd`` and pid) with a stage in progress, from DVC's rwlock file; entries
    of a dvc process that has died (killed mid-stage) are stale, as DVC itself takes them."""
    path = root / DVC_RWLOCK
    with open(root / DVC_RWLOCK.with_name("rwlock.lock"), "a+") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # DVC holds it only while it edits the file
        try:
            table = json.loads(path.read_text() or "{}")
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return "a dvc command (the file is unreadable)"
    infos = list(table.get("write", {}).values()) + [i for group in table.get("read", {}).values() for i in group]
    for info in infos:
        try:
            os.kill(int(info["pid"]), 0)
        except ProcessLookupError:
            continue
        except (KeyError, TypeError, ValueError):
            return "a dvc command"
        except PermissionError:
            pass  # alive, another user's
        return f"`{info.get('cmd', 'dvc')}` (pid {info['pid']})"
    return None


def workspace_holder(root: str | Path = ".") -> dict | None:
    """Who holds the workspace now (the lock file's record: ``what``, ``pid``, ``since``; ``describe``
    words it), where a live process other than this process's own run does; else None. Only looks:
    the lock is taken for a moment and let go. For Snakemake as it loads the workflow, before its own
    checks of half-written files and of its lock, whose advice (``--rerun-incomplete``, ``--unlock``) would break a run that is still going."""
    path = Path(root) / WORKSPACE_LOCK
    if _run_info(root) is not None or not path.exists():
        return None
    with open(path, "a+") as handle:
        if _try_flock(handle):
            return None  # closing the file lets go of it
    return _holder(path)


def start_pipeline(what: str, root: str | Path = ".") -> list:
    """For Snakemake, before its first job: DVC's repo lock, then the workspace (``start_run``). DVC's
    first: between two stages ``dvc repro`` holds only its own lock. Returns the handles to keep open
    (none in a job of the run that holds them, should a job ever load the workflow with its hooks)."""
    if _run_info(root) is not None:
        return []
    dvc = hold_dvc(root)
    try:
        return [dvc, start_run(what, root)]
    except BaseException:
        if dvc is not None:
            dvc.close()
        raise


def _end_with_run(root: str | Path) -> None:
    """In a job of the run that holds the workspace: end this process when that run's engine process
    ends. Snakemake starts a job as ``bash -c "python … | tee log"``, so a ``kill -9`` of Snakemake
    leaves the job to ``init`` and it would go on training, writing a work folder the rerun needs;
    the engine's pid is in the lock file (``pidfd``: a later process with the same pid is not it).
    Only on the engine's machine: a cluster job's engine runs elsewhere, and the scheduler owns it."""
    info = _run_info(root)
    if info is None or info.get("host") != socket.gethostname():
        return
    try:
        engine = os.pidfd_open(int(info["pid"]))
    except (AttributeError, KeyError, ValueError, OSError):  # no pidfd (not Linux 5.3+) or already gone
        return

    def watch() -> None:
        select.select([engine], [], [])  # readable once the process has exited
        sys.stderr.write(f"error: {info.get('what', 'the pipeline run')} (pid {info['pid']}) that started this "
                         f"job has ended: stopping this job too\n")
        sys.stderr.flush()
        os._exit(1)  # at once, as kill -9 would (what a killed stage leaves, a rerun resumes or redoes)

    threading.Thread(target=watch, name="end-with-run", daemon=True).start()


@contextmanager
def workspace(what: str, root: str | Path = ".") -> Iterator[None]:
    """For one stage: go on inside the run that holds the workspace (and end with it), else hold it
    while running (the stage's own child processes, e.g. torchrun's workers, inherit the token and go
    on)."""
    if torchrun_worker():
        _end_with_run(root)
        yield
        return
    previous = os.environ.get(TOKEN_VARIABLE)
    handle = start_run(what, root)
    if handle is None:
        _end_with_run(root)
    try:
        yield
    finally:
        if handle is not None:
            handle.close()
            _restore_token(previous)


@contextmanager
def pipeline(what: str, root: str | Path = ".") -> Iterator[None]:
    """For a workflow's own work before its run starts (Snakemake removing stale results as it loads):
    both locks, as ``start_pipeline`` takes them, for the ``with`` block only."""
    previous = os.environ.get(TOKEN_VARIABLE)
    handles = start_pipeline(what, root)
    try:
        yield
    finally:
        for handle in handles:
            if handle is not None:
                handle.close()
        if handles:
            _restore_token(previous)


def _restore_token(previous: str | None) -> None:
    if previous is None:
        os.environ.pop(TOKEN_VARIABLE, None)
    else:
        os.environ[TOKEN_VARIABLE] = previous
