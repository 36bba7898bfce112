"""Encoded splits on disk: one ``.npz`` per split with flat token arrays and offsets (no pickles).

    src_tokens int32 [N_src_tokens]   src_offsets int64 [N + 1]   (same for tgt)

Sentence ``i`` is ``src_tokens[src_offsets[i]:src_offsets[i + 1]]``. Targets are stored without EOS;
the batcher appends it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from activemem.data.download import sha256_of


def _flatten(seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(s) for s in seqs])
    tokens = np.fromiter((t for s in seqs for t in s), dtype=np.int32, count=int(offsets[-1]))
    return tokens, offsets


def save_split(path: str | Path, src: list[list[int]], tgt: list[list[int]]) -> None:
    if len(src) != len(tgt):
        raise ValueError(f"{path}: {len(src)} source but {len(tgt)} target sentences")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    src_tokens, src_offsets = _flatten(src)
    tgt_tokens, tgt_offsets = _flatten(tgt)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, src_tokens=src_tokens, src_offsets=src_offsets,
                 tgt_tokens=tgt_tokens, tgt_offsets=tgt_offsets)
    os.replace(tmp, path)


class EncodedSplit:
    """Read-only view of one encoded split."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"encoded split {self.path} does not exist: run the prepare stage")
        with np.load(self.path) as data:
            self.src_tokens, self.src_offsets = data["src_tokens"], data["src_offsets"]
            self.tgt_tokens, self.tgt_offsets = data["tgt_tokens"], data["tgt_offsets"]

    def __len__(self) -> int:
        return len(self.src_offsets) - 1

    @property
    def src_lengths(self) -> np.ndarray:
        return np.diff(self.src_offsets)

    @property
    def tgt_lengths(self) -> np.ndarray:
        return np.diff(self.tgt_offsets)

    def source(self, i: int) -> np.ndarray:
        return self.src_tokens[self.src_offsets[i]:self.src_offsets[i + 1]]

    def target(self, i: int) -> np.ndarray:
        return self.tgt_tokens[self.tgt_offsets[i]:self.tgt_offsets[i + 1]]


def file_digest(path: str | Path) -> dict:
    return {"bytes": Path(path).stat().st_size, "sha256": sha256_of(path)}
