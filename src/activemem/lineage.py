"""What each result was made from: recorded by the stage that writes it, checked by whatever reads it.

A stage that turns other stages' files into a result records, inside the result, ``made_from``: the
path, size and SHA-256 of each of those files (``made_from``). The prepare stage's ``manifest.json``
stands for every prepared file, since it lists their digests itself; a checkpoint stands for itself.
A result may also record the files its job writes beside it (``outputs``: the evaluate stage's
hypotheses, which the paper stage reads next to ``evaluation.json``), so that one of them replaced
afterwards is not read as that job's. Two readers check the records:

- the next stage, before it uses the result (``require_made_from``, ``require_outputs``): the paper
  stage refuses an evaluation of another checkpoint or of other data, or hypotheses its evaluation
  did not write, with a one-line error naming the files and what to rerun;
- the Snakemake workflow when it loads (``remove_stale``). Snakemake judges a result by modification
  times, and a result whose input has *vanished* looks up to date to it: a training job that failed
  (Snakemake deletes its output) or was killed leaves the old evaluation, Table 1 and claims in place
  ("Nothing to be done"); nor does it see a checkpoint replaced inside a ``directory()`` output, or a
  prepared file edited by hand. Such results are removed, each with a line saying why, so that the
  same command rebuilds them. A dry run (``snakemake -n``) removes nothing: it lists the same lines,
  saying what a real run would remove and make again (``dry_run``).

DVC compares content hashes itself, but takes a file whose size, modification time and inode are
unchanged as unchanged: a file edited in place with its modification time put back is caught only by
the stage that reads it next, whose error gives the DVC command that repairs it (``engines.py``).

The check at load is cheap (a ``stat`` per file; a file is hashed only when its size differs or it
was written or changed after the record: the change time catches an edit whose modification time was
put back); the stages' own checks hash everything they read.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from activemem.data.store import file_digest

KEY = "made_from"  # where a result keeps its record: {path: {"bytes": …, "sha256": …}}
OUTPUTS = "outputs"  # the files its job wrote beside it: {name in the result's folder: {"bytes": …, "sha256": …}}


def made_from(*paths: str | Path) -> dict[str, dict]:
    """The record of ``paths`` as they are now (paths as given, relative to the workspace)."""
    return {Path(p).as_posix(): file_digest(p) for p in paths}


def _under(path: Path, folders: list[Path]) -> bool:
    return any(path == folder or folder in path.parents for folder in folders)


def _changed(path: Path, expected: dict, written_ns: int | None, doomed: list[Path] = ()) -> str | None:
    """Why ``path`` is not the file the record names, or None. With ``written_ns`` (the record's
    modification time) a file of the right size not written since is taken as unchanged, unhashed.
    ``doomed``: outputs a real run would remove first (a dry run keeps them), so ``path`` among them
    would be made again."""
    if _under(path, list(doomed)):
        return f"{path} is to be made again"
    if not path.exists():
        return f"{path} is gone"
    stat = path.stat()
    if stat.st_size == expected.get("bytes") and written_ns is not None \
            and max(stat.st_mtime_ns, stat.st_ctime_ns) <= written_ns:
        return None
    sha256 = file_digest(path)["sha256"]
    if sha256 != expected.get("sha256"):
        return f"{path} changed (sha256 {sha256[:12]}…, recorded {str(expected.get('sha256'))[:12]}…)"
    return None


def differences(record: dict, base: Path = Path("."), written_ns: int | None = None,
                doomed: list[Path] = ()) -> list[str]:
    """Every file of ``record`` (paths relative to ``base``) that is gone or different now."""
    found = [_changed(base / name, expected, written_ns, doomed) for name, expected in record.items()]
    return [why for why in found if why]


def _summary(changed: list[str]) -> str:
    """The first difference, and how many more there are."""
    return changed[0] + (f" (and {len(changed) - 1} more)" if len(changed) > 1 else "")


def require_made_from(result: str | Path, record: dict | None) -> None:
    """Refuse ``result`` (a ``ValueError`` naming it) unless every file it was made from is still the
    same; a result written before records existed has none and is refused too."""
    if not isinstance(record, dict):
        raise ValueError(f"{result} does not say what it was made from (written by an older version): "
                         f"rerun the stage that writes it")
    changed = differences(record)
    if changed:
        raise ValueError(f"{result} is stale: {_summary(changed)} since it was made: rerun the stage that writes it")


def outputs(folder: str | Path, *names: str) -> dict[str, dict]:
    """The record of the files ``names`` a job has just written into ``folder`` (``OUTPUTS``)."""
    return {name: file_digest(Path(folder) / name) for name in names}


def require_outputs(result: str | Path, content: dict, rerun: str) -> None:
    """Refuse (a ``ValueError``) a file beside ``result`` that is not the one its job wrote, naming it
    and ``rerun`` (what to run instead); a result without the record (an older version) is refused too."""
    record = content.get(OUTPUTS)
    if not isinstance(record, dict):
        raise ValueError(f"{result} does not record the files written beside it (written by an older version): "
                         f"{rerun}")
    for name, expected in record.items():
        path = Path(result).parent / name
        actual = file_digest(path) if path.exists() else None
        if actual != expected:
            now = f"sha256 {actual['sha256'][:12]}…" if actual else "gone"
            raise ValueError(f"{path}: not the file written with {result} ({now}; it says sha256 "
                             f"{str(expected.get('sha256'))[:12]}…): {rerun}")


@dataclass
class Result:
    """One job's output, for ``remove_stale``: the JSON file holding its record, the key of the record
    in it, the folder the record's paths are relative to, and every path the job writes. ``own`` names
    outputs whose digest the record file keeps under a key of its own (the train stage's ``summary.json``
    keeps its checkpoint's under ``checkpoint``): one replaced by hand makes the job's result stale too."""

    record: Path
    outputs: list[Path]
    key: str = KEY
    base: Path = field(default_factory=lambda: Path("."))
    own: dict[str, Path] = field(default_factory=dict)


def _stale_reason(result: Result, doomed: list[Path]) -> str | None:
    try:
        content = json.loads(result.record.read_text())
        record = content.get(result.key)
    except (OSError, ValueError, AttributeError):
        return f"{result.record} cannot be read"
    if not isinstance(record, dict):
        return None  # written before records existed: the engine's own checks decide
    written_ns = result.record.stat().st_mtime_ns
    changed = differences(record, result.base, written_ns, doomed)
    changed += [why for name, path in result.own.items() if isinstance(content.get(name), dict)
                for why in [_changed(path, content[name], written_ns)] if why]
    if isinstance(content.get(OUTPUTS), dict):  # the files written beside the record
        changed += differences(content[OUTPUTS], result.record.parent, written_ns)
    return _summary(changed) if changed else None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def remove_stale(results: list[Result], dry_run: bool = False) -> list[str]:
    """Remove each result whose inputs are gone or changed, upstream first (``results`` in the order the
    pipeline makes them, so that removing one makes the results read from it stale in turn); returns a
    line per removed result. A result not made yet is left to the engine. With ``dry_run`` nothing is
    removed: the lines say what a real run would remove and make again (the results read from a stale
    one included, as if it were gone)."""
    lines, doomed = [], []
    for result in results:
        if not result.record.exists():
            continue
        why = _stale_reason(result, doomed)
        if why:
            paths = f"{len(result.outputs)} path{'s' if len(result.outputs) > 1 else ''}"
            if dry_run:
                doomed += result.outputs
                lines.append(f"stale: {result.record}: {why}: a real run removes it and the rest of its job's "
                             f"outputs ({paths}) and makes them again; this dry run removed nothing")
                continue
            for path in result.outputs:
                _remove(path)
            lines.append(f"stale: {result.record}: {why}: removed it and the rest of its job's outputs "
                         f"({paths}), to be made again")
    return lines
