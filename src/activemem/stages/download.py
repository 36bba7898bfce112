"""Stage ``download``: fetch WMT'14 En-Fr, or generate the embedded demo corpus.

    python -m activemem.stages.download --params params.yaml --scale demo --out data/demo/raw

Writes ``<out>/sources.json``: for each split (train, dev, test) the list of aligned
``[english_file, french_file]`` pairs that the prepare stage reads. The demo corpus is written into
``<out>`` itself; WMT archives go to a download cache (``data.downloads``) shared by scales.

The demo corpus (``generate_demo``) also writes, for each evaluation split (every split but train
and dev: ``test``, and ``test_long`` where ``data.sizes`` has it):

* ``<split>.fr.ref2`` … ``<split>.fr.ref<N>`` (N = ``data.references``): further valid references of
  each English sentence, with the other French synonyms (``demo.valid_references``); ``<split>.fr``
  stays the first. A sentence with fewer than N distinct valid references (one without synonym
  nouns has one) repeats its first reference in the remaining streams: sacreBLEU needs every stream
  to have a line per sentence, and a repeated reference changes no score (``evaluate/bleu.py``).
* ``<split>.np.jsonl``: per sentence, what the agreement checker needs (``Pair.agreement_record``).

``sources.json`` lists them under ``references`` and ``noun_phrases``, keyed by split.
"""

from __future__ import annotations

import json
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


def clause_range(params: dict, split: str) -> tuple[int, int]:
    """``data.clauses.<split>``: ``[fewest, most]`` clauses per sentence."""
    value = get(params, f"data.clauses.{split}", list)
    if len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in value) \
            or not 1 <= value[0] <= value[1]:
        raise ParamsError(f"{params.get('path', 'params')}: '{params['scale']}.data.clauses.{split}' must be "
                          f"[fewest, most] clauses with 1 <= fewest <= most, got {value!r}")
    return value[0], value[1]


def demo_splits(params: dict) -> list[str]:
    """train, dev, test, then any further split named in ``data.sizes`` (e.g. test_long)."""
    sizes = get(params, "data.sizes", dict)
    for split in SPLITS:
        get(params, f"data.sizes.{split}", int, minimum=1)
    return list(SPLITS) + [s for s in sizes if s not in SPLITS]


def generate_demo(params: dict, out: Path) -> tuple[dict, dict]:
    """Write the demo corpus into ``out``; returns the ``splits`` of sources.json and its other keys."""
    seed = get(params, "data.seed", int)
    depth = get(params, "data.max_depth", int, minimum=0)
    n_refs = get(params, "data.references", int, minimum=1)
    sources, references, records = {}, {}, {}
    for split in demo_splits(params):
        count = get(params, f"data.sizes.{split}", int, minimum=1)
        fewest, most = clause_range(params, split)
        evaluation = split not in ("train", "dev")  # scored with BLEU: several references and records
        wanted = n_refs if evaluation else 1
        items = list(tqdm(demo.generate_references(seed, split, count, wanted, most, depth, fewest),
                          total=count, desc=f"demo {split}", unit="pairs", mininterval=1.0))
        write_lines(out / f"{split}.en", (refs[0].en for refs in items))
        write_lines(out / f"{split}.fr", (refs[0].fr for refs in items))
        sources[split] = [[f"{split}.en", f"{split}.fr"]]
        if evaluation:
            references[split] = []
            for r in range(1, n_refs):
                name = f"{split}.fr.ref{r + 1}"
                # fewer valid references than streams: repeat the first (see the module docstring)
                write_lines(out / name, ((refs[r] if r < len(refs) else refs[0]).fr for refs in items))
                references[split].append(name)
            records[split] = f"{split}.np.jsonl"
            write_lines(out / records[split], (json.dumps(refs[0].agreement_record(), ensure_ascii=False)
                                               for refs in items))
    return sources, {"references": references, "noun_phrases": records}


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
        extras = {}  # sources.json keys beyond the splits (the demo's extra references)
        if source == "demo":
            sources, extras = generate_demo(params, out)
        elif source == "wmt14":
            sources = fetch_wmt(params)
        else:
            raise ParamsError(f"'{params['scale']}.data.source' must be 'demo' or 'wmt14', got {source!r}")
    # Bad settings, a server that would not send the whole file (DownloadError is a RuntimeError),
    # a wrong or broken file, a full disk: one line naming the file and what to do, no traceback.
    except (ParamsError, RuntimeError, ChecksumError, ArchiveError, ManifestError, OSError) as err:
        sys.exit(f"error: {err}")
    write_json(out / "sources.json", {"source": source, "splits": sources, **extras})


if __name__ == "__main__":
    run_stage(main, "download")
