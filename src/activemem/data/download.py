"""Downloads that resume, retry, verify, and never put a short or wrong file under the final name.

- ``http(s)://`` URLs are streamed to ``<dest>.part``; if that exists, the server is asked for the
  rest (``Range: bytes=N-``) and it is appended. A server that ignores ``Range`` (answers 200) is
  handled by starting over. ``file:///folder/name`` URLs (a mirror on a mounted disk) are copied the
  same way: an existing ``.part`` that is a possible prefix is continued from its end.
- Counts the bytes received against what the server announced (``Content-Length``, or the total of a
  206 ``Content-Range``; a file's size) and against the published size. A connection that closes
  early is not an end of file: the ``.part`` file is kept (it is resumable state) and the request is
  retried, at most ``retries`` times, waiting ``backoff_seconds`` × 2^k between tries; every retry
  resumes. A host that cannot be reached at all (its name does not resolve, or nothing listens) is
  tried once more only: on a machine without network, minutes of waiting would help nobody.
- A URL that cannot work (unknown scheme, no host, a relative file path) fails at once, untried.
- Once the file is complete: its size, SHA-256 and MD5 are checked against every value known
  (published, or recorded in the lock file), then an optional ``check`` (the archive readable to the
  end). A complete file that fails is deleted, since resuming it cannot repair it, and a one-line
  ``ChecksumError`` / archive error names the file, what was expected and what was found. Such a
  failure is deterministic (the source serves those bytes), so the advice is another source, never
  "try again".
- Only then is ``.part`` renamed to the final name (atomic on one filesystem), and only then may a
  checksum be recorded in the lock file (JSON, committed with the project).
- A file already present under its final name is used as it is, after checking the known checksums
  (or, when none is known, after ``check``).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from activemem.atomic import open_named, write_json
from activemem.progress import progress_bar

CHUNK = 1 << 20
# HTTP answers worth asking again: the server is busy or briefly broken, not refusing the file.
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
DIGESTS = {"sha256": "SHA-256", "md5": "MD5"}  # hashlib name -> name in messages
OTHER_SERVER = "set ACTIVEMEM_MIRROR or data.mirror in params.yaml to use another server"
ANOTHER_SOURCE = ("use another mirror (ACTIVEMEM_MIRROR or data.mirror in params.yaml) or a copy of the "
                  "published file in the folder named by data.archives")
NO_NETWORK = ("no network? put the archives in the folder named by data.archives, or set a reachable "
              "mirror (ACTIVEMEM_MIRROR or data.mirror in params.yaml)")
DELETE_IT = "delete it to download it again"
SCHEMES = ("http", "https", "file")
# A host that cannot be reached (no name resolution, nothing listening) gets this many retries at
# most, whatever ``retries`` says: a resolver hiccup deserves one more try, an offline node does not
# deserve minutes of backoff.
UNREACHABLE_RETRIES = 1


class ChecksumError(ValueError):
    """The file is complete but is not the expected file (size or digest)."""


class DownloadError(RuntimeError):
    """The server could not be made to send the whole file."""


class BadURLError(ValueError):
    """A URL that no request could serve (unknown scheme, no host, relative file path)."""


class _Interrupted(Exception):
    """One request ended early or failed in a way that a later request may not (retry it)."""


class _Unreachable(_Interrupted):
    """The host could not be reached at all: its name did not resolve or nothing listened."""


@dataclass(frozen=True)
class Expected:
    """What the file must be. ``sources`` says where each known value came from, for messages."""
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def source(self, key: str) -> str:
        return self.sources.get(key, "given by the caller")


@dataclass(frozen=True)
class Retry:
    """Bounded retries with exponential backoff; ``sleep`` is injectable so tests never wait."""
    retries: int = 0
    backoff_seconds: float = 0.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int) -> float:
        return self.backoff_seconds * 2 ** attempt


def digests_of(path: str | Path, names: tuple[str, ...] = tuple(DIGESTS)) -> dict[str, str]:
    """Hex digests of the file, all computed in one read."""
    # integrity checks, not security: also allowed where FIPS mode forbids md5 for security
    hashers = {name: hashlib.new(name, usedforsecurity=False) for name in names}
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            for h in hashers.values():
                h.update(block)
    return {name: h.hexdigest() for name, h in hashers.items()}


def sha256_of(path: str | Path) -> str:
    return digests_of(path, ("sha256",))["sha256"]


def url_problem(url: str) -> str | None:
    """What makes ``url`` unusable for ``fetch``, in a few words, or None when it is usable."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  raises ValueError on a port that is not a number
    except ValueError as err:
        return f"not a URL ({err})"
    if not parts.scheme:
        return "no scheme (a folder on this machine is written file:///absolute/folder)"
    if parts.scheme not in SCHEMES:
        return f"unknown scheme {parts.scheme!r} (use http://, https:// or file:///)"
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            return f"a file URL names a folder on this machine (file:///absolute/folder), not on host {parts.netloc!r}"
        if not parts.path.startswith("/"):
            return "a file URL needs an absolute path (file:///absolute/folder)"
    elif not parts.hostname:
        return f"no host (write {parts.scheme}://host/path)"
    return None


