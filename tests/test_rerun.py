"""A rerun gives the numbers a fresh run would: no stale weights, no clock or core-count dependence.

Each test here reproduces one way main used to print a wrong number with no error (issue 9): a code
change resumed old weights, a lower step limit returned the longer run, a wall-clock limit and the
thread count changed the weights, a replaced or corrupt file was trusted, two runs interleaved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from activemem import locking, models, provenance
from activemem.config import load_params, read, scale_names
from activemem.stages import evaluate as evaluate_stage
from activemem.stages import train as train_stage
from activemem.train import checkpoint, loop
from activemem.train.loop import train

from conftest import REPO

PARAMS = REPO / "params.yaml"
MODEL = "neural_gpu"


def smoke_params(**train_overrides) -> dict:
    params = load_params(PARAMS, "smoke")
    params["train"].update(train_overrides)
    return params


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return checkpoint.load(folder / "checkpoint.pt")["model"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def assert_different_weights(a: dict, b: dict) -> None:
    assert any(not torch.equal(a[key], b[key]) for key in a)


def halve_logits(monkeypatch) -> None:
    """A behaviour-changing code edit: the model's logits are halved, and the source hash changes."""
    real_build = models.build

    def build(*args, **kwargs):
        model = real_build(*args, **kwargs)
        forward = model.forward
        model.forward = lambda *a, **k: forward(*a, **k) * 0.5
        return model

    monkeypatch.setattr(loop.models, "build", build)
    monkeypatch.setattr("activemem.train.fingerprint.source_digest", lambda: "edited-source")


def test_a_code_edit_retrains_from_scratch(prepared, tmp_path, monkeypatch, capsys):
    train(MODEL, smoke_params(), prepared, tmp_path / "run", progress=False)
    before = weights(tmp_path / "run")
    halve_logits(monkeypatch)
    train(MODEL, smoke_params(), prepared, tmp_path / "run", progress=False)
    assert "(code changed): starting over" in capsys.readouterr().out
    train(MODEL, smoke_params(), prepared, tmp_path / "fresh", progress=False)
    assert_same_weights(weights(tmp_path / "run"), weights(tmp_path / "fresh"))
    assert_different_weights(weights(tmp_path / "run"), before)


def test_a_lower_step_limit_gives_the_shorter_run(prepared, tmp_path):
    train(MODEL, smoke_params(max_steps=8), prepared, tmp_path / "run", progress=False)
    shorter = train(MODEL, smoke_params(max_steps=6), prepared, tmp_path / "run", progress=False)
    train(MODEL, smoke_params(max_steps=6), prepared, tmp_path / "fresh", progress=False)
    assert shorter["steps"] == 6
    assert_same_weights(weights(tmp_path / "run"), weights(tmp_path / "fresh"))


def test_an_identical_finished_run_is_reused_not_extended(prepared, tmp_path, capsys):
    first = train(MODEL, smoke_params(), prepared, tmp_path / "out", tmp_path / "work", progress=False)
    (tmp_path / "out" / "checkpoint.pt").unlink()  # what an engine does before it reruns a job
    again = train(MODEL, smoke_params(), prepared, tmp_path / "out", tmp_path / "work", progress=False)
    assert "already finished" in capsys.readouterr().out
    assert again["steps"] == first["steps"] == 6
    assert_same_weights(weights(tmp_path / "out"), weights(tmp_path / "work"))


def test_slow_steps_and_other_thread_counts_give_bitwise_equal_weights(prepared, tmp_path, monkeypatch):
    normal = train(MODEL, smoke_params(), prepared, tmp_path / "normal", progress=False)
    real_step = loop.smoothed_loss

    def slow(*args, **kwargs):
        time.sleep(0.2)  # a machine five times slower, or a busy one
        return real_step(*args, **kwargs)

    monkeypatch.setattr(loop, "smoothed_loss", slow)
    torch.set_num_threads(1)  # what the engine's --cores 1 would leave behind: the preset overrides it
    slowed = train(MODEL, smoke_params(), prepared, tmp_path / "slow", progress=False)
    assert torch.get_num_threads() == smoke_params()["train"]["threads"]
    assert_same_weights(weights(tmp_path / "normal"), weights(tmp_path / "slow"))
    assert slowed["final_dev_perplexity"] == normal["final_dev_perplexity"]
    assert not slowed["truncated"]


def test_no_reported_preset_stops_on_the_clock():
    scales = scale_names(read(PARAMS))
    assert set(scales) >= {"demo", "smoke", "news", "paper"}
    for scale in scales:
        train = load_params(PARAMS, scale)["train"]  # resolved: the scale's block over `defaults`
        assert train["max_minutes"] == 0, scale
        assert train["threads"] >= 1, scale


def test_a_wall_clock_stop_is_marked_truncated_everywhere(prepared, tmp_path, monkeypatch):
    clock = {"now": 0.0}

    def fake_clock():
        clock["now"] += 30.0  # every look at the clock: half a minute later
        return clock["now"]

    monkeypatch.setattr(loop.time, "perf_counter", fake_clock)
    summary = train(MODEL, smoke_params(max_minutes=2.0), prepared, tmp_path / "train", progress=False)
    assert summary["stop_reason"] == "max_minutes" and summary["truncated"] and summary["steps"] < 6
    monkeypatch.undo()
    metrics = evaluate_stage.evaluate(MODEL, smoke_params(), prepared, tmp_path / "train" / "checkpoint.pt",
                                      tmp_path / "eval", progress=False)
    assert metrics["truncated"] and metrics["train_steps"] < metrics["train_max_steps"] == 6


