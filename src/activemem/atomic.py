"""Atomic file writes: write to ``<name>.tmp`` beside the target, then rename over it.

A reader (or a pipeline engine checking outputs) never sees a half-written file, and a run killed
mid-write leaves the previous version in place.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TextIO


@contextmanager
def open_atomic(path: str | Path) -> Iterator[TextIO]:
    """A text file (UTF-8) that appears under ``path`` only when the ``with`` block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        yield f
    os.replace(tmp, path)


def write_text(path: str | Path, text: str) -> None:
    with open_atomic(path) as f:
        f.write(text)


def write_json(path: str | Path, data, **dumps) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False, **dumps) + "\n")
