"""Normalisation and filtering of parallel text, with a report of every pair dropped and why.

Training split: Unicode NFC, runs of ASCII whitespace collapsed to one space (a no-break space, as
in French "voiture\u00a0?", is kept), ends stripped; then the filters ``length_ratio`` (one side more
than ``max_ratio`` times longer, in words) and ``too_long`` (more than ``max_words`` words on either
side). Dev and test text is kept exactly as published, so BLEU is computed against the official
references; every split drops ``non_utf8`` and ``empty`` lines.
Nothing is dropped silently: the report counts each reason and keeps the first few ``file:line``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from activemem.data.readers import ParallelLine

SPACES = re.compile(r"[ \t\n\r\f\v]+")
EXAMPLES_KEPT = 5


def normalize(text: str) -> str:
    return SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


@dataclass
class SplitReport:
    read: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def drop(self, reason: str, location: str, count: int = 1) -> None:
        self.dropped[reason] += count
        examples = self.examples.setdefault(reason, [])
        if len(examples) < EXAMPLES_KEPT:
            examples.append(location)

    def as_dict(self) -> dict:
        return {"read": self.read, "kept": self.kept, "dropped": dict(sorted(self.dropped.items())),
                "dropped_total": sum(self.dropped.values()), "examples": self.examples}


def clean_pairs(pairs: Iterable[ParallelLine], training: bool, max_ratio: float, max_words: int,
                report: SplitReport) -> Iterator[tuple[str, str, str]]:
    """Clean the pairs of ``readers.read_parallel`` one at a time, counting each in ``report``; yields
    ``(location, source, target)`` for every pair kept. ``training`` switches on normalisation and the
    length filters. A generator, so a corpus of any size streams through in constant memory."""
    for pair in pairs:
        report.read += 1
        src, tgt = pair.source, pair.target
        if src is None or tgt is None:  # named by the side whose bytes are bad
            report.drop("non_utf8", pair.location if src is None else pair.target_location)
            continue
        if training:
            src, tgt = normalize(src), normalize(tgt)
        if not src.strip() or not tgt.strip():
            report.drop("empty", pair.location if not src.strip() else pair.target_location)
            continue
        if training:
            ns, nt = len(src.split()), len(tgt.split())
            if max(ns, nt) > max_words:
                report.drop("too_long", pair.location)
                continue
            if max(ns, nt) > max_ratio * min(ns, nt):
                report.drop("length_ratio", pair.location)
                continue
        report.kept += 1
        yield pair.location, src, tgt
