"""The one way the package reads and writes line-oriented text: corpora, references, hypotheses.

The contract, the same for every such file:

* A line ends at ``"\\n"`` and nowhere else. Python's ``str.splitlines()`` also breaks at
  ``\\r``, ``\\x0b``, ``\\x0c``, ``\\x1c``-``\\x1e``, ``\\x85``, U+2028 and U+2029, any of which can turn
  up inside a sentence (a form feed copied from a PDF, a line separator from a web page). Splitting
  there would cut one reference in two and shift every later reference against its hypothesis.
* Carriage returns at the end of a line are removed, so a file saved with CRLF endings reads as
  its LF twin (the WMT files are LF). A ``"\\r"`` anywhere else is text and is kept.
* UTF-8. Raw corpora may hold bytes that are not UTF-8: :func:`numbered_lines` yields such a line
  as ``None`` so the cleaning step can drop and count it. Files the package wrote itself are read
  with :func:`read_lines`, which treats bad bytes as an error naming ``file:line``.
* :func:`write_lines` writes each line followed by ``"\\n"``, atomically, and refuses a line that
  could not be read back as itself (one holding ``"\\n"`` or ending in ``"\\r"``), so
  ``read_lines(p)`` after ``write_lines(p, lines)`` always returns ``lines``.

Hypotheses are model output, and byte-fallback sub-words can decode to any control character:
:func:`one_line` turns such text into a single clean line before it is written or scored.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Iterable, Iterator

from activemem.atomic import open_atomic


class DataError(ValueError):
    """Bad input data; the message names the file (and the line where there is one)."""


class Lines(list):
    """A list of lines that remembers the file it was read from, so errors can name it."""

    def __init__(self, lines: Iterable[str] = (), source: str | Path | None = None):
        super().__init__(lines)
        self.source = str(source) if source is not None else None


def _open_bytes(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def numbered_lines(path: str | Path) -> Iterator[tuple[int, str | None]]:
    """Yield ``(line_number, text)`` of a plain or ``.gz`` file; ``text`` is None if not UTF-8."""
    path = Path(path)
    with _open_bytes(path) as f:
        # Iterating a binary file splits at b"\n" only, unlike text-mode or str.splitlines().
        for number, raw in enumerate(f, start=1):
            raw = raw[:-1] if raw.endswith(b"\n") else raw
            raw = raw.rstrip(b"\r")
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, None


def read_lines(path: str | Path) -> Lines:
    """Every line of a UTF-8 text file (split at ``"\\n"`` only); bad bytes are a :class:`DataError`."""
    lines = Lines(source=path)
    for number, text in numbered_lines(path):
        if text is None:
            raise DataError(f"{path}:{number}: not valid UTF-8")
        lines.append(text)
    return lines


class LineWriter:
    """Lines written one at a time to a file opened with ``atomic.open_atomic``, each checked as
    ``write_lines`` checks it: for writers that stream (the prepare stage writes corpora of any size)."""

    def __init__(self, file, path: str | Path):
        self.file, self.path, self.count = file, path, 0

    def write(self, line: str) -> None:
        self.count += 1
        if "\n" in line or line.endswith("\r"):
            raise DataError(f"{self.path}:{self.count}: refusing to write a line that contains a line "
                            f"break or ends in a carriage return: {line[:80]!r}")
        self.file.write(line + "\n")


def write_lines(path: str | Path, lines: Iterable[str]) -> None:
    """Write one string per line (UTF-8, ``"\\n"`` after each), atomically.

    A line that would not read back as itself is refused with a :class:`DataError` naming the file
    and the line number, and nothing is written.
    """
    with open_atomic(path) as f:  # removes its temporary file if we raise
        writer = LineWriter(f, path)
        for line in lines:
            writer.write(line)


# Every character some line splitter treats as a break: the C0 and C1 control ranges (Unicode
# category Cc, which also holds tab, NUL and DEL and which we replace as well) and the Unicode line
# and paragraph separators. Format characters (category Cf, e.g. a soft hyphen or a zero-width
# joiner) and the no-break space are ordinary text and are kept.
_NOT_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(" {2,}")


def one_line(text: str) -> str:
    """``text`` as one clean line: each line break or control character becomes a space, runs of
    spaces collapse to one, and the ends are stripped.

    Used on every decoded hypothesis, so ``hypotheses.txt`` has exactly one line per test sentence
    whatever bytes the model emits. Only ASCII spaces are collapsed: a no-break space (French
    "voiture\u00a0?") stays as it is. The price: a reference that itself holds a control character
    (newstest2014 has two U+0096 in one French sentence) cannot be matched character for character;
    sacrebleu splits words at the break characters anyway, so only the other controls cost BLEU.
    """
    return _SPACES.sub(" ", _NOT_TEXT.sub(" ", text)).strip(" ")
