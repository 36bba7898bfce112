"""Ctrl-C of a Snakemake run (issue 33 #7), the handler alone: in this process, with a child standing
for a running job and a stand-in for Snakemake's graceful stop. The engine end to end is in
tests/test_engine_runs.py."""

from __future__ import annotations

import signal
import subprocess

import pytest

from activemem import interrupt


@pytest.fixture
def handlers():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    interrupt._PRESSES.clear()
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
    interrupt._PRESSES.clear()


def test_while_jobs_run_it_stops_them_and_asks_snakemake_for_its_graceful_stop(handlers, monkeypatch):
    stops, escalations = [], []
    # the later signals to jobs that outlive the first: recorded, not sent (this test process's later
    # children are no jobs)
    monkeypatch.setattr(interrupt, "_escalate", lambda: escalations.append(1))

    def exit_gracefully(*args):  # the name Snakemake's scheduler gives its SIGTERM handler
        stops.append(args)

    signal.signal(signal.SIGTERM, exit_gracefully)
    interrupt.install(lambda: True)
    job = subprocess.Popen(["sleep", "30"])
    try:
        assert job.pid in interrupt.descendants(interrupt.os.getpid())
        signal.raise_signal(signal.SIGINT)  # no KeyboardInterrupt: Snakemake goes on to its graceful stop
        assert job.wait(timeout=10) == -signal.SIGINT
        assert len(stops) == 1 and interrupt.interrupted() and escalations == [1]
        assert interrupt.after_interrupt().startswith("stopped by Ctrl-C: the jobs that were running were stopped")
    finally:
        job.kill()
        job.wait()


def test_on_a_cluster_snakemake_keeps_its_own_ctrl_c(handlers):
    signal.signal(signal.SIGTERM, lambda *a: None)
    signal.getsignal(signal.SIGTERM).__name__ = "exit_gracefully"
    interrupt.install(lambda: False)
    with pytest.raises(KeyboardInterrupt):  # Snakemake cancels the cluster jobs it submitted on it
        signal.raise_signal(signal.SIGINT)


def test_before_any_job_it_ends_snakemake_with_one_line(handlers):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    interrupt.install(lambda: True)
    with pytest.raises(SystemExit) as stop:
        signal.raise_signal(signal.SIGINT)
    assert str(stop.value.code).startswith("stopped by Ctrl-C before any job started: nothing was run. To start, "
                                           "run the same command again: snakemake ")
