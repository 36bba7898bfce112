"""Stage ``settings`` (DVC only): the resolved settings each stage reads, one JSON file per stage.

    python -m activemem.stages.settings --params params.yaml --scale demo --out data/demo/settings

Why: a scale block lists only what differs from ``defaults``, so no key of ``params.yaml`` holds a
stage's effective settings, and DVC's ``params:`` (which tracks keys as written) could not rerun
exactly the stages whose settings changed. This stage runs whenever ``params.yaml`` changes and
writes ``<out>/<stage>.json`` (``train@neural_gpu.json``, …) with what that stage reads
(``config.stage_settings``); each DVC stage depends on its own file, which DVC compares by content.
Snakemake needs no files: its rules carry the same entries under ``params:``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from activemem.atomic import write_text
from activemem.config import stage_settings
from activemem.stages._common import params_or_exit, parser, run_stage


def write_settings(params: dict, out: Path) -> list[str]:
    """Write one file per stage (left untouched where its content is the same); returns the names."""
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for stage, settings in stage_settings(params).items():
        path = out / f"{stage}.json"
        text = json.dumps(settings, indent=1) + "\n"
        if not path.exists() or path.read_text() != text:
            write_text(path, text)
        names.append(path.name)
    for stale in set(p.name for p in out.glob("*.json")) - set(names):  # e.g. a model no longer listed
        (out / stale).unlink()
    return names


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--out", required=True, help="folder for the per-stage files, e.g. data/<scale>/settings")
    args = p.parse_args(argv)
    names = write_settings(params_or_exit(args), Path(args.out))
    print(f"{args.out}: settings of {len(names)} stages", file=sys.stderr)


if __name__ == "__main__":
    run_stage(main, "settings")
