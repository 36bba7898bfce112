"""Stage ``download``: make or fetch the raw text of the scale's data source (``data.source``).

    python -m activemem.stages.download --params params.yaml --scale demo --out data/demo/raw

Writes ``<out>/sources.json``: ``{"source": <data.source>, "splits": …, …}``, where ``splits`` holds for
each split (train, dev, test, and any further one) the list of aligned ``[english_file, french_file]``
pairs that the prepare stage reads. What else it holds, and where the text lives, is the source's own
(its registry entry, ``activemem/data/sources/``): the demo grammar and the algorithmic tasks are
generated into ``<out>`` (``data/sources/demo/download.py``, ``data/sources/algorithmic/download.py``);
WMT'14 archives are downloaded into a cache shared by scales and judged there
(``data/sources/wmt14/download.py``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from activemem.atomic import write_json
from activemem.data import sources
from activemem.entry import one_line
from activemem.stages._common import params_or_exit, parser, run_stage


def current_archives(params: dict) -> dict[str, str | None]:
    """The SHA-256 of each archive a download would use now, by file name (the source's ``archives``
    hook); {} for a source that downloads nothing."""
    archives = sources.hook(params["data"]["source"], "archives")
    return archives(params) if archives else {}


def changed_archives(params: dict, raw: Path) -> str | None:
    """Why the download stage's output ``raw`` no longer matches the archives a run would use (an
    archive replaced, or gone with no way to download the same bytes), or None."""
    listing_file = raw / "sources.json"
    try:
        used = json.loads(listing_file.read_text()).get("archives") or {}
    except (OSError, ValueError, AttributeError):
        return None  # not made yet, or unreadable: the engines and the prepare stage say so
    now = current_archives(params)
    for name, sha256 in now.items():
        before = (used.get(name) or {}).get("sha256")
        if sha256 != before:
            got = f"sha256 {sha256[:12]}…" if sha256 else "no copy at hand and no single digest a download must have"
            return (f"archive {name} is not the copy it was made from ({got}; recorded "
                    f"{str(before)[:12]}…)")
    return None


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--out", required=True, help="directory for sources.json (and the text of a generated source)")
    args = p.parse_args(argv)
    params = params_or_exit(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # the listing of an earlier run goes first: a run refused below must not leave it for prepare
    (out / "sources.json").unlink(missing_ok=True)
    source = params["data"]["source"]  # a registry name: checked when params.yaml was loaded
    try:
        listing = sources.hook(source, "download")(params, out)
    # Bad settings, a server that would not send the whole file (DownloadError is a RuntimeError),
    # a wrong or broken file, a full disk: one line naming the file and what to do, no traceback.
    except sources.ERRORS as err:
        sys.exit(f"error: {one_line(err)}")
    write_json(out / "sources.json", {"source": source, **listing})


if __name__ == "__main__":
    run_stage(main, "download")
