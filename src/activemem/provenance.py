"""Where a number came from: the code, the settings, the library versions and the machine.

``source_digest()`` is a content hash of the package source that is running (every file under
``src/activemem``, byte caches left out): the training fingerprint includes it, so a changed line of
model code never resumes an old checkpoint. ``provenance()`` is the block that ``summary.json``,
``evaluation.json`` and the report carry next to every number, so a reader can tell which commit,
which settings and which library versions produced it, and whether the tree had uncommitted edits.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import activemem
from activemem import kernels

PACKAGE_DIR = Path(activemem.__file__).resolve().parent


@functools.lru_cache(maxsize=None)
def source_digest(root: Path = PACKAGE_DIR) -> str:
    """SHA-256 over the relative paths and bytes of every source file of the package."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                       and p.suffix not in (".pyc", ".pyo")):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def settings_digest(settings) -> str:
    """SHA-256 of settings in a canonical JSON form (key order does not matter)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def git_state(cwd: Path | None = None) -> dict:
    """Commit and dirtiness of the work tree the pipeline runs in (``None`` outside a git tree).

    Dirty means a *tracked* file differs from the commit (an edited params.yaml or model file);
    untracked pipeline outputs, DVC's lock file and the committed demo metrics under results/ do not count.
    """
    cwd = Path(cwd or Path.cwd())
    commit = _git("rev-parse", "HEAD", cwd=cwd)
    if commit is None:
        return {"git_commit": None, "git_dirty": None}
    # results/ is left out: the demo's headline metrics are committed there (for `dvc metrics diff`) and a
    # run rewrites them; what makes a tree dirty is edited code or settings, not the results they gave
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results", cwd=cwd)
    return {"git_commit": commit.strip(), "git_dirty": bool(status and status.strip())}


def provenance(params: dict, device: str, threads: int, seed: int) -> dict:
    """The provenance block of one result: ``params`` is the resolved settings of the scale."""
    import torch
    return {
        **git_state(),
        "activemem_version": activemem.__version__,
        "source_sha256": source_digest(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "sacrebleu": _version("sacrebleu"),
        "sentencepiece": _version("sentencepiece"),
        "device": device,
        "threads": threads,
        # which CPU kernels computed it (kernels.py): pinned to one instruction set, or this machine's own
        "cpu_kernels": kernels.in_effect(params["train"].get("cpu_kernels", kernels.NATIVE)),
        "seed": seed,
        # The seed list says which runs exist, not what this one computed (its own seed is above): left out,
        # so that adding seeds to a finished run does not make its first seed look like another setting.
        "params_sha256": settings_digest({k: v for k, v in params.items() if k not in ("path", "seeds")}),
    }
