"""Each engine's run ends by telling the other engine what it made, so that whichever engine ran last,
the other plans nothing when nothing changed, and a real change reruns the same stages under both
(issue 31 item 3). Only the engines' own command lines are used; neither engine's files are read or
written here.

Why each engine needs telling (measured on the smoke scale, docs/engines.md "Sharing one workspace"):

- **DVC after Snakemake.** DVC judges a stage by its entry in ``dvc.lock``, which only DVC writes: after a
  Snakemake run it has none, so ``dvc repro`` reran every stage (the trainings reused their finished
  checkpoints, everything else was made again). ``dvc commit --force --no-relink`` records the stages as
  they are now, which is DVC's documented way to adopt a command run outside ``dvc repro``;
  ``--no-relink`` leaves the files in place (with DVC's default cache type, relinking rewrites every
  output, and Snakemake, which judges by modification times, would then rerun every job). The stages
  Snakemake has no rule for (``DVC_ONLY``) are run by DVC first: their files are what the others depend on.
- **Snakemake after DVC.** Snakemake judges a job by modification times, including its benchmark file,
  and by the parameters, code and input list it recorded when it last ran the job. After ``dvc repro``
  has remade a stage, that job's benchmark is older than the new inputs (every later job was planned),
  and where Snakemake never ran at all it has no record, so a later change of ``params.yaml`` was
  invisible to it (``snakemake -n``: nothing to be done). ``snakemake --touch --forceall`` marks every job
  as done now and records its parameters, code and inputs (``dvc.yaml``'s last stage, ``sync``, runs
  it: DVC has no hook of its own after a run). The logs and benchmarks in ``logs/`` of the jobs DVC made
  again describe an earlier run: the benchmarks are removed, and each log says instead that DVC made the
  job's outputs (DVC keeps no log of its own: a stage's output went to the terminal of ``dvc repro``).

Snakemake's ``--touch`` marks a ``directory()`` output's time with a file inside it,
``.snakemake_timestamp``; ``.dvcignore`` keeps it out of DVC's hashes.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
import time
from pathlib import Path

from activemem import engines, locking
from activemem.atomic import write_text
from activemem.config import ParamsError, read
from activemem.dag import DVC_ONLY as _DVC_STAGES

SYNC_STAGE = "sync"  # dvc.yaml's last stage: ``python -m activemem.engines_sync --scale ${scale}``
# DVC's stages that Snakemake has no rule for, run by ``dvc repro`` before ``dvc commit`` (the stages they
# depend on come with them): the archives' digests, which the download stage depends on (Snakemake
# compares the archives itself when it loads, pipeline/rules/stale.smk).
DVC_ONLY = tuple(stage for stage in _DVC_STAGES if stage != SYNC_STAGE)


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *cmd], capture_output=True, text=True)


def _last_line(done: subprocess.CompletedProcess) -> str:
    lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {done.returncode}"


def _release_dvc_lock(held: list) -> None:
    """Let go of DVC's repo lock that the Snakemake run holds (``locking.start_pipeline``), for the dvc
    commands below; the workspace lock stays held until Snakemake exits."""
    dvc_lock = (Path.cwd() / locking.DVC_LOCK).resolve()
    for handle in held or []:
        name = getattr(handle, "name", None)
        if isinstance(name, str) and Path(name).resolve() == dvc_lock:
            handle.close()


def after_snakemake(scale: str, held: list, touch: bool = False) -> str | None:
    """For the Snakefile's ``onsuccess``: record this run's results in ``dvc.lock``. Returns the line to
    print, or None where there is nothing to tell DVC."""
    if touch or os.environ.get(engines.DVC_STAGE):
        return None  # `snakemake --touch` (by hand, or dvc.yaml's sync stage) made nothing DVC should adopt
    if not (Path("dvc.yaml").is_file() and Path(".dvc").is_dir()):
        return None
    try:
        dvc_scale = read("params.yaml").get("scale")
    except ParamsError as err:
        return f"warning: dvc.lock not updated: {err}"
    if dvc_scale != scale:
        return (f"note: dvc.lock not updated: dvc.yaml runs the scale {dvc_scale} of params.yaml, this run was "
                f"scale {scale}")
    _release_dvc_lock(held)
    for cmd in (("dvc", "repro", *DVC_ONLY), ("dvc", "commit", "--force", "--no-relink")):
        done = _run(*cmd)
        if done.returncode != 0:
            return (f"warning: dvc.lock not updated (`{' '.join(cmd)}`: {_last_line(done)}): `dvc repro` will "
                    f"run its stages again; after a complete run, `dvc commit --force --no-relink` adopts them")
    return "dvc: dvc.lock records this run's results (dvc commit): `dvc repro` after it has nothing to do"


def _pending_logs(summary: str) -> list[Path]:
    """The log files of the jobs ``snakemake --detailed-summary`` plans to run again."""
    rows = csv.DictReader(io.StringIO(summary), delimiter="\t")
    logs = set()
    for row in rows:
        if row.get("plan") == "update pending" and row.get("log-file(s)") not in (None, "", "-"):
            logs.update(Path(name) for name in row["log-file(s)"].split(","))
    return sorted(logs)


def _benchmark_of(log: Path) -> Path:
    """The rules keep a job's benchmark beside its log: ``<name>.log``, ``<name>.benchmark.tsv``."""
    return log.with_suffix(".benchmark.tsv")


