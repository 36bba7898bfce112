"""Which engine runs this stage, and the command that reruns another stage under that engine.

A stage that finds an input changed since the stage before it wrote it says what to rerun. "Rerun the
prepare stage" alone is wrong advice under DVC: DVC takes a file as unchanged while its size,
modification time and inode are (its state database), so after a file is edited in place with its
modification time put back, ``dvc repro prepare`` finds nothing to do and ``dvc status`` says up to
date; only a forced run of that one stage (``dvc repro -f -s prepare``) makes the file again.
Snakemake's workflow checks every result's record of what it was made from when it loads
(``pipeline/rules/stale.smk``, which also looks at the change time that such an edit cannot put back)
and removes what changed, so there the same command again is the repair.

DVC names the stage it runs in ``DVC_STAGE`` (``evaluate@neural_gpu-1``); a job of a Snakemake run
carries that run's token, and the workspace lock says the run is Snakemake's (``locking.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

from activemem import locking

DVC = "dvc"
SNAKEMAKE = "snakemake"
DVC_STAGE = "DVC_STAGE"  # set by DVC for every stage command it runs (dvc/stage/run.py)


def current(root: str | Path = ".") -> str | None:
    """``dvc`` or ``snakemake`` for a stage one of them started, None for a stage run by hand."""
    if os.environ.get(DVC_STAGE):
        return DVC
    holder = locking.run_holder(root)
    if holder is not None and str(holder.get("what", "")).startswith(SNAKEMAKE):
        return SNAKEMAKE
    return None


def dvc_item() -> str | None:
    """The matrix item of the DVC stage running now (``neural_gpu-1`` of ``evaluate@neural_gpu-1``)."""
    stage = os.environ.get(DVC_STAGE, "")
    return stage.split("@", 1)[1] if "@" in stage else None


def rerun(stage: str, item: str | None = None) -> str:
    """``rerun the <stage> stage``, with the command that does it under the engine that runs this
    process; ``item`` names one of a matrix stage's runs under DVC (``<model>-<seed>``)."""
    said = f"rerun the {stage} stage"
    engine = current()
    if engine == DVC:
        target = f"{stage}@{item}" if item else stage
        return (f"{said}: `dvc repro -f -s {target}`, then `dvc repro` (DVC takes a file whose size and "
                f"modification time are unchanged as unchanged)")
    if engine == SNAKEMAKE:
        return f"{said}: run the same snakemake command again (it removes results whose inputs changed when it loads)"
    return said
