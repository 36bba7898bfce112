"""Downloads against a loopback server: full, killed-and-resumed, truncated, retried, bad checksum,
broken archive, mirror; the published checksums of the manifest; safe extraction."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import socket
import subprocess
import sys
import tarfile
import time

import pytest
import yaml

from activemem.data import manifest as manifest_module
from activemem.data.download import (BadURLError, ChecksumError, ChecksumLock, DownloadError, Expected, Retry,
                                     fetch, fetch_locked, resolve_url)
from activemem.data.extract import (ArchiveBombError, BrokenArchiveError, UnsafeArchiveError, check_archive,
                                    extract_members)
from activemem.data.archives import ArchiveStore
from activemem.data.manifest import Corpus, ManifestError, load_manifest
from activemem.data.sources.wmt14 import download as wmt14_download
from activemem.stages import download as download_stage

from conftest import REPO
from http_fixture import LoopbackServer

PAYLOAD = bytes(range(256)) * 800  # 200 KiB, not all the same byte
SHA = hashlib.sha256(PAYLOAD).hexdigest()
MD5 = hashlib.md5(PAYLOAD).hexdigest()
NO_WAIT = Retry()  # no retries


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


def without_published_checksums(monkeypatch) -> None:
    """Let the download stage accept archives built by a test under the real WMT'14 file names
    (the shipped manifest's published checksums would refuse them, as they should)."""
    corpora, _ = load_manifest()
    monkeypatch.setattr(wmt14_download, "load_manifest", lambda: (corpora, {}))


def recording_sleep():
    waits: list[float] = []
    return waits, waits.append


# --- complete, resumed and restarted downloads -------------------------------------------------

def test_full_download_is_verified_and_atomic(tmp_path):
    with LoopbackServer({"/f.bin": PAYLOAD}) as server:
        path = fetch(f"{server.url}/f.bin", tmp_path / "f.bin", Expected(sha256=SHA, size=len(PAYLOAD)),
                     progress=False)
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
        fetch(f"{server.url}/f.bin", dest, Expected(sha256=SHA), progress=False)
        assert server.requests[-1] == ("/f.bin", f"bytes={have}-")
    assert dest.read_bytes() == PAYLOAD and not part.exists()


def test_server_ignoring_range_restarts_cleanly(tmp_path):
    (tmp_path / "f.bin.part").write_bytes(b"garbage" * 10)
    with LoopbackServer({"/f.bin": PAYLOAD}, honour_range=False) as server:
        fetch(f"{server.url}/f.bin", tmp_path / "f.bin", Expected(sha256=SHA), progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_a_complete_part_file_is_verified_without_sending_it_again(tmp_path):
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD)
    with LoopbackServer({"/f.bin": PAYLOAD}) as server:
        fetch(f"{server.url}/f.bin", tmp_path / "f.bin", Expected(sha256=SHA), progress=False)
        assert server.requests == [("/f.bin", f"bytes={len(PAYLOAD)}-")]  # answered 416: nothing left
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


# --- short bodies, retries and backoff --------------------------------------------------------

def test_truncated_body_is_never_renamed_or_recorded_and_a_later_download_succeeds(tmp_path):
    """The issue's reproduction: the server announces the full length, sends half and closes."""
    dest, lock_file = tmp_path / "f.bin", tmp_path / "lock.json"
    with LoopbackServer({"/f.bin": PAYLOAD}, faults={"/f.bin": ["truncate"]}) as server:
        with pytest.raises(DownloadError, match="closed after 102400 of 204800 bytes"):
            fetch_locked(f"{server.url}/f.bin", dest, ChecksumLock(lock_file), retry=NO_WAIT, progress=False)
        assert not dest.exists() and not lock_file.exists()
        part = tmp_path / "f.bin.part"
        assert part.read_bytes() == PAYLOAD[:len(PAYLOAD) // 2]  # kept: it is resumable state
        # the next run resumes the half file and records the checksum of the whole one
        fetch_locked(f"{server.url}/f.bin", dest, ChecksumLock(lock_file), retry=NO_WAIT, progress=False)
        assert server.requests[-1] == ("/f.bin", f"bytes={len(PAYLOAD) // 2}-")
    assert dest.read_bytes() == PAYLOAD and not part.exists()
    assert json.loads(lock_file.read_text()) == {"f.bin": {"sha256": SHA, "size": len(PAYLOAD)}}


def test_retries_resume_the_partial_file_with_exponential_backoff(tmp_path):
    waits, sleep = recording_sleep()
    faults = {"/f.bin": ["truncate", "503", "truncate"]}
    with LoopbackServer({"/f.bin": PAYLOAD}, faults=faults) as server:
        fetch(f"{server.url}/f.bin", tmp_path / "f.bin", Expected(sha256=SHA),
              retry=Retry(retries=3, backoff_seconds=0.5, sleep=sleep), progress=False)
        half, three_quarters = len(PAYLOAD) // 2, len(PAYLOAD) // 2 + len(PAYLOAD) // 4
        assert server.requests == [("/f.bin", None), ("/f.bin", f"bytes={half}-"),
                                   ("/f.bin", f"bytes={half}-"), ("/f.bin", f"bytes={three_quarters}-")]
    assert waits == [0.5, 1.0, 2.0]
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_exhausted_retries_are_one_clean_error_and_keep_the_partial_file(tmp_path):
    waits, sleep = recording_sleep()
    with LoopbackServer({"/f.bin": PAYLOAD}, faults={"/f.bin": ["truncate"] * 10}) as server:
        with pytest.raises(DownloadError) as err:
            fetch(f"{server.url}/f.bin", tmp_path / "f.bin", Expected(sha256=SHA),
                  retry=Retry(retries=2, backoff_seconds=1, sleep=sleep), progress=False)
        assert len(server.requests) == 3
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "f.bin") in message and "after 3 attempt(s)" in message
    assert "next run resumes" in message
    assert waits == [1, 2]
    assert not (tmp_path / "f.bin").exists() and 0 < (tmp_path / "f.bin.part").stat().st_size < len(PAYLOAD)


def test_a_missing_file_is_not_retried(tmp_path):
    waits, sleep = recording_sleep()
    with LoopbackServer({}) as server:
        with pytest.raises(DownloadError, match="HTTP 404"):
            fetch(f"{server.url}/f.bin", tmp_path / "f.bin", retry=Retry(3, 1, sleep), progress=False)
        assert len(server.requests) == 1 and waits == []


# --- no network, bad URLs, file:// mirrors ----------------------------------------------------

def test_a_host_name_that_does_not_resolve_is_retried_once_not_for_minutes(tmp_path, monkeypatch):
    """Offline: urllib wraps the resolver's gaierror in a URLError. With retries 5 and backoff 5 s
    that used to wait 5+10+20+40+80 s; now one 5 s retry, then advice that fits."""
    asked = []

    def no_resolver(host, *args, **kwargs):
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_resolver)
    waits, sleep = recording_sleep()
    with pytest.raises(DownloadError) as err:
        fetch("http://mirror.example.org/wmt/f.bin", tmp_path / "f.bin", retry=Retry(5, 5, sleep), progress=False)
    message = str(err.value)
    assert waits == [5] and asked == ["mirror.example.org"] * 2
    assert "'mirror.example.org' does not resolve" in message and "(2 attempts)" in message
    assert "no network? put the archives in the folder named by data.archives" in message and "\n" not in message
    assert not (tmp_path / "f.bin.part").exists()


