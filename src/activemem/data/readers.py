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
from typing import Iterator

from activemem.data.lines import DataError, numbered_lines

__all__ = ["DataError", "read_any", "read_parallel", "read_sgm"]

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


def read_parallel(src_path: str | Path, tgt_path: str | Path) -> Iterator[tuple[str, int, str | None, str | None]]:
    """Zip two aligned files; a different number of lines is an error naming both files and the line.

    Yields ``(location, source_line_number, source, target)`` where ``location`` is ``file:line``.
    """
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
        yield f"{src_path}:{s[0]}", s[0], s[1], t[1]
