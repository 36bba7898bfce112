"""The workspace lock's holder, as a second run is told it (issue 33 #6): which engine, which pid.

Fast: a child process holds a lock; nothing of either engine runs.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from activemem import locking


def holder(root, code: str, *argv: str) -> subprocess.Popen:
    """A child that runs ``code`` (taking a lock in ``root``), says "held", then sleeps; ``argv`` is its
    command line after ``-c code``, which is where the message finds the engine's command."""
    child = subprocess.Popen([sys.executable, "-c", f"import time; from activemem import locking; {code}; "
                              "print('held', flush=True); time.sleep(60)", *argv],
                             cwd=root, stdout=subprocess.PIPE, text=True,
                             env={k: v for k, v in os.environ.items() if k != locking.TOKEN_VARIABLE})
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_snakemake_holding_dvcs_lock_is_named_as_snakemake(tmp_path):
    """Snakemake holds DVC's repo lock for its whole run; the message named it "a dvc command"."""
    (tmp_path / ".dvc").mkdir()
    child = holder(tmp_path, "h = locking.hold_dvc('.')", "snakemake", "--cores", "2")
    try:
        with pytest.raises(locking.Busy) as err:
            locking.hold_dvc(tmp_path)
        assert str(err.value).startswith(f"{tmp_path / locking.DVC_LOCK} is held by `snakemake --cores 2` "
                                         f"(pid {child.pid}): a Snakemake run holds DVC's lock for all of its run;")
    finally:
        child.kill()
        child.wait()


def test_workspace_holder_names_the_live_run_and_only_looks(tmp_path, monkeypatch):
    monkeypatch.delenv(locking.TOKEN_VARIABLE, raising=False)
    assert locking.workspace_holder(tmp_path) is None  # no lock file yet
    child = holder(tmp_path, "h = locking.start_run('snakemake (scale smoke)', '.')")
    try:
        info = locking.workspace_holder(tmp_path)
        assert info["pid"] == child.pid and info["what"] == "snakemake (scale smoke)"
        assert locking.describe(info).startswith(f"snakemake (scale smoke) (pid {child.pid}, since ")
        monkeypatch.setenv(locking.TOKEN_VARIABLE, info["token"])
        assert locking.workspace_holder(tmp_path) is None  # a job of that run: its own run, not another
        monkeypatch.delenv(locking.TOKEN_VARIABLE)
        assert locking.workspace_holder(tmp_path) is not None  # looking took nothing from the holder
    finally:
        child.kill()
        child.wait()
    assert locking.workspace_holder(tmp_path) is None  # the kernel let go of the dead holder's lock
