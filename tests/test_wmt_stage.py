"""The download and prepare stages on WMT-shaped archives served by a loopback mirror.

The archives carry the real member paths of the WMT'14 manifest, and the test set is real
newstest2014 text (the SGM pair of the excerpt in tests/data/newstest2014, see its SOURCES.md), so
the whole real-data path runs without the internet and without ../shared.
"""

from __future__ import annotations

import json

import yaml

from activemem.data.manifest import load_manifest
from activemem.stages import download, prepare

from conftest import REPO
from http_fixture import LoopbackServer
from test_download import make_tgz

NEWSTEST = REPO / "tests" / "data" / "newstest2014"
SEGMENTS = 271


def test_news_scale_downloads_through_a_mirror_and_prepares(tmp_path, monkeypatch):
    en = [f"This is training sentence number {i} ." for i in range(200)] + [""]
    fr = [f"Ceci est la phrase d'entraînement numéro {i} ." for i in range(200)] + ["vide"]
    archives = {
        "/m/training-parallel-nc-v9.tgz": make_tgz({
            "training/news-commentary-v9.fr-en.en": ("\n".join(en) + "\n").encode(),
            "training/news-commentary-v9.fr-en.fr": ("\n".join(fr) + "\n").encode()}),
        "/m/dev.tgz": make_tgz({"dev/newstest2013.en": b"Hello world .\nGood morning .\n",
                                "dev/newstest2013.fr": b"Bonjour le monde .\nBon matin .\n"}),
        "/m/test-full.tgz": make_tgz({
            "test-full/newstest2014-fren-src.en.sgm": (NEWSTEST / "newstest2014-fren-src.en.sgm").read_bytes(),
            "test-full/newstest2014-fren-ref.fr.sgm": (NEWSTEST / "newstest2014-fren-ref.fr.sgm").read_bytes()}),
    }
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["news"]["data"].update(downloads=str(tmp_path / "dl"), lock=str(tmp_path / "lock.json"))
    raw["news"]["prepare"].update(vocab_size=800, max_width=64)
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(raw))
    # The archives are built here, so the sizes and checksums published for the real WMT'14 archives
    # cannot match them: this test drops those (test_download.py checks that they are enforced) and
    # keeps the lock file's first-download record.
    corpora, _ = load_manifest()
    monkeypatch.setattr(download, "load_manifest", lambda *args, **kwargs: (corpora, {}))
    with LoopbackServer(archives) as server:
        monkeypatch.setenv("ACTIVEMEM_MIRROR", f"{server.url}/m")
        download.main(["--params", str(params_file), "--scale", "news", "--out", str(tmp_path / "raw")])
        assert sorted(p for p, _ in server.requests) == sorted(archives)
        # a second run uses the files already downloaded and checks them against the lock
        download.main(["--params", str(params_file), "--scale", "news", "--out", str(tmp_path / "raw")])
        assert len(server.requests) == 3
    lock = json.loads((tmp_path / "lock.json").read_text())
    assert set(lock) == {"training-parallel-nc-v9.tgz", "dev.tgz", "test-full.tgz"}
    prepare.main(["--params", str(params_file), "--scale", "news", "--raw", str(tmp_path / "raw"),
                  "--out", str(tmp_path / "prepared")])
    report = json.loads((tmp_path / "prepared" / "report.json").read_text())
    assert report["train"] == {**report["train"], "read": 201, "kept": 200, "dropped": {"empty": 1}}
    assert report["test"]["kept"] == SEGMENTS and report["test"]["dropped_total"] == 0
    # the references come out byte for byte as published (NBSPs and the C1 controls included)
    assert (tmp_path / "prepared" / "test.fr").read_bytes() == (NEWSTEST / "newstest2014.fr").read_bytes()
