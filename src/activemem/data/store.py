"""Encoded splits on disk: one ``.npz`` per split with flat token arrays and offsets (no pickles).

    src_tokens int32 [N_src_tokens]   src_offsets int64 [N + 1]   (same for tgt)

Sentence ``i`` is ``src_tokens[src_offsets[i]:src_offsets[i + 1]]``. Targets are stored without EOS;
the batcher appends it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from activemem.atomic import open_atomic
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
    with open_atomic(path, binary=True) as f:
        np.savez(f, src_tokens=src_tokens, src_offsets=src_offsets,
                 tgt_tokens=tgt_tokens, tgt_offsets=tgt_offsets)


class EncodedSplit:
    """Read-only view of one encoded split."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"encoded split {self.path} does not exist: run the prepare stage")
        try:
            with np.load(self.path) as data:
                self.src_tokens, self.src_offsets = data["src_tokens"], data["src_offsets"]
                self.tgt_tokens, self.tgt_offsets = data["tgt_tokens"], data["tgt_offsets"]
        except Exception as err:  # numpy/zipfile raise many kinds for a damaged file
            raise ValueError(f"{self.path}: not a readable encoded split ({type(err).__name__}: "
                             f"{str(err)[:120]}): rerun the prepare stage") from None

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


def verify_files(folder: str | Path, expected: dict, names) -> None:
    """Check that each named file in ``folder`` still has the size and SHA-256 recorded in ``expected``
    (the prepare stage's ``manifest.json`` ``files``); a replaced or damaged file is a ``ValueError``
    naming it, before any work reads it."""
    folder = Path(folder)
    for name in names:
        path = folder / name
        if name not in expected:
            raise ValueError(f"{path}: not listed in {folder / 'manifest.json'}: rerun the prepare stage")
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist: rerun the prepare stage")
        actual = file_digest(path)
        if actual != expected[name]:
            raise ValueError(f"{path}: changed since the prepare stage wrote it (sha256 {actual['sha256'][:12]}…, "
                             f"{actual['bytes']} bytes; manifest.json says {expected[name]['sha256'][:12]}…, "
                             f"{expected[name]['bytes']} bytes): rerun the prepare stage")
