"""What every stage shares: ``--params``/``--scale`` parsing, the split names, atomic writers, and
how a stage runs from the command line (``run_stage``: its name in the help, the workspace lock, a
missing input folder named with the stage that makes it)."""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

from activemem import disk, gpus, locking
from activemem.config import ParamsError, load_params
from activemem.data.lines import write_lines  # noqa: F401  the stages' one text writer (see lines.py)
from activemem.entry import HelpFormatter, os_errors_in_one_line, quiet_on_closed_pipe

SPLITS = ("train", "dev", "test")

# The name a stage's usage line shows, set by run_stage: "activemem evaluate" under the activemem
# command, "python -m activemem.stages.evaluate" when run as a module (as both engines do). argparse
# would show the script's file name ("cli.py", "evaluate.py").
_prog: str | None = None


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=_prog, description=description, formatter_class=HelpFormatter)
    p.add_argument("--params", default="params.yaml", help="the params file (default params.yaml)")
    p.add_argument("--scale", default=None, help="scale block to use (default: params 'scale')")
    return p


def run_stage(main, name: str, argv: list[str] | None = None, prog: str | None = None) -> None:
    """``python -m activemem.stages.<name>``: the stage inside the workspace lock (``locking.py``), so a
    second pipeline run in the same workspace (the folder of the params file) fails at once instead
    of interleaving files with this one. ``prog`` is the command's name in its help (default: how
    ``python -m`` runs it). Any ``OSError`` the stage does not word itself (a full disk, a read-only
    folder) ends it with one line naming the file (``entry.os_errors_in_one_line``).

    The whole params file is checked first, before the lock and any work: DVC has no hook when it
    loads the DAG, so under DVC this is where a bad file stops the run, naming its key path."""
    global _prog
    _prog = prog or f"python -m activemem.stages.{name}"
    # a closed pipe is an OSError too: the inner block ends it quietly first
    with os_errors_in_one_line(), quiet_on_closed_pipe():
        _run_locked(main, name, argv)


def _run_locked(main, name: str, argv: list[str] | None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if "-h" in args or "--help" in args:  # help needs no params file and takes no lock
        main() if argv is None else main(argv)
        return
    known = params_args(args)
    params = params_or_exit(known)
    root = Path(known.params).resolve().parent
    disk.check_free(root, params["min_free_mb"], f"the {name} stage")  # before DVC's writes meet a full disk
    try:
        with locking.workspace(f"stage {name}", root=root):
            main() if argv is None else main(argv)
    except locking.Busy as err:
        sys.exit(f"error: {err}")


RUN_IN_ORDER = "snakemake or dvc repro runs every stage in order"


def _run_first(stage: str) -> str:
    return f"run the {stage} stage{'s' if ' and ' in stage else ''} first ({RUN_IN_ORDER})"


def require_folder(path: str | Path, stage: str, option: str) -> Path:
    """``path`` (an input folder another stage writes), or exit with one line naming it, the option
    that gave it, and the stage that makes it."""
    path = Path(path)
    if not path.is_dir():
        state = "is not a folder" if path.exists() else "does not exist"
        sys.exit(f"error: {option} {path} {state}: {_run_first(stage)}")
    return path


def missing_input(err: FileNotFoundError, producers: dict[str | Path, str]) -> str:
    """One line for a file that is not there: its name and, where it lies in an input folder, the
    stage that writes that folder (``producers``: folder -> stage). Python's own message
    (``[Errno 2] No such file or directory: '...'``) names neither."""
    if err.filename is None:  # raised with our own message, which says it already
        return str(err)
    path = Path(err.filename).resolve()
    for folder, stage in producers.items():
        if path.is_relative_to(Path(folder).resolve()):
            return f"{err.filename} does not exist: {_run_first(stage)}"
    return f"{err.filename} does not exist"


# One check of params.yaml per stage: run_stage checks it before taking the lock, and the stage's main()
# asks again for the same file; the second answer is the first, unless the file changed in between.
_checked: dict[tuple, dict] = {}


def params_args(argv: list[str]) -> argparse.Namespace:
    """``--params`` and ``--scale`` of a stage's command line, its other options left alone."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--scale", default=None)
    return p.parse_known_args(argv)[0]


def _cached(args) -> dict:
    """``load_params`` of ``args`` once per file content (``_checked``); raises ParamsError."""
    path = Path(args.params)
    try:
        key = (str(path.resolve()), args.scale, path.read_bytes())
    except OSError:
        return load_params(args.params, args.scale)  # it says what is wrong with the file
    if key not in _checked:
        _checked[key] = load_params(args.params, args.scale)
    return _checked[key]


def params_quietly(argv: list[str]) -> dict | None:
    """The checked settings named by ``--params``/``--scale`` in ``argv`` (cached for the stage's own
    ``params_or_exit``), or None when they cannot be read: the stage then says why, in its own words."""
    try:
        return _cached(params_args(argv))
    except (OSError, ParamsError):
        return None


def params_or_exit(args) -> dict:
    """The scale's checked settings (``config.load_params``), or exit with its one-line errors."""
    try:
        return copy.deepcopy(_cached(args))  # a stage may change its copy (--seed)
    except ParamsError as err:
        sys.exit(f"error: {err}")


def claim_gpus(args, count: int, what: str) -> list[int] | None:
    """This job's own ``count`` GPUs of the machine (``activemem/gpus.py``: ``CUDA_VISIBLE_DEVICES`` set
    to them, lock files in the workspace of ``--params``), or exit with one line when too few are free."""
    try:
        return gpus.claim(count, Path(args.params).resolve().parent, what)
    except gpus.NoFreeGpu as err:
        sys.exit(f"error: {err}")
