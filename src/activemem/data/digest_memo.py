"""The SHA-256 and MD5 of big files, remembered by what ``stat`` says of them, so that each is read once.

Whether an archive changed is asked often: by the download stage, by DVC's ``archives`` stage on every
``dvc repro``, by the Snakemake workflow whenever it loads. Reading gigabytes each time would cost
minutes; like git and DVC, the memo trusts a file whose path, size, modification and change times
(nanoseconds) and inode are what they were when its digests were computed. Replacing a file, even by
one of the same size and ``cp -p``'s modification time, changes its change time or inode, so it is
read again.

The memo is one JSON file (``<data.downloads>/digests.json``), written atomically; two processes
writing it at once lose at most the other's new entries, which are then computed again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from activemem.atomic import write_json


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class DigestMemo:
    """``{absolute path: {"stat": [size, mtime_ns, ctime_ns, inode], "sha256": …, "md5": …}}``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            entries = json.loads(self.path.read_text())
        except (OSError, ValueError):  # missing or damaged: a memo only saves work, start afresh
            entries = {}
        self.entries: dict[str, dict] = entries if isinstance(entries, dict) else {}

    @staticmethod
    def _key(file: Path) -> str:
        return os.path.abspath(file)

    def get(self, file: Path) -> dict | None:
        """The remembered digests of ``file`` if it is unchanged since, else None."""
        entry = self.entries.get(self._key(file))
        if not isinstance(entry, dict) or entry.get("stat") != _stamp(file):
            return None
        return {k: entry[k] for k in ("sha256", "md5") if k in entry}

    def remember(self, file: Path, digests: dict) -> None:
        """Record ``digests`` (``sha256`` and ``md5``) of ``file`` as it is now."""
        entry = {"stat": _stamp(file), **{k: digests[k] for k in ("sha256", "md5") if k in digests}}
        if self.entries.get(self._key(file)) != entry:
            self.entries[self._key(file)] = entry
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_json(self.path, self.entries, sort_keys=True)
