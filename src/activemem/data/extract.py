"""Check and extract tar/tgz archives, refusing anything broken or that would escape the target.

- ``check_archive`` reads a whole archive once (the gzip stream to its CRC trailer, every tar header
  and every member's data) and confirms the members we need are there. The downloader runs it on a
  complete download *before* the file is renamed into place or its checksum is recorded, so a
  corrupt file never becomes the reference later downloads are compared with.
- ``extract_members`` writes chosen members to a target folder. A member with an absolute path, a
  ``..`` component, or a link pointing outside the target is refused with an error naming the
  archive and the member, before anything is written. Files are written through ``activemem.atomic``
  (a private temporary name, then a rename), so an interrupted extraction leaves no half file.
- Both refuse an archive whose members add up to more than ``BOMB_RATIO`` times its own size (and
  more than ``BOMB_FLOOR``), from the tar headers, before reading the data: real text compresses
  about 3-10×, a decompression bomb a thousandfold.
- ``extract_once`` extracts into a folder keyed by the archive's SHA-256 and writes a completion
  record (``RECORD``: every member's size and SHA-256) last, atomically. A later run reuses the
  files only if the record is there, is for the same archive and lists them with the sizes they
  still have; a replaced archive has another SHA-256, hence another folder and a fresh extraction.

Every problem is an ``ArchiveError`` whose message is one line naming the archive. Reading and
extracting show their progress in bytes (``activemem/progress.py``): WMT's archives run to gigabytes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from activemem.atomic import open_atomic, write_json
from activemem.progress import progress_bar

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
# Contents larger than this multiple of the archive (and than the floor) are refused unread.
BOMB_RATIO = 100
BOMB_FLOOR = 1 << 30
RECORD = ".complete.json"  # in an extraction folder, written once its members are all there
# What the standard library raises on a truncated or damaged tar/gzip stream.
READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


class ArchiveError(ValueError):
    pass


class UnsafeArchiveError(ArchiveError):
    pass


class BrokenArchiveError(ArchiveError):
    pass


class MissingMemberError(ArchiveError):
    pass


class ArchiveBombError(ArchiveError):
    pass


class _SizeBudget:
    """The running total of an archive's member sizes, against what its own size makes plausible."""

    def __init__(self, archive: str | Path, label: str | Path):
        self.size = Path(archive).stat().st_size
        self.limit = max(BOMB_RATIO * self.size, BOMB_FLOOR)
        self.label, self.total = label, 0

    def add(self, info: tarfile.TarInfo) -> None:
        self.total += info.size if info.isfile() else 0
        if self.total > self.limit:
            raise ArchiveBombError(f"{self.label}: member {info.name!r} brings the contents to {self.total} "
                                   f"bytes, over {BOMB_RATIO}× the archive's {self.size} bytes (a "
                                   f"decompression bomb, or not the file it should be); refusing to "
                                   f"unpack it")


class _Counted:
    """A binary file whose reads advance a progress bar: the bytes of an archive read so far."""

    def __init__(self, raw, bar):
        self._raw, self._bar = raw, bar

    def read(self, size=-1):
        data = self._raw.read(size)
        self._bar.update(len(data))
        return data

    def __getattr__(self, name):  # name, mode, seek, tell: the file's own
        return getattr(self._raw, name)


def member_name(info: tarfile.TarInfo) -> str:
    """The member's path as the manifest writes it (some archives prefix every name with ``./``)."""
    return info.name[2:] if info.name.startswith("./") else info.name


def check_member(archive: str | Path, member: tarfile.TarInfo) -> None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or member.name.startswith(("/", "\\")) or ".." in name.parts:
        raise UnsafeArchiveError(f"{archive}: member {member.name!r} would be written outside the "
                                 f"target directory (absolute path or '..')")
    if member.issym() or member.islnk():
        target = PurePosixPath(member.linkname)
        resolved = target if target.is_absolute() else name.parent / target
        if target.is_absolute() or ".." in PurePosixPath(os.path.normpath(str(resolved))).parts:
            raise UnsafeArchiveError(f"{archive}: link {member.name!r} -> {member.linkname!r} "
                                     f"points outside the target directory")


def _missing(archive: str | Path, wanted: list[str], found: dict[str, tarfile.TarInfo]) -> None:
    missing = [m for m in wanted if m not in found or not found[m].isfile()]
    if missing:
        raise MissingMemberError(f"{archive}: no file member {missing[0]!r} (it has {len(found)} "
                                 f"members, e.g. {sorted(found)[:3]})")


