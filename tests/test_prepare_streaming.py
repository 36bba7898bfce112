"""The prepare stage streams: the same files as the in-memory stage it replaced, whatever the chunk size,
with every width drop named by file and line, threads capped to the cores given, and no torch."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from activemem import cores
from activemem.data import encode, store
from activemem.stages import download, prepare

from conftest import REPO

PARAMS = REPO / "params.yaml"

# SHA-256 (first 16 hex digits) of every file the demo's prepare stage wrote at commit 62ea956, when it
# held the whole corpus in Python lists and saved one .npz per split. The arrays are hashed by content
# (``ndarray.tobytes()``), since they now live in .npy files. manifest.json and report.json are left out:
# they gained keys (report.json: each split's overlap with training, which test_archives checks).
DEMO_AT_62EA956 = {
    "dev.en": "4ef2db39fe4d917e", "dev.fr": "db60cc7cbbda27da",
    "dev.src": "a5bbc3bb45626fdd", "dev.src_offsets": "3dd94ad811434129",
    "dev.tgt": "3db0997e337c0eca", "dev.tgt_offsets": "3ab3cbe03f916476",
    "spm.model": "6d112cd6c740a099", "spm.vocab": "75afbc8dffe62e43",
    "test.en": "874ebf0f2ce53020", "test.fr": "3260ef7cf6956809", "test.fr.ref2": "6b833312bae7a35b",
    "test.fr.ref3": "e51efeecc135cf49", "test.fr.ref4": "426d70390aabf5ec", "test.np.jsonl": "1a97ab806cd090aa",
    "test.src": "978f3157644d0ff6", "test.src_offsets": "de9f0d7974092471",
    "test.tgt": "7800fcebf80038b1", "test.tgt_offsets": "e7464c2a344dc419",
    "test_long.en": "910d6960dee124c1", "test_long.fr": "bddb8b4dec9f89b9",
    "test_long.fr.ref2": "3f3edf46d3ac7a7f", "test_long.fr.ref3": "a9b45dfae4c190c8",
    "test_long.fr.ref4": "660a31d14d84da94", "test_long.np.jsonl": "ea42fe1a9b0d1ebc",
    "test_long.src": "bcf3fd2e715dd785", "test_long.src_offsets": "2afcd29cdf1ca0f1",
    "test_long.tgt": "0944d58426f855ad", "test_long.tgt_offsets": "6af0e092746932de",
    "train.en": "a9651d0e938d03b8", "train.fr": "76e5d12dc4e75874",
    "train.src": "07f0930669794182", "train.src_offsets": "62a0e8715fb6101e",
    "train.tgt": "b614aafb76d1b61e", "train.tgt_offsets": "fe5c5d989e8be30e",
}


def digests(prepared) -> dict[str, str]:
    """What DEMO_AT_62EA956 records, for a prepared folder of today's layout."""
    out = {}
    for path in sorted(prepared.iterdir()):
        if path.suffix == ".npy":
            out[path.stem] = hashlib.sha256(np.load(path).tobytes()).hexdigest()[:16]
        elif path.name not in ("manifest.json", "report.json"):
            out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return out


def run_prepare(scale, workdir, monkeypatch, out="prepared"):
    """Download (generate) and prepare ``scale`` with the relative paths the pipeline uses: sentencepiece
    writes the output path into spm.model, so relative paths are what make it the same bytes anywhere."""
    monkeypatch.chdir(workdir)
    if not (workdir / "raw").exists():
        download.main(["--params", str(PARAMS), "--scale", scale, "--out", "raw"])
    prepare.main(["--params", str(PARAMS), "--scale", scale, "--raw", "raw", "--out", out])
    return workdir / out


