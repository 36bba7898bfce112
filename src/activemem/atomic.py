"""Atomic file writes: write to a private temporary file beside the target, then rename over it.

A reader (or a pipeline engine checking outputs) never sees a half-written file, and a run killed
mid-write leaves the previous version in place. The temporary name is unique to the writing process
(``.<name>.<pid>.<random>.tmp``), so two processes writing the same target never write into one
temporary file; the last rename wins whole. Every writer of the package, text or binary, goes through
``open_atomic`` (a file object), or ``renamed_on_success`` when a library names its own files.
The exceptions, opened with ``open_named``, are a download's ``<file>.part`` (``data/download.py``),
which must outlive the process that wrote it so that the next run can resume it, and the training
logs, which grow a row at a time.

Every error of writing a file this way names the file (``named``): a full disk's ``OSError`` from
``write()`` names none, and a library may wrap it (``torch.save`` turns it into a ``RuntimeError``);
the stages print it as one line, ``<path>: <reason>`` (``entry.one_line``).
"""

from __future__ import annotations

import io
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


def named(err: OSError, path: str | Path) -> OSError:
    """``err`` as raised for ``path`` (same errno, so the same ``OSError`` subclass)."""
    if err.errno is None:
        return err
    return OSError(err.errno, err.strerror, str(path))


class _NamedWriter(io.BufferedWriter):
    """A buffered file on an open descriptor whose write errors name ``path``."""

    def __init__(self, fd: int, path: Path):
        super().__init__(io.FileIO(fd, "w"))
        self.path = str(path)

    def write(self, data) -> int:
        try:
            return super().write(data)
        except OSError as err:
            raise named(err, self.path) from None

    def flush(self) -> None:  # close() flushes through here too
        try:
            super().flush()
        except OSError as err:
            raise named(err, self.path) from None


def _file(fd: int, path: Path, binary: bool) -> IO:
    f = _NamedWriter(fd, path)
    return f if binary else io.TextIOWrapper(f, encoding="utf-8", newline="\n")


def _raised_for(err: BaseException, paths: set[str]) -> OSError | None:
    """The ``OSError`` about one of ``paths`` that caused ``err`` (``err`` itself or one it wraps)."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and str(err.filename) in paths:
            return err
        err = err.__cause__ or err.__context__
    return None


@contextmanager
def open_atomic(path: str | Path, binary: bool = False) -> Iterator[IO]:
    """A file that appears under ``path`` only when the ``with`` block succeeds (UTF-8 text, or bytes).
    An error of creating, writing or renaming it names ``path``, whatever library was writing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        with renamed_on_success({tmp: path}):
            # closed here, before the outer block renames it
            with _file(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666), path, binary) as f:
                yield f
    except Exception as err:
        ours = _raised_for(err, {str(tmp), str(path)})
        if ours is None:
            raise
        raise named(ours, path) from err


def open_named(path: str | Path, mode: str = "a") -> IO:
    """``open(path, mode)`` for the files that are written in place, not renamed into it (a log that
    grows a row at a time, a download's resumable ``.part``): ``mode`` is ``w``/``a`` (UTF-8 text) or
    ``wb``/``ab``, and every error of opening, writing or closing names ``path``."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as err:
        raise named(err, path) from None
    return _file(fd, Path(path), binary="b" in mode)


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
