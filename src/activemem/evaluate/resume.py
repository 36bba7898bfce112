"""What an evaluation has already computed, kept on disk so that a killed evaluation resumes.

At the paper's scale an evaluation decodes 3,003 test sentences with beam search and the width search
several times over (beam, fixed width, greedy, ``test_long``): hours. Each decoded batch is written as it
finishes (``<folder>/<phase>/<batch>.json``, atomically: ``activemem.atomic``), and so is each whole
result of a cheaper phase (a perplexity: ``<folder>/<phase>.json``). A rerun reuses them only if they were
made by the very same evaluation: the ``fingerprint`` (the checkpoint's and the prepared data's digests,
the evaluation and training settings, device, threads and torch version) is recorded in
``<folder>/fingerprint.json``, and a folder with another one is emptied before anything is written.
A batch is reused only for the same sentences (its indices are stored with it), so the hypotheses and
numbers of a resumed evaluation are those of an uninterrupted one. The evaluate stage removes the
folder once its outputs are written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Callable

from activemem.atomic import write_json

FINGERPRINT = "fingerprint.json"


def fingerprint_key(fingerprint: dict) -> str:
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()


class Resume:
    """The saved state of one evaluation in ``folder`` (see the module docstring)."""

    def __init__(self, folder: Path, fingerprint: dict):
        self.folder, self.key = Path(folder), fingerprint_key(fingerprint)
        self.reused = 0  # batches and results taken from an earlier run, for the message at the end
        recorded = self._read(self.folder / FINGERPRINT)
        if recorded is None or recorded.get("key") != self.key:
            shutil.rmtree(self.folder, ignore_errors=True)  # another evaluation's, or none: never mixed
            self.folder.mkdir(parents=True, exist_ok=True)
            write_json(self.folder / FINGERPRINT, {"key": self.key, "fingerprint": fingerprint}, default=str)

    @staticmethod
    def _read(path: Path) -> dict | None:
        try:
            content = json.loads(path.read_text())
        except (OSError, ValueError):  # missing, or damaged: computed again
            return None
        return content if isinstance(content, dict) else None

    def batch(self, phase: str, number: int, indices: list[int]) -> dict | None:
        """The saved batch ``number`` of ``phase``, if it holds exactly these sentences."""
        saved = self._read(self.folder / phase / f"{number:06d}.json")
        if saved is None or saved.get("indices") != [int(i) for i in indices]:
            return None
        self.reused += 1
        return saved

    def save_batch(self, phase: str, number: int, indices: list[int], hypotheses: list[str], scores: list[float],
                   seconds: float) -> None:
        (self.folder / phase).mkdir(parents=True, exist_ok=True)
        write_json(self.folder / phase / f"{number:06d}.json",
                   {"indices": [int(i) for i in indices], "hypotheses": hypotheses, "scores": scores,
                    "seconds": seconds})

    def result(self, phase: str, compute: Callable[[], dict]) -> dict:
        """``compute()``'s result for ``phase``, computed once (a JSON-serialisable dict)."""
        path = self.folder / f"{phase}.json"
        saved = self._read(path)
        if saved is not None:
            self.reused += 1
            return saved
        value = compute()
        write_json(path, value)
        return value

    def finish(self) -> None:
        """Remove the saved state: the evaluation's outputs are written."""
        shutil.rmtree(self.folder, ignore_errors=True)