def after_dvc(scale: str) -> str | None:
    """For dvc.yaml's last stage: mark every Snakemake job of ``scale`` as done now, with its record, so
    that ``snakemake -n`` plans nothing and a later change reruns what DVC would rerun. Returns the
    line to print, or None where there is no Snakemake workflow."""
    if not Path("Snakefile").is_file():
        return None
    config = ("--config", f"scale={scale}")
    # the workspace's run token: the Snakemake below works inside this DVC run (locking.py)
    with locking.workspace(f"dvc stage {SYNC_STAGE}"):
        summary = _run("snakemake", "--detailed-summary", *config)
        if summary.returncode != 0:
            return f"warning: Snakemake not told of DVC's results (`snakemake --detailed-summary`: {_last_line(summary)})"
        replaced = _pending_logs(summary.stdout)
        for path in replaced + [_benchmark_of(log) for log in replaced]:
            path.unlink(missing_ok=True)
        touched = _run("snakemake", "--touch", "--forceall", "--cores", "1", *config)
        if touched.returncode != 0:
            return (f"warning: Snakemake not told of DVC's results (`snakemake --touch --forceall`: "
                    f"{_last_line(touched)}): `snakemake -n` may plan jobs DVC has done")
    when = time.strftime("%Y-%m-%d %H:%M:%S")
    for log in replaced:  # Snakemake's --touch leaves an empty log: say whose outputs these are
        log.parent.mkdir(parents=True, exist_ok=True)
        write_text(log, f"{when}: this job's outputs were made by `dvc repro` (stage {SYNC_STAGE} then marked "
                        f"the job done here); DVC keeps no log: the stage's output went to its terminal\n")
    logs = f"; {len(replaced)} logs in logs/ now say that DVC made their jobs' outputs" if replaced else ""
    return (f"snakemake: every job marked done with DVC's results (snakemake --touch --forceall): "
            f"`snakemake -n` after it has nothing to do{logs}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="dvc.yaml's last stage: tell Snakemake what `dvc repro` made.")
    p.add_argument("--scale", required=True, help="the scale dvc.yaml runs (params.yaml: scale)")
    args = p.parse_args(argv)
    line = after_dvc(args.scale)
    if line:
        # a warning does not fail `dvc repro`: every result is made; only Snakemake's view is behind
        print(line, file=sys.stderr)


if __name__ == "__main__":
    main()
