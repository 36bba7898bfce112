"""Nothing stale reaches a report: a failed job, a reused work directory or an edited file (issue 23).

Each test reproduces one way an earlier main printed old numbers with exit 0: a failed training job
left the old model in Table 1 ("Nothing to be done"), a work directory mixed two runs' files, an edited
prepared file or a replaced checkpoint was scored. The engine-level cases run the real Snakemake on a
copy of the project at the smoke scale, one after another on one workspace (each leaves it complete).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from activemem import lineage, locking
from activemem.config import load_params
from activemem.data.store import file_digest
from activemem.train import checkpoint, loop
from activemem.train.loop import train

from conftest import REPO
from test_engine_runs import one_model_copy, snapshot
from test_pipeline import engine_env, repo_copy, snakemake

pytestmark = pytest.mark.slow  # runs the engines end to end: `pytest -m "not slow"` leaves it out

MODEL = "neural_gpu"


def smoke_params(**train_overrides) -> dict:
    params = load_params(REPO / "params.yaml", "smoke")
    params["train"].update(train_overrides)
    return params


def dev_rows(folder: Path) -> list[str]:
    """The dev log's lines, header first, without the seconds of training: a timing, new in every run."""
    lines = [line.split(",") for line in (folder / "dev_log.csv").read_text().splitlines()]
    timing = lines[0].index("train_seconds")
    return [",".join(cells[:timing] + cells[timing + 1:]) for cells in lines]


# --- one work directory, one run ------------------------------------------------------------------

class Killed(Exception):
    """What a kill -9 leaves: the run stops between two of its steps, writing nothing more."""


def kill_after_dev_evaluations(monkeypatch, count: int) -> None:
    real = loop._evaluate_dev
    seen = {"n": 0}

    def evaluate_then_die(run):
        stop = real(run)
        seen["n"] += 1
        if seen["n"] == count:
            raise Killed
        return stop

    monkeypatch.setattr(loop, "_evaluate_dev", evaluate_then_die)


def test_a_work_directory_never_mixes_two_runs_files(prepared, tmp_path, monkeypatch):
    """Run A into W; run B (other settings) into W, killed after two dev evaluations and before its first
    checkpoint; run A again: it must not reuse A's checkpoint beside B's logs."""
    a, b = smoke_params(), smoke_params(lr=0.001, checkpoint_every=100)
    train(MODEL, a, prepared, tmp_path / "out", tmp_path / "work", progress=False)
    with monkeypatch.context() as patch:
        kill_after_dev_evaluations(patch, 2)
        with pytest.raises(Killed):
            train(MODEL, b, prepared, tmp_path / "out", tmp_path / "work", progress=False)
    assert not (tmp_path / "work" / "checkpoint.pt").exists()  # cleared before B wrote anything
    train(MODEL, a, prepared, tmp_path / "out", tmp_path / "work", progress=False)
    train(MODEL, a, prepared, tmp_path / "fresh", progress=False)
    assert dev_rows(tmp_path / "out") == dev_rows(tmp_path / "fresh")
    assert dev_rows(tmp_path / "work") == dev_rows(tmp_path / "fresh")


def test_back_to_the_old_settings_after_a_failed_run_trains_again(prepared, tmp_path, monkeypatch):
    """A finished; B fails at once in the same work directory; A again must run (it used to fail for ever
    on a dev_log.csv that B's start had deleted beside A's kept checkpoint)."""
    a = smoke_params()
    first = train(MODEL, a, prepared, tmp_path / "out", tmp_path / "work", progress=False)
    with monkeypatch.context() as patch:
        kill_after_dev_evaluations(patch, 1)
        with pytest.raises(Killed):
            train(MODEL, smoke_params(lr=0.001), prepared, tmp_path / "out", tmp_path / "work", progress=False)
    again = train(MODEL, a, prepared, tmp_path / "out", tmp_path / "work", progress=False)
    assert again["final_dev_perplexity"] == first["final_dev_perplexity"]
    assert len(dev_rows(tmp_path / "out")) == 1 + 6 // a["train"]["eval_every"]


def test_a_finished_run_whose_logs_are_gone_is_not_reused(prepared, tmp_path, capsys):
    train(MODEL, smoke_params(), prepared, tmp_path / "out", tmp_path / "work", progress=False)
    (tmp_path / "work" / "dev_log.csv").unlink()
    train(MODEL, smoke_params(), prepared, tmp_path / "out", tmp_path / "work", progress=False)
    assert "its dev_log.csv is gone: starting over" in capsys.readouterr().out
    assert len(dev_rows(tmp_path / "out")) == 1 + 6 // smoke_params()["train"]["eval_every"]


