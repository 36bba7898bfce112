"""Check and extract tar/tgz archives, refusing anything broken or that would escape the target.

- ``check_archive`` reads a whole archive once (the gzip stream to its CRC trailer, every tar header
  and every member's data) and confirms the members we need are there. The downloader runs it on a
  complete download *before* the file is renamed into place or its checksum is recorded, so a
  corrupt file never becomes the reference later downloads are compared with.
- ``extract_members`` writes chosen members to a target folder. A member with an absolute path, a
  ``..`` component, or a link pointing outside the target is refused with an error naming the
  archive and the member, before anything is written. Files are written through ``activemem.atomic``
  (a private temporary name, then a rename), so an interrupted extraction leaves no half file.

Every problem is an ``ArchiveError`` whose message is one line naming the archive.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from activemem.atomic import open_atomic

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
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


def check_archive(archive: str | Path, members: list[str], label: str | Path | None = None) -> None:
    """Read ``archive`` to the end and require each of ``members``; raise ``ArchiveError`` if not.

    ``label`` is the name used in messages (the final file name while ``archive`` is a ``.part``).
    The gzip layer is decoded by ``gzip`` itself, not by ``tarfile``, because only ``gzip`` checks
    the CRC and length in the trailer; a plain tar (giga-fren) is read as it is.
    """
    label = label or archive
    found: dict[str, tarfile.TarInfo] = {}
    try:
        with open(archive, "rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for info in tar:
                    check_member(label, info)
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


def extract_members(archive: str | Path, members: list[str], target: str | Path) -> list[Path]:
    """Extract ``members`` (paths inside the archive) to ``target/<member>``; returns their paths.

    Every member of the archive is checked, not only the requested ones: an archive that carries
    one hostile member is not trusted for the rest.
    """
    archive, target = Path(archive), Path(target)
    out = []
    try:
        with tarfile.open(archive) as tar:
            infos = tar.getmembers()
            for info in infos:
                check_member(archive, info)
            by_name = {member_name(i): i for i in infos}
            _missing(archive, members, by_name)
            for member in members:
                dest = target / member
                with tar.extractfile(by_name[member]) as src, open_atomic(dest, binary=True) as dst:
                    shutil.copyfileobj(src, dst, length=CHUNK)
                out.append(dest)
    except READ_ERRORS as err:
        # The archive was verified when it was downloaded, so it changed on disk since.
        raise BrokenArchiveError(f"{archive}: not a complete tar/gzip archive ({type(err).__name__}: "
                                 f"{err}); delete it to download it again") from None
    return out