def resolve_url(url: str, mirror: str | None) -> str:
    """With a mirror, ``https://host/a/b/file.tgz`` is fetched from ``<mirror>/file.tgz``."""
    if not mirror:
        return url
    return mirror.rstrip("/") + "/" + url.rsplit("/", 1)[-1]


def verify(path: Path, expected: Expected, label: Path, action: str) -> None:
    """Raise ``ChecksumError`` unless ``path`` has every known size and digest of ``expected``."""
    got = path.stat().st_size
    if expected.size is not None and got != expected.size:
        raise ChecksumError(f"{label}: expected {expected.size} bytes ({expected.source('size')}), "
                            f"got {got}; {action}")
    wanted = [name for name in DIGESTS if getattr(expected, name)]
    if not wanted:
        return
    found = digests_of(path, tuple(wanted))
    for name in wanted:
        if found[name] != getattr(expected, name).lower():
            raise ChecksumError(f"{label}: {DIGESTS[name]} mismatch: expected {getattr(expected, name)} "
                                f"({expected.source(name)}), got {found[name]}; {action}")


def _content_range(header: str | None) -> tuple[int | None, int | None]:
    """``bytes 100-199/200`` -> (100, 200); ``bytes */200`` -> (None, 200); unknown parts are None."""
    match = re.fullmatch(r"bytes (?:(\d+)-\d+|\*)/(\d+|\*)", (header or "").strip())
    if not match:
        return None, None
    start, total = match.groups()
    return (int(start) if start else None), (int(total) if total and total != "*" else None)


