"""Which physical GPUs a local job uses: one lock file per GPU, taken when the job starts.

Snakemake decides how many GPU jobs run at once (``--resources gpu=N`` against each rule's ``gpu``
resource) but not which GPU each one gets, and every CUDA process sees all of the machine's GPUs, so
four 1-GPU jobs would all run on GPU 0. Here a job that needs ``n`` GPUs takes the first ``n`` free
slots among the machine's GPUs, each slot an ``flock`` on ``.activemem/gpus/<host>/gpu<i>.lock`` in the
workspace, and sets ``CUDA_VISIBLE_DEVICES`` to them before CUDA starts. The locks are released by the
kernel when the job's process ends (killed too), and they survive the train stage's ``exec`` into
``torchrun`` (``locking.acquire`` keeps them across exec), whose ranks inherit the variable.

This is no scheduler: a job that finds too few free GPUs fails at once, naming them, because only a
``--resources gpu=N`` larger than the machine's GPUs (or a second pipeline in another workspace) can
lead there. Nothing is chosen when someone already chose: ``CUDA_VISIBLE_DEVICES`` set (SLURM sets it
for a job given ``--gpus``, as the SLURM profile asks; or the user did), or a process that torchrun
started (its parent chose). The GPUs are counted with ``nvidia-smi``, which does not start CUDA in
this process (CUDA reads ``CUDA_VISIBLE_DEVICES`` once, when it starts); without it nothing is chosen
and CUDA's own view stands.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from activemem import locking

SLOTS = Path(".activemem") / "gpus"
VARIABLE = "CUDA_VISIBLE_DEVICES"

# The open lock files of this process's GPUs: closing one would free its GPU for another job.
_held: list = []


class NoFreeGpu(RuntimeError):
    """Fewer GPUs are free (or exist) than a job needs; the message says which and what to do."""


def nvidia_smi(field: str) -> list[str] | None:
    """``field`` of every GPU as ``nvidia-smi --query-gpu`` lists it (one value per GPU), or None when
    the tool is missing or fails. It does not start CUDA, so asking leaves the process free to choose."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={field}", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def machine_gpus() -> int | None:
    """The number of NVIDIA GPUs ``nvidia-smi`` lists, or None when it is missing or fails."""
    listed = nvidia_smi("index")
    return None if listed is None else len(listed)


def chosen_elsewhere() -> str | None:
    """Why this process must not choose its GPUs (someone already did), or None."""
    if VARIABLE in os.environ:
        return f"{VARIABLE} is already set ({os.environ[VARIABLE]!r})"
    if "LOCAL_RANK" in os.environ:
        return "a torchrun process: its launcher chose the GPUs"
    return None


def claim(count: int, root: str | Path, what: str) -> list[int] | None:
    """Take ``count`` free GPUs of this machine for the rest of this process (and what it execs) and
    set ``CUDA_VISIBLE_DEVICES`` to them; returns their indices, or None where nothing was chosen
    (``count`` 0, ``chosen_elsewhere``, or no ``nvidia-smi``). Raises ``NoFreeGpu``."""
    if count <= 0 or chosen_elsewhere():
        return None
    total = machine_gpus()
    if total is None:
        return None
    folder = Path(root) / SLOTS / socket.gethostname()
    if count > total:
        raise NoFreeGpu(f"the job needs {count} GPU(s) but this machine has {total} (nvidia-smi)")
    taken, busy = [], []
    for index in range(total):
        if len(taken) == count:
            break
        try:
            handle = locking.acquire(folder / f"gpu{index}.lock", f"{what} on GPU {index}")
        except locking.Busy:
            busy.append(index)
            continue
        taken.append((index, handle))
    if len(taken) < count:
        for _, handle in taken:
            handle.close()
        raise NoFreeGpu(f"the job needs {count} GPU(s) but GPU(s) {', '.join(map(str, busy))} of this machine's "
                        f"{total} are taken by other jobs of this workspace (lock files in {folder}): run "
                        f"Snakemake with --resources gpu={total} (this machine's GPUs; without it, it starts "
                        f"every GPU job at once)")
    _held.extend(handle for _, handle in taken)
    indices = [index for index, _ in taken]
    os.environ[VARIABLE] = ",".join(map(str, indices))
    return indices


def release() -> None:
    """Free this process's GPUs (the process's end does it too)."""
    while _held:
        _held.pop().close()
