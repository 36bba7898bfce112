"""What every command-line entry point shares: readable help and a quiet end when the reader leaves.

* The module docstrings are the help texts, written in reStructuredText for the code's readers;
  ``HelpFormatter`` shows ``code`` without its double backticks, bold without its stars and a
  ``::`` literal-block marker as a colon, in help output only.
* ``activemem --help | head`` closes the pipe before everything is written; ``quiet_on_closed_pipe``
  ends the command then as ``cat`` would, silently and with status 141 (128 + SIGPIPE), instead of
  printing a BrokenPipeError traceback.
* ``os_errors_in_one_line``: an ``OSError`` no stage turned into its own message (a full disk, a
  read-only folder) ends the command with one line, ``error: <path>: <reason>``.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path

CLOSED_PIPE_STATUS = 128 + 13  # what a shell reports for a process ended by SIGPIPE


def plain(text: str) -> str:
    """reStructuredText markup of a docstring as a terminal shows it best: ``x`` and **x** as x, and a
    paragraph's closing ``::`` as ``:``."""
    text = re.sub(r"``(.+?)``", r"\1", text, flags=re.S)
    text = re.sub(r"\*\*(\S(?:.*?\S)?)\*\*", r"\1", text)
    return re.sub(r"(?<=\S)::$", ":", text, flags=re.M)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description as written (line breaks kept), its markup rendered by ``plain``."""

    def format_help(self) -> str:
        return plain(super().format_help())


def summary(path: Path) -> str:
    """The first line of a module's docstring, read from its source without importing it (a stage
    module imports torch), ``Stage ``x``:`` prefix and markup dropped."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    return plain(re.sub(r"^Stage ``[\w-]+``( \([^)]*\))?: ", "", first)).rstrip(".")


@contextmanager
def quiet_on_closed_pipe():
    """Run the body; if standard output's reader has gone (``| head``), exit silently with status 141."""
    try:
        try:
            yield
        finally:  # print() may have left it in the buffer: flushing is where a closed pipe shows
            sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout once more at exit and would complain again: point it at /dev/null
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(CLOSED_PIPE_STATUS)


def one_line(err: Exception) -> str:
    """``<path>: <reason>`` for an ``OSError`` (``<path> -> <other path>`` for a rename), or the error's
    own text when it names no file (a message of ours that says it already)."""
    if getattr(err, "filename", None) is None:
        return str(err)
    where = f"{err.filename} -> {err.filename2}" if err.filename2 is not None else f"{err.filename}"
    return f"{where}: {err.strerror or err}"


@contextmanager
def os_errors_in_one_line():
    """Run the body; an ``OSError`` escaping it exits with ``error: <path>: <reason>``, no traceback."""
    try:
        yield
    except OSError as err:
        sys.exit(f"error: {one_line(err)}")
