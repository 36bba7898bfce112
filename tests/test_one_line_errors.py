"""A full disk, a read-only folder, an unreadable params.yaml or a checkpoint that lacks a part ends a
command with one line naming the file (issue 23, item 10), never a traceback or a message without a path.

The full disk is the kernel's own: a file about to be written is replaced by a link to ``/dev/full``,
where every write fails with ENOSPC. The read-only folder is a real one: mode 0o555, with the stage
run without root's power to write anywhere when the tests run as root.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from activemem import atomic
from activemem.data import download
from activemem.stages import evaluate as evaluate_stage
from activemem.stages import paper as paper_stage
from activemem.stages import train as train_stage
from activemem.stages._common import run_stage

from conftest import REPO

PARAMS = REPO / "params.yaml"
NO_SPACE = os.strerror(errno.ENOSPC)

needs_dev_full = pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")


def full_disk_for(monkeypatch, wanted) -> None:
    """Writes through ``atomic.open_atomic`` of the files ``wanted(path)`` picks meet a full disk."""
    real = atomic.temporary_name

    def temporary(path: Path) -> Path:
        tmp = real(path)
        if wanted(path):
            tmp.symlink_to("/dev/full")
        return tmp

    monkeypatch.setattr(atomic, "temporary_name", temporary)


def stage_error(main, name: str, argv: list[str]) -> str:
    """What the stage command ends with (its ``sys.exit`` message)."""
    with pytest.raises(SystemExit) as exit:
        run_stage(main, name, argv)
    return str(exit.value.code)


@needs_dev_full
def test_a_full_disk_in_training_is_one_line_naming_the_checkpoint(prepared, tmp_path, monkeypatch):
    """torch.save turns the disk's OSError into a RuntimeError ("unexpected pos"), which used to end
    the stage with two chained tracebacks."""
    shutil.copy(PARAMS, tmp_path / "params.yaml")
    full_disk_for(monkeypatch, lambda path: path.name == "checkpoint.pt")
    message = stage_error(train_stage.main, "train", [
        "--params", str(tmp_path / "params.yaml"), "--scale", "smoke", "--model", "neural_gpu",
        "--data", str(prepared), "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"), "--no-progress"])
    assert message == f"error: {tmp_path / 'work' / 'checkpoint.pt'}: {NO_SPACE}"
    assert not [p.name for p in (tmp_path / "work").iterdir() if p.name.endswith(atomic.TMP_SUFFIX)]


@needs_dev_full
def test_a_full_disk_in_the_paper_stage_is_one_line_naming_the_figure(tmp_path, monkeypatch):
    from test_paper import PERFECT, make_run, run_models, seal
    make_run(tmp_path, PERFECT)
    seal(tmp_path)
    params = PARAMS.read_text().replace("bootstrap_resamples: 1000", "bootstrap_resamples: 100")
    (tmp_path / "params.yaml").write_text(run_models(params, ["extended_neural_gpu", "gru_attention"]))
    full_disk_for(monkeypatch, lambda path: path.suffix == ".png")  # PIL writes the PNGs
    message = stage_error(paper_stage.main, "paper", [
        "--params", str(tmp_path / "params.yaml"), "--scale", "demo", "--results", str(tmp_path / "results"),
        "--data", str(tmp_path / "data"), "--paper", str(REPO / "paper"), "--out", str(tmp_path / "build")])
    assert re.fullmatch(rf"error: {re.escape(str(tmp_path / 'build'))}/\S+\.png: {NO_SPACE}", message), message


@needs_dev_full
@pytest.mark.parametrize("scheme", ["file", "http"])
def test_a_full_disk_during_a_download_names_the_part_file_and_is_not_retried(tmp_path, scheme):
    """The write error used to be taken for a dropped connection: retried with back-off, then reported
    as "download failed" with no file named."""
    source = tmp_path / "served" / "corpus.tgz"
    source.parent.mkdir()
    source.write_bytes(os.urandom(200_000))
    dest = tmp_path / "downloads" / "corpus.tgz"
    dest.parent.mkdir()
    part = dest.with_name(dest.name + ".part")
    part.symlink_to("/dev/full")
    waits = []
    retry = download.Retry(retries=3, backoff_seconds=5, sleep=waits.append)
    if scheme == "file":
        url = source.as_uri()
        with pytest.raises(OSError) as err:
            download.fetch(url, dest, retry=retry, progress=False)
    else:
        from http_fixture import LoopbackServer
        with LoopbackServer({"/corpus.tgz": source.read_bytes()}) as server, pytest.raises(OSError) as err:
            download.fetch(f"{server.url}/corpus.tgz", dest, retry=retry, progress=False)
    assert (err.value.errno, err.value.filename) == (errno.ENOSPC, str(part))  # stages print "<part>: <reason>"
    assert waits == []


def honouring_modes() -> list[str]:
    """A command prefix under which file modes hold: root without the capabilities that let it write
    to any folder (as root, a 0o555 folder stops no write)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a read-only folder does not stop root's writes")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def test_a_read_only_output_folder_is_one_line_from_the_stage_command(tmp_path):
    """What DVC runs (the stage command) used to end with a PermissionError traceback."""
    shutil.copy(PARAMS, tmp_path / "params.yaml")
    out = tmp_path / "data" / "smoke"
    out.mkdir(parents=True)
    out.chmod(0o555)
    stage = subprocess.run([*honouring_modes(), sys.executable, "-m", "activemem.stages.archives", "--params",
                            "params.yaml", "--scale", "smoke", "--out", "data/smoke/archives.json"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert stage.returncode != 0
    assert re.fullmatch(r"error: data/smoke/\S+: Permission denied\n", stage.stderr), stage.stderr


@pytest.mark.slow
def test_invalid_yaml_in_params_is_one_line_with_its_line_under_snakemake(tmp_path):
    """Snakemake's own message ("Config file is not valid JSON or YAML") named no line."""
    pytest.importorskip("snakemake")
    from test_pipeline import repo_copy, snakemake
    root = repo_copy(tmp_path, "smoke")
    lines = (root / "params.yaml").read_text().splitlines(keepends=True)
    broken = next(i for i, line in enumerate(lines) if line.strip().startswith("max_steps:"))
    lines[broken] = lines[broken].replace("max_steps:", "max_steps: [", 1)
    (root / "params.yaml").write_text("".join(lines))
    text = snakemake(root, "--dry-run", ok=False)
    where = re.search(r"^params\.yaml:(\d+): not valid YAML: ", text, re.M)
    # the broken line, or the next, where the parser noticed
    assert where and int(where.group(1)) in (broken + 1, broken + 2), text[-2000:]


def test_a_checkpoint_without_its_training_state_is_one_line_naming_it(prepared, tmp_path):
    """Refused up front, not a KeyError after decoding."""
    import torch
    ckpt = tmp_path / "checkpoint.pt"
    torch.save({"model_name": "neural_gpu", "vocab_size": 400, "model_config": {}, "model": {},
                "train_config": {"device": "cpu", "threads": 2}}, ckpt)
    shutil.copy(PARAMS, tmp_path / "params.yaml")
    message = stage_error(evaluate_stage.main, "evaluate", [
        "--params", str(tmp_path / "params.yaml"), "--scale", "smoke", "--model", "neural_gpu", "--data",
        str(prepared), "--checkpoint", str(ckpt), "--out", str(tmp_path / "eval"), "--no-progress"])
    assert message == f"error: {ckpt}: checkpoint lacks state: rerun the train stage"


# ---- issue 33 #9: a stage stops while the disk still has room, before DVC's own writes meet it ----
def nearly_full(monkeypatch, free_mb, after_calls: int = 0) -> list:
    """``shutil.disk_usage`` reports ``free_mb`` MB free (after ``after_calls`` calls that report plenty);
    returns the paths it was asked about."""
    asked, real = [], shutil.disk_usage

    def usage(path):
        asked.append(Path(path))
        total, used, free = real(path)
        left = free if len(asked) <= after_calls else free_mb * 2 ** 20
        return type(real(path))(total, total - left, left)

    monkeypatch.setattr(shutil, "disk_usage", usage)
    return asked


def test_a_stage_stops_before_its_work_when_the_disk_is_nearly_full(tmp_path, monkeypatch):
    """dvc.lock truncated by a full disk broke every later dvc command: the stage now stops first."""
    shutil.copy(PARAMS, tmp_path / "params.yaml")
    asked = nearly_full(monkeypatch, 100)
    ran = []
    message = stage_error(lambda argv: ran.append(argv), "paper", ["--params", str(tmp_path / "params.yaml")])
    assert message == (f"error: {tmp_path}: only 100 MB free on this disk before the paper stage, below "
                       f"min_free_mb: 2000 (params.yaml): free some space (or lower min_free_mb), then run again")
    assert ran == [] and asked == [tmp_path]  # the workspace's disk: dvc.lock and DVC's cache are there
    (tmp_path / "params.yaml").write_text(PARAMS.read_text().replace("\nmin_free_mb: 2000\n", "\nmin_free_mb: 0\n"))
    run_stage(lambda argv: ran.append(argv), "paper", ["--params", str(tmp_path / "params.yaml")])
    assert len(ran) == 1  # 0: no check


def test_a_training_stops_before_a_checkpoint_when_the_disk_fills(prepared, tmp_path, monkeypatch):
    shutil.copy(PARAMS, tmp_path / "params.yaml")
    nearly_full(monkeypatch, 1500, after_calls=1)  # room as the stage starts, then 1500 MB of 2000
    message = stage_error(train_stage.main, "train", [
        "--params", str(tmp_path / "params.yaml"), "--scale", "smoke", "--model", "neural_gpu",
        "--data", str(prepared), "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"), "--no-progress"])
    assert message == (f"error: {tmp_path / 'work'}: only 1500 MB free on this disk before checkpoint "
                       f"{tmp_path / 'work' / 'checkpoint.pt'}, below min_free_mb: 2000 (params.yaml): free some "
                       f"space (or lower min_free_mb), then run again")
    assert not (tmp_path / "work" / "checkpoint.pt").exists() and not (tmp_path / "out" / "checkpoint.pt").exists()