# --- the record each result keeps of what it was made from ---------------------------------------

def test_a_record_names_the_file_that_is_gone_or_changed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("a.txt").write_text("one")
    Path("b.txt").write_text("two")
    record = lineage.made_from("a.txt", "b.txt")
    assert record["a.txt"] == file_digest("a.txt")
    lineage.require_made_from("result.json", record)  # nothing changed
    Path("a.txt").write_text("uno")
    Path("b.txt").unlink()
    assert [why.split(" (")[0] for why in lineage.differences(record)] == ["a.txt changed", "b.txt is gone"]
    with pytest.raises(ValueError, match=r"^result.json is stale: a.txt changed .* \(and 1 more\)"):
        lineage.require_made_from("result.json", record)
    with pytest.raises(ValueError, match="does not say what it was made from"):
        lineage.require_made_from("result.json", None)


def test_removing_a_stale_result_makes_the_results_read_from_it_stale(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("input.txt").write_text("data")
    Path("middle.json").write_text(json.dumps({"made_from": lineage.made_from("input.txt")}))
    Path("middle.out").write_text("made from data")
    Path("last.json").write_text(json.dumps({"made_from": lineage.made_from("middle.json")}))
    chain = [lineage.Result(Path("middle.json"), [Path("middle.json"), Path("middle.out")]),
             lineage.Result(Path("last.json"), [Path("last.json")])]
    assert lineage.remove_stale(chain) == []  # all current: nothing touched
    assert Path("last.json").exists()
    Path("input.txt").write_text("other data")
    # a dry run (issue 33 item 1) says the same, the result read from a stale one included, and removes nothing
    planned = lineage.remove_stale(chain, dry_run=True)
    assert [line.split(":")[1].strip() for line in planned] == ["middle.json", "last.json"]
    assert "last.json: middle.json is to be made again: a real run removes it" in planned[1]
    assert all(line.endswith("this dry run removed nothing") for line in planned)
    assert all(Path(p).exists() for p in ("middle.json", "middle.out", "last.json"))
    lines = lineage.remove_stale(chain)
    assert [line.split(":")[1].strip() for line in lines] == ["middle.json", "last.json"]
    assert not any(Path(p).exists() for p in ("middle.json", "middle.out", "last.json"))


def test_a_file_replaced_beside_its_record_is_refused(tmp_path, monkeypatch):
    """Issue 33 item 8: hypotheses.txt replaced after its evaluation was read beside that evaluation's
    numbers, mixing two sources in the claims."""
    monkeypatch.chdir(tmp_path)
    Path("hypotheses.txt").write_text("le chat\n")
    content = {"made_from": {}, lineage.OUTPUTS: lineage.outputs(".", "hypotheses.txt")}
    Path("evaluation.json").write_text(json.dumps(content))
    result = lineage.Result(Path("evaluation.json"), [Path("evaluation.json"), Path("hypotheses.txt")])
    lineage.require_outputs("evaluation.json", content, "rerun the evaluate stage")
    assert lineage.remove_stale([result], dry_run=True) == []
    Path("hypotheses.txt").write_text("le chien\n")  # same size, other text
    with pytest.raises(ValueError, match=r"^hypotheses.txt: not the file written with evaluation.json \(sha256 "
                                         r".*\): rerun the evaluate stage$"):
        lineage.require_outputs("evaluation.json", content, "rerun the evaluate stage")
    assert lineage.remove_stale([result])[0].startswith("stale: evaluation.json: hypotheses.txt changed")
    with pytest.raises(ValueError, match="does not record the files written beside it"):
        lineage.require_outputs("evaluation.json", {"made_from": {}}, "rerun the evaluate stage")


# --- the engine: Snakemake at the smoke scale ------------------------------------------------------

@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    pytest.importorskip("snakemake")
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs the project's git checkout")
    root = repo_copy(tmp_path_factory.mktemp("stale"), "smoke")
    snakemake(root)
    return root


def run_folder(root: Path, model: str = MODEL) -> Path:
    return root / "results" / "smoke" / model / "seed1"


def dvc(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, env=engine_env(), capture_output=True,
                          text=True, timeout=600)


def stage(root: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"activemem.stages.{name}", "--params", "params.yaml",
                           "--scale", "smoke", *args], cwd=root, env=engine_env(), capture_output=True, text=True)