def test_a_refused_connection_is_retried_once(tmp_path):
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    waits, sleep = recording_sleep()
    with pytest.raises(DownloadError, match=f"127.0.0.1:{port} refused the connection .2 attempts.; no network"):
        fetch(f"http://127.0.0.1:{port}/f.bin", tmp_path / "f.bin", retry=Retry(5, 2, sleep), progress=False)
    assert waits == [2]


@pytest.mark.parametrize("url,problem", [
    ("htp:/x/f.bin", "unknown scheme 'htp'"),
    ("http:/x/f.bin", "no host"),
    ("file:relative/f.bin", "needs an absolute path"),
    ("file://server/share/f.bin", "not on host 'server'"),
    ("/data/mirror/f.bin", "no scheme (a folder on this machine is written file:///absolute/folder)"),
    ("http://127.0.0.1:port/f.bin", "not a URL"),
])
def test_a_malformed_url_fails_at_once_without_retries(tmp_path, url, problem):
    waits, sleep = recording_sleep()
    with pytest.raises(BadURLError) as err:
        fetch(url, tmp_path / "f.bin", retry=Retry(5, 5, sleep), progress=False)
    assert problem in str(err.value) and waits == [] and list(tmp_path.iterdir()) == []


def test_file_urls_are_copied_verified_and_resumed(tmp_path):
    source = tmp_path / "mirror" / "f.bin"
    source.parent.mkdir()
    source.write_bytes(PAYLOAD)
    url = source.as_uri()
    assert url.startswith("file:///")
    dest = tmp_path / "dl" / "f.bin"
    assert fetch(url, dest, Expected(sha256=SHA, size=len(PAYLOAD)), progress=False).read_bytes() == PAYLOAD
    # a .part no longer than the source is continued from its end, like an HTTP Range request
    # (zeros here, so the result shows it was appended to, not copied afresh)
    resumed = tmp_path / "r" / "f.bin"
    resumed.parent.mkdir()
    (tmp_path / "r" / "f.bin.part").write_bytes(bytes(1000))
    fetch(url, resumed, progress=False)
    assert resumed.read_bytes() == bytes(1000) + PAYLOAD[1000:]
    # ... which the checksum then refuses, naming the file, and the next run copies it whole
    (tmp_path / "r" / "f.bin").unlink()
    (tmp_path / "r" / "f.bin.part").write_bytes(bytes(1000))
    with pytest.raises(ChecksumError, match="download was removed.*serves different bytes"):
        fetch(url, resumed, Expected(sha256=SHA), progress=False)
    assert fetch(url, resumed, Expected(sha256=SHA), progress=False).read_bytes() == PAYLOAD
    # a .part longer than the source is not a prefix of it: discarded
    longer = tmp_path / "l" / "f.bin"
    longer.parent.mkdir()
    (tmp_path / "l" / "f.bin.part").write_bytes(PAYLOAD + b"tail")
    assert fetch(url, longer, progress=False).read_bytes() == PAYLOAD
    # a source of the wrong size is refused before a byte is copied; a missing one is not retried
    waits, sleep = recording_sleep()
    with pytest.raises(ChecksumError, match=f"expected 10 bytes .*has {len(PAYLOAD)}: it is a different file"):
        fetch(url, tmp_path / "s" / "f.bin", Expected(size=10), retry=Retry(3, 1, sleep), progress=False)
    with pytest.raises(DownloadError, match="cannot read .*nothing.bin"):
        fetch((tmp_path / "mirror" / "nothing.bin").as_uri(), tmp_path / "s" / "g.bin", retry=Retry(3, 1, sleep),
              progress=False)
    assert waits == [] and not (tmp_path / "s" / "f.bin.part").exists()


