"""Downloads against a loopback server: full, killed-and-resumed, bad checksum, mirror; safe extraction."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import time

import pytest

from activemem.data.download import ChecksumError, ChecksumLock, fetch, fetch_locked, resolve_url
from activemem.data.extract import UnsafeArchiveError, extract_members
from activemem.data.manifest import Corpus, fetch_corpus

from http_fixture import LoopbackServer

PAYLOAD = bytes(range(256)) * 800  # 200 KiB, not all the same byte
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def make_tgz(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()


def test_full_download_is_verified_and_atomic(tmp_path):
    with LoopbackServer({"/f.bin": PAYLOAD}) as server:
        path = fetch(f"{server.url}/f.bin", tmp_path / "f.bin", sha256=SHA, size=len(PAYLOAD), progress=False)
    assert path.read_bytes() == PAYLOAD
    assert not (tmp_path / "f.bin.part").exists()


def test_killed_download_resumes_to_identical_bytes(tmp_path):
    dest = tmp_path / "f.bin"
    part = tmp_path / "f.bin.part"
    with LoopbackServer({"/f.bin": PAYLOAD}, slow={"/f.bin"}) as server:
        code = ("import sys; from activemem.data.download import fetch; "
                f"fetch({server.url + '/f.bin'!r}, {str(dest)!r}, progress=False)")
        child = subprocess.Popen([sys.executable, "-c", code])
        deadline = time.time() + 20
        while time.time() < deadline and (not part.exists() or part.stat().st_size < 20_000):
            time.sleep(0.02)
        child.kill()  # SIGKILL mid-file
        child.wait()
        have = part.stat().st_size
        assert 0 < have < len(PAYLOAD) and not dest.exists()
        server.httpd.slow.clear()
        fetch(f"{server.url}/f.bin", dest, sha256=SHA, progress=False)
        assert server.requests[-1] == ("/f.bin", f"bytes={have}-")
    assert dest.read_bytes() == PAYLOAD and not part.exists()


def test_server_ignoring_range_restarts_cleanly(tmp_path):
    (tmp_path / "f.bin.part").write_bytes(b"garbage" * 10)
    with LoopbackServer({"/f.bin": PAYLOAD}, honour_range=False) as server:
        fetch(f"{server.url}/f.bin", tmp_path / "f.bin", sha256=SHA, progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_checksum_mismatch_is_an_error_and_leaves_no_file(tmp_path):
    with LoopbackServer({"/f.bin": PAYLOAD}) as server:
        with pytest.raises(ChecksumError, match="SHA-256 mismatch"):
            fetch(f"{server.url}/f.bin", tmp_path / "f.bin", sha256="0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_lock_records_the_first_download_and_enforces_it(tmp_path):
    lock = ChecksumLock(tmp_path / "lock.json")
    with LoopbackServer({"/f.bin": PAYLOAD}) as server:
        fetch_locked(f"{server.url}/f.bin", tmp_path / "a" / "f.bin", lock, progress=False)
        assert ChecksumLock(tmp_path / "lock.json").get("f.bin") == {"sha256": SHA, "size": len(PAYLOAD)}
        server.httpd.files["/f.bin"] = PAYLOAD[::-1]  # the server now serves something else
        with pytest.raises(ChecksumError):
            fetch_locked(f"{server.url}/f.bin", tmp_path / "b" / "f.bin", ChecksumLock(tmp_path / "lock.json"),
                         progress=False)
    assert not (tmp_path / "b" / "f.bin").exists()


def test_mirror_override_fetches_and_extracts_from_the_mirror(tmp_path, monkeypatch):
    archive = make_tgz({"corpus/a.en": b"hello\n", "corpus/a.fr": b"bonjour\n", "other": b"x"})
    corpus = Corpus("toy", "http://www.statmt.org/nowhere/toy.tgz", "corpus/a.en", "corpus/a.fr")
    assert resolve_url(corpus.url, "http://mirror/x/") == "http://mirror/x/toy.tgz"
    with LoopbackServer({"/wmt/toy.tgz": archive}) as server:
        monkeypatch.setenv("ACTIVEMEM_MIRROR", f"{server.url}/wmt")
        from activemem.data.manifest import mirror_from
        en, fr = fetch_corpus(corpus, tmp_path / "dl", tmp_path / "x", ChecksumLock(tmp_path / "l.json"),
                              {}, mirror_from(None), progress=False)
        assert server.requests == [("/wmt/toy.tgz", None)]
    assert en.read_text() == "hello\n" and fr.read_text() == "bonjour\n"
    assert not (tmp_path / "x" / "toy" / "other").exists()


@pytest.mark.parametrize("members,links", [
    ({"../evil": b"x", "ok": b"y"}, None),
    ({"/abs/evil": b"x", "ok": b"y"}, None),
    ({"a/../../evil": b"x", "ok": b"y"}, None),
    ({"ok": b"y"}, {"link": "../../etc/passwd"}),
    ({"ok": b"y"}, {"link": "/etc/passwd"}),
])
def test_archives_escaping_the_target_are_refused(tmp_path, members, links):
    archive = tmp_path / "bad.tgz"
    archive.write_bytes(make_tgz(members, links))
    with pytest.raises(UnsafeArchiveError, match="bad.tgz"):
        extract_members(archive, ["ok"], tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "evil").exists()
