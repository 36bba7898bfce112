"""Stage ``download``: fetch WMT'14 En-Fr, or generate the embedded demo corpus.

    python -m activemem.stages.download --params params.yaml --scale demo --out data/demo/raw

Writes ``<out>/sources.json``: for each split (train, dev, test) the list of aligned
``[english_file, french_file]`` pairs that the prepare stage reads. The demo corpus is written into
``<out>`` itself; WMT archives go to a download cache (``data.downloads``) shared by scales.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from activemem.atomic import write_json
from activemem.config import ParamsError, get
from activemem.data import demo
from activemem.data.download import ChecksumError, ChecksumLock, Retry
from activemem.data.extract import ArchiveError
from activemem.data.manifest import ManifestError, fetch_corpus, load_manifest, mirror_from
from activemem.stages._common import SPLITS, params_or_exit, parser, run_stage, write_lines


def generate_demo(params: dict, out: Path) -> dict:
    seed = get(params, "data.seed", int)
    depth = get(params, "data.max_depth", int, minimum=0)
    sources = {}
    for split in SPLITS:
        count = get(params, f"data.sizes.{split}", int, minimum=1)
        clauses = get(params, f"data.max_clauses.{split}", int, minimum=1)
        pairs = list(tqdm(demo.generate(seed, split, count, clauses, depth), total=count,
                          desc=f"demo {split}", unit="pairs", mininterval=1.0))
        write_lines(out / f"{split}.en", (p.en for p in pairs))
        write_lines(out / f"{split}.fr", (p.fr for p in pairs))
        sources[split] = [[f"{split}.en", f"{split}.fr"]]
    return sources


def fetch_wmt(params: dict) -> dict:
    corpora, checksums = load_manifest()
    downloads = Path(get(params, "data.downloads", str))
    lock = ChecksumLock(get(params, "data.lock", str))
    mirror = mirror_from(params["data"].get("mirror"))
    retry = Retry(get(params, "data.retries", int, minimum=0),
                  get(params, "data.backoff_seconds", float, minimum=0))
    wanted = {"train": get(params, "data.train", list), "dev": [get(params, "data.dev", str)],
              "test": [get(params, "data.test", str)]}
    sources = {}
    for split, names in wanted.items():
        sources[split] = []
        for name in names:
            if name not in corpora:
                raise ParamsError(f"'{params['scale']}.data' names unknown corpus {name!r}; "
                                  f"known: {sorted(corpora)}")
            en, fr = fetch_corpus(corpora[name], downloads / "archives", downloads / "extracted",
                                  lock, checksums, mirror, retry=retry)
            sources[split].append([str(en.resolve()), str(fr.resolve())])
    return sources


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--out", required=True, help="directory for sources.json (and the demo text)")
    args = p.parse_args(argv)
    params = params_or_exit(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        source = get(params, "data.source", str)
        if source == "demo":
            sources = generate_demo(params, out)
        elif source == "wmt14":
            sources = fetch_wmt(params)
        else:
            raise ParamsError(f"'{params['scale']}.data.source' must be 'demo' or 'wmt14', got {source!r}")
    # Bad settings, a server that would not send the whole file (DownloadError is a RuntimeError),
    # a wrong or broken file, a full disk: one line naming the file and what to do, no traceback.
    except (ParamsError, RuntimeError, ChecksumError, ArchiveError, ManifestError, OSError) as err:
        sys.exit(f"error: {err}")
    write_json(out / "sources.json", {"source": source, "splits": sources})


if __name__ == "__main__":
    run_stage(main, "download")
