"""Atomic file writes: write to a private temporary file beside the target, then rename over it.

A reader (or a pipeline engine checking outputs) never sees a half-written file, and a run killed
mid-write leaves the previous version in place. The temporary name is unique to the writing process
(``.<name>.<pid>.<random>.tmp``), so two processes writing the same target never write into one
temporary file; the last rename wins whole. Every writer of the package, text or binary, goes through
``open_atomic`` (a file object), or ``renamed_on_success`` when a library names its own files.
The one exception is a download's ``<file>.part`` (``data/download.py``), which must outlive the
process that wrote it so that the next run can resume it.
"""

from __future__ import annotations

import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

TMP_SUFFIX = ".tmp"


def temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}")


@contextmanager
def renamed_on_success(renames: dict[str | Path, str | Path]) -> Iterator[None]:
    """The package's one rename into place: each temporary file (key) is renamed over its final path
    (value), in order, when the ``with`` block succeeds; every temporary left is removed either way.
    Writers that hand out a file object use ``open_atomic``; this is for a library that writes files
    by name itself (sentencepiece)."""
    try:
        yield
        for tmp, path in renames.items():
            os.replace(tmp, path)
    finally:
        for tmp in renames:
            Path(tmp).unlink(missing_ok=True)


@contextmanager
def open_atomic(path: str | Path, binary: bool = False) -> Iterator[IO]:
    """A file that appears under ``path`` only when the ``with`` block succeeds (UTF-8 text, or bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    with renamed_on_success({tmp: path}):
        # closed here, before the outer block renames it
        with open(tmp, "wb") if binary else open(tmp, "w", encoding="utf-8", newline="\n") as f:
            yield f


def write_text(path: str | Path, text: str) -> None:
    with open_atomic(path) as f:
        f.write(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    with open_atomic(path, binary=True) as f:
        f.write(data)


def write_json(path: str | Path, data, **dumps) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False, **dumps) + "\n")


def copy_file(src: str | Path, dest: str | Path) -> None:
    """Copy ``src`` to ``dest`` atomically (the destination is never seen half-copied)."""
    with open(src, "rb") as f_in, open_atomic(dest, binary=True) as f_out:
        while chunk := f_in.read(1 << 20):
            f_out.write(chunk)
