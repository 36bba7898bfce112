"""Ctrl-C of a Snakemake run: one true line and a plain rerun, where Snakemake alone gives tracebacks
and a rerun that needs ``--rerun-incomplete``.

What Snakemake 9.27 does on SIGINT (measured on the smoke scale). A terminal's Ctrl-C reaches Snakemake
and its jobs (the foreground process group). The jobs die; Snakemake's scheduler takes the
KeyboardInterrupt, stops at once and leaves the killed jobs' outputs marked incomplete, so the same
command then stops with ``IncompleteFilesException`` and asks for ``--rerun-incomplete``. A Ctrl-C
while Snakemake plans (building the DAG inside asyncio) ends it with event-loop tracebacks
(``CancelledError``, then ``KeyboardInterrupt``). A SIGINT to the Snakemake process alone
(``kill -INT <pid>``) makes it wait until its running jobs end by themselves (a training: hours).

So the workflow puts ``install``'s handler on SIGINT (in the main Snakemake process only):

- while Snakemake runs local jobs (its scheduler's graceful stop, the handler it puts on SIGTERM, is
  in place): it sends SIGINT to the running jobs (again, after a terminal's Ctrl-C; SIGTERM at a
  second Ctrl-C or after ``ESCALATE_SECONDS``, SIGKILL at a third or after twice that) and asks the
  scheduler for that graceful stop: no job starts, and each job that was running fails as any failed
  job does, so Snakemake removes its output and its incomplete mark. The same command then runs it
  again, and a training resumes from its last checkpoint (``checkpoints/``, not an output Snakemake
  removes);
- before that (loading, planning): it ends Snakemake with one line (``SystemExit``): nothing has run;
- with a cluster executor, Snakemake's own handling stays: it cancels the cluster jobs it submitted,
  which a graceful stop would wait for (days).

``after_interrupt`` is the line the workflow's ``onerror`` hook prints when the run was interrupted.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable

_PRESSES: list[int] = []  # one entry per SIGINT this process received
ESCALATION = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)  # to the jobs at the 1st, 2nd, 3rd Ctrl-C
# A job still alive this long after a signal gets the next one: a shell between two commands can miss
# a SIGINT, and Snakemake's graceful stop waits for every running job (a stage dies within a second).
ESCALATE_SECONDS = 10.0


def interrupted() -> bool:
    return bool(_PRESSES)


def command() -> str:
    """The Snakemake command this process runs, to be typed again (``python -m snakemake`` shows
    its module's path as ``argv[0]``)."""
    return shlex.join(["snakemake", *sys.argv[1:]])


def after_interrupt() -> str:
    return (f"stopped by Ctrl-C: the jobs that were running were stopped and their unfinished outputs "
            f"removed; finished results are kept. To go on, run the same command again: {command()} "
            f"(a training resumes from its last checkpoint; no --rerun-incomplete needed)")


def descendants(pid: int) -> list[int]:
    """The live processes below ``pid``, parents before children (from /proc; none where there is none)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or not a process
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(0), []):
            found.append(child)
            todo.append(child)
    return found


def _signal_jobs(sig: int) -> None:
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _escalate() -> None:
    """From the first Ctrl-C: every ``ESCALATE_SECONDS`` while jobs remain, the next signal of
    ``ESCALATION`` to them (as further presses would send)."""
    for sig in ESCALATION[1:]:
        time.sleep(ESCALATE_SECONDS)
        if not descendants(os.getpid()):
            return
        _signal_jobs(sig)


def _scheduler_stop() -> Callable | None:
    """Snakemake's graceful stop while its scheduler runs: the bound method it puts on SIGTERM
    (``JobScheduler.exit_gracefully``, snakemake/scheduling/job_scheduler.py); else None."""
    handler = signal.getsignal(signal.SIGTERM)
    return handler if getattr(handler, "__name__", None) == "exit_gracefully" else None


def install(local: Callable[[], bool]) -> None:
    """Put the handler on SIGINT. ``local()`` says, when the signal comes, whether Snakemake runs its
    jobs on this machine (``workflow.local_exec``)."""

    def on_interrupt(signum, frame) -> None:
        _PRESSES.append(signum)
        stop = _scheduler_stop()
        if stop is not None and local():
            _signal_jobs(ESCALATION[min(len(_PRESSES), len(ESCALATION)) - 1])
            if len(_PRESSES) == 1:
                threading.Thread(target=_escalate, name="stop-jobs", daemon=True).start()
            stop(signum, frame)
        elif stop is not None:
            raise KeyboardInterrupt  # Snakemake cancels its cluster jobs on it
        else:
            raise SystemExit(f"stopped by Ctrl-C before any job started: nothing was run. To start, run "
                             f"the same command again: {command()}")

    try:
        signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:
        pass  # not the main thread (an embedding GUI): Snakemake's own handling stays
