"""Free disk space: a stage stops with one line while the disk still has room, before anything fills it.

A full disk in the middle of ``dvc repro`` is worst when DVC's own write meets it: DVC copies each
stage's outputs into its cache and then rewrites ``dvc.lock``, and a disk that fills during that write
leaves ``dvc.lock`` truncated, so that every later ``dvc`` command fails on it (the recovery is in
docs/engines.md). The stages cannot guard DVC's writes, but they can see the disk filling first: each
stage checks, as it starts, that ``min_free_mb`` (params.yaml) is free where the workspace is (where
``dvc.lock`` and DVC's cache are), and a training checks again before each checkpoint it writes.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

MB = 2 ** 20  # as the memory settings count (mem_mb)


def _existing(path: Path) -> Path:
    """``path`` or its nearest folder that exists (an output folder may not exist yet)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_free(path: str | Path, min_free_mb: int, about: str = "") -> None:
    """An ``OSError`` (ENOSPC; its message says what to do) when less than ``min_free_mb`` MB is free
    on the disk that holds ``path``; nothing when ``min_free_mb`` is 0. ``about``: what was to be
    written, for the message."""
    if not min_free_mb:
        return
    free = shutil.disk_usage(_existing(Path(path))).free // MB
    if free < min_free_mb:
        before = f" before {about}" if about else ""
        raise OSError(errno.ENOSPC, f"only {free} MB free on this disk{before}, below min_free_mb: {min_free_mb} "
                                    f"(params.yaml): free some space (or lower min_free_mb), then run again",
                      str(path))
