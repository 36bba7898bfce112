"""Argument parsing shared by every stage: ``--params`` and ``--scale`` come first in each."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from activemem.config import ParamsError, load_params


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


def write_json(path: str | Path, data) -> None:
    """Write JSON atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def write_lines(path: str | Path, lines) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
    os.replace(tmp, path)
