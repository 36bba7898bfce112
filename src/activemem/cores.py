"""How many CPU cores a job was given, so that it never runs more threads than that.

``params.yaml`` fixes each job's thread count (``train.threads``, ``prepare.threads``): on a CPU it is
part of the result, since it sets the summation order of multi-threaded kernels. But a preset sized
for a cluster node (8 threads) run on a 2-core laptop oversubscribes it: torch's OpenMP threads then
wait on each other and one training step took 18–36 s instead of 1.2–1.5 s. So a job asks for the
preset's count and gets at most the cores it was given, and the count it ran with is recorded in its
provenance (a capped run is a different run on a CPU, and says so).

The cores given are the fewest of:

- the CPU affinity of the process (``taskset``, SLURM's ``--cpus-per-task`` with its cgroup/affinity
  plugins);
- a cgroup v2 CPU quota (``docker --cpus``, Kubernetes limits), rounded up;
- ``OMP_NUM_THREADS`` when set: Snakemake sets it for every job to the job's ``threads``, which it has
  already lowered to ``--cores``.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def _cgroup_quota() -> int | None:
    """Whole cores of a cgroup v2 quota (``<quota> <period>``), or None without one."""
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, math.ceil(int(quota) / int(period)))


def cores_given() -> tuple[int, str]:
    """The number of cores this process may use, and what set that number."""
    limits = []
    if hasattr(os, "sched_getaffinity"):
        limits.append((len(os.sched_getaffinity(0)), "CPU affinity"))
    else:  # macOS, Windows: no affinity to read
        limits.append((os.cpu_count() or 1, "CPU count"))
    quota = _cgroup_quota()
    if quota is not None:
        limits.append((quota, f"cgroup CPU quota ({CGROUP_CPU_MAX})"))
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) > 0:
        limits.append((int(omp), "OMP_NUM_THREADS (Snakemake sets it to the job's threads)"))
    return min(limits, key=lambda limit: limit[0])


def capped_threads(requested: int, setting: str, processes: int = 1) -> int:
    """``requested`` threads (the value of ``setting`` in params.yaml), lowered to this process's share of
    the cores given (``processes`` share them: torchrun's ranks on one node), with a one-line warning on
    stderr when lowered."""
    given, why = cores_given()
    share = max(1, given // processes)
    if requested <= share:
        return requested
    shared = f", shared by {processes} processes" if processes > 1 else ""
    print(f"warning: {setting} is {requested} but this job was given {given} core(s) ({why}{shared}): running "
          f"{share} thread(s). On a CPU the thread count is part of the result; the count used is recorded "
          f"in the provenance.", file=sys.stderr)
    return share
