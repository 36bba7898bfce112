"""The two engines share one workspace's results (issue 31 item 3): whichever ran last, the other plans
nothing when nothing changed, and a real change reruns the same stages under both.

Before (measured on the smoke scale): after `snakemake` then `dvc repro`, DVC ran every stage again (it
had no dvc.lock) and `snakemake -n` then planned every job but the download (the DVC-made inputs were
newer than Snakemake's benchmark files); after `dvc repro` on a fresh copy, Snakemake planned nothing but
had no record of any job, so an edit of params.yaml was invisible to it. Now the Snakefile's onsuccess
runs `dvc commit` and dvc.yaml's last stage runs `snakemake --touch --forceall` (activemem/engines_sync.py).

Each test runs the real engines on a one-model smoke copy of the project.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from activemem import dag

from test_engine_runs import MODEL, one_model_copy
from test_pipeline import engine_env, snakemake, snakemake_jobs, stale_stages

pytestmark = pytest.mark.slow  # runs the engines end to end: `pytest -m "not slow"` leaves it out

# DVC's stages without a Snakemake rule: the resolved settings (while dvc.yaml has that stage), the
# archives' check and the stage that tells Snakemake what DVC made (both run on every `dvc repro`)
DVC_ONLY = set(dag.DVC_ONLY)
# what editing one model's sizes reruns, under either engine
ONE_MODEL = {f"train@{MODEL}-1", f"evaluate@{MODEL}-1", "paper"}


def dvc(root: Path, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, env=engine_env(), capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def dvc_repro(root: Path) -> set[str]:
    """The stages a real `dvc repro` ran, but for those Snakemake has no rule for."""
    return set(re.findall(r"Running stage '([^']+)'", dvc(root, "repro"))) - DVC_ONLY


def dvc_stale(root: Path) -> dict:
    """`dvc status` but for the stages that run on every `dvc repro` (always changed)."""
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], cwd=root, env=engine_env(),
                            capture_output=True, text=True, check=True)
    return stale_stages(status.stdout)


def edit_one_model(root: Path) -> None:
    params = root / "params.yaml"
    text = params.read_text()
    old = f"    {MODEL}: {{maps: 8, height: 2}}"
    assert text.count(old) == 1
    params.write_text(text.replace(old, f"    {MODEL}: {{maps: 12, height: 2}}"))


def logs(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted((root / "logs").rglob("*")) if p.is_file()}


def test_snakemake_then_dvc_plans_nothing_and_a_change_reruns_the_same_stages(tmp_path):
    root = one_model_copy(tmp_path / "ws")
    said = snakemake(root)
    assert "dvc: dvc.lock records this run's results" in said, said[-3000:]
    kept = logs(root)
    assert dvc_stale(root) == {}
    assert dvc_repro(root) == set()  # nothing rerun: DVC adopted Snakemake's results
    assert snakemake_jobs(root) == {}  # and running DVC's always-run stages left Snakemake nothing to do
    assert logs(root) == kept  # Snakemake's logs still describe the results
    # a real change: DVC reruns exactly the jobs Snakemake plans, and Snakemake then has nothing to do
    edit_one_model(root)
    assert set(snakemake_jobs(root)) == ONE_MODEL
    assert dvc_repro(root) == ONE_MODEL
    assert snakemake_jobs(root) == {}
    assert dvc_stale(root) == {}
    # the logs of the jobs DVC ran say so; the others are Snakemake's, as they were
    now = logs(root)
    for name in (f"logs/smoke/train/{MODEL}-seed1.log", f"logs/smoke/evaluate/{MODEL}-seed1.log", "logs/smoke/paper.log"):
        assert "made by `dvc repro`" in now[name], name
        assert name.replace(".log", ".benchmark.tsv") not in now
    assert {k: v for k, v in now.items() if k.startswith(("logs/smoke/download", "logs/smoke/prepare"))} == \
           {k: v for k, v in kept.items() if k.startswith(("logs/smoke/download", "logs/smoke/prepare"))}


def test_dvc_then_snakemake_plans_nothing_and_a_change_reruns_the_same_stages(tmp_path):
    root = one_model_copy(tmp_path / "ws")
    assert dvc_repro(root) == {"download", "prepare", f"train@{MODEL}-1", f"evaluate@{MODEL}-1", "paper"}
    assert snakemake_jobs(root) == {}
    assert "Nothing to be done" in snakemake(root)
    assert dvc_stale(root) == {}
    # a real change: Snakemake, which has DVC's runs on record, reruns what DVC reruns (test above)
    edit_one_model(root)
    assert set(snakemake_jobs(root)) == ONE_MODEL
    said = snakemake(root)
    assert "dvc: dvc.lock records this run's results" in said, said[-3000:]
    assert dvc_stale(root) == {}
    assert dvc_repro(root) == set()
    assert snakemake_jobs(root) == {}
