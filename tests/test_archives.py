"""Archives a user already has (data.archives), vouched copies (data.vouched), extractions keyed by the
archive's checksum, and a sources.json without absolute paths, through the download stage.

The archives are built here, so the test patches the published checksums of the manifest to be
theirs (``publish``) where an archive should count as the published file, and keeps the real ones
where it should not.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import pytest
import yaml

from activemem.config import ParamsError, load_params
from activemem.data.download import Expected
from activemem.data.manifest import load_manifest
from activemem.data.sources.wmt14 import download as wmt14_download
from activemem.stages import download, prepare

from conftest import REPO
from http_fixture import LoopbackServer
from test_download import make_tgz

NC, DEV, TEST = "training-parallel-nc-v9.tgz", "dev.tgz", "test-full.tgz"
NEWSTEST = REPO / "tests" / "data" / "newstest2014"


def train_en(train_text: str) -> bytes:
    return "".join(f"{train_text} sentence {i} .\n" for i in range(30)).encode()


def archives(train_text: str = "one") -> dict[str, bytes]:
    """The news scale's three archives, with the real member paths; ``train_text`` varies the first."""
    en = train_en(train_text)
    fr = "".join(f"{train_text} phrase {i} .\n" for i in range(30)).encode()
    return {
        NC: make_tgz({"training/news-commentary-v9.fr-en.en": en, "training/news-commentary-v9.fr-en.fr": fr}),
        DEV: make_tgz({"dev/newstest2013.en": b"Hello world .\n", "dev/newstest2013.fr": b"Bonjour le monde .\n",
                       "dev/newstest2012.en": b"x\n", "dev/newstest2012.fr": b"y\n"}),
        TEST: make_tgz({
            "test-full/newstest2014-fren-src.en.sgm": (NEWSTEST / "newstest2014-fren-src.en.sgm").read_bytes(),
            "test-full/newstest2014-fren-ref.fr.sgm": (NEWSTEST / "newstest2014-fren-ref.fr.sgm").read_bytes()}),
    }


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def publish(monkeypatch, files: dict[str, bytes], keep_real: tuple[str, ...] = ()) -> None:
    """Make the manifest publish these archives' size, SHA-256 and MD5; ``keep_real`` names archives
    whose real published WMT'14 checksums stay (a test archive then differs from them)."""
    corpora, real = load_manifest()
    source = {"sources": {k: "published by the test" for k in ("sha256", "md5", "size")}}
    checksums = {name: Expected(sha256=sha(data), md5=hashlib.md5(data).hexdigest(), size=len(data),
                                **source) for name, data in files.items()}
    checksums.update({name: real[name] for name in keep_real})
    monkeypatch.setattr(wmt14_download, "load_manifest", lambda *a, **k: (corpora, checksums))


