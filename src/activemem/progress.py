"""Progress for long loops: a tqdm bar on a terminal, plain lines in a log file.

tqdm redraws its bar with carriage returns, which a terminal shows as one line moving and a log file
(SLURM's ``slurm-<job>.out``, Snakemake's and DVC's captured output, CI) keeps as one huge line of
every state. So when the stream is not a terminal, ``progress_bar`` returns a tqdm that writes whole
lines without a bar: one after ``FIRST_LINE_SECONDS`` (so a long step says early that it is under
way), then at most one every ``LINE_SECONDS``, and one at the end; a loop shorter than the first
delay writes just its end line::

    encode train:  40% 40/100 chunks [00:31<00:46, 1.29chunks/s]
    encode train: 100% 100/100 chunks [01:17<00:00, 1.30chunks/s]

It takes tqdm's arguments, ``disable=`` included (and tqdm's own ``TQDM_*`` environment defaults,
e.g. ``TQDM_DISABLE=1``, for arguments a caller leaves out), and returns a tqdm either way: ``update``,
``set_postfix``, ``close`` and ``with`` work the same.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

FIRST_LINE_SECONDS = 2.0  # a loop still running after this long says so
LINE_SECONDS = 30.0  # then a log line at most this often while it runs


def is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress_bar(iterable=None, **kwargs) -> tqdm:
    """``tqdm(iterable, **kwargs)`` on a terminal, ``LogLines(iterable, **kwargs)`` elsewhere."""
    stream = kwargs.get("file") or sys.stderr
    return tqdm(iterable, **kwargs) if is_terminal(stream) else LogLines(iterable, **kwargs)


class LogLines(tqdm):
    """A tqdm that prints whole lines, no bar and no carriage return: after ``first`` seconds, then at
    most every ``every`` seconds, and at the end."""

    def __init__(self, iterable=None, *args, first: float | None = None, every: float | None = None, **kwargs):
        self._first = FIRST_LINE_SECONDS if first is None else first
        self._every = LINE_SECONDS if every is None else every
        self._started, self._last_line, self._last_n = time.monotonic(), None, None
        total = kwargs.get("total", len(iterable) if hasattr(iterable, "__len__") else None)
        # leave=False: tqdm's own closing would redraw or write a carriage return; close() below
        # writes the last line instead.
        kwargs.update(leave=False, dynamic_ncols=False, bar_format=(
            "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
            if total else "{desc}: {n_fmt} {unit} [{elapsed}, {rate_fmt}{postfix}]"))
        super().__init__(iterable, *args, **kwargs)

    def display(self, msg=None, pos=None):
        if msg is not None:  # tqdm clearing or overwriting its line: nothing to undo in a log
            return False
        now = time.monotonic()
        due = now - self._started >= self._first if self._last_line is None else now - self._last_line >= self._every
        if due:
            self._write_line(now)
        return True

    def _write_line(self, now: float) -> None:
        self._last_line, self._last_n = now, self.n
        self.fp.write(self.__str__().rstrip() + "\n")
        self.fp.flush()

    def close(self):
        # the final count and rate, once, unless the last line already showed that count
        if not self.disable and hasattr(self, "last_print_t") and self.n != self._last_n:
            self._ema_dt = lambda: None  # the overall rate, as tqdm shows it when it closes
            self._write_line(time.monotonic())
        super().close()
