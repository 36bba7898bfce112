"""The download and prepare stages on WMT-shaped archives served by a loopback mirror.

The archives carry the real member paths of the WMT'14 manifest, and the test set is real
newstest2014 text (the SGM pair of the excerpt in tests/data/newstest2014, see its SOURCES.md), so
the whole real-data path runs without the internet and without ../shared.
"""

from __future__ import annotations

import json

import pytest
import yaml

from activemem.data.manifest import load_manifest
from activemem.data.sources.wmt14 import download as wmt14_download
from activemem.stages import download, prepare

from conftest import REPO
from http_fixture import LoopbackServer
from test_download import make_tgz

pytestmark = pytest.mark.slow  # runs the engines end to end: `pytest -m "not slow"` leaves it out

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
    monkeypatch.setattr(wmt14_download, "load_manifest", lambda *args, **kwargs: (corpora, {}))
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


def test_the_wmt_path_runs_end_to_end_through_the_paper_stage(tmp_path, monkeypatch):
    """download (loopback mirror, real archive layout) → prepare → train → evaluate → paper, on real
    newstest2014 text: the report must be right for real text at near-zero BLEU."""
    from activemem import models
    from activemem.stages import evaluate, paper, train

    excerpt = {side: (NEWSTEST / f"newstest2014.{side}").read_bytes() for side in ("en", "fr")}
    archives = {
        # real news text stands in for News Commentary: long sentences, so some are wider than max_width
        "/m/training-parallel-nc-v9.tgz": make_tgz({"training/news-commentary-v9.fr-en.en": excerpt["en"],
                                                    "training/news-commentary-v9.fr-en.fr": excerpt["fr"]}),
        "/m/dev.tgz": make_tgz({"dev/newstest2013.en": b"\n".join(excerpt["en"].split(b"\n")[:20]) + b"\n",
                                "dev/newstest2013.fr": b"\n".join(excerpt["fr"].split(b"\n")[:20]) + b"\n"}),
        "/m/test-full.tgz": make_tgz({
            "test-full/newstest2014-fren-src.en.sgm": (NEWSTEST / "newstest2014-fren-src.en.sgm").read_bytes(),
            "test-full/newstest2014-fren-ref.fr.sgm": (NEWSTEST / "newstest2014-fren-ref.fr.sgm").read_bytes()}),
    }
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    news = raw["news"]
    news["data"].update(downloads="dl", lock="lock.json")
    news["prepare"].update(vocab_size=600, threads=2)
    news["train"].update(device="cpu", threads=2, max_steps=2, eval_every=2, checkpoint_every=2, log_every=1,
                         batch_tokens=256, patience=0)
    news["models"] = {name: dict(models.config_class(name).TINY) for name in models.NAMES}
    news["evaluate"] = {**news["evaluate"], "beam_size": 2, "batch_size": 16, "max_sentences": 30,
                        "bootstrap_resamples": 50}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    corpora, _ = load_manifest()
    monkeypatch.setattr(wmt14_download, "load_manifest", lambda *args, **kwargs: (corpora, {}))
    common = ["--params", "params.yaml", "--scale", "news"]
    with LoopbackServer(archives) as server:
        monkeypatch.setenv("ACTIVEMEM_MIRROR", f"{server.url}/m")
        download.main([*common, "--out", "data/news/raw"])
    prepare.main([*common, "--raw", "data/news/raw", "--out", "data/news/prepared"])
    dropped = json.loads((tmp_path / "data/news/prepared/report.json").read_text())["train"]
    assert dropped["dropped"].get("wider_than_max_width") and all(
        "training/news-commentary-v9.fr-en.en:" in e for e in dropped["examples"]["wider_than_max_width"])
    for name in models.NAMES:
        run = f"results/news/{name}/seed1"
        train.main([*common, "--model", name, "--data", "data/news/prepared", "--out", f"{run}/train",
                    "--no-progress"])
        evaluate.main([*common, "--model", name, "--data", "data/news/prepared", "--checkpoint",
                       f"{run}/train/checkpoint.pt", "--out", run, "--no-progress"])
    metrics = json.loads((tmp_path / "results/news/extended_neural_gpu/seed1/evaluation.json").read_text())
    assert metrics["test_sentences"] == 30 and metrics["test_sentences_total"] == SEGMENTS
    assert metrics["provenance"]["data_archives"] == {name: "lock" for name in
                                                      ("training-parallel-nc-v9.tgz", "dev.tgz", "test-full.tgz")}
    paper.main([*common, "--results", "results/news", "--data", "data/news/prepared", "--paper", str(REPO / "paper"),
                "--out", "paper/build/news"])
    build = tmp_path / "paper/build/news"
    claims = {c["id"]: c for c in json.loads((build / "claims.json").read_text())}
    # WMT'14 has one reference and no noun-phrase records: those claims cannot apply to it
    for claim in ("extended_matches_attention_all_references", "parallel_decoder_disagrees_more"):
        assert claims[claim]["verdict"] == "not applicable", claims[claim]
    # two steps of training: every model near zero BLEU, so no BLEU comparison may claim anything
    for claim in ("neural_gpu_far_below_extended", "extended_matches_attention"):
        assert claims[claim]["verdict"] == "inconclusive" and "below 5 BLEU" in claims[claim]["reason"], claims[claim]
    report = (build / "report.md").read_text()
    assert "Trained on news_commentary_v9 only" in report and "first 30 of 271 test sentences" in report
    maps = news["models"]["extended_neural_gpu"]["maps"]
    assert f"models.extended_neural_gpu.maps {maps} (paper: 256)" in report
