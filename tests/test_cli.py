"""The command line as a person meets it: help, pipes, missing inputs, damaged files, progress in logs.

Each test holds one rough edge fixed: ``activemem --help | head`` ends quietly; every usage line
names the command that was typed; help shows no reStructuredText markup; ``python -m activemem`` is
``activemem``; the DVC-only ``archives`` stage is callable but not listed; a missing input folder
names the stage that makes it; a damaged checkpoint's reason is whole and on one line; progress
in a log file is whole lines, not carriage-return bars; sentencepiece and archive checks say what
they are doing. (That both engines end by naming the report is tests/test_pipeline.py's, which runs them.)
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile

import pytest
import torch
from tqdm import tqdm

from activemem import cli
from activemem.data.extract import check_archive, extract_members
from activemem.data.vocab import train_vocab
from activemem.entry import CLOSED_PIPE_STATUS, plain
from activemem.progress import LogLines, progress_bar
from activemem.stages import _common, paper, train
from activemem.stages._common import run_stage
from activemem.train import checkpoint

from conftest import REPO

PARAMS = REPO / "params.yaml"
LISTED = ["models", "check-params", "download", "prepare", "train", "evaluate", "paper"]


def run(*args: str, close_stdout: bool = False) -> subprocess.CompletedProcess:
    """``python <args>`` in a fresh interpreter; with ``close_stdout`` its reader is gone before it writes."""
    if not close_stdout:
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO)
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    proc.stdout.close()  # as `| head` does once it has its lines; the interpreter is still starting
    err = proc.stderr.read().decode()
    proc.stderr.close()
    return subprocess.CompletedProcess(args, proc.wait(), "", err)


def help_text(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 0
    return capsys.readouterr().out


# --- 1. a closed pipe ----------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["-m", "activemem", "--help"],
                                  ["-m", "activemem", "models", "--summary", "--vocab-size", "50"]])
def test_a_reader_that_leaves_early_ends_the_command_quietly(args):
    done = run(*args, close_stdout=True)
    assert done.stderr == "" and done.returncode == CLOSED_PIPE_STATUS


# --- 2. usage lines ------------------------------------------------------------------------------

@pytest.mark.parametrize("stage", ["download", "prepare", "train", "evaluate", "paper", "archives"])
def test_a_stage_usage_names_the_command_typed(capsys, stage):
    assert help_text(capsys, [stage, "--help"]).startswith(f"usage: activemem {stage} [-h] [--params PARAMS]")
    with pytest.raises(SystemExit):  # how both engines run it
        run_stage(__import__(f"activemem.stages.{stage}", fromlist=["main"]).main, stage, ["--help"])
    assert capsys.readouterr().out.startswith(f"usage: python -m activemem.stages.{stage} [-h]")


def test_models_usage_names_the_command_typed(capsys):
    assert help_text(capsys, ["models", "--help"]).startswith("usage: activemem models [-h]")
    assert help_text(capsys, ["check-params", "--help"]).startswith("usage: activemem check-params [-h]")


def test_stage_help_needs_no_params_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no params.yaml here: --help still answers, and takes no lock
    assert help_text(capsys, ["train", "--help"]).startswith("usage: activemem train")
    assert not (tmp_path / ".activemem").exists()


# --- 3. no reStructuredText markup in help --------------------------------------------------------

def test_help_shows_no_markup(capsys):
    for argv in [["--help"], ["models", "--help"], ["check-params", "--help"],
                 *([stage, "--help"] for stage in cli.stage_names())]:
        text = help_text(capsys, argv)
        assert "``" not in text and "**" not in text, argv
    prepare = help_text(capsys, ["prepare", "--help"])
    assert "Stage prepare: clean every split" in prepare and "1. clean — read each split" in prepare


def test_plain_renders_code_bold_and_literal_markers():
    assert plain("run ``python -m x`` on **all** of it::\n\n    x\nkeep a :: b and *.yaml") == \
        "run python -m x on all of it:\n\n    x\nkeep a :: b and *.yaml"
    assert plain("a ``multi\nline`` span") == "a multi\nline span"


# --- 4. python -m activemem -----------------------------------------------------------------------

def test_python_dash_m_activemem_is_the_activemem_command(capsys):
    done = run("-m", "activemem", "--help")
    assert done.returncode == 0 and done.stdout == help_text(capsys, ["--help"])
    done = run("-m", "activemem", "transmogrify")
    assert done.returncode == 2 and "unknown command 'transmogrify'" in done.stderr


# --- 5. the listing -------------------------------------------------------------------------------

def test_the_listing_shows_user_commands_in_run_order_and_hides_archives(capsys):
    text = help_text(capsys, ["--help"])
    listed = [line.split()[0] for line in text.split("commands:\n")[1].split("\n\n")[0].splitlines()]
    assert listed == LISTED
    assert "archives" in cli.stage_names()  # still a command: DVC's dvc.yaml runs it
    assert help_text(capsys, ["archives", "--help"]).startswith("usage: activemem archives")


# --- 6. missing input folders ---------------------------------------------------------------------

def exit_message(main, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    message = stop.value.code
    assert isinstance(message, str) and "\n" not in message and "Errno" not in message
    return message


def test_a_missing_input_folder_names_the_stage_that_makes_it(tmp_path):
    common = ["--params", str(PARAMS), "--scale", "smoke"]
    missing = tmp_path / "nowhere"
    assert exit_message(train.main, [*common, "--model", "gru_attention", "--data", str(missing),
                                     "--out", str(tmp_path / "out")]) == \
        f"error: --data {missing} does not exist: run the prepare stage first ({_common.RUN_IN_ORDER})"
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    assert exit_message(paper.main, [*common, "--results", str(missing), "--data", str(prepared),
                                     "--out", str(tmp_path / "build")]) == \
        f"error: --results {missing} does not exist: run the train and evaluate stages first ({_common.RUN_IN_ORDER})"
    # a folder that is there but lacks a file: the file, and the stage that writes it
    assert exit_message(train.main, [*common, "--model", "gru_attention", "--data", str(prepared),
                                     "--out", str(tmp_path / "out")]).startswith(
        f"error: {prepared / 'manifest.json'} does not exist: run the prepare stage first")
    results = tmp_path / "results"
    results.mkdir()
    assert exit_message(paper.main, [*common, "--results", str(results), "--data", str(prepared),
                                     "--out", str(tmp_path / "build")]).startswith(
        f"error: {prepared / 'manifest.json'} does not exist: run the prepare stage first")
    (prepared / "manifest.json").write_text('{"files": {}}')
    message = exit_message(paper.main, [*common, "--results", str(results), "--data", str(prepared),
                                        "--out", str(tmp_path / "build")])
    assert message.startswith(f"error: {results}/") and "does not exist: run the evaluate stage first" in message


def test_evaluate_names_a_missing_prepared_folder(tmp_path):
    from activemem.stages import evaluate
    missing = tmp_path / "nowhere"
    assert exit_message(evaluate.main, ["--params", str(PARAMS), "--scale", "smoke", "--model", "gru_attention",
                                        "--data", str(missing), "--checkpoint", str(tmp_path / "c.pt"),
                                        "--out", str(tmp_path / "out")]) == \
        f"error: --data {missing} does not exist: run the prepare stage first ({_common.RUN_IN_ORDER})"


# --- 7. a damaged checkpoint ----------------------------------------------------------------------

def test_a_damaged_checkpoint_is_named_with_its_whole_reason_on_one_line(tmp_path):
    good = tmp_path / "good.pt"
    torch.save({"model": {"w": torch.zeros(3)}}, good)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(checkpoint.CheckpointError) as err:
        checkpoint.load(cut)
    message = str(err.value)
    assert message.startswith(f"{cut}: not a readable checkpoint (") and "\n" not in message
    reason = message.split(" (", 1)[1]
    assert reason.endswith(".)") and len(reason) <= 205  # whole sentences, not torch's whole essay


def test_reasons_are_whole_sentences_and_headings_keep_their_detail():
    long = RuntimeError("First sentence here. " + "Second one is rather long " * 12 + ".")
    assert checkpoint.reason(long) == "First sentence here."
    keys = ", ".join(f'"layer{i}.weight"' for i in range(60))
    mismatch = checkpoint.reason(RuntimeError(f"Error(s) in loading state_dict for X:\n\tMissing key(s): {keys}."))
    assert mismatch.startswith('Error(s) in loading state_dict for X: Missing key(s): "layer0.weight",')
    assert mismatch.endswith(" …") and len(mismatch) <= 200 and '"layer59' not in mismatch
    assert mismatch[:-2].endswith(",")  # cut between two keys, never inside one
    assert checkpoint.reason(KeyError(101)) == "KeyError: 101"
    assert checkpoint.reason(EOFError()) == "EOFError"


# --- 8. progress in a log file --------------------------------------------------------------------

class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_file_gets_whole_lines_and_a_terminal_gets_a_bar():
    log = io.StringIO()
    for _ in progress_bar(range(50), desc="encode train", unit="chunks", file=log):
        pass
    assert log.getvalue() == log.getvalue().replace("\r", "") and log.getvalue().count("\n") == 1
    assert log.getvalue().startswith("encode train: 100% 50/50 chunks [")
    assert type(progress_bar(range(3), file=Terminal())) is tqdm  # noqa: E721  the real bar, not LogLines
    quiet = io.StringIO()
    for _ in progress_bar(range(3), desc="off", file=quiet, disable=True):
        pass
    assert quiet.getvalue() == ""


def test_log_lines_come_early_then_periodically_then_at_the_end(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr("activemem.progress.time.monotonic", lambda: clock[0])
    log = io.StringIO()
    bar = LogLines(total=100, desc="gru_attention", unit="step", file=log, first=2, every=30, mininterval=0)
    for step in range(100):
        clock[0] = step * 1.0  # one step a second
        bar.update(1)
        bar.set_postfix(loss=f"{1 / (step + 1):.2f}")
    bar.close()
    bar.close()  # a second close (the with-block's and the caller's) adds nothing
    lines = log.getvalue().splitlines()
    assert [line.split("%")[0].split(": ")[1].strip() for line in lines] == ["3", "33", "63", "93", "100"]
    assert "\r" not in log.getvalue() and lines[-1].endswith("loss=0.01]")


# --- 9. sentencepiece and archives say what they are doing ----------------------------------------

def test_sentencepiece_training_says_what_it_trains_on(tmp_path, capsys):
    sentences = [f"the {w} cat sat on the {v} mat" for w in ("black", "white", "red") for v in ("old", "new")] * 40
    train_vocab(iter(sentences), tmp_path / "spm.model", 300, "unigram", 1, 150)  # streamed, as prepare does
    err = capsys.readouterr().err
    assert "sub-word model: reading sentences: 240 sentences [" in err
    assert ("sub-word model: training sentencepiece, a unigram model of 300 pieces on 2 threads, "
            "on a random sample of 150 of 240 sentences") in err
    assert f"sub-word model: {tmp_path / 'spm.model'} written in " in err


def test_checking_and_extracting_an_archive_count_bytes(tmp_path, capsys):
    archive = tmp_path / "corpus.tgz"
    payload = b"un chat\n" * 1000
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("c/x.fr")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    check_archive(archive, ["c/x.fr"])
    extract_members(archive, ["c/x.fr"], tmp_path / "out")
    err = capsys.readouterr().err.splitlines()
    size = archive.stat().st_size
    assert any(line.startswith(f"check corpus.tgz: 100% {size}/{size} B") for line in err), err
    assert any(line.startswith("extract corpus.tgz: 100% 7.81k/7.81k B") for line in err), err
    check_archive(archive, ["c/x.fr"], progress=False)
    assert capsys.readouterr().err == ""


def test_a_stage_checks_params_yaml_once(tmp_path, monkeypatch):
    """run_stage checks the file before taking the lock; the stage's main() gets that check's result."""
    from activemem import config
    from activemem.stages import _common
    calls = []
    real = config.load_params
    monkeypatch.setattr(_common, "load_params", lambda *a, **k: calls.append(a) or real(*a, **k))
    monkeypatch.setattr(_common, "_checked", {})
    seen = []
    def main(argv):
        seen.append(_common.params_or_exit(_common.parser("x").parse_args(argv)))
    argv = ["--params", str(REPO / "params.yaml"), "--scale", "smoke"]
    _common.run_stage(main, "check", argv)
    assert len(calls) == 1 and seen[0]["scale"] == "smoke"
    seen[0]["train"]["seed"] = 99  # a stage's own copy: changing it changes no later answer
    _common.run_stage(main, "check", argv)
    assert len(calls) == 1 and seen[1]["train"]["seed"] == 1
