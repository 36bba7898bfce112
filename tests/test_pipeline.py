"""The two engines describe one DAG, run it end to end at the smoke scale, and rerun only what changed.

The graphs are read from the engines themselves: ``snakemake --dry-run`` output and DVC's own
resolution of ``dvc.yaml`` (``Repo.index.stages``), never from a hand-written list.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from activemem import models
from activemem.config import load_params
from activemem.paper.claims import load_claims
from activemem.train import checkpoint

from conftest import REPO
from run_numbers import results_only

pytest.importorskip("snakemake")
pytest.importorskip("dvc")
pytestmark = [pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(),
                                 reason="needs the project's git checkout"),
              pytest.mark.slow]  # runs the engines end to end: `pytest -m "not slow"` leaves it out


def engine_env() -> dict:
    # the stage commands say `python`: make it this interpreter (with activemem installed). No thread
    # variables: the stages take their thread count from the preset, whatever the engine's --cores.
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    return {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PYTHONUNBUFFERED": "1"}


def repo_copy(dest: Path, scale: str) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout.split()
    for name in files:
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    params = dest / "params.yaml"
    params.write_text(re.sub(r"(?m)^scale: \w+", f"scale: {scale}", params.read_text()))
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=dest, check=True)
    return dest


def snakemake(root: Path, *args: str, cores: str = "2", ok: bool = True) -> str:
    out = subprocess.run([sys.executable, "-m", "snakemake", "--cores", cores, *args], cwd=root, env=engine_env(),
                         capture_output=True, text=True)
    assert (out.returncode == 0) == ok, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def snakemake_jobs(root: Path, *args: str) -> dict[str, dict]:
    """Jobs of a dry run, keyed like DVC stages (``train@neural_gpu-1``: model and seed)."""
    text = snakemake(root, "--dry-run", "--printshellcmds", *args)
    jobs = {}
    for block in re.split(r"\n(?=rule \w+:)", text)[1:]:
        rule = re.match(r"rule (\w+):", block).group(1)
        if rule == "all":
            continue
        fields = dict(re.findall(r"^\s+(input|output|wildcards): (.*)$", block, re.M))
        run = re.search(r"model=(\w+), seed=(\d+)", fields.get("wildcards", ""))
        cmd = re.search(r"^Shell command: (.*)$", block, re.M)
        jobs[f"{rule}@{run.group(1)}-{run.group(2)}" if run else rule] = {
            # the stage command as DVC runs it: Snakemake also keeps its output in the rule's log
            "cmd": re.sub(r" 2>&1 \| tee \S+$", "", " ".join(cmd.group(1).split())) if cmd else None,
            "deps": set(fields.get("input", "").split(", ")) - {""},
            "outs": set(fields.get("output", "").split(", ")) - {""},
        }
    return jobs


def dvc_stages(root: Path, archives: bool = False) -> dict[str, dict]:
    """DVC's stages. Its ``archives`` stage, the archives' digests (the Snakemake workflow compares them
    when it loads), is left out with the deps on its file unless asked; so is its last stage, ``sync``,
    which tells Snakemake what DVC made (activemem/engines_sync.py)."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo
    stages = {}
    with Repo(str(root)) as repo:
        for stage in repo.index.stages:
            stages[stage.name] = {"cmd": " ".join(stage.cmd.split()),
                                  "deps": {d.def_path for d in stage.deps if not isinstance(d, ParamsDependency)},
                                  "params": [p for d in stage.deps if isinstance(d, ParamsDependency) for p in d.params],
                                  "outs": {o.def_path for o in stage.outs}}
    if not archives:
        stages.pop("sync")
        records = stages.pop("archives")["outs"]
        for stage in stages.values():
            stage["deps"] = {d for d in stage["deps"] if d not in records}
    return stages


def stale_stages(status_json: str) -> dict:
    """``dvc status --json`` without the ``archives`` stage's entry, which is always there: it runs on
    every ``dvc repro`` to compare the archives' digests (dvc.yaml)."""
    return {k: v for k, v in json.loads(status_json).items() if v != ["always changed"]}


def expand_dvc_deps(root: Path, stages: dict[str, dict]) -> None:
    """DVC depends on folders where Snakemake lists files: expand them the way DVC hashes them."""
    all_outs = {o for s in stages.values() for o in s["outs"]}
    for stage in stages.values():
        expanded = set()
        for dep in stage["deps"]:
            path = root / dep
            inside = {o for o in all_outs if o.startswith(dep + "/")}
            if inside:                       # a folder of other stages' outputs
                expanded |= inside
            elif path.is_dir():              # a source or template folder
                expanded |= {str(p.relative_to(root)) for p in path.rglob("*")
                             if p.is_file() and "__pycache__" not in p.parts}
            else:
                expanded.add(dep)
        stage["deps"] = expanded


@pytest.fixture(scope="module")
def smoke_repo(tmp_path_factory) -> Path:
    return repo_copy(tmp_path_factory.mktemp("pipeline"), "smoke")


