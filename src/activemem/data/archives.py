"""Where each WMT'14 archive comes from, whether it may be used, and its extracted members.

A copy is looked for in this order, and the first found is used:

1. ``<data.archives>/<archive file name>``: archives a user already has (an offline cluster). Used
   in place: these are gigabytes, and a hard link or copy into the cache would only cost disk
   (a copy) or fail across filesystems (a link) without making anything safer.
2. ``<data.downloads>/archives/<archive file name>``: the download cache.
3. A download from the mirror (``ACTIVEMEM_MIRROR`` / ``data.mirror``: ``http(s)://`` or
   ``file:///``) or the published URL, into the cache (``download.fetch``: resumable, atomic).

Every copy, whatever its origin, is judged the same way (``ArchiveStore.judge``): its size,
SHA-256 and MD5 against every published value (completed by the lock file where none was
published), and it is read to the end (``check_archive``) before anything is unpacked from it or
its checksum is pinned in the lock. A copy that differs from the published file is refused with
one line that says so and what to do, unless ``data.vouched`` has an entry for exactly this copy;
then it is accepted and labelled ``vouched``, with who vouched for it (``Accepted``).

A refused copy is a ``RefusedCopy`` carrying the line to paste into ``data.vouched``: the download
stage obtains every archive before it refuses, so one run names every copy to vouch for. A copy from
a mirror is transferred whole before it is judged, even one whose size already shows that it is not
the published file: only its bytes give the SHA-256 that a vouch names.

Members are extracted to ``<downloads>/extracted/<archive stem>-<first 16 hex of its SHA-256>/``
(``extract.extract_once``), so another copy of an archive never reuses the text of the last one.

What a run would use is also asked without running it (``current_sha256``): the workflow compares it
with what the last download used, so that a replaced archive makes the download stale in both engines.
Digests are remembered by file status (``digest_memo.py``), so asking reads no archive twice.
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass
from pathlib import Path

from activemem.data.digest_memo import DigestMemo
from activemem.data.download import (ANOTHER_SOURCE, DIGESTS, BadURLError, ChecksumError, ChecksumLock,
                                     DownloadError, Expected, Retry, digests_of, fetch, resolve_url)
from activemem.data.extract import check_archive, extract_once, reusable
from activemem.data.vouched import Vouch, paste_line

LABELS = {"size": "size", **DIGESTS}


class RefusedCopy(ChecksumError):
    """A complete copy that is neither the published (or locked) file nor vouched for; ``paste`` is
    the entry that would vouch for it."""

    def __init__(self, message: str, name: str, paste: str):
        super().__init__(message)
        self.name, self.paste = name, paste


@dataclass(frozen=True)
class Accepted:
    """A copy that passed ``judge``: where it is and what vouches for it."""
    name: str
    path: Path
    sha256: str
    size: int
    verified_by: str            # "published", "lock" or "vouched"
    vouched_by: str | None      # the vouched entry's words, for "vouched"
    checked: bool               # read to the end by check_archive in this run

    @property
    def key(self) -> str:
        """The extraction folder's name: the archive's stem and its SHA-256 prefix."""
        return f"{self.name.split('.')[0]}-{self.sha256[:16]}"


@dataclass(frozen=True)
class _Judgement:
    sha256: str
    md5: str
    size: int
    verified_by: str
    vouched_by: str | None
    pin: bool                   # nothing published or recorded names its SHA-256: record it in the lock


class ArchiveStore:
    """The archives of one run of the download stage, and their extractions."""

    def __init__(self, downloads: Path, lock: ChecksumLock, published: dict[str, Expected],
                 vouches: dict[str, Vouch], vouched_path: Path, own: Path | None = None,
                 mirror: str | None = None, retry: Retry = Retry(), progress: bool = True,
                 memo: DigestMemo | None = None):
        self.cache, self.extracted = downloads / "archives", downloads / "extracted"
        self.lock, self.published, self.vouches, self.vouched_path = lock, published, vouches, vouched_path
        self.own, self.mirror, self.retry, self.progress = own, mirror, retry, progress
        self.memo = memo

    def digests(self, path: Path) -> dict:
        """SHA-256 and MD5 of ``path``: remembered if it is unchanged since they were computed."""
        found = self.memo.get(path) if self.memo is not None else None
        if found is None or set(found) != set(DIGESTS):
            found = digests_of(path)
            if self.memo is not None:
                self.memo.remember(path, found)
        return found

    def _copy_at_hand(self, name: str) -> tuple[Path, str] | None:
        """The copy of ``name`` a run uses without downloading, and where it is; None if none."""
        own = self.own / name if self.own is not None else None
        if own is not None and own.is_file():
            return own, "data.archives"
        if (self.cache / name).is_file():
            return self.cache / name, "cache"
        return None

    def current_sha256(self, name: str) -> str | None:
        """The SHA-256 of the copy of ``name`` a run would use now: the copy at hand, or, when it has to
        be downloaded, the one digest an accepted download can have (published or locked, or the one
        vouched copy); None when no single digest is known (nothing recorded yet, or either the
        published file or another, vouched copy would do)."""
        at_hand = self._copy_at_hand(name)
        if at_hand is not None:
            return self.digests(at_hand[0])["sha256"]
        known = self.lock.completed(name, self.published.get(name, Expected())).sha256
        vouch = self.vouches.get(name)
        # a vouch for another copy lets either be downloaded; with no SHA-256 known any copy may be
        return known if vouch is None or vouch.sha256 == known else None

    def _not_in_own_folder(self, name: str) -> str:
        """Why a copy of ``name`` is downloaded although ``data.archives`` is set: the file name looked
        for, and a file of the folder with a similar name (the authors' ``dev-v2.tgz`` for ``dev.tgz``)."""
        names = sorted(p.name for p in self.own.iterdir() if p.is_file()) if self.own.is_dir() else []
        similar = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        hint = (f" (it holds {', '.join(similar)}: if that is this archive, rename it to {name})"
                if similar else "")
        return f"{self.own} (data.archives) has no file named {name}{hint}"

    # ---- judging one copy ------------------------------------------------------------------------
    def judge(self, path: Path, name: str, label: Path, origin: str) -> _Judgement:
        """Accept ``path`` as archive ``name`` or raise a one-line ``ChecksumError``. ``origin`` is
        ``data.archives``, ``cache`` or the URL it was just downloaded from (for the advice)."""
        published = self.published.get(name, Expected())
        known = self.lock.completed(name, published)
        in_place = not path.name.endswith(".part")  # a .part is renamed next: nothing to remember
        found = {"size": path.stat().st_size, **(self.digests(path) if in_place else digests_of(path))}
        wrong = [k for k in LABELS if getattr(known, k) is not None
                 and str(getattr(known, k)).lower() != str(found[k])]
        conflicts = self.lock.conflicts(name, published)
        if not wrong:
            if conflicts:
                print(f"warning: {self.lock.path}: the entry for {name} gives another {' and '.join(conflicts)} "
                      f"than the published one and is ignored (a lock entry cannot override a published "
                      f"value); remove it", file=sys.stderr)
            return _Judgement(found["sha256"], found["md5"], found["size"],
                              "published" if published.sha256 or published.md5 else "lock", None,
                              pin=known.sha256 is None)
        vouch = self.vouches.get(name)
        if vouch is not None and (vouch.sha256, vouch.size) == (found["sha256"], found["size"]):
            return _Judgement(found["sha256"], found["md5"], found["size"], "vouched", vouch.vouched_by, pin=False)

        # refused: say what differs, why no retry helps, and the two ways out
        what = ("the published file" if any(getattr(published, k) is not None for k in wrong)
                else f"the copy recorded in {self.lock.path}")
        shown = "sha256" if "sha256" in wrong else wrong[0]
        differs = (f"expected {LABELS[shown]} {getattr(known, shown)} ({known.source(shown)}), "
                   f"found {found[shown]}")
        if shown != "sha256":
            differs += f" (its SHA-256 is {found['sha256']})"
        if "size" in wrong and shown != "size":
            differs += f", {found['size']} bytes instead of {known.size}"
        if conflicts:
            differs += (f"; the entry for {name} in {self.lock.path} is ignored: a lock entry cannot "
                        f"override a published value, vouch for the copy in {self.vouched_path} instead")
        if origin == "data.archives":
            why = (f"this copy in data.archives ({self.own}) holds other bytes than {what}, so no download "
                   f"or retry changes it: replace it with a copy of {what}, or move it away to download one")
        elif origin == "cache":
            why = (f"this copy in the download cache holds other bytes than {what}: delete it to download "
                   f"{what}")
        else:
            why = (f"the download was removed: {origin} serves other bytes than {what}, so downloading it "
                   f"again cannot help; {ANOTHER_SOURCE}")
        line = paste_line(name, found["sha256"], found["size"])
        if vouch is not None:
            raise RefusedCopy(f"{label}: not {what}: {differs}; and the entry for {name} in "
                              f"{self.vouched_path}:{vouch.line} vouches for another copy (SHA-256 "
                              f"{vouch.sha256}, {vouch.size} bytes); {why}; or, if you vouch for this "
                              f"copy instead, replace that entry with: {line}", name, line)
        raise RefusedCopy(f"{label}: not {what}: {differs}; {why}; or, if you trust this copy, vouch "
                          f"for it: add this line to {self.vouched_path} and fill in vouched_by: {line}", name, line)

    # ---- finding or downloading a copy -----------------------------------------------------------
    def obtain(self, name: str, url: str, members: list[str]) -> Accepted:
        """The copy of archive ``name`` to use (see the module docstring for the order), judged; a
        checksum nobody published is pinned in the lock once the copy was read to the end."""
        at_hand = self._copy_at_hand(name)
        if at_hand is None:
            return self._download(name, url, members)
        path, origin = at_hand
        verdict = self.judge(path, name, path, origin)
        checked = verdict.pin
        if verdict.pin:  # read to the end before its checksum becomes the reference
            check_archive(path, members, path, self.progress)
            self.lock.record(name, path, verdict.sha256)
        return Accepted(name, path, verdict.sha256, verdict.size, verdict.verified_by, verdict.vouched_by,
                        checked)

    def _download(self, name: str, url: str, members: list[str]) -> Accepted:
        source = resolve_url(url, self.mirror)
        missing = self._not_in_own_folder(name) if self.own is not None else None
        if missing:
            print(f"note: {missing}; downloading it from {source}", file=sys.stderr)
        verdicts: list[_Judgement] = []

        def judge_and_read(part: Path, label: Path) -> None:
            verdicts.append(self.judge(part, name, label, source))
            check_archive(part, members, label, self.progress)

        # No size is given to fetch, even a published one: a copy of another size is transferred whole
        # and then judged, for the SHA-256 (and the line to paste) that vouching for it needs.
        try:
            path = fetch(source, self.cache / name, Expected(), judge_and_read, self.retry, self.progress)
        except (DownloadError, BadURLError) as err:
            if missing:
                raise type(err)(f"{missing}, and {err}") from None
            raise
        if not verdicts:  # another process put the file in place meanwhile: judge it as found
            return self.obtain(name, url, members)
        verdict = verdicts[-1]
        if self.memo is not None:
            self.memo.remember(path, {"sha256": verdict.sha256, "md5": verdict.md5})
        if verdict.pin:
            self.lock.record(name, path, verdict.sha256)
        return Accepted(name, path, verdict.sha256, verdict.size, verdict.verified_by, verdict.vouched_by, True)

    # ---- extracting ------------------------------------------------------------------------------
    def extract(self, archive: Accepted, members: list[str]) -> dict[str, dict]:
        """``members`` unpacked under ``<downloads>/extracted/<archive.key>/``; returns
        ``{member: {"bytes", "sha256"}}``. A complete earlier extraction of this very archive is
        reused; otherwise the archive is read to the end first (if this run has not yet)."""
        target = self.extracted / archive.key
        done = reusable(target, archive.sha256, members)
        if done is not None:
            return done
        if not archive.checked:
            check_archive(archive.path, members, archive.path, self.progress)
        return extract_once(archive.path, archive.sha256, members, target, self.progress)