# --- checksums: sha256, md5, size, the lock ---------------------------------------------------

def test_checksum_mismatch_is_an_error_naming_its_source_and_leaves_no_file(tmp_path):
    published = Expected(sha256="0" * 64, sources={"sha256": "published by somebody"})
    with LoopbackServer({"/f.bin": PAYLOAD}) as server:
        with pytest.raises(ChecksumError) as err:
            fetch_locked(f"{server.url}/f.bin", tmp_path / "f.bin", ChecksumLock(tmp_path / "lock.json"),
                         published, progress=False)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'f.bin'}: SHA-256 mismatch: expected {'0' * 64} "
                              f"(published by somebody), got {SHA}")
    assert "download was removed" in message and "\n" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no file, no part, no lock entry


def test_a_published_md5_alone_is_verified(tmp_path):
    lock = ChecksumLock(tmp_path / "lock.json")
    with LoopbackServer({"/f.bin": PAYLOAD}) as server:
        with pytest.raises(ChecksumError, match="MD5 mismatch"):
            fetch_locked(f"{server.url}/f.bin", tmp_path / "f.bin", lock, Expected(md5="f" * 32),
                         progress=False)
        assert not (tmp_path / "f.bin").exists() and not (tmp_path / "lock.json").exists()
        fetch_locked(f"{server.url}/f.bin", tmp_path / "f.bin", lock, Expected(md5=MD5), progress=False)
    # with only an md5 published, the stronger sha256 is pinned in the lock once the md5 matched
    assert ChecksumLock(tmp_path / "lock.json").get("f.bin") == {"sha256": SHA, "size": len(PAYLOAD)}


def test_a_size_other_than_the_published_one_is_refused_before_downloading(tmp_path):
    published = Expected(size=1000, sources={"size": "published by x"})
    with LoopbackServer({"/f.bin": PAYLOAD}) as server:
        with pytest.raises(ChecksumError, match=f"expected 1000 bytes .published by x., but .* announces "
                                                f"{len(PAYLOAD)}"):
            fetch(f"{server.url}/f.bin", tmp_path / "f.bin", published, progress=False)
    assert list(tmp_path.iterdir()) == []  # not a byte was written