def test_both_engines_describe_the_same_graph(smoke_repo):
    snake = snakemake_jobs(smoke_repo, "--forceall")
    dvc = dvc_stages(smoke_repo)
    expand_dvc_deps(smoke_repo, dvc)
    runs = len(load_params(smoke_repo / "params.yaml", "smoke")["model_names"])
    assert set(snake) == set(dvc) and len(dvc) == 3 + 2 * runs  # download, prepare, paper; train, evaluate per model
    for name in dvc:
        assert snake[name]["cmd"] == dvc[name]["cmd"], name
        assert snake[name]["outs"] == dvc[name]["outs"], name
        # code is a file dependency under DVC, a digest param under Snakemake (both from activemem/dag.py)
        data = {d for d in dvc[name]["deps"] if not d.startswith("src/activemem/")}
        assert snake[name]["deps"] == data, name


def test_demo_scale_graph_matches_too(tmp_path):
    root = repo_copy(tmp_path, "demo")
    assert {k: v["cmd"] for k, v in snakemake_jobs(root, "--forceall").items()} == \
           {k: v["cmd"] for k, v in dvc_stages(root).items()}


def test_config_overrides_the_stages_would_not_see_are_refused(smoke_repo):
    for override in ("smoke={train: {max_steps: 8}}", "models=[neural_gpu]"):
        text = snakemake(smoke_repo, "--dry-run", "--config", override, ok=False)
        assert "but the stages read params.yaml" in text and "edit params.yaml" in text, text[-2000:]
    assert "--config changes smoke.train.max_steps" in snakemake(
        smoke_repo, "--dry-run", "--config", "smoke={train: {max_steps: 8}}", ok=False)
    snakemake(smoke_repo, "--dry-run", "--config", "scale=smoke")  # the one override passed on


def same_numbers(metrics_a: dict, metrics_b: dict) -> bool:
    """Metrics equal except what legitimately differs between two runs (run_numbers.py)."""
    return results_only(metrics_a) == results_only(metrics_b)


def engines_own_views(snake_root: Path, dvc_root: Path) -> None:
    """What a Snakemake or DVC user looks at after a run works as they expect (issue 19)."""
    names = {models.label(m) for m in load_params(snake_root / "params.yaml", "smoke")["model_names"]}
    # Snakemake: every job's output kept in its log and its time and memory measured; the report holds
    # Table 1, the claims and the figures
    for rule in ("download", "prepare", "paper"):
        assert (snake_root / f"logs/smoke/{rule}.log").stat().st_size > 0, rule
        assert (snake_root / f"logs/smoke/{rule}.benchmark.tsv").read_text().startswith("s\t"), rule
    assert "read" in (snake_root / "logs/smoke/prepare.log").read_text()
    assert "[" in (snake_root / "logs/smoke/paper.log").read_text()  # the claims' verdicts
    snakemake(snake_root, "--report", "report.zip")
    with zipfile.ZipFile(snake_root / "report.zip") as zipped:
        files = {name.rsplit("/", 1)[-1]: name for name in zipped.namelist()}
        assert {"table1.md", "claims.json", "bleu_by_length.png", "report.html"} <= set(files), sorted(files)
        assert zipped.read(files["table1.md"]) == (snake_root / "paper/build/smoke/table1.md").read_bytes()
    # DVC: Figure 6 as one chart of every model with a numeric x; the headline metrics in a readable table
    shown = subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "--json"], cwd=dvc_root, env=engine_env(),
                           capture_output=True, text=True, check=True)
    figure = json.loads(shown.stdout)["data"]["BLEU by source length (Figure 6)"][0]["content"]
    rows = figure["data"]["values"]
    assert {r["model"] for r in rows} == names and figure["encoding"]["x"]["field"] == "words"
    # each bucket at the mean length of its sentences, inside its bounds (not at the exclusive lower one)
    assert all(r["words_from"] <= r["words"] <= r["words_to"] for r in rows), rows
    assert figure["encoding"]["color"]["field"] == "model"
    table = subprocess.run([sys.executable, "-m", "dvc", "metrics", "show"], cwd=dvc_root, env=engine_env(),
                           capture_output=True, text=True, check=True).stdout
    lines = table.splitlines()
    assert len(lines) == 1 + len(names) and max(map(len, lines)) <= 200, table
    assert "bleu" in lines[0] and "dev_ppl" in lines[0]
    dry = subprocess.run([sys.executable, "-m", "dvc", "repro", "--dry"], cwd=dvc_root, env=engine_env(),
                         capture_output=True, text=True)
    # only the archives' check, which runs on every `dvc repro` (a second, reading no archive), and the
    # stage that tells Snakemake what DVC made
    assert dry.returncode == 0 and re.findall(r"Running stage '([^']+)'", dry.stdout) == ["archives", "sync"], \
        dry.stdout[-2000:] + dry.stderr[-2000:]


