"""Extract chosen members of tar/tgz archives, refusing anything that would escape the target.

An archive member with an absolute path, a ``..`` component, or a link pointing outside the target
directory is refused with an error naming the archive and the member — before anything is written.
Files are written to a temporary name and renamed, so an interrupted extraction leaves no half file.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path, PurePosixPath


class UnsafeArchiveError(ValueError):
    pass


def check_member(archive: Path, member: tarfile.TarInfo) -> None:
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


def extract_members(archive: str | Path, members: list[str], target: str | Path) -> list[Path]:
    """Extract ``members`` (paths inside the archive) to ``target/<member>``; returns their paths.

    Every member of the archive is checked, not only the requested ones: an archive that carries
    one hostile member is not trusted for the rest.
    """
    archive, target = Path(archive), Path(target)
    out = []
    with tarfile.open(archive) as tar:
        infos = tar.getmembers()
        for info in infos:
            check_member(archive, info)
        by_name = {i.name.lstrip("./") if i.name.startswith("./") else i.name: i for i in infos}
        for member in members:
            info = by_name.get(member)
            if info is None or not info.isfile():
                raise FileNotFoundError(f"{archive}: no file member {member!r} "
                                        f"(it has {len(infos)} members, e.g. {[i.name for i in infos[:3]]})")
            dest = target / member
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".part")
            with tar.extractfile(info) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 20)
            os.replace(tmp, dest)
            out.append(dest)
    return out