def test_a_failed_training_job_is_trained_again_not_reported_from_the_old_model(workspace):
    old = json.loads((run_folder(workspace) / "metrics.json").read_text())["parameters"]
    params = workspace / "params.yaml"
    params.write_text(params.read_text().replace("neural_gpu: {maps: 8, height: 2}", "neural_gpu: {maps: 12, height: 2}", 1))
    # the job fails (here: its work directory is busy; a crash or a kill -9 of the job ends the same way)
    with locking.exclusive(workspace / "checkpoints" / "smoke" / MODEL / "seed1" / ".lock", "the test"):
        snakemake(workspace, ok=False)
    assert not (run_folder(workspace) / "train").exists()  # Snakemake removed the failed job's output
    out = snakemake(workspace)
    assert f"stale: results/smoke/{MODEL}/seed1/evaluation.json: results/smoke/{MODEL}/seed1/train/checkpoint.pt is gone" in out
    evaluation = json.loads((run_folder(workspace) / "evaluation.json").read_text())
    ckpt_path = run_folder(workspace) / "train" / "checkpoint.pt"
    assert checkpoint.load(ckpt_path)["model_config"]["maps"] == 12
    assert evaluation["made_from"][f"results/smoke/{MODEL}/seed1/train/checkpoint.pt"] == file_digest(ckpt_path)
    assert json.loads((run_folder(workspace) / "metrics.json").read_text())["parameters"] != old


def test_a_replaced_checkpoint_is_refused_and_replaced_by_the_trained_one(workspace):
    ckpt_path = run_folder(workspace) / "train" / "checkpoint.pt"
    trained = file_digest(ckpt_path)
    tampered = checkpoint.load(ckpt_path)
    tampered["model"] = {k: torch.zeros_like(v) for k, v in tampered["model"].items()}
    checkpoint.save(ckpt_path, tampered)
    evaluated = stage(workspace, "evaluate", "--model", MODEL, "--data", "data/smoke/prepared",
                      "--checkpoint", str(ckpt_path.relative_to(workspace)), "--out", "results/unused", "--no-progress")
    assert evaluated.returncode == 1
    assert evaluated.stderr.strip().splitlines()[-1:] == [
        f"error: {ckpt_path.relative_to(workspace)}: not the checkpoint its training wrote (sha256 "
        f"{file_digest(ckpt_path)['sha256'][:12]}…; results/smoke/{MODEL}/seed1/train/summary.json says "
        f"{trained['sha256'][:12]}…): rerun the train stage"]
    out = snakemake(workspace)
    assert f"stale: results/smoke/{MODEL}/seed1/train/summary.json: results/smoke/{MODEL}/seed1/train/checkpoint.pt changed" in out
    assert "this run already finished" in out  # the work directory's run, copied out again: no retraining
    assert file_digest(ckpt_path) == trained


def test_an_edited_prepared_file_is_never_scored_and_is_made_again(workspace):
    test_fr = workspace / "data" / "smoke" / "prepared" / "test.fr"
    original = test_fr.read_bytes()
    lines = original.decode().splitlines(keepends=True)
    hypotheses = (run_folder(workspace, "gru_attention") / "hypotheses.txt").read_text().splitlines(keepends=True)
    test_fr.write_text("".join(hypotheses[:30] + lines[30:]))
    scored = stage(workspace, "paper", "--results", "results/smoke", "--data", "data/smoke/prepared",
                   "--out", "paper/build/smoke")
    assert scored.returncode == 1
    assert scored.stderr.strip().splitlines()[-1].startswith(
        "error: data/smoke/prepared/test.fr: changed since the prepare stage wrote it")
    planned = snakemake(workspace, "--dry-run")
    assert "stale: data/smoke/prepared/manifest.json: data/smoke/prepared/test.fr changed" in planned
    assert "a real run removes it" in planned and test_fr.exists()  # a dry run removes nothing (issue 33)
    snakemake(workspace)
    assert test_fr.read_bytes() == original
    assert "Nothing to be done" in snakemake(workspace, "--dry-run")


# --- issue 33: dry runs, files changed in place, files replaced beside their record ----------------
# One model (test_engine_runs.one_model_copy): what these need of a run, at a fifth of its cost.

@pytest.fixture(scope="module")
def one_model(tmp_path_factory) -> Path:
    pytest.importorskip("snakemake")
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs the project's git checkout")
    root = one_model_copy(tmp_path_factory.mktemp("one-model"))
    snakemake(root)
    return root


