"""A replaced archive is noticed by both engines, and a refused download leaves nothing stale (issue 32).

The archives live outside the workspace (``data.archives`` here), so neither engine can list them as
inputs by path: Snakemake compares, when it loads, what a run would use now with what the download's
``sources.json`` records; DVC's always-changed ``archives`` stage writes the same comparison's inputs
to a file the download depends on. Both run here for real, on a copy of the project at the news
scale, with three tiny archives (vouched for: they are not the published files) in a folder.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from test_archives import DEV, NC, TEST, archives, sha
from test_pipeline import engine_env, repo_copy, snakemake

pytestmark = pytest.mark.slow  # runs the engines end to end: `pytest -m "not slow"` leaves it out

PREPARED = "data/news/prepared"


def news_workspace(root: Path, own: Path) -> Path:
    """A copy of the project at the news scale reading its archives from ``own``, small enough to
    prepare in seconds."""
    repo_copy(root, "news")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["news"]["data"].update(archives=str(own), retries=0)
    params["news"]["prepare"].update(vocab_size=300, max_width=64, threads=1)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def copies() -> dict[str, dict[str, bytes]]:
    """Two sets of archives that differ in News Commentary only (gzip stamps the time: built once)."""
    one = archives("one")
    return {text: {**one, NC: archives(text)[NC]} for text in ("one", "two")}


def place(own: Path, root: Path, files: dict[str, bytes], vouched: tuple[str, ...]) -> None:
    """Put ``files`` in the folder; vouch (in the workspace's committed file) for those named."""
    own.mkdir(exist_ok=True)
    for name, data in files.items():
        (own / name).write_bytes(data)
    (root / "pipeline" / "wmt14.vouched.yaml").write_text("".join(
        f'{name}: {{sha256: "{sha(files[name])}", size: {len(files[name])}, vouched_by: "test: a tiny copy"}}\n'
        for name in vouched))


def dvc(root: Path, *args: str, ok: bool = True) -> str:
    out = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, env=engine_env(), capture_output=True,
                         text=True)
    assert (out.returncode == 0) == ok, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def train_text(root: Path) -> str:
    return (root / PREPARED / "train.en").read_text()


def test_snakemake_notices_a_replaced_archive_and_a_refused_download_leaves_nothing_stale(tmp_path):
    own, root = tmp_path / "own", news_workspace(tmp_path / "ws", tmp_path / "own")
    sets = copies()
    place(own, root, sets["one"], (NC, DEV, TEST))
    snakemake(root, PREPARED, cores="1")
    assert "one sentence 3 ." in train_text(root)
    assert "Nothing to be done" in snakemake(root, "--dry-run", PREPARED)

    # another copy of News Commentary, vouched for: the download and prepare are planned again
    place(own, root, sets["two"], (NC, DEV, TEST))
    planned = snakemake(root, "--dry-run", PREPARED)
    assert f"stale: data/news/raw/sources.json: archive {NC} is not the copy it was made from" in planned, planned
    assert "this dry run removed nothing" in planned and (root / "data/news/raw").exists()  # a dry run looks only
    snakemake(root, PREPARED, cores="1")
    assert "two sentence 3 ." in train_text(root)

    # the vouch for that copy withdrawn, the download forced: it is refused (Snakemake removes its output) ...
    place(own, root, sets["two"], (DEV, TEST))
    refused = snakemake(root, "--forcerun", "download", PREPARED, cores="1", ok=False)
    assert "not the published file" in refused and f'{NC}: {{sha256: "{sha(sets["two"][NC])}"' in refused
    assert not (root / "data/news/raw").exists() and (root / PREPARED).exists()
    # ... and the next plain run cannot use the old prepared text: a dry run says it is stale (and keeps
    # it), the real run removes it before its download is refused again
    planned = snakemake(root, "--dry-run", PREPARED)
    assert "stale: data/news/prepared/manifest.json: data/news/raw/sources.json is gone" in planned, planned[-3000:]
    assert (root / PREPARED).exists()
    again = snakemake(root, PREPARED, cores="1", ok=False)
    assert "stale: data/news/prepared/manifest.json: data/news/raw/sources.json is gone" in again, again[-3000:]
    assert not (root / PREPARED).exists()


def test_dvc_notices_a_replaced_archive(tmp_path):
    own, root = tmp_path / "own", news_workspace(tmp_path / "ws", tmp_path / "own")
    sets = copies()
    place(own, root, sets["one"], (NC, DEV, TEST))
    dvc(root, "repro", "prepare")
    assert "one sentence 3 ." in train_text(root)
    again = dvc(root, "repro", "prepare")
    assert "Stage 'download' didn't change" in again and "Running stage 'download'" not in again, again[-3000:]

    place(own, root, sets["two"], (NC, DEV, TEST))
    again = dvc(root, "repro", "prepare")
    assert "Running stage 'download'" in again and "Running stage 'prepare'" in again, again[-3000:]
    assert "two sentence 3 ." in train_text(root)