@pytest.fixture(scope="module")
def demo_prepared(tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    try:
        yield run_prepare("demo", tmp_path_factory.mktemp("demo"), monkeypatch)
    finally:
        monkeypatch.undo()


def test_the_demo_is_prepared_exactly_as_before_the_streaming_rewrite(demo_prepared):
    assert digests(demo_prepared) == DEMO_AT_62EA956


def test_the_files_do_not_depend_on_the_chunk_size(demo_prepared, tmp_path, monkeypatch):
    monkeypatch.setattr(encode, "CHUNK_PAIRS", 7)  # many chunks, a short last one, in every split
    shutil.copytree(demo_prepared.parent / "raw", tmp_path / "raw")
    again = run_prepare("demo", tmp_path, monkeypatch)
    assert digests(again) == digests(demo_prepared)
    manifest = json.loads((again / "manifest.json").read_text())
    assert manifest["threads"] == 2 and manifest["vocab_size_asked"] == 1000 and manifest["vocab_size"] == 726
    assert not (again / prepare.STAGING).exists()
    assert sorted(manifest["files"]) == sorted(p.name for p in again.iterdir() if p.name != "manifest.json")


def test_encoding_does_not_depend_on_the_threads(demo_prepared):
    # (training the sub-word model does: sentencepiece's EM sums over its threads, and spm.model records
    # the count, so prepare.threads is part of the result like train.threads)
    from activemem.data.vocab import SubwordVocab
    vocab = SubwordVocab(demo_prepared / "spm.model")
    lines = (demo_prepared / "test.fr").read_text().split("\n")
    assert vocab.encode(lines, threads=1) == vocab.encode(lines, threads=2) == vocab.encode(lines, threads=3)


def test_every_pair_dropped_for_width_is_named_by_file_and_line(tmp_path, monkeypatch):
    prepared = run_prepare("smoke", tmp_path, monkeypatch)
    train = json.loads((prepared / "report.json").read_text())["train"]
    assert train["dropped"] == {"wider_than_max_width": 72}
    raw_lines = (tmp_path / "raw" / "train.en").read_text().split("\n")
    spm = __import__("sentencepiece").SentencePieceProcessor(model_file=str(prepared / "spm.model"))
    for example in train["examples"]["wider_than_max_width"]:
        location, width = example.split(" (")
        assert location.startswith("raw/train.en:")
        line = int(location.rsplit(":", 1)[1])
        en, fr = raw_lines[line - 1], (tmp_path / "raw" / "train.fr").read_text().split("\n")[line - 1]
        assert int(width.split()[0]) == store.pair_width(len(spm.encode(en)), len(spm.encode(fr))) > 32


def test_an_array_file_is_written_only_whole_and_its_header_fits_any_length(tmp_path):
    with pytest.raises(RuntimeError), store.SplitWriter(tmp_path, "x") as writer:
        writer.add([[5, 6]], [[7]])
        raise RuntimeError("killed mid-split")
    assert list(tmp_path.iterdir()) == []  # no half-written split
    store.save_split(tmp_path, "x", [[5, 6], [], [7]], [[8], [9, 10, 11], []])
    split = store.EncodedSplit(tmp_path, "x")
    assert [split.source(i).tolist() for i in range(3)] == [[5, 6], [], [7]]
    assert split.tgt_offsets.tolist() == [0, 1, 4, 4] and isinstance(split.src_tokens, np.memmap)
    import io
    huge = io.BytesIO()
    np.lib.format.write_array_header_1_0(huge, {"descr": "<i8", "fortran_order": False, "shape": (10 ** 39,)})
    assert len(huge.getvalue()) == store.HEADER_BYTES


def test_threads_are_capped_to_the_cores_given(monkeypatch, capsys):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert cores.cores_given() == (1, "OMP_NUM_THREADS (Snakemake sets it to the job's threads)")
    assert cores.capped_threads(8, "news.train.threads") == 1
    assert "news.train.threads is 8 but this job was given 1 core(s)" in capsys.readouterr().err
    monkeypatch.delenv("OMP_NUM_THREADS")
    given, _ = cores.cores_given()
    assert cores.capped_threads(given, "x") == given and capsys.readouterr().err == ""


def test_the_prepare_stage_never_imports_torch():
    code = ("import sys, activemem.stages.prepare, activemem.data.encode; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