def write_params(root: Path, **data) -> Path:
    """The real params.yaml, with the news scale's data settings pointed into ``root``."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["news"]["data"].update({"downloads": str(root / "dl"), "lock": str(root / "lock.json"),
                                "vouched": str(root / "vouched.yaml"), "retries": 0, **data})
    raw["news"]["prepare"].update(vocab_size=300, max_width=64)
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run(params: Path, out: Path) -> dict:
    download.main(["--params", str(params), "--scale", "news", "--out", str(out)])
    return json.loads((out / "sources.json").read_text())


def run_refused(params: Path, out: Path) -> str:
    with pytest.raises(SystemExit) as exit_:
        download.main(["--params", str(params), "--scale", "news", "--out", str(out)])
    message = str(exit_.value.code)
    assert message.startswith("error: ") and "\n" not in message
    assert "run again" not in message and "try again" not in message
    return message


def own_folder(root: Path, files: dict[str, bytes]) -> Path:
    folder = root / "own"
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_own_archives_are_used_in_place_checked_and_without_any_request(tmp_path, monkeypatch):
    files = archives()
    publish(monkeypatch, files)
    own = own_folder(tmp_path, files)
    params = write_params(tmp_path, archives=str(own))
    with LoopbackServer({}) as server:  # a mirror that has nothing: any request would be a failure
        monkeypatch.setenv("ACTIVEMEM_MIRROR", f"{server.url}/m")
        listing = run(params, tmp_path / "raw")
        assert server.requests == []
    assert not (tmp_path / "dl" / "archives").exists()  # used in place: no copy in the cache
    assert listing["source"] == "wmt14" and listing["downloads"] == str(tmp_path / "dl")
    assert listing["archives"][NC] == {"sha256": sha(files[NC]), "bytes": len(files[NC]), "verified_by": "published",
                                       "vouched_by": None, "corpora": ["news_commentary_v9"]}
    assert listing["archives"][DEV]["corpora"] == ["newstest2013"]
    key = f"training-parallel-nc-v9-{sha(files[NC])[:16]}"
    en = f"extracted/{key}/training/news-commentary-v9.fr-en.en"
    assert listing["splits"]["train"] == [[en, en[:-2] + "fr"]]
    assert listing["files"][en] == {"bytes": len(train_en("one")), "sha256": sha(train_en("one"))}
    assert (tmp_path / "dl" / en).read_bytes() == train_en("one")
    assert set(listing["files"]) == {p for pairs in listing["splits"].values() for pair in pairs for p in pair}
    assert not (tmp_path / "lock.json").exists()  # every value was published: nothing to pin

    # the same bytes checked again: the extraction is reused, not redone
    record = tmp_path / "dl" / "extracted" / key / ".complete.json"
    before = (tmp_path / "dl" / en).stat().st_mtime_ns, record.stat().st_mtime_ns
    time.sleep(0.01)
    assert run(params, tmp_path / "raw") == listing
    assert ((tmp_path / "dl" / en).stat().st_mtime_ns, record.stat().st_mtime_ns) == before

    # a damaged extracted file (another size than recorded) is extracted again
    (tmp_path / "dl" / en).write_text("edited\n")
    assert run(params, tmp_path / "raw") == listing
    assert (tmp_path / "dl" / en).read_bytes() == train_en("one")


def test_a_copy_other_than_the_published_file_needs_a_committed_vouch(tmp_path, monkeypatch):
    files = archives()
    publish(monkeypatch, files, keep_real=(NC,))  # the real WMT'14 checksums for News Commentary
    own = own_folder(tmp_path, files)
    params = write_params(tmp_path, archives=str(own))
    message = run_refused(params, tmp_path / "raw")
    copy = own / NC
    assert message.startswith(
        f"error: {copy}: not the published file: expected SHA-256 "
        f"cb8953f292298e6877ae433c98912b927cb0766b303f4540512ddd286c748485 (published by tensorflow/datasets")
    assert f"found {sha(files[NC])}, {len(files[NC])} bytes instead of 80418416" in message
    assert "so no download or retry changes it" in message
    assert f"vouch for it: add this line to {tmp_path / 'vouched.yaml'} and fill in vouched_by: " in message
    line = message.split("fill in vouched_by: ")[1]
    assert line == (f'{NC}: {{sha256: "{sha(files[NC])}", size: {len(files[NC])}, '
                    f'vouched_by: "<who you are, and why this copy is fine>"}}')
    assert not (tmp_path / "raw" / "sources.json").exists() and not (tmp_path / "dl" / "extracted").exists()

    # pasted as printed, the placeholder is refused: somebody has to say who they are
    (tmp_path / "vouched.yaml").write_text("# vouched copies\n" + line + "\n")
    assert run_refused(params, tmp_path / "raw") == (
        f"error: {tmp_path / 'vouched.yaml'}:2: {NC}.vouched_by must say who vouches for this copy and why, "
        f"got '<who you are, and why this copy is fine>'")
    # filled in, the copy is accepted and labelled as vouched for, by whom
    who = "A. Tester: the cluster's copy, re-packed; same text"
    (tmp_path / "vouched.yaml").write_text(line.replace("<who you are, and why this copy is fine>", who) + "\n")
    listing = run(params, tmp_path / "raw")
    assert listing["archives"][NC] == {"sha256": sha(files[NC]), "bytes": len(files[NC]), "verified_by": "vouched",
                                       "vouched_by": who, "corpora": ["news_commentary_v9"]}
    assert listing["archives"][DEV]["verified_by"] == "published"
    assert not (tmp_path / "lock.json").exists()  # a vouched copy is never pinned as the reference

    # an entry for another copy does not accept this one
    (tmp_path / "vouched.yaml").write_text(f'{NC}: {{sha256: {"ab" * 32}, size: 5, vouched_by: "{who}"}}\n')
    message = run_refused(params, tmp_path / "raw")
    assert message.startswith(f"error: {copy}: not the published file: expected SHA-256 cb8953f2")
    assert (f"the entry for {NC} in {tmp_path / 'vouched.yaml'}:1 vouches for another copy "
            f"(SHA-256 {'ab' * 32}, 5 bytes)") in message
    assert message.endswith(f"replace that entry with: {line}")


def test_a_lock_entry_cannot_override_a_published_value(tmp_path, monkeypatch):
    files = archives()
    publish(monkeypatch, files, keep_real=(NC,))
    own = own_folder(tmp_path, files)
    params = write_params(tmp_path, archives=str(own))
    (tmp_path / "lock.json").write_text(json.dumps({NC: {"sha256": sha(files[NC]), "size": len(files[NC])}}))
    message = run_refused(params, tmp_path / "raw")
    assert "expected SHA-256 cb8953f2" in message
    assert (f"the entry for {NC} in {tmp_path / 'lock.json'} is ignored: a lock entry cannot override a "
            f"published value, vouch for the copy in {tmp_path / 'vouched.yaml'} instead") in message


def test_a_mirror_serving_other_bytes_gets_advice_that_fits(tmp_path, monkeypatch):
    """dev.tgz has a published SHA-256 but no size: the mirror's file is downloaded whole, then refused
    as deterministic (another mirror or a vouch), never as something a new attempt could fix."""
    files = archives()
    publish(monkeypatch, files, keep_real=(DEV,))
    params = write_params(tmp_path)
    with LoopbackServer({f"/m/{name}": data for name, data in files.items()}) as server:
        monkeypatch.setenv("ACTIVEMEM_MIRROR", f"{server.url}/m")
        message = run_refused(params, tmp_path / "raw")
    assert message.startswith(f"error: {tmp_path / 'dl' / 'archives' / DEV}: not the published file: expected "
                              f"SHA-256 cda0f85309e8ea4c9c2bc142cd795fb2771a5939ed5b4527b525dae05fa0c145")
    assert (f"the download was removed: {server.url}/m/{DEV} serves other bytes than the published file, so "
            f"downloading it again cannot help; use another mirror") in message
    assert message.endswith(f'{DEV}: {{sha256: "{sha(files[DEV])}", size: {len(files[DEV])}, '
                            f'vouched_by: "<who you are, and why this copy is fine>"}}')
    # every archive is obtained before any is refused (the others are kept); no dev.tgz(.part)
    assert sorted(p.name for p in (tmp_path / "dl" / "archives").iterdir()) == sorted([TEST, NC])


def test_a_replaced_archive_is_extracted_afresh(tmp_path, monkeypatch):
    first, second = archives("one"), archives("two")
    publish(monkeypatch, first)
    own = own_folder(tmp_path, first)
    params = write_params(tmp_path, archives=str(own))
    before = run(params, tmp_path / "raw")
    # the copy is replaced by another (vouched for) one with other text under the same member names
    (own / NC).write_bytes(second[NC])
    (tmp_path / "vouched.yaml").write_text(
        f'{NC}: {{sha256: {sha(second[NC])}, size: {len(second[NC])}, vouched_by: "test: the second copy"}}\n')
    after = run(params, tmp_path / "raw")
    old_en, new_en = before["splits"]["train"][0][0], after["splits"]["train"][0][0]
    assert old_en == f"extracted/training-parallel-nc-v9-{sha(first[NC])[:16]}/training/news-commentary-v9.fr-en.en"
    assert new_en == f"extracted/training-parallel-nc-v9-{sha(second[NC])[:16]}/training/news-commentary-v9.fr-en.en"
    assert (tmp_path / "dl" / new_en).read_bytes() == train_en("two")
    assert after["files"][new_en]["sha256"] == sha(train_en("two"))
    assert before["files"][old_en]["sha256"] == sha(train_en("one"))
    assert after["archives"][NC]["verified_by"] == "vouched"
    assert after["splits"]["dev"] == before["splits"]["dev"]  # the others untouched


def test_the_downloads_folder_can_move_and_sources_json_has_no_absolute_path(tmp_path, monkeypatch):
    """Downloaded through a file:// mirror into a cache given as a relative path; the cache then moves
    and data.downloads follows it: nothing is fetched again and prepare reads the moved files."""
    files = archives()
    publish(monkeypatch, files)
    mirror = tmp_path / "mirror"
    own_folder(tmp_path, files).rename(mirror)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACTIVEMEM_MIRROR", mirror.as_uri())
    params = write_params(tmp_path, downloads="cache")
    listing = run(params, tmp_path / "raw")
    assert (tmp_path / "cache" / "archives" / NC).read_bytes() == files[NC]  # copied from the mirror
    assert listing["downloads"] == "cache"
    (tmp_path / "elsewhere").mkdir()
    shutil.move(tmp_path / "cache", tmp_path / "elsewhere" / "cache")
    shutil.rmtree(mirror)  # a second download would fail: the moved cache must serve
    params = write_params(tmp_path, downloads="elsewhere/cache")
    moved = run(params, tmp_path / "raw")
    assert moved == {**listing, "downloads": "elsewhere/cache"}
    assert str(tmp_path) not in (tmp_path / "raw" / "sources.json").read_text()
    prepare.main(["--params", str(params), "--scale", "news", "--raw", str(tmp_path / "raw"),
                  "--out", str(tmp_path / "prepared")])
    assert (tmp_path / "prepared" / "dev.fr").read_text() == "Bonjour le monde .\n"
    report = json.loads((tmp_path / "prepared" / "report.json").read_text())
    assert report["train"]["read"] == 30


@pytest.mark.parametrize("where", ["env", "params"])
def test_a_malformed_mirror_fails_at_once_naming_the_setting(tmp_path, monkeypatch, where):
    files = archives()
    publish(monkeypatch, files)
    if where == "env":
        monkeypatch.setenv("ACTIVEMEM_MIRROR", "htp:/x")
        params = write_params(tmp_path, retries=5)  # 5 retries with backoff 5 s would be 155 s
        start = time.monotonic()
        assert run_refused(params, tmp_path / "raw") == (
            "error: ACTIVEMEM_MIRROR = 'htp:/x' is not a usable mirror URL: unknown scheme 'htp' "
            "(use http://, https:// or file:///)")
        assert time.monotonic() - start < 60  # at once: the 5 retries would wait 155 s
    else:
        monkeypatch.delenv("ACTIVEMEM_MIRROR", raising=False)
        params = write_params(tmp_path, mirror="http:/x")
        with pytest.raises(ParamsError, match=r"params.yaml: 'news.data.mirror' is not a usable mirror URL: "
                                              r"no host \(write http://host/path\)"):
            load_params(params, "news")


def test_bad_archive_settings_are_one_line_errors(tmp_path, monkeypatch):
    publish(monkeypatch, archives())
    params = write_params(tmp_path, archives=str(tmp_path / "nowhere"))
    assert run_refused(params, tmp_path / "raw") == (
        f"error: {params}: 'news.data.archives' names {tmp_path / 'nowhere'}, which is not a folder")
    (tmp_path / "vouched.yaml").write_text(f'# a comment\nnot-a-wmt-file.tgz: {{sha256: {"a0" * 32}, size: 1, '
                                           f'vouched_by: "me"}}\n')
    params = write_params(tmp_path)
    assert run_refused(params, tmp_path / "raw").startswith(
        f"error: {tmp_path / 'vouched.yaml'}:2: not-a-wmt-file.tgz is no WMT'14 archive; known: ")
    (tmp_path / "vouched.yaml").write_text(f'{NC}: {{sha256: {"a0" * 32}, size: 1, vouched_by: "me"}}\n'
                                           f'{NC}: {{sha256: {"b1" * 32}, size: 1, vouched_by: "me"}}\n')
    assert run_refused(params, tmp_path / "raw") == (
        f"error: {tmp_path / 'vouched.yaml'}:2: {NC} is vouched for twice (first on line 1)")


def test_the_shipped_vouched_file_has_no_entries():
    from activemem.data.vouched import load_vouched
    path = REPO / "pipeline" / "wmt14.vouched.yaml"
    assert path.read_text().startswith("#") and load_vouched(path) == {}
    assert load_params(REPO / "params.yaml", "paper")["data"]["vouched"] == "pipeline/wmt14.vouched.yaml"


def test_an_extraction_record_is_only_trusted_for_its_own_archive(tmp_path):
    from activemem.data.extract import RECORD, extract_once, reusable
    archive = tmp_path / "a.tgz"
    archive.write_bytes(make_tgz({"x/a.en": b"hello\n", "x/b.en": b"other\n"}))
    target = tmp_path / "out"
    assert reusable(target, sha(archive.read_bytes()), ["x/a.en"]) is None  # nothing extracted yet
    done = extract_once(archive, sha(archive.read_bytes()), ["x/a.en"], target)
    assert done == {"x/a.en": {"bytes": 6, "sha256": sha(b"hello\n")}}
    assert reusable(target, sha(archive.read_bytes()), ["x/a.en"]) == done
    assert reusable(target, "f" * 64, ["x/a.en"]) is None       # a record of another archive
    assert reusable(target, sha(archive.read_bytes()), ["x/a.en", "x/b.en"]) is None  # not listed yet
    # a second member joins the record; the first stays listed
    extract_once(archive, sha(archive.read_bytes()), ["x/b.en"], target)
    assert sorted(json.loads((target / RECORD).read_text())["members"]) == ["x/a.en", "x/b.en"]


# --- issue 32: every unvouched copy in one run, through every route; the file name looked for ------

@pytest.mark.parametrize("route", ["folder", "file mirror", "http mirror"])
def test_one_run_names_every_unvouched_copy_with_a_line_to_paste_for_each(tmp_path, monkeypatch, capsys, route):
    """The real published checksums stay for all three archives (News Commentary's size among them), so
    each test copy differs: one run must refuse all three, each with its SHA-256 and the line to paste,
    and the three lines pasted (vouched_by filled in) must let the next run through."""
    files = archives()
    publish(monkeypatch, files, keep_real=(NC, DEV, TEST))
    own = own_folder(tmp_path, files)
    server = LoopbackServer({f"/m/{name}": data for name, data in files.items()})
    with server:
        if route == "folder":
            params = write_params(tmp_path, archives=str(own))
        else:
            monkeypatch.setenv("ACTIVEMEM_MIRROR", own.as_uri() if route == "file mirror" else f"{server.url}/m")
            params = write_params(tmp_path)
        message = run_refused(params, tmp_path / "raw")
        said = capsys.readouterr().err
        assert message == (f"error: 3 archives refused ({NC}, {DEV}, {TEST}): no copy is the published file (or "
                           f"the one locked) nor vouched for in {tmp_path / 'vouched.yaml'}; each reason and the "
                           f"lines to paste are above")
        lines = [f'{name}: {{sha256: "{sha(data)}", size: {len(data)}, '
                 f'vouched_by: "<who you are, and why this copy is fine>"}}' for name, data in files.items()]
        for line in lines:
            assert said.count(line) == 2, line  # at the end of its refusal, and in the block to paste
        assert "\n".join(lines) in said  # the block: the lines one after another, ready to paste
        assert not (tmp_path / "raw" / "sources.json").exists() and not (tmp_path / "dl" / "extracted").exists()
        pasted = "\n".join(line.replace("<who you are, and why this copy is fine>", "T. Ester: test copies")
                           for line in lines)
        (tmp_path / "vouched.yaml").write_text(pasted + "\n")
        listing = run(params, tmp_path / "raw")
    assert {name: a["verified_by"] for name, a in listing["archives"].items()} == dict.fromkeys(files, "vouched")


def test_a_copy_missing_from_the_folder_is_named_with_the_name_looked_for(tmp_path, monkeypatch):
    """The authors' dev-v2.tgz in data.archives: the error says dev.tgz was looked for, and names the
    file that looks like it."""
    files = archives()
    publish(monkeypatch, files)
    own = own_folder(tmp_path, {NC: files[NC], TEST: files[TEST], "dev-v2.tgz": files[DEV]})
    params = write_params(tmp_path, archives=str(own))
    with LoopbackServer({}) as server:  # the mirror has nothing either
        monkeypatch.setenv("ACTIVEMEM_MIRROR", f"{server.url}/m")
        message = run_refused(params, tmp_path / "raw")
    assert message.startswith(f"error: {own} (data.archives) has no file named {DEV} (it holds dev-v2.tgz: if that "
                              f"is this archive, rename it to {DEV}), and {tmp_path / 'dl' / 'archives' / DEV}: "
                              f"download from {server.url}/m/{DEV} failed: HTTP 404"), message
    (own / "dev-v2.tgz").rename(own / DEV)
    assert run(params, tmp_path / "raw")["archives"][DEV]["verified_by"] == "published"


# --- issue 32: what a run would use, against what the last download used ------------------------

def test_a_replaced_or_vanished_archive_makes_the_download_stale(tmp_path, monkeypatch):
    first, second = archives("one"), archives("two")
    publish(monkeypatch, first)
    own = own_folder(tmp_path, first)
    params_file = write_params(tmp_path, archives=str(own))
    params = load_params(params_file, "news")
    assert download.changed_archives(params, tmp_path / "raw") is None  # nothing made yet
    run(params_file, tmp_path / "raw")
    assert download.current_archives(params) == {name: sha(data) for name, data in sorted(first.items())}
    assert download.changed_archives(params, tmp_path / "raw") is None
    # read once: the download stage remembered every digest, so asking again reads no archive
    monkeypatch.setattr("activemem.data.archives.digests_of", lambda *a: pytest.fail("read an archive again"))
    assert download.changed_archives(params, tmp_path / "raw") is None
    monkeypatch.undo()
    publish(monkeypatch, first)
    # the same bytes written anew (new inode and times): read again, same digest, not stale
    (own / NC).unlink()
    (own / NC).write_bytes(first[NC])
    assert download.changed_archives(params, tmp_path / "raw") is None
    # another copy under the same name: stale, whatever its size and times
    (own / NC).write_bytes(second[NC])
    assert download.changed_archives(params, tmp_path / "raw") == (
        f"archive {NC} is not the copy it was made from (sha256 {sha(second[NC])[:12]}…; recorded {sha(first[NC])[:12]}…)")
    (own / NC).write_bytes(first[NC])
    # gone from the folder: a download must bring the published bytes, the ones used: not stale
    (own / DEV).unlink()
    assert download.changed_archives(params, tmp_path / "raw") is None
    # ... unless a vouch for another copy lets a download bring either
    (tmp_path / "vouched.yaml").write_text(f'{DEV}: {{sha256: {"ab" * 32}, size: 5, vouched_by: "test: another"}}\n')
    assert "archive dev.tgz is not the copy it was made from (no copy at hand" in \
        download.changed_archives(params, tmp_path / "raw")


def test_a_refused_download_leaves_no_listing_behind(tmp_path, monkeypatch):
    files = archives()
    publish(monkeypatch, files)
    own = own_folder(tmp_path, files)
    params = write_params(tmp_path, archives=str(own))
    run(params, tmp_path / "raw")
    (own / NC).write_bytes(archives("two")[NC])  # not the published file, not vouched for
    run_refused(params, tmp_path / "raw")
    assert not (tmp_path / "raw" / "sources.json").exists()  # prepare cannot read the old listing


def test_the_prepare_report_counts_evaluation_sentences_also_in_training(tmp_path, monkeypatch, capsys):
    """Issue 32: a user's own archives can put dev or test sentences into training; the prepare report
    counts them (whole pairs, and English sources with any translation) and the stage warns."""
    files = archives()
    en = train_en("one") + b"Hello world .\nGood morning .\n"
    fr = "".join(f"one phrase {i} .\n" for i in range(30)).encode() + b"Bonjour le monde .\nSalut .\n"
    files[NC] = make_tgz({"training/news-commentary-v9.fr-en.en": en, "training/news-commentary-v9.fr-en.fr": fr})
    files[DEV] = make_tgz({"dev/newstest2013.en": b"Hello world .\nGood morning .\nNot in training .\n",
                           "dev/newstest2013.fr": b"Bonjour le monde .\nBon matin .\nPas vu .\n"})
    publish(monkeypatch, files)
    params = write_params(tmp_path, archives=str(own_folder(tmp_path, files)))
    run(params, tmp_path / "raw")
    prepare.main(["--params", str(params), "--scale", "news", "--raw", str(tmp_path / "raw"),
                  "--out", str(tmp_path / "prepared")])
    report = json.loads((tmp_path / "prepared" / "report.json").read_text())
    assert report["dev"]["overlap_with_train"] == {"pairs": 1, "sources": 2, "sentences": 3, "examples": ["dev.en:1"]}
    assert report["test"]["overlap_with_train"] == {"pairs": 0, "sources": 0, "sentences": 271, "examples": []}
    assert "overlap_with_train" not in report["train"]
    said = capsys.readouterr()
    assert ("warning: dev: 1 of 3 sentence pairs and 2 English sources are also in the training data (first: "
            "dev.en:1)") in said.err
    assert "warning: test" not in said.err
    assert "dev: read 3, kept 3, dropped {}; also in train: 1 pairs, 2 sources" in said.out
