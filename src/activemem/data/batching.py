"""Token-budget batches from length buckets, shuffled per epoch from a seed, resumable.

Every pair has a *width* ``max(|src|, |tgt| + 1)`` (the ``+ 1`` is EOS): the memory width a Neural
GPU needs for it, ``store.pair_width``, the one definition every module uses. Pairs are grouped into
buckets by width (bucket edges from ``params.yaml``), as the original code did, so one batch has one
small range of widths and little padding. A batch of bucket edge ``w`` holds
``max(1, max_tokens // w)`` pairs (``pairs_per_batch``).

The order is a pure function of ``(seed, epoch)``: position ``p`` of epoch ``e`` is the same batch on
every run, so training resumes from ``(epoch, position)`` exactly. ``max_tokens`` is the *global*
budget of one optimiser step: with ``world`` DDP ranks every rank builds the same global batch and
keeps every ``world``-th pair of it (rank ``r`` takes pairs ``r, r + world, …``), so a run on N
processes sees exactly the batches of a run on one. A bucket's last, short batch is folded into the one
before it when it is under half a batch. A global batch of fewer than ``world`` pairs (only a bucket
holding fewer than ``world`` pairs in all gives one) is repeated on the ranks instead of shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from activemem.data.store import EncodedSplit, pair_width
from activemem.tokens import BOS, EOS, PAD


@dataclass
class Batch:
    src: torch.Tensor     # [B, S]
    tgt_in: torch.Tensor  # [B, T]  BOS + target
    tgt_out: torch.Tensor  # [B, T] target + EOS
    indices: np.ndarray   # which pairs of the split

    def to(self, device) -> "Batch":
        return Batch(self.src.to(device), self.tgt_in.to(device), self.tgt_out.to(device), self.indices)

    @property
    def target_tokens(self) -> int:
        return int((self.tgt_out != PAD).sum())


def pair_widths(split: EncodedSplit) -> np.ndarray:
    return pair_width(split.src_lengths, split.tgt_lengths)


def length_sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Batches of similar length (little padding), in a fixed order: for evaluation, not training."""
    order = np.argsort(lengths, kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def pairs_per_batch(max_tokens: int, width: int) -> int:
    """How many pairs a batch of bucket ``width`` holds under a budget of ``max_tokens`` (at least one)."""
    return max(1, max_tokens // width)


def bucket_of(widths: np.ndarray, edges: list[int]) -> np.ndarray:
    """Index of the smallest edge >= width; ``len(edges)`` for pairs wider than every edge."""
    return np.searchsorted(np.asarray(edges), widths, side="left")


def collate(split: EncodedSplit, indices: np.ndarray) -> Batch:
    src = [split.source(i) for i in indices]
    tgt = [split.target(i) for i in indices]
    batch = len(indices)
    s_len = max(len(s) for s in src)
    t_len = max(len(t) for t in tgt) + 1
    src_t = torch.full((batch, s_len), PAD, dtype=torch.long)
    tgt_in = torch.full((batch, t_len), PAD, dtype=torch.long)
    tgt_out = torch.full((batch, t_len), PAD, dtype=torch.long)
    for row, (s, t) in enumerate(zip(src, tgt)):
        src_t[row, : len(s)] = torch.from_numpy(s.astype(np.int64))
        t = torch.from_numpy(t.astype(np.int64))
        tgt_in[row, 0] = BOS
        tgt_in[row, 1 : len(t) + 1] = t
        tgt_out[row, : len(t)] = t
        tgt_out[row, len(t)] = EOS
    return Batch(src_t, tgt_in, tgt_out, np.asarray(indices))


class BucketBatcher:
    """Deterministic bucketed batches over one encoded split."""

    def __init__(self, split: EncodedSplit, edges: list[int], max_tokens: int, seed: int,
                 shuffle: bool = True, rank: int = 0, world: int = 1):
        if sorted(edges) != list(edges) or not edges:
            raise ValueError(f"bucket edges must be a non-empty increasing list, got {edges}")
        self.split, self.edges, self.max_tokens = split, list(edges), max_tokens
        self.seed, self.shuffle, self.rank, self.world = seed, shuffle, rank, world
        buckets = bucket_of(pair_widths(split), self.edges)
        too_wide = int((buckets == len(edges)).sum())
        if too_wide:
            raise ValueError(f"{split.path}: {too_wide} pairs are wider than the largest bucket edge "
                             f"{edges[-1]}; raise the edge or filter them in the prepare stage")
        self.members = [np.flatnonzero(buckets == b) for b in range(len(edges))]

    def epoch(self, epoch: int) -> list[np.ndarray]:
        """All batches of one epoch, in order, for this rank."""
        rng = np.random.default_rng([self.seed, epoch])
        batches = []
        for edge, members in zip(self.edges, self.members):
            if len(members) == 0:
                continue
            order = rng.permutation(members) if self.shuffle else members
            size = pairs_per_batch(self.max_tokens, edge)
            chunks = [order[i:i + size] for i in range(0, len(order), size)]
            if len(chunks) > 1 and len(chunks[-1]) < size / 2:
                # fold a small remainder into the previous batch: fewer tiny, noisy steps, and a batch
                # plan that does not depend on the number of ranks
                chunks[-2:] = [np.concatenate(chunks[-2:])]
            batches += chunks
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        if self.world > 1:
            # a batch too small to share is repeated on every rank: the token-weighted average of
            # identical gradients is the single-process gradient, so the trajectories still agree
            batches = [b[self.rank::self.world] if len(b) >= self.world else b[[self.rank % len(b)]]
                       for b in batches]
        return batches

    def __len__(self) -> int:
        return len(self.epoch(0))

    def iterate(self, epoch: int = 0, position: int = 0,
                admit: Callable[[int], bool] = lambda edge: True) -> Iterator[tuple[int, int, Batch]]:
        """Yield ``(epoch, position, batch)`` forever, starting at ``(epoch, position)``.

        ``admit(edge)`` may refuse batches of a bucket (a length curriculum): they are skipped, and
        the positions still count them, so the plan of an epoch never depends on what was admitted.
        """
        widths = pair_widths(self.split)
        while True:
            batches = self.epoch(epoch)
            if not batches:
                raise ValueError(f"{self.split.path}: no batches (empty split?)")
            edges = [self.edges[int(bucket_of(widths[b[:1]], self.edges)[0])] for b in batches]
            if not any(admit(edge) for edge in edges):
                raise ValueError(f"{self.split.path}: no batch of bucket widths {sorted(set(edges))} is "
                                 f"admitted (length curriculum narrower than every non-empty bucket?)")
            for p in range(position, len(batches)):
                if admit(edges[p]):
                    yield epoch, p, collate(self.split, batches[p])
            epoch, position = epoch + 1, 0
