"""Readers for the formats WMT'14 ships: plain aligned text, gzip, and SGM (``<seg id=...>``).

Lines are returned as ``(line_number, text)`` so that every later error can name ``file:line``.
Lines are split as ``lines.py`` defines it (at ``"\\n"`` only). Bytes that are not UTF-8 do not
stop a read: such lines come back as ``None`` and the cleaning step drops and counts them
(``clean.py``).
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Iterator, NamedTuple

from activemem.data.lines import DataError, numbered_lines

__all__ = ["DataError", "ParallelLine", "read_any", "read_parallel", "read_sgm"]

SEG = re.compile(r"<seg[^>]*>(.*)</seg>\s*$", re.IGNORECASE)


def read_sgm(path: str | Path) -> Iterator[tuple[int, str | None]]:
    """Yield ``(line_number, text)`` for every ``<seg>`` of a WMT SGM file, entities unescaped."""
    path = Path(path)
    for number, line in numbered_lines(path):
        if line is None:
            yield number, None
            continue
        if "<seg" not in line.lower():
            continue
        match = SEG.search(line)
        if not match:
            raise DataError(f"{path}:{number}: malformed <seg> line: {line[:80]!r}")
        yield number, html.unescape(match.group(1)).strip()


def read_any(path: str | Path) -> Iterator[tuple[int, str | None]]:
    path = Path(path)
    return read_sgm(path) if path.name.endswith((".sgm", ".sgm.gz")) else numbered_lines(path)


class ParallelLine(NamedTuple):
    """One aligned pair as read: each side's ``file:line`` (an SGM file's segments are not on the same
    line numbers as a plain file's), and each side's text (None where its bytes are not UTF-8)."""

    location: str          # the source side's file:line, where most problems are reported
    line: int              # the source side's line number
    source: str | None
    target: str | None
    target_location: str   # the target side's file:line: where a problem of the target is reported


def read_parallel(src_path: str | Path, tgt_path: str | Path) -> Iterator[ParallelLine]:
    """Zip two aligned files; a different number of lines is an error naming both files and the line."""
    src_iter, tgt_iter = read_any(src_path), read_any(tgt_path)
    count = 0
    while True:
        s = next(src_iter, None)
        t = next(tgt_iter, None)
        if s is None and t is None:
            return
        if s is None or t is None:
            longer, shorter = (tgt_path, src_path) if s is None else (src_path, tgt_path)
            line = (t if s is None else s)[0]
            raise DataError(f"{longer}:{line}: {Path(shorter).name} ended after {count} segments but "
                            f"{Path(longer).name} goes on: the two sides are not aligned")
        count += 1
        yield ParallelLine(f"{src_path}:{s[0]}", s[0], s[1], t[1], f"{tgt_path}:{t[0]}")