def test_lock_records_the_first_download_and_enforces_it(tmp_path):
    lock = ChecksumLock(tmp_path / "lock.json")
    with LoopbackServer({"/f.bin": PAYLOAD}) as server:
        fetch_locked(f"{server.url}/f.bin", tmp_path / "a" / "f.bin", lock, progress=False)
        assert ChecksumLock(tmp_path / "lock.json").get("f.bin") == {"sha256": SHA, "size": len(PAYLOAD)}
        server.httpd.files["/f.bin"] = PAYLOAD[::-1]  # the server now serves something else
        with pytest.raises(ChecksumError, match="recorded in .*lock.json at the first download"):
            fetch_locked(f"{server.url}/f.bin", tmp_path / "b" / "f.bin",
                         ChecksumLock(tmp_path / "lock.json"), progress=False)
    assert not (tmp_path / "b" / "f.bin").exists()


# --- archives: integrity before the rename, errors through the stage --------------------------

def test_check_archive_reads_to_the_end(tmp_path):
    good = make_tgz({"a/x.en": PAYLOAD, "a/x.fr": PAYLOAD[::-1]})
    (tmp_path / "good.tgz").write_bytes(good)
    check_archive(tmp_path / "good.tgz", ["a/x.en", "a/x.fr"])
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0xFF
    for name, data in {"short.tgz": good[:len(good) - 8], "flipped.tgz": bytes(flipped)}.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(BrokenArchiveError, match=name):
            check_archive(tmp_path / name, ["a/x.en"])
    with pytest.raises(ValueError, match="no file member 'a/x.de'"):
        check_archive(tmp_path / "good.tgz", ["a/x.en", "a/x.de"])


def test_an_archive_announcing_absurd_contents_is_refused_before_they_are_read(tmp_path):
    """A member whose header claims 2 GiB in an archive of a few hundred bytes (a decompression bomb):
    refused from the header, without inflating anything."""
    info = tarfile.TarInfo("training/huge.en")
    info.size = 2 << 30
    (tmp_path / "bomb.tgz").write_bytes(gzip.compress(info.tobuf() + bytes(4096)))
    with pytest.raises(ArchiveBombError, match=r"bomb.tgz: member 'training/huge.en' brings the contents to "
                                               r"2147483648 bytes, over 100× the archive's \d+ bytes"):
        check_archive(tmp_path / "bomb.tgz", ["training/huge.en"])


