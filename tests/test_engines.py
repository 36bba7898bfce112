"""A stage's "rerun the … stage" names the command that does it under the engine that runs the stage
(issue 33 item 3: under DVC, "rerun the prepare stage" was no repair for a file changed in place)."""

from __future__ import annotations

from activemem import engines, locking


def test_by_hand_the_advice_is_the_stage(monkeypatch, tmp_path):
    monkeypatch.delenv(engines.DVC_STAGE, raising=False)
    monkeypatch.delenv(locking.TOKEN_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    assert engines.current() is None
    assert engines.rerun("prepare") == "rerun the prepare stage"


def test_under_dvc_the_advice_is_a_forced_run_of_that_one_stage(monkeypatch):
    monkeypatch.setenv(engines.DVC_STAGE, "evaluate@neural_gpu-1")
    assert engines.current() == engines.DVC and engines.dvc_item() == "neural_gpu-1"
    assert engines.rerun("train", engines.dvc_item()).startswith(
        "rerun the train stage: `dvc repro -f -s train@neural_gpu-1`, then `dvc repro` (")
    assert "`dvc repro -f -s prepare`" in engines.rerun("prepare")
    monkeypatch.setenv(engines.DVC_STAGE, "prepare")
    assert engines.dvc_item() is None


def test_in_a_snakemake_job_the_advice_is_the_same_command_again(monkeypatch, tmp_path):
    monkeypatch.delenv(engines.DVC_STAGE, raising=False)
    monkeypatch.setenv(locking.TOKEN_VARIABLE, "")  # restored afterwards: start_run sets its own
    monkeypatch.chdir(tmp_path)
    handle = locking.start_run("snakemake (scale smoke)", tmp_path)  # what the workflow holds for its jobs
    try:
        assert engines.current() == engines.SNAKEMAKE
        assert engines.rerun("prepare").startswith("rerun the prepare stage: run the same snakemake command again")
    finally:
        handle.close()
    monkeypatch.setenv(locking.TOKEN_VARIABLE, "")  # outside that run
    handle = locking.start_run("stage prepare", tmp_path)  # a stage run by hand holds the workspace itself
    try:
        assert engines.current() is None
    finally:
        handle.close()