def check_archive(archive: str | Path, members: list[str], label: str | Path | None = None,
                  progress: bool = True) -> None:
    """Read ``archive`` to the end and require each of ``members``; raise ``ArchiveError`` if not.

    ``label`` is the name used in messages (the final file name while ``archive`` is a ``.part``).
    The gzip layer is decoded by ``gzip`` itself, not by ``tarfile``, because only ``gzip`` checks
    the CRC and length in the trailer; a plain tar (giga-fren) is read as it is.
    """
    label = label or archive
    found: dict[str, tarfile.TarInfo] = {}
    budget = _SizeBudget(archive, label)
    try:
        with open(archive, "rb") as file, progress_bar(total=budget.size, unit="B", unit_scale=True,
                                                       unit_divisor=1024, desc=f"check {Path(label).name}",
                                                       disable=not progress, mininterval=1.0) as bar:
            compressed = file.read(2) == GZIP_MAGIC
            file.seek(0)
            raw = _Counted(file, bar)
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for info in tar:
                    check_member(label, info)
                    budget.add(info)  # from the header, before its data is read
                    found[member_name(info)] = info
                    if info.isfile():
                        data = tar.extractfile(info)
                        while data.read(CHUNK):  # a short member raises ReadError here
                            pass
            while stream.read(CHUNK):  # the rest of the gzip stream: reaching its end checks the CRC
                pass
    except READ_ERRORS as err:
        raise BrokenArchiveError(f"{label}: not a complete tar/gzip archive "
                                 f"({type(err).__name__}: {err})") from None
    _missing(label, members, found)


def extract_members(archive: str | Path, members: list[str], target: str | Path,
                    progress: bool = True) -> dict[str, dict]:
    """Extract ``members`` (paths inside the archive) to ``target/<member>``; returns, per member,
    ``{"bytes": size, "sha256": digest}`` of what was written (hashed while writing, no second read).

    Every member of the archive is checked, not only the requested ones: an archive that carries
    one hostile member is not trusted for the rest.
    """
    archive, target = Path(archive), Path(target)
    out = {}
    budget = _SizeBudget(archive, archive)
    try:
        with tarfile.open(archive) as tar:
            infos = tar.getmembers()
            for info in infos:
                check_member(archive, info)
                budget.add(info)
            by_name = {member_name(i): i for i in infos}
            _missing(archive, members, by_name)
            with progress_bar(total=sum(by_name[m].size for m in members), unit="B", unit_scale=True,
                              unit_divisor=1024, desc=f"extract {archive.name}", disable=not progress,
                              mininterval=1.0) as bar:
                for member in members:
                    digest, size = hashlib.sha256(), 0
                    with tar.extractfile(by_name[member]) as src, open_atomic(target / member, binary=True) as dst:
                        for block in iter(lambda: src.read(CHUNK), b""):
                            dst.write(block)
                            digest.update(block)
                            size += len(block)
                            bar.update(len(block))
                    out[member] = {"bytes": size, "sha256": digest.hexdigest()}
    except READ_ERRORS as err:
        # The archive was verified before, so it changed on disk since.
        raise BrokenArchiveError(f"{archive}: not a complete tar/gzip archive ({type(err).__name__}: "
                                 f"{err}); it changed since it was verified: replace it with a good "
                                 f"copy") from None
    return out


def _recorded(target: Path, sha256: str) -> dict[str, dict]:
    """The members that ``target``'s completion record lists for this archive and that still have
    the recorded size; {} when there is no usable record."""
    try:
        record = json.loads((target / RECORD).read_text())
        if record.get("sha256") != sha256:
            return {}
        listed = {m: {"bytes": int(e["bytes"]), "sha256": str(e["sha256"])}
                  for m, e in record["members"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # absent or unreadable: extract again
    return {m: e for m, e in listed.items()
            if (target / m).is_file() and (target / m).stat().st_size == e["bytes"]}


def reusable(target: str | Path, sha256: str, members: list[str]) -> dict[str, dict] | None:
    """``{member: {"bytes", "sha256"}}`` if an earlier ``extract_once`` left every one of
    ``members`` in ``target`` for this archive, else None."""
    recorded = _recorded(Path(target), sha256)
    return {m: recorded[m] for m in members} if all(m in recorded for m in members) else None


def extract_once(archive: str | Path, sha256: str, members: list[str], target: str | Path,
                 progress: bool = True) -> dict[str, dict]:
    """``members`` of ``archive`` (whose SHA-256 is ``sha256``) in ``target``, extracted unless a
    completion record shows them there already; returns ``{member: {"bytes", "sha256"}}``.

    The record is rewritten after the files, listing the members kept from before plus the new
    ones: a run killed midway leaves a record that only lists files which are complete.
    """
    target = Path(target)
    recorded = _recorded(target, sha256)
    missing = [m for m in members if m not in recorded]
    if missing:
        recorded.update(extract_members(archive, missing, target, progress))
        write_json(target / RECORD, {"archive": Path(archive).name, "sha256": sha256,
                                     "members": dict(sorted(recorded.items()))})
    return {m: recorded[m] for m in members}