def test_a_fresh_clone_plans_every_stage_with_dvc_dry_run(tmp_path):
    # DVC's plain dry run stops at the first stage whose inputs an earlier stage has yet to write
    # (DVC issue #9021, in every pipeline); --force plans them all, which is right on a fresh clone
    root = repo_copy(tmp_path, "smoke")
    dry = subprocess.run([sys.executable, "-m", "dvc", "repro", "--dry", "--force"], cwd=root, env=engine_env(),
                         capture_output=True, text=True)
    assert dry.returncode == 0, dry.stdout[-2000:] + dry.stderr[-2000:]
    planned = re.findall(r"Running stage '([^']+)'", dry.stdout)
    assert set(planned) == {"archives", "download", "prepare", "paper", "sync"} | {
        f"{stage}@{model}-1" for stage in ("train", "evaluate")
        for model in load_params(root / "params.yaml", "smoke")["model_names"]}
    assert not (root / "data").exists()  # nothing ran


def test_snakemake_lint_is_clean(smoke_repo):
    assert "Congratulations, your workflow is in a good condition!" in snakemake(smoke_repo, "--lint")


def test_end_to_end_with_both_engines_then_nothing_to_do(smoke_repo, tmp_path):
    dvc_root = repo_copy(tmp_path, "smoke")
    # the preset's 2 threads under both (Snakemake's --cores 1 would cap them at 1: a different, recorded run)
    run = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2"], cwd=smoke_repo, env=engine_env(),
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    dvc = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=dvc_root, env=engine_env(),
                         capture_output=True, text=True)
    assert dvc.returncode == 0, dvc.stdout[-3000:] + dvc.stderr[-3000:]
    # Each run ends by saying where the report is: the paper stage as its last line (under DVC only
    # DVC's lock-file lines follow), and Snakemake once more when the whole run has succeeded.
    said = "report: paper/build/smoke/report.html (and report.md, Table 1, figures, claims.json beside it)"
    assert run.stdout.splitlines()[-1] == said and run.stdout.count(said) == 2, run.stdout[-3000:]
    after = [line for line in dvc.stdout.split(said, 1)[1].splitlines() if line.strip()]
    assert after and after[0].startswith(("Updating lock file", "Generating lock file")), dvc.stdout[-3000:]
    for root in (smoke_repo, dvc_root):
        build = root / "paper" / "build" / "smoke"
        for name in ("table1.md", "table1.published.md", "table1.tex", "bleu_by_length.png",
                     "bleu_by_length.pdf", "report.md", "report.html", "claims.json"):
            assert (build / name).stat().st_size > 0, name
        assert len(json.loads((build / "claims.json").read_text())) == len(load_claims(REPO / "paper/claims.yaml"))
    # Same code, same params, same seeds: both engines give bitwise-equal weights and numbers.
    assert (smoke_repo / "paper/build/smoke/table1.md").read_text() == (dvc_root / "paper/build/smoke/table1.md").read_text()
    for model in load_params(smoke_repo / "params.yaml", "smoke")["model_names"]:
        a = checkpoint.load(smoke_repo / f"results/smoke/{model}/seed1/train/checkpoint.pt")["model"]
        b = checkpoint.load(dvc_root / f"results/smoke/{model}/seed1/train/checkpoint.pt")["model"]
        assert all(torch.equal(a[k], b[k]) for k in a), model
        for name in ("evaluation.json", "metrics.json"):
            numbers = [json.loads((root / f"results/smoke/{model}/seed1/{name}").read_text())
                       for root in (smoke_repo, dvc_root)]
            assert same_numbers(*numbers), (model, name)
    engines_own_views(smoke_repo, dvc_root)
    # A second run right after does nothing.
    assert "Nothing to be done" in snakemake(smoke_repo, "--dry-run")
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], cwd=dvc_root, env=engine_env(),
                            capture_output=True, text=True)
    # the archives' check and the stage that tells Snakemake what DVC made, only
    assert json.loads(status.stdout) == {"archives": ["always changed"], "sync": ["always changed"]}, status.stdout
    # Changing one model's params reruns that model's train/evaluate and the paper stage only.
    for root in (smoke_repo, dvc_root):
        params = root / "params.yaml"
        text = params.read_text()
        params.write_text(text.replace("    neural_gpu: {maps: 8, height: 2}", "    neural_gpu: {maps: 12, height: 2}", 1))
    assert set(snakemake_jobs(smoke_repo)) == {"train@neural_gpu-1", "evaluate@neural_gpu-1", "paper"}
    # DVC: the stage's own params (dvc.yaml, generated from activemem/dag.py) name it
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], cwd=dvc_root, env=engine_env(),
                            capture_output=True, text=True)
    # DVC lists the stale stages whose own deps changed: the model's training, and the paper stage, which
    # tracks the whole scale block (its report states the settings)
    assert set(stale_stages(status.stdout)) == {"train@neural_gpu-1", "paper"}