def test_a_corrupt_resumable_checkpoint_starts_over(prepared, tmp_path, capsys):
    train(MODEL, smoke_params(), prepared, tmp_path / "fresh", progress=False)
    work = tmp_path / "work"
    work.mkdir()
    (work / "checkpoint.pt").write_bytes(b"PK\x03\x04 not really a zip")
    train(MODEL, smoke_params(), prepared, tmp_path / "out", work, progress=False)
    assert f"{work / 'checkpoint.pt'}: not a readable checkpoint" in capsys.readouterr().out
    assert_same_weights(weights(tmp_path / "out"), weights(tmp_path / "fresh"))


def test_a_corrupt_checkpoint_for_evaluation_is_one_line_naming_it(prepared, tmp_path):
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(b"\x00" * 64)
    argv = ["--params", str(PARAMS), "--scale", "smoke", "--model", MODEL, "--data", str(prepared),
            "--checkpoint", str(bad), "--out", str(tmp_path / "eval"), "--no-progress"]
    with pytest.raises(SystemExit) as stop:
        evaluate_stage.main(argv)
    message = str(stop.value.code)
    assert message.startswith(f"error: {bad}: not a readable checkpoint") and "\n" not in message


def test_replaced_prepared_data_is_refused_before_training(prepared, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for f in prepared.iterdir():
        (data / f.name).write_bytes(f.read_bytes())
    (data / "train.src.npy").write_bytes((prepared / "dev.src.npy").read_bytes())  # another valid array
    argv = ["--params", str(PARAMS), "--scale", "smoke", "--model", MODEL, "--data", str(data),
            "--out", str(tmp_path / "out"), "--no-progress"]
    with pytest.raises(SystemExit) as stop:
        train_stage.main(argv)
    assert f"{data / 'train.src.npy'}: changed since the prepare stage wrote it" in str(stop.value.code)
    assert not (tmp_path / "out" / "checkpoint.pt").exists()


def test_a_second_trainer_of_one_work_dir_fails_at_once(prepared, tmp_path):
    (tmp_path / "work").mkdir()
    with locking.exclusive(tmp_path / "work" / ".lock", "the first trainer"):
        with pytest.raises(locking.Busy, match=f"held by the first trainer \\(pid {os.getpid()}"):
            train(MODEL, smoke_params(), prepared, tmp_path / "out", tmp_path / "work", progress=False)


def test_a_stage_outside_the_running_pipeline_fails_fast(tmp_path):
    """What `dvc repro` meets while `snakemake` runs in the same folder (and the other way round)."""
    (tmp_path / "params.yaml").write_text(PARAMS.read_text())
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from activemem import locking; "
                               f"h = locking.start_run('snakemake (test)', {str(tmp_path)!r}); "
                               "print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        env = {k: v for k, v in os.environ.items() if k != locking.TOKEN_VARIABLE}
        started = time.monotonic()
        stage = subprocess.run([sys.executable, "-m", "activemem.stages.paper", "--params",
                                str(tmp_path / "params.yaml"), "--results", "r", "--data", "d", "--out", "o"],
                               cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert stage.returncode != 0 and time.monotonic() - started < 30
        assert f"held by snakemake (test) (pid {holder.pid}" in stage.stderr
        # a job of the run that holds the workspace goes on (here: to the paper stage's own error)
        token = json.loads((tmp_path / locking.WORKSPACE_LOCK).read_text())["token"]
        inside = subprocess.run([sys.executable, "-m", "activemem.stages.paper", "--params",
                                 str(tmp_path / "params.yaml"), "--results", "r", "--data", "d", "--out", "o"],
                                cwd=tmp_path, env={**env, locking.TOKEN_VARIABLE: token},
                                capture_output=True, text=True, timeout=60)
        assert "held by" not in inside.stderr
    finally:
        holder.kill()
        holder.wait()


def test_summary_and_metrics_carry_provenance(prepared, tmp_path):
    summary = train(MODEL, smoke_params(), prepared, tmp_path / "train", progress=False)
    metrics = evaluate_stage.evaluate(MODEL, smoke_params(), prepared, tmp_path / "train" / "checkpoint.pt",
                                      tmp_path / "eval", progress=False)
    keys = {"git_commit", "git_dirty", "activemem_version", "python", "torch", "sacrebleu", "sentencepiece",
            "device", "threads", "seed", "params_sha256"}
    for block in (summary["provenance"], metrics["provenance"],
                  json.loads((tmp_path / "train" / "summary.json").read_text())["provenance"]):
        assert keys <= set(block)
        assert block["threads"] == 2 and block["seed"] == 1 and block["device"] == "cpu"
        assert block["torch"] == torch.__version__ and block["source_sha256"] == provenance.source_digest()
    other = smoke_params(lr=0.1)
    assert provenance.provenance(other, "cpu", 2, 1)["params_sha256"] != metrics["provenance"]["params_sha256"]
    # more seeds in params.yaml are more runs, not another setting of this one
    same = smoke_params()
    assert provenance.provenance(same, "cpu", 2, 1)["params_sha256"] == metrics["provenance"]["params_sha256"]
    same["seeds"] = [*same["seeds"], 2, 3]
    assert provenance.provenance(same, "cpu", 2, 1)["params_sha256"] == metrics["provenance"]["params_sha256"]


def test_git_state_sees_a_dirty_tracked_file(tmp_path):
    assert provenance.git_state(tmp_path) == {"git_commit": None, "git_dirty": None}
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    (tmp_path / "params.yaml").write_text("a: 1\n")
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "c"]):
        subprocess.run(git + cmd, cwd=tmp_path, check=True)
    (tmp_path / "untracked.txt").write_text("outputs do not count")
    clean = provenance.git_state(tmp_path)
    assert len(clean["git_commit"]) == 40 and clean["git_dirty"] is False
    (tmp_path / "params.yaml").write_text("a: 2\n")
    assert provenance.git_state(tmp_path)["git_dirty"] is True
