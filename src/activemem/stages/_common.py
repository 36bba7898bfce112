"""What every stage shares: ``--params``/``--scale`` parsing, the split names, atomic writers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from activemem.atomic import open_atomic
from activemem.config import ParamsError, load_params

SPLITS = ("train", "dev", "test")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", default="params.yaml", help="the params file (default params.yaml)")
    p.add_argument("--scale", default=None, help="scale block to use (default: params 'scale')")
    return p


def params_or_exit(args) -> dict:
    try:
        return load_params(args.params, args.scale)
    except ParamsError as err:
        sys.exit(f"error: {err}")


def write_lines(path: str | Path, lines) -> None:
    """One string per line, written atomically."""
    with open_atomic(path) as f:
        for line in lines:
            f.write(line + "\n")
