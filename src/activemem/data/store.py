"""Encoded splits on disk: flat token arrays and offsets, one ``.npy`` file each, memory-mapped to read.

    <split>.src.npy          int32 [N_src_tokens]    every source sentence's sub-word ids, back to back
    <split>.src_offsets.npy  int64 [N + 1]           sentence i is src[src_offsets[i]:src_offsets[i + 1]]
    <split>.tgt.npy, <split>.tgt_offsets.npy         the same for the targets (stored without EOS;
                                                     the batcher appends it)

Why plain ``.npy`` files and not one ``.npz``: an ``.npz`` is a zip that numpy must read into memory
whole, while a ``.npy`` can be memory-mapped (``np.load(mmap_mode="r")``). At WMT'14 scale (about 40
million pairs, some 5 GB of tokens) training and evaluation then touch only the pages they use, and
every torchrun rank on a node shares one copy in the page cache.

``SplitWriter`` appends chunk after chunk, so the prepare stage never holds a split in memory: each
array is streamed to a temporary file behind a fixed-size header, the header is written last, when
the length is known, and the file is renamed into place only when the whole split is written
(``activemem.atomic``).
"""

from __future__ import annotations

import itertools
from contextlib import ExitStack
from pathlib import Path
from typing import Sequence

import numpy as np

from activemem import engines
from activemem.atomic import open_atomic
from activemem.data.download import sha256_of

ARRAYS = {"src": np.int32, "src_offsets": np.int64, "tgt": np.int32, "tgt_offsets": np.int64}
# A version-1.0 .npy header of a 1-D array is padded to a multiple of 64 bytes; for every length up to
# 10^40 that is these 128 bytes, so the header can be reserved first and written when the length is known.
HEADER_BYTES = 128


def encoded_files(split: str) -> list[str]:
    """The file names of one encoded split, in a fixed order."""
    return [f"{split}.{name}.npy" for name in ARRAYS]


def pair_width(src_length, tgt_length):
    """The memory width a pair needs, ``max(|src|, |tgt| + 1)`` (the ``+ 1`` is EOS): the one place this
    formula is written. Takes lengths as ints or as numpy arrays (one width per pair).

    It lives here, beside the arrays it is computed from, rather than in ``batching.py``, so that the
    prepare stage can filter by width without importing torch."""
    return np.maximum(src_length, tgt_length + 1)


class _ArrayFile:
    """One 1-D array streamed to disk: a reserved header, the values as they come, the header last."""

    def __init__(self, stack: ExitStack, path: Path, dtype):
        self.dtype, self.length = np.dtype(dtype), 0
        self.file = stack.enter_context(open_atomic(path, binary=True))
        self.file.write(b"\0" * HEADER_BYTES)

    def append(self, values: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(values, dtype=self.dtype).tobytes())
        self.length += len(values)

    def finish(self) -> None:
        self.file.seek(0)
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (self.length,)}
        np.lib.format.write_array_header_1_0(self.file, header)
        if self.file.tell() != HEADER_BYTES:  # cannot happen below 10^40 values; never write a bad file
            raise ValueError(f"{self.file.name}: .npy header of {self.file.tell()} bytes, not {HEADER_BYTES}")


def _flatten(seqs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids back to back, and each sentence's length."""
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    tokens = np.fromiter(itertools.chain.from_iterable(seqs), dtype=np.int32, count=int(lengths.sum()))
    return tokens, lengths


class SplitWriter:
    """Write one encoded split chunk by chunk (a context manager); the files appear only when the
    ``with`` block ends without an error."""

    def __init__(self, folder: str | Path, split: str):
        self.folder, self.split = Path(folder), split
        self.pairs = 0

    def __enter__(self) -> "SplitWriter":
        self._stack = ExitStack().__enter__()
        names = dict(zip(ARRAYS, encoded_files(self.split)))
        self._arrays = {key: _ArrayFile(self._stack, self.folder / names[key], dtype) for key, dtype in ARRAYS.items()}
        self._ends = {"src": 0, "tgt": 0}
        for side in self._ends:  # every offsets array starts at 0
            self._arrays[f"{side}_offsets"].append(np.zeros(1))
        return self

    def add(self, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]]) -> None:
        """Append a chunk of pairs (source and target id lists of equal count)."""
        if len(src) != len(tgt):
            raise ValueError(f"{self.folder / self.split}: {len(src)} source but {len(tgt)} target sentences")
        for side, seqs in (("src", src), ("tgt", tgt)):
            tokens, lengths = _flatten(seqs)
            self._arrays[side].append(tokens)
            self._arrays[f"{side}_offsets"].append(self._ends[side] + np.cumsum(lengths))
            self._ends[side] += int(lengths.sum())
        self.pairs += len(src)

    def __exit__(self, *exc) -> bool:
        if exc[0] is None:
            for array in self._arrays.values():
                array.finish()
        return self._stack.__exit__(*exc)


def save_split(folder: str | Path, split: str, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]]) -> None:
    """A whole split in one call (small splits, tests)."""
    with SplitWriter(folder, split) as writer:
        writer.add(src, tgt)


class EncodedSplit:
    """Read-only, memory-mapped view of one encoded split."""

    def __init__(self, folder: str | Path, split: str):
        self.folder, self.split = Path(folder), split
        self.path = self.folder / split  # how messages name the split: <folder>/<split>
        arrays = {}
        for key, name in zip(ARRAYS, encoded_files(split)):
            path = self.folder / name
            if not path.exists():
                raise FileNotFoundError(f"encoded split {path} does not exist: run the prepare stage")
            try:
                arrays[key] = np.load(path, mmap_mode="r", allow_pickle=False)
            except Exception as err:  # numpy raises many kinds for a damaged file
                raise ValueError(f"{path}: not a readable encoded array ({type(err).__name__}: "
                                 f"{str(err)[:120]}): rerun the prepare stage") from None
            if arrays[key].ndim != 1 or arrays[key].dtype != ARRAYS[key]:
                raise ValueError(f"{path}: expected a 1-D {np.dtype(ARRAYS[key])} array, found "
                                 f"{arrays[key].dtype} of shape {arrays[key].shape}: rerun the prepare stage")
        self.src_tokens, self.src_offsets = arrays["src"], arrays["src_offsets"]
        self.tgt_tokens, self.tgt_offsets = arrays["tgt"], arrays["tgt_offsets"]
        if len(self.src_offsets) != len(self.tgt_offsets) or len(self.src_offsets) == 0:
            raise ValueError(f"{self.path}: {len(self.src_offsets) - 1} source but {len(self.tgt_offsets) - 1} "
                             f"target sentences: rerun the prepare stage")

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
    rerun = engines.rerun("prepare")  # the command that does it under the engine running this stage
    for name in names:
        path = folder / name
        if name not in expected:
            raise ValueError(f"{path}: not listed in {folder / 'manifest.json'}: {rerun}")
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist: {rerun}")
        actual = file_digest(path)
        if actual != expected[name]:
            raise ValueError(f"{path}: changed since the prepare stage wrote it (sha256 {actual['sha256'][:12]}…, "
                             f"{actual['bytes']} bytes; manifest.json says {expected[name]['sha256'][:12]}…, "
                             f"{expected[name]['bytes']} bytes): {rerun}")