def stage_params(tmp_path, **data) -> str:
    """params.yaml with the news scale's downloads, lock and corpora pointed at the test."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["news"]["data"].update(downloads=str(tmp_path / "dl"), lock=str(tmp_path / "lock.json"), **data)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def run_stage_expecting_exit(tmp_path) -> str:
    with pytest.raises(SystemExit) as exit_:
        download_stage.main(["--params", stage_params(tmp_path, retries=0), "--scale", "news",
                             "--out", str(tmp_path / "raw")])
    message = str(exit_.value.code)
    assert message.startswith("error: ") and "\n" not in message
    return message


def test_a_broken_archive_is_a_one_line_error_from_the_stage(tmp_path, monkeypatch):
    without_published_checksums(monkeypatch)
    archive = make_tgz({"training/news-commentary-v9.fr-en.en": PAYLOAD,
                        "training/news-commentary-v9.fr-en.fr": PAYLOAD})
    broken = archive[:len(archive) * 2 // 3]  # served whole (its own Content-Length), but cut
    with LoopbackServer({"/m/training-parallel-nc-v9.tgz": broken}) as server:
        monkeypatch.setenv("ACTIVEMEM_MIRROR", f"{server.url}/m")
        message = run_stage_expecting_exit(tmp_path)
    assert str(tmp_path / "dl" / "archives" / "training-parallel-nc-v9.tgz") in message
    assert "not a complete tar/gzip archive" in message and "download was removed" in message
    assert list((tmp_path / "dl" / "archives").iterdir()) == []  # neither the file nor a .part
    assert not (tmp_path / "lock.json").exists()


def test_an_archive_other_than_the_published_one_is_refused_by_the_stage(tmp_path, monkeypatch):
    """A mirror serving a (valid) archive that is not the published WMT'14 file, of another size than the
    published one: it is transferred whole and refused with its SHA-256 and the line that vouches for it
    (issue 32: it was refused before the transfer, with neither)."""
    archive = make_tgz({"training/news-commentary-v9.fr-en.en": b"hello\n",
                        "training/news-commentary-v9.fr-en.fr": b"bonjour\n"})
    corpora, real = load_manifest()
    monkeypatch.setattr(wmt14_download, "load_manifest",  # only News Commentary keeps its published values
                        lambda: (corpora, {"training-parallel-nc-v9.tgz": real["training-parallel-nc-v9.tgz"]}))
    others = {"/m/dev.tgz": make_tgz({"dev/newstest2013.en": b"a\n", "dev/newstest2013.fr": b"b\n"}),
              "/m/test-full.tgz": make_tgz({"test-full/newstest2014-fren-src.en.sgm": b"x\n",
                                            "test-full/newstest2014-fren-ref.fr.sgm": b"y\n"})}
    with LoopbackServer({"/m/training-parallel-nc-v9.tgz": archive, **others}) as server:
        monkeypatch.setenv("ACTIVEMEM_MIRROR", f"{server.url}/m")
        message = run_stage_expecting_exit(tmp_path)
    sha = hashlib.sha256(archive).hexdigest()
    assert message.startswith(f"error: {tmp_path / 'dl' / 'archives' / 'training-parallel-nc-v9.tgz'}: not the "
                              f"published file: expected SHA-256 cb8953f2")
    assert f"found {sha}, {len(archive)} bytes instead of 80418416" in message
    assert message.endswith(f'training-parallel-nc-v9.tgz: {{sha256: "{sha}", size: {len(archive)}, '
                            f'vouched_by: "<who you are, and why this copy is fine>"}}')
    assert not (tmp_path / "dl" / "archives" / "training-parallel-nc-v9.tgz").exists()
    assert not (tmp_path / "dl" / "archives" / "training-parallel-nc-v9.tgz.part").exists()


def test_mirror_override_fetches_and_extracts_from_the_mirror(tmp_path, monkeypatch):
    archive = make_tgz({"corpus/a.en": b"hello\n", "corpus/a.fr": b"bonjour\n", "other": b"x"})
    corpus = Corpus("toy", "http://www.statmt.org/nowhere/toy.tgz", "corpus/a.en", "corpus/a.fr")
    assert resolve_url(corpus.url, "http://mirror/x/") == "http://mirror/x/toy.tgz"
    with LoopbackServer({"/wmt/toy.tgz": archive}) as server:
        monkeypatch.setenv("ACTIVEMEM_MIRROR", f"{server.url}/wmt")
        store = ArchiveStore(tmp_path / "dl", ChecksumLock(tmp_path / "l.json"), {}, {}, tmp_path / "v.yaml",
                             mirror=manifest_module.mirror_from(None), progress=False)
        accepted = store.obtain("toy.tgz", corpus.url, [corpus.en, corpus.fr])
        extracted = store.extract(accepted, [corpus.en, corpus.fr])
        assert server.requests == [("/wmt/toy.tgz", None)]
    target = tmp_path / "dl" / "extracted" / f"toy-{hashlib.sha256(archive).hexdigest()[:16]}"
    assert (target / "corpus/a.en").read_text() == "hello\n" and (target / "corpus/a.fr").read_text() == "bonjour\n"
    assert extracted["corpus/a.en"] == {"bytes": 6, "sha256": hashlib.sha256(b"hello\n").hexdigest()}
    assert accepted.verified_by == "lock" and not (target / "other").exists()


# --- the shipped manifest -----------------------------------------------------------------------

def test_every_wmt14_archive_has_published_checksums_with_their_sources():
    corpora, checksums = load_manifest()
    for corpus in corpora.values():
        expected = checksums[corpus.archive_name]
        assert expected.sha256 or expected.md5, corpus.archive_name
        for key in ("sha256", "md5", "size"):
            if getattr(expected, key) is not None:
                assert expected.source(key).startswith("published by "), (corpus.archive_name, key)
    assert corpora["europarl_v7"].url.endswith("/wmt13/training-parallel-europarl-v7.tgz")
    assert corpora["europarl_v7"].en == "training/europarl-v7.fr-en.en"
    assert checksums["training-parallel-nc-v9.tgz"].size == 80418416


@pytest.mark.parametrize("entry,problem", [
    ({"sha256": "abc", "sources": {"sha256": "x"}}, "malformed"),
    ({"md5": "0" * 32}, "no sources.md5"),
    ({"crc": 1}, "unknown keys"),
])
def test_a_malformed_checksum_entry_is_refused_naming_the_manifest(tmp_path, entry, problem):
    path = tmp_path / "wmt14.yaml"
    path.write_text(yaml.safe_dump({"corpora": {}, "checksums": {"a.tgz": entry}}))
    with pytest.raises(ManifestError, match=f"{path}: checksums.a.tgz.*{problem}"):
        load_manifest(path)


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
