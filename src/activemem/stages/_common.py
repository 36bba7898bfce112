"""What every stage shares: ``--params``/``--scale`` parsing, the split names, atomic writers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from activemem import locking
from activemem.config import ParamsError, load_params
from activemem.data.lines import write_lines  # noqa: F401  the stages' one text writer (see lines.py)

SPLITS = ("train", "dev", "test")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", default="params.yaml", help="the params file (default params.yaml)")
    p.add_argument("--scale", default=None, help="scale block to use (default: params 'scale')")
    return p


def run_stage(main, name: str, argv: list[str] | None = None) -> None:
    """``python -m activemem.stages.<name>``: the stage inside the workspace lock (``locking.py``), so a
    second pipeline run in the same workspace (the folder of the params file) fails at once instead
    of interleaving files with this one.

    The whole params file is checked first, before the lock and any work: DVC has no hook when it
    loads the DAG, so under DVC this is where a bad file stops the run, naming its key path."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--scale", default=None)
    known, _ = p.parse_known_args(sys.argv[1:] if argv is None else argv)
    params_or_exit(known)
    try:
        with locking.workspace(f"stage {name}", root=Path(known.params).resolve().parent):
            main() if argv is None else main(argv)
    except locking.Busy as err:
        sys.exit(f"error: {err}")


def params_or_exit(args) -> dict:
    try:
        return load_params(args.params, args.scale)
    except ParamsError as err:
        sys.exit(f"error: {err}")