def _request_rest(url: str, part: Path, expected: Expected, timeout: float, progress: bool,
                  label: Path) -> None:
    """One request appending the rest of the file to ``part``. Raises ``_Interrupted`` if a later
    request could do better (connection dropped, body short, server busy)."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to send from byte ``have`` on
            _, total = _content_range(err.headers.get("Content-Range"))
            if total is not None and total != have:  # the part is longer than the file: not ours
                part.unlink()
                raise _Interrupted(f"{have} bytes kept from before, but the file has {total}; "
                                   f"starting over") from None
            return  # complete; the checks after the download decide whether it is right
        if err.code in TRANSIENT_STATUS:
            raise _Interrupted(f"HTTP {err.code} {err.reason}") from None
        raise DownloadError(f"{label}: download from {url} failed: HTTP {err.code} {err.reason} "
                            f"({OTHER_SERVER})") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        host = urllib.parse.urlsplit(url).netloc
        if isinstance(reason, socket.gaierror):
            raise _Unreachable(f"the host name {host!r} does not resolve ({reason})") from None
        if isinstance(reason, ConnectionRefusedError):
            raise _Unreachable(f"{host} refused the connection") from None
        raise _Interrupted(f"{type(err).__name__}: {reason}") from None
    with response:
        length = response.headers.get("Content-Length")
        length = int(length) if length is not None else None
        if have and response.status == 206:
            start, total = _content_range(response.headers.get("Content-Range"))
            if start is not None and start != have:
                part.unlink()
                raise _Interrupted(f"asked for bytes from {have}, the server sent from {start}; "
                                   f"starting over")
            if total is None and length is not None:
                total = have + length
        else:
            have, total = 0, length  # a whole file: any old part is discarded below
        total = total if total is not None else expected.size
        if expected.size is not None and total != expected.size:  # refuse before sending gigabytes
            raise ChecksumError(f"{label}: expected {expected.size} bytes ({expected.source('size')}), "
                                f"but {url} announces {total}: it serves a different file, so "
                                f"downloading it again cannot help; {ANOTHER_SOURCE}")
        try:
            with open_named(part, "ab" if have else "wb") as out, progress_bar(
                    total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=label.name, disable=not progress) as bar:
                # read1 returns what has arrived; b"" when the connection closes, early or not
                for block in iter(lambda: response.read1(CHUNK), b""):
                    out.write(block)
                    bar.update(len(block))
        except (OSError, http.client.HTTPException) as err:  # reset, timeout, broken chunking
            if _writing(err, part):
                raise
            raise _Interrupted(f"{type(err).__name__}: {err}") from None
    got = part.stat().st_size
    if total is not None and got < total:
        raise _Interrupted(f"the connection closed after {got} of {total} bytes")


def _writing(err: BaseException, part: Path) -> bool:
    """An error of our own ``.part`` file (a full disk, a read-only folder; ``open_named`` names it),
    not of the network or the source: final, as no retry can help, and passed on naming the file."""
    return isinstance(err, OSError) and err.filename == str(part)


def _copy_rest(url: str, part: Path, expected: Expected, progress: bool, label: Path) -> None:
    """``_request_rest`` for a ``file://`` URL: append the rest of the source file to ``part``.

    The source's size plays the part of ``Content-Length``: a ``.part`` no longer than it is taken
    as a prefix and continued (the checksums at the end catch one that was not), a longer one is
    discarded. A missing or unreadable source is final; a read error midway (a network mount
    dropping out) is retried like a dropped connection."""
    source = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    try:
        size = source.stat().st_size
        if not source.is_file():
            raise IsADirectoryError(f"{source} is not a file")
    except OSError as err:
        raise DownloadError(f"{label}: cannot read {url}: {err.strerror or err} ({OTHER_SERVER})") from None
    if expected.size is not None and size != expected.size:
        raise ChecksumError(f"{label}: expected {expected.size} bytes ({expected.source('size')}), "
                            f"but {source} has {size}: it is a different file, so copying it again "
                            f"cannot help; {ANOTHER_SOURCE}")
    have = part.stat().st_size if part.exists() else 0
    if have > size:  # longer than the source: not a prefix of it
        part.unlink()
        have = 0
    try:
        with open(source, "rb") as src, open_named(part, "ab" if have else "wb") as out, progress_bar(
                total=size, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                desc=label.name, disable=not progress) as bar:
            src.seek(have)
            for block in iter(lambda: src.read(CHUNK), b""):
                out.write(block)
                bar.update(len(block))
    except OSError as err:
        if _writing(err, part):
            raise
        if isinstance(err, (PermissionError, IsADirectoryError)):
            raise DownloadError(f"{label}: cannot read {url}: {err.strerror or err}") from None
        raise _Interrupted(f"{type(err).__name__}: {err}") from None
    got = part.stat().st_size
    if got < size:
        raise _Interrupted(f"{source} ended after {got} of {size} bytes")


def fetch(url: str, dest: str | Path, expected: Expected = Expected(),
          check: Callable[[Path, Path], None] | None = None, retry: Retry = Retry(),
          progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``), verify it and move it into place.

    ``check(part, dest)`` may inspect the complete file before the rename (an archive's integrity)
    and raises a ``ValueError`` subclass if it is unusable. A ``ChecksumError`` from it is taken to
    be complete advice (its message is passed on as it is); any other error gets the advice for a
    broken file appended.
    """
    dest = Path(dest)
    problem = url_problem(url)
    if problem:  # no request can serve it: fail before trying, not after minutes of retries
        raise BadURLError(f"{dest}: cannot download {url!r}: {problem}")
    request_rest = _copy_rest if urllib.parse.urlsplit(url).scheme == "file" else (
        lambda url, part, expected, progress, label: _request_rest(url, part, expected, timeout, progress, label))
    if dest.exists():
        verify(dest, expected, dest, DELETE_IT)
        if check is not None and not (expected.sha256 or expected.md5):
            _run_check(check, dest, dest, DELETE_IT)  # nothing vouches for it: look inside
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if expected.size is not None and part.exists() and part.stat().st_size > expected.size:
        part.unlink()  # longer than the file can be: not a prefix of it
    unreachable = 0  # attempts that found no host at all
    for attempt in range(retry.retries + 1):
        if expected.size is not None and part.exists() and part.stat().st_size == expected.size:
            break  # already complete: nothing to ask the server for
        try:
            request_rest(url, part, expected, progress, dest)
            break
        except _Interrupted as err:
            kept = part.stat().st_size if part.exists() else 0
            unreachable += isinstance(err, _Unreachable)
            if isinstance(err, _Unreachable) and unreachable > UNREACHABLE_RETRIES:
                raise DownloadError(f"{dest}: cannot download {url}: {err} ({attempt + 1} attempts); "
                                    f"{NO_NETWORK}") from None
            if attempt == retry.retries:
                resume = (f"{kept} bytes are kept in {part.name} and the next run resumes from there"
                          if kept else "nothing was received")
                advice = NO_NETWORK if isinstance(err, _Unreachable) else OTHER_SERVER
                raise DownloadError(f"{dest}: download from {url} failed after {attempt + 1} attempt(s): "
                                    f"{err}; {resume} ({advice})") from None
            wait = retry.delay(attempt)
            print(f"{dest.name}: {err}; retry {attempt + 1} of {retry.retries} in {wait:g} s, "
                  f"resuming at byte {kept}", file=sys.stderr)
            retry.sleep(wait)
    try:
        # a complete file that fails a check is what the source serves: a new download gets it again
        verify(part, expected, dest, f"the download was removed; {url} serves different bytes, so "
                                     f"downloading it again cannot help; {ANOTHER_SOURCE}")
        if check is not None:
            try:
                check(part, dest)
            except ChecksumError:
                raise
            except ValueError as err:
                raise type(err)(f"{err}; the download was removed; {url} serves a broken file; "
                                f"{ANOTHER_SOURCE}") from None
    except ValueError:
        part.unlink(missing_ok=True)  # complete but wrong: resuming cannot repair it
        raise
    # The one rename outside activemem.atomic, on purpose: atomic.py's temporary files are private to
    # one process and removed when it fails, but <dest>.part must keep a fixed name and survive a
    # failed or killed run, because it is the state the next run resumes the download from.
    os.replace(part, dest)
    return dest


