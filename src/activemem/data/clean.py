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
from typing import Iterable

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


def clean_pairs(pairs: Iterable[tuple[str, int, str | None, str | None]], training: bool,
                max_ratio: float, max_words: int) -> tuple[list[tuple[str, str]], SplitReport]:
    """Clean ``(location, line, source, target)`` tuples (``readers.read_parallel``); ``training``
    switches on normalisation and the length filters."""
    report = SplitReport()
    kept: list[tuple[str, str]] = []
    for location, _, src, tgt in pairs:
        report.read += 1
        if src is None or tgt is None:
            report.drop("non_utf8", location)
            continue
        if training:
            src, tgt = normalize(src), normalize(tgt)
        if not src.strip() or not tgt.strip():
            report.drop("empty", location)
            continue
        if training:
            ns, nt = len(src.split()), len(tgt.split())
            if max(ns, nt) > max_words:
                report.drop("too_long", location)
                continue
            if max(ns, nt) > max_ratio * min(ns, nt):
                report.drop("length_ratio", location)
                continue
        kept.append((src, tgt))
    report.kept = len(kept)
    return kept, report