def flip_a_byte_in_place(path: Path) -> bytes:
    """Change one byte of ``path`` in place and put its modification time back (size, inode and mtime
    unchanged: what DVC's state database compares); returns the original content."""
    original = path.read_bytes()
    st = path.stat()
    with open(path, "r+b") as f:
        f.seek(len(original) // 2)
        f.write(bytes([original[len(original) // 2] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns and path.stat().st_size == st.st_size
    return original


def outputs_snapshot(root: Path) -> dict[str, str]:
    return snapshot(root, "data", "results", "checkpoints", "paper/build")


def test_a_replaced_hypotheses_file_is_refused_then_made_again(one_model):
    """Item 8: hypotheses.txt replaced after its evaluation reran only the paper stage, which scored the
    new text beside the old evaluation's numbers (a point estimate outside its own interval), exit 0."""
    hypotheses = run_folder(one_model) / "hypotheses.txt"
    original = hypotheses.read_bytes()
    lines = original.decode().splitlines(keepends=True)
    hypotheses.write_text("".join([f"le chat {lines[0]}"] + lines[1:]))  # as many lines, one of them edited
    assert hypotheses.read_bytes() != original
    scored = stage(one_model, "paper", "--results", "results/smoke", "--data", "data/smoke/prepared",
                   "--out", "paper/build/smoke")
    assert scored.returncode == 1, scored.stdout[-2000:] + scored.stderr[-2000:]
    said = scored.stderr.strip().splitlines()[-1]
    assert said.startswith(f"error: results/smoke/{MODEL}/seed1/hypotheses.txt: not the file written with "
                           f"results/smoke/{MODEL}/seed1/evaluation.json (sha256 "), said
    assert said.endswith(": rerun the evaluate stage"), said
    out = snakemake(one_model)
    assert (f"stale: results/smoke/{MODEL}/seed1/evaluation.json: "
            f"results/smoke/{MODEL}/seed1/hypotheses.txt changed") in out
    assert hypotheses.read_bytes() == original


def test_a_dry_run_removes_nothing_and_says_what_the_run_redoes(one_model):
    """Items 1 and 3: after one byte of spm.model changed in place (its modification time put back),
    `snakemake -n` removed the prepared data, every training, evaluation and the paper build."""
    spm_model = one_model / "data" / "smoke" / "prepared" / "spm.model"
    original = flip_a_byte_in_place(spm_model)
    before = outputs_snapshot(one_model)
    planned = snakemake(one_model, "--dry-run")
    assert outputs_snapshot(one_model) == before
    assert "stale: data/smoke/prepared/manifest.json: data/smoke/prepared/spm.model changed (sha256 " in planned
    # and what the real run redoes: the results read from the prepared data too
    for record in (f"results/smoke/{MODEL}/seed1/train/summary.json", f"results/smoke/{MODEL}/seed1/evaluation.json",
                   "paper/build/smoke/made_from.json"):
        assert f"stale: {record}: " in planned, record
    assert planned.count("this dry run removed nothing") == 4
    snakemake(one_model)
    assert spm_model.read_bytes() == original
    assert "Nothing to be done" in snakemake(one_model, "--dry-run")


def test_dvc_names_the_command_that_repairs_a_file_changed_in_place(tmp_path):
    """Issue 33 item 3: DVC takes a file of unchanged size and modification time as unchanged, so the
    evaluate stage's "rerun the prepare stage" was no repair (`dvc repro prepare` does nothing). The
    stage now gives DVC's command, and following it repairs the file; DVC's dry runs change nothing."""
    root = one_model_copy(tmp_path)
    target = f"evaluate@{MODEL}-1"
    trained = dvc(root, "repro", f"train@{MODEL}-1")
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    spm_model = root / "data" / "smoke" / "prepared" / "spm.model"
    original = flip_a_byte_in_place(spm_model)
    before = outputs_snapshot(root)
    status = dvc(root, "status", "--json")
    assert "prepare" not in json.loads(status.stdout)  # DVC's own view: prepare is up to date
    assert dvc(root, "repro", "--dry").returncode == 0
    assert outputs_snapshot(root) == before
    failed = dvc(root, "repro", target)
    assert failed.returncode != 0
    said = next(line for line in (failed.stdout + failed.stderr).splitlines() if line.startswith("error: "))
    assert said.startswith("error: data/smoke/prepared/spm.model: changed since the prepare stage wrote it"), said
    repairs = re.findall(r"`([^`]+)`", said)
    assert repairs == ["dvc repro -f -s prepare", "dvc repro"], said
    for command in repairs:
        done = dvc(root, *command.split()[1:])
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert spm_model.read_bytes() == original
    assert (run_folder(root, MODEL) / "evaluation.json").exists()
    # up to date but for the archives stage, which always runs (issue 32: a replaced archive is noticed),
    # and the stage that tells Snakemake what DVC made (activemem/engines_sync.py)
    status = json.loads(dvc(root, "status", "--json").stdout)
    assert {k: v for k, v in status.items() if v != ["always changed"]} == {}, status
