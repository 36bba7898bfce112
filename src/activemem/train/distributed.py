"""Multi-process training under ``torchrun``: one process per GPU (or per CPU process with gloo).

``torchrun --nproc_per_node=4 -m activemem.stages.train …`` sets ``RANK``/``WORLD_SIZE``/
``LOCAL_RANK``; without them the run is a single process and nothing here does anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def all_sum(self, *values: float) -> list[float]:
        """Sum numbers over ranks (identity for a single process)."""
        if self.world == 1:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64)
        if dist.get_backend() == "nccl":
            t = t.cuda()
        dist.all_reduce(t)
        return t.cpu().tolist()

    def from_main(self, value):
        """Rank 0's ``value`` on every rank (``value`` itself in a single process).

        What decides the run's course from a number a rank measured itself (the dev perplexity, the
        clock) is decided by rank 0 alone and sent to the others: with non-deterministic kernels the
        ranks' own numbers can differ, and a rank that stopped alone would leave the others waiting in
        their next collective until the timeout."""
        if self.world == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def init(device_kind: str) -> Dist:
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return Dist()
    backend = "nccl" if device_kind == "cuda" else "gloo"
    dist.init_process_group(backend)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_kind == "cuda":
        torch.cuda.set_device(local_rank)
    return Dist(dist.get_rank(), dist.get_world_size(), local_rank)


def shutdown(d: Dist) -> None:
    if d.world > 1 and dist.is_initialized():
        dist.destroy_process_group()
