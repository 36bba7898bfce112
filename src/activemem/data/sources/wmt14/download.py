"""The wmt14 source's download: obtain, judge and extract the archives of a scale's corpora.

WMT archives go to a download cache (``data.downloads``) shared by scales, or are used where they are
(``data.archives``); see ``data/archives.py`` for where a copy comes from and which copies are
accepted. ``sources.json`` holds no absolute path::

    {"source": "wmt14",
     "downloads": "<data.downloads as written in params.yaml>",
     "splits": {"train": [["extracted/<key>/<english member>", "extracted/<key>/<french member>"], …], …},
     "files": {"extracted/<key>/<member>": {"bytes": …, "sha256": …}, …},
     "archives": {"<archive file name>": {"sha256": …, "bytes": …,
                                          "verified_by": "published" | "lock" | "vouched",
                                          "vouched_by": null | "who, and why", "corpora": [<corpus>, …]}}}

Paths in ``splits`` and ``files`` are relative to ``downloads`` (the cache can move: point
``data.downloads`` at the new place); ``<key>`` is the archive's stem and the first 16 hex digits of
its SHA-256.
"""

from __future__ import annotations

import sys
from pathlib import Path

from activemem.data.archives import ArchiveStore, RefusedCopy
from activemem.data.digest_memo import DigestMemo
from activemem.data.download import ChecksumLock, Retry
from activemem.data.manifest import load_manifest, mirror_from
from activemem.data.sources.fields import ParamsError
from activemem.data.vouched import VouchedError, load_vouched

MEMO = "digests.json"  # in data.downloads: the archives' digests, by file status (data/digest_memo.py)


def wmt_archives(params: dict) -> tuple[ArchiveStore, dict[str, list], dict[str, list[str]], dict]:
    """The scale's archive store, its archives (file name -> the corpora read from it, in order), the
    corpora of each split and the manifest's corpora; every setting checked."""
    corpora, checksums = load_manifest()
    where = f"{params.get('path', 'params')}: '{params['scale']}.data"
    data = params["data"]  # checked by Wmt14Data when params.yaml was loaded
    downloads, own = data["downloads"], data["archives"]
    if own is not None and not Path(own).is_dir():
        raise ParamsError(f"{where}.archives' names {own}, which is not a folder")
    vouched = Path(data["vouched"])
    vouches = load_vouched(vouched)
    archive_names = {c.archive_name for c in corpora.values()}
    for name, vouch in vouches.items():
        if name not in archive_names:
            raise VouchedError(f"{vouched}:{vouch.line}: {name} is no WMT'14 archive; known: {sorted(archive_names)}")
    store = ArchiveStore(Path(downloads), ChecksumLock(data["lock"]), checksums, vouches,
                         vouched, Path(own) if own is not None else None,
                         mirror_from(params["data"].get("mirror"), f"{where}.mirror'"),
                         Retry(data["retries"], data["backoff_seconds"]),
                         memo=DigestMemo(Path(downloads) / MEMO))
    wanted = {"train": data["train"], "dev": [data["dev"]], "test": [data["test"]]}
    by_archive: dict[str, list] = {}  # archive file name -> its corpora (dev.tgz holds two test sets)
    for names in wanted.values():
        for name in names:
            if name not in corpora:
                raise ParamsError(f"'{params['scale']}.data' names unknown corpus {name!r}; "
                                  f"known: {sorted(corpora)}")
            if corpora[name] not in by_archive.setdefault(corpora[name].archive_name, []):
                by_archive[corpora[name].archive_name].append(corpora[name])
    return store, by_archive, wanted, corpora


def refused_all(refusals: list[RefusedCopy], vouched: Path) -> RefusedCopy:
    """One error for every copy refused in this run: the only one as it is; several each on a line of
    their own (printed here), then one summary line with the entries to paste, one per line, above it."""
    if len(refusals) == 1:
        return refusals[0]
    for refusal in refusals:
        print(f"error: {refusal}", file=sys.stderr)
    print(f"to vouch for all {len(refusals)} copies, add these lines to {vouched} and fill in each vouched_by:",
          file=sys.stderr)
    for refusal in refusals:
        print(refusal.paste, file=sys.stderr)
    names = ", ".join(r.name for r in refusals)
    return RefusedCopy(f"{len(refusals)} archives refused ({names}): no copy is the published file (or the "
                       f"one locked) nor vouched for in {vouched}; each reason and the lines to paste are above",
                       names, "\n".join(r.paste for r in refusals))


def fetch(params: dict, out: Path) -> dict:
    """Obtain, judge and extract the archives of the scale's corpora; returns sources.json's keys
    after ``source`` (see the module docstring; nothing is written into ``out``: the text stays in the
    cache). Every archive is obtained and judged before any is refused or extracted, so that one run
    names every copy that needs a vouch."""
    store, by_archive, wanted, corpora = wmt_archives(params)
    accepted, refusals = {}, []
    for archive_name, users in by_archive.items():
        try:
            accepted[archive_name] = store.obtain(archive_name, users[0].url, [m for c in users for m in (c.en, c.fr)])
        except RefusedCopy as refusal:
            refusals.append(refusal)
        except Exception:
            for refusal in refusals:  # said before the error that stops the run, not lost with it
                print(f"error: {refusal}", file=sys.stderr)
            raise
    if refusals:
        raise refused_all(refusals, store.vouched_path)
    paths, files, archives = {}, {}, {}
    for archive_name, users in by_archive.items():
        members = [m for c in users for m in (c.en, c.fr)]
        archive = accepted[archive_name]
        for member, digest in store.extract(archive, members).items():
            paths[member, archive_name] = f"extracted/{archive.key}/{member}"
            files[paths[member, archive_name]] = digest
        archives[archive_name] = {"sha256": archive.sha256, "bytes": archive.size,
                                  "verified_by": archive.verified_by, "vouched_by": archive.vouched_by,
                                  "corpora": [c.name for c in users]}
    splits = {split: [[paths[c.en, c.archive_name], paths[c.fr, c.archive_name]]
                      for c in (corpora[n] for n in names)] for split, names in wanted.items()}
    return {"downloads": params["data"]["downloads"], "splits": splits, "files": dict(sorted(files.items())),
            "archives": archives}


def current_archives(params: dict) -> dict[str, str | None]:
    """The SHA-256 of each archive a download would use now (``ArchiveStore.current_sha256``), by file
    name. Reads an archive only when its digest is not remembered (``data/digest_memo.py``)."""
    store, by_archive, _, _ = wmt_archives(params)
    return {name: store.current_sha256(name) for name in sorted(by_archive)}