def _run_check(check: Callable[[Path, Path], None], path: Path, label: Path, action: str) -> None:
    """``check`` with ``action`` (what the user should do) added to the message of its error."""
    try:
        check(path, label)
    except ValueError as err:
        raise type(err)(f"{err}; {action}") from None


class ChecksumLock:
    """A JSON file ``{file name: {"sha256": ..., "size": ...}}`` recorded on first download.

    It pins the first verified copy of a file whose SHA-256 nobody published, so that every later
    copy must be the same. It only fills what was not published: an entry never overrides a
    published value (``completed`` ignores it and ``conflicts`` reports it)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.entries: dict[str, dict] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def get(self, name: str) -> dict:
        return self.entries.get(name, {})

    def record(self, name: str, file: Path, sha256: str | None = None) -> None:
        """Pin ``file`` (``sha256``: its digest where the caller has it, saving a second read)."""
        self.entries[name] = {"sha256": sha256 or sha256_of(file), "size": file.stat().st_size}
        write_json(self.path, self.entries, sort_keys=True)

    def completed(self, name: str, published: Expected) -> Expected:
        """``published``, with its missing sha256 and size taken from this file's entry for ``name``."""
        recorded = self.get(name)
        where = f"recorded in {self.path} at the first download; if that entry is stale, remove it"
        sources, values = dict(published.sources), {}
        for key in ("sha256", "size"):
            if getattr(published, key) is None and recorded.get(key) is not None:
                values[key], sources[key] = recorded[key], where
        return Expected(sha256=values.get("sha256", published.sha256), md5=published.md5,
                        size=values.get("size", published.size), sources=sources)

    def conflicts(self, name: str, published: Expected) -> list[str]:
        """The keys where the entry for ``name`` contradicts a published value (and is ignored)."""
        recorded = self.get(name)
        return [key for key in ("sha256", "size") if getattr(published, key) is not None
                and recorded.get(key) is not None and recorded[key] != getattr(published, key)]


def fetch_locked(url: str, dest: Path, lock: ChecksumLock, published: Expected = Expected(),
                 check: Callable[[Path, Path], None] | None = None, retry: Retry = Retry(),
                 progress: bool = True) -> Path:
    """``fetch`` against the published checksums, completed by the lock file's where none was
    published; the file's SHA-256 is recorded in the lock only when none was published and the
    file passed every check (complete, matching what is known, ``check``)."""
    expected = lock.completed(dest.name, published)
    path = fetch(url, dest, expected, check, retry, progress)
    if expected.sha256 is None:
        lock.record(dest.name, path)
    return path
