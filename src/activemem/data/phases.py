"""Wall time and peak memory of each phase of a long data job (clean, sub-word model, encode).

A cluster job is sized by its peak memory, and the data path is meant to stay flat as the corpus grows;
this is how the prepare stage shows it on every run and how ``benchmarks/prepare_scale.py`` measures
it. The peak is the resident set size (RSS) of this process, sampled every ``interval`` seconds by a
background thread from ``/proc/self/statm`` (on Linux; elsewhere the process's high-water mark from
``getrusage``, which cannot go down between phases). Sentencepiece's own threads live in this process,
so they are counted too.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

STATM = Path("/proc/self/statm")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MIB = 1 << 20


def rss_bytes() -> int:
    """The resident set size now (Linux), or the high-water mark so far (elsewhere)."""
    try:
        return int(STATM.read_text().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


class Phases:
    """``with phases("encode"): ...`` records that phase's seconds and peak RSS in ``phases.table``."""

    def __init__(self, interval: float = 0.05, echo: bool = True):
        self.interval, self.echo = interval, echo
        self.table: list[dict] = []
        self._peak = 0
        self._lock = threading.Lock()

    def _sample(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            now = rss_bytes()
            with self._lock:
                self._peak = max(self._peak, now)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        with self._lock:
            self._peak = rss_bytes()
        stop = threading.Event()
        sampler = threading.Thread(target=self._sample, args=(stop,), daemon=True)
        sampler.start()
        start = time.perf_counter()
        try:
            yield
        finally:
            stop.set()
            sampler.join()
            with self._lock:
                peak = max(self._peak, rss_bytes())
            row = {"phase": name, "seconds": round(time.perf_counter() - start, 3),
                   "peak_rss_mib": round(peak / MIB, 1)}
            self.table.append(row)
            if self.echo:
                print(f"{name}: {row['seconds']:.1f} s, peak memory {row['peak_rss_mib']:.0f} MiB", file=sys.stderr)
