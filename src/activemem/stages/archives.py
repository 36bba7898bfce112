"""Stage ``archives`` (DVC only): the SHA-256 of every archive the download stage would use now.

    python -m activemem.stages.archives --params params.yaml --scale news --out data/news/archives.json

Why: the archives live outside the workspace (``data.downloads``, ``data.archives``), at paths that
depend on the scale, so DVC cannot list them as dependencies, and would not notice a replaced one.
This stage runs on every ``dvc repro`` (``always_changed`` in dvc.yaml) and writes ``<out>``
(``{"archives": {file name: sha256 or null}}``, ``download.current_archives``) only when its content
changed; the download stage depends on it, so DVC reruns the download exactly when an archive changed.
It reads no archive whose digest is remembered (``data/digest_memo.py``), so it costs a second. A scale
that downloads nothing (demo, algorithmic) writes ``{"archives": {}}``. Snakemake needs no file: the
workflow makes the same comparison when it loads (``pipeline/rules/stale.smk``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from activemem.atomic import write_text
from activemem.data import sources
from activemem.entry import one_line
from activemem.stages._common import params_or_exit, parser, run_stage
from activemem.stages.download import current_archives


def write_archives(params: dict, out: Path) -> dict:
    """Write ``out`` (left untouched where its content is the same); returns the record."""
    record = {"archives": current_archives(params)}
    text = json.dumps(record, indent=1, sort_keys=True) + "\n"
    if not out.exists() or out.read_text() != text:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text(out, text)
    return record


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--out", required=True, help="the record's file, e.g. data/<scale>/archives.json")
    args = p.parse_args(argv)
    params = params_or_exit(args)
    try:
        record = write_archives(params, Path(args.out))
    except sources.ERRORS as err:  # as the download stage: one line naming the file, no traceback
        sys.exit(f"error: {one_line(err)}")
    print(f"{args.out}: {len(record['archives'])} archives", file=sys.stderr)


if __name__ == "__main__":
    run_stage(main, "archives")
