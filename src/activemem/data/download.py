"""HTTP downloads that resume, verify and never leave a half file under the final name.

- Streams to ``<dest>.part``; if that exists, asks the server for the rest (``Range: bytes=N-``) and
  appends. A server that ignores ``Range`` (answers 200) is handled by starting over.
- Verifies the size and SHA-256 when they are known; a mismatch deletes the partial file and raises.
- Renames ``.part`` to the final name only after verification (atomic on one filesystem).
- A file already present under its final name is used as it is (after checking a known checksum).
- Checksums not yet known are recorded in a lock file (JSON, committed with the project) on first
  download and enforced on every later one.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from activemem.atomic import write_json

CHUNK = 1 << 20


class ChecksumError(ValueError):
    pass


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_url(url: str, mirror: str | None) -> str:
    """With a mirror, ``https://host/a/b/file.tgz`` is fetched from ``<mirror>/file.tgz``."""
    if not mirror:
        return url
    return mirror.rstrip("/") + "/" + url.rsplit("/", 1)[-1]


def _verify(path: Path, sha256: str | None, size: int | None, url: str) -> None:
    if size is not None and path.stat().st_size != size:
        got = path.stat().st_size
        path.unlink()
        raise ChecksumError(f"{url}: expected {size} bytes, got {got}; the partial file was removed")
    if sha256 is not None:
        got = sha256_of(path)
        if got != sha256:
            path.unlink()
            raise ChecksumError(f"{url}: SHA-256 mismatch (expected {sha256}, got {got}); "
                                f"the downloaded file was removed")


def fetch(url: str, dest: str | Path, sha256: str | None = None, size: int | None = None,
          progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``), verify it and move it into place."""
    dest = Path(dest)
    if dest.exists():
        if sha256 is not None and sha256_of(dest) != sha256:
            raise ChecksumError(f"{dest}: present but its SHA-256 does not match the manifest/lock; "
                                f"delete it to download again")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to send: the part file is complete
            response = None
        else:
            raise RuntimeError(f"download of {url} failed: HTTP {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        raise RuntimeError(f"download of {url} failed: {err.reason} (set ACTIVEMEM_MIRROR or "
                           f"data.mirror in params.yaml to use another server)") from err
    if response is not None:
        with response:
            resumed = have and response.status == 206
            if have and not resumed:
                have = 0  # the server ignored Range: start over
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else size
            with open(part, "ab" if resumed else "wb") as out, tqdm(
                    total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=dest.name, disable=not progress) as bar:
                for block in iter(lambda: response.read1(CHUNK), b""):  # whatever has arrived
                    out.write(block)
                    bar.update(len(block))
    _verify(part, sha256, size, url)
    os.replace(part, dest)
    return dest


class ChecksumLock:
    """A JSON file ``{file name: {"sha256": ..., "size": ...}}`` recorded on first download."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.entries: dict[str, dict] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def get(self, name: str) -> dict:
        return self.entries.get(name, {})

    def record(self, name: str, file: Path) -> None:
        self.entries[name] = {"sha256": sha256_of(file), "size": file.stat().st_size}
        write_json(self.path, self.entries, sort_keys=True)


def fetch_locked(url: str, dest: Path, lock: ChecksumLock, sha256: str | None = None,
                 size: int | None = None, progress: bool = True) -> Path:
    """``fetch`` with the checksum from the manifest, else from the lock; record it if new."""
    known = lock.get(dest.name)
    path = fetch(url, dest, sha256 or known.get("sha256"), size or known.get("size"), progress)
    if not (sha256 or known.get("sha256")):
        lock.record(dest.name, path)
    return path
