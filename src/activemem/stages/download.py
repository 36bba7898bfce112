"""Stage ``download``: fetch WMT'14 En-Fr, or generate the embedded demo corpus or the algorithmic tasks.

    python -m activemem.stages.download --params params.yaml --scale demo --out data/demo/raw

Writes ``<out>/sources.json``: for each split (train, dev, test) the list of aligned
``[english_file, french_file]`` pairs that the prepare stage reads. The demo corpus is written into
``<out>`` itself and its paths are relative to ``<out>``. WMT archives go to a download cache
(``data.downloads``) shared by scales, or are used where they are (``data.archives``); see
``data/archives.py`` for where a copy comes from and which copies are accepted. For WMT,
``sources.json`` holds no absolute path::

    {"source": "wmt14",
     "downloads": "<data.downloads as written in params.yaml>",
     "splits": {"train": [["extracted/<key>/<english member>", "extracted/<key>/<french member>"], …], …},
     "files": {"extracted/<key>/<member>": {"bytes": …, "sha256": …}, …},
     "archives": {"<archive file name>": {"sha256": …, "bytes": …,
                                          "verified_by": "published" | "lock" | "vouched",
                                          "vouched_by": null | "who, and why", "corpora": [<corpus>, …]}}}

Paths in ``splits`` and ``files`` are relative to ``downloads`` (the cache can move: point
``data.downloads`` at the new place); ``<key>`` is the archive's stem and the first 16 hex digits of
its SHA-256.

The demo corpus (``generate_demo``) also writes, for each evaluation split (every split but train
and dev: ``test``, and ``test_long`` where ``data.sizes`` has it):

* ``<split>.fr.ref2`` … ``<split>.fr.ref<N>`` (N = ``data.references``): further valid references of
  each English sentence, with the other French synonyms (``demo.valid_references``); ``<split>.fr``
  stays the first. A sentence with fewer than N distinct valid references (one without synonym
  nouns has one) repeats its first reference in the remaining streams: sacreBLEU needs every stream
  to have a line per sentence, and a repeated reference changes no score (``evaluate/bleu.py``).
* ``<split>.np.jsonl``: per sentence, what the agreement checker needs (``Pair.agreement_record``).

``sources.json`` lists them under ``references`` and ``noun_phrases``, keyed by split.

The algorithmic tasks (``generate_algorithmic``, ``data/algorithmic.py``) are written into ``<out>``
as ``<split>.src`` / ``<split>.tgt`` (symbols separated by spaces): train, dev, and one test split per
task and length, ``test_<task>_<L>``; ``sources.json`` adds ``tests``, each test split's
``{split, task, length, distinct_inputs, held_out}``, ``train_length`` and ``held_out_inputs``. Test
inputs are distinct and held out: train and dev never contain one (``algorithmic.held_out``).
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path


from activemem.atomic import open_atomic, write_json
from activemem.config import ParamsError
from activemem.data import algorithmic, demo
from activemem.data.archives import ArchiveStore, RefusedCopy
from activemem.data.digest_memo import DigestMemo
from activemem.data.download import BadURLError, ChecksumError, ChecksumLock, Retry
from activemem.data.extract import ArchiveError
from activemem.data.lines import LineWriter
from activemem.data.manifest import ManifestError, load_manifest, mirror_from
from activemem.data.vouched import VouchedError, load_vouched
from activemem.progress import progress_bar
from activemem.stages._common import SPLITS, params_or_exit, parser, run_stage

MEMO = "digests.json"  # in data.downloads: the archives' digests, by file status (data/digest_memo.py)


def demo_splits(data: dict) -> list[str]:
    """train, dev, test, then any further split named in ``data.sizes`` (e.g. test_long)."""
    return list(SPLITS) + [s for s in data["sizes"] if s not in SPLITS]


def demo_lines(refs: list, n_refs: int) -> list[str]:
    """One sentence's line in each file of its split: English, French, then for an evaluation split
    (``n_refs`` > 0) references 2…N (a sentence with fewer distinct valid references repeats its first:
    sacreBLEU needs a line in every stream, and a repeated reference changes no score) and its record."""
    lines = [refs[0].en, refs[0].fr]
    if n_refs:
        lines += [(refs[r] if r < len(refs) else refs[0]).fr for r in range(1, n_refs)]
        lines.append(json.dumps(refs[0].agreement_record(), ensure_ascii=False))
    return lines


def generate_demo(params: dict, out: Path) -> tuple[dict, dict]:
    """Write the demo corpus into ``out``; returns the ``splits`` of sources.json and its other keys."""
    data = params["data"]  # checked by schema.DemoData when params.yaml was loaded
    seed, depth, n_refs = data["seed"], data["max_depth"], data["references"]
    sources, references, records = {}, {}, {}
    for split in demo_splits(data):
        count = data["sizes"][split]
        fewest, most = data["clauses"][split]
        evaluation = split not in ("train", "dev")  # scored with BLEU: several references and records
        wanted = n_refs if evaluation else 1
        names = [f"{split}.en", f"{split}.fr"]
        if evaluation:
            # further valid references, then the agreement records (see the module docstring)
            references[split] = [f"{split}.fr.ref{r + 1}" for r in range(1, n_refs)]
            records[split] = f"{split}.np.jsonl"
            names += references[split] + [records[split]]
        sources[split] = [names[:2]]
        items = progress_bar(demo.generate_references(seed, split, count, wanted, most, depth, fewest),
                             total=count, desc=f"demo {split}", unit="pairs", mininterval=1.0)
        with ExitStack() as stack:  # every file of the split written as the pairs come: memory stays flat
            writers = [LineWriter(stack.enter_context(open_atomic(out / name)), out / name) for name in names]
            for refs in items:
                for writer, line in zip(writers, demo_lines(refs, n_refs if evaluation else 0)):
                    writer.write(line)
    return sources, {"references": references, "noun_phrases": records}


def generate_algorithmic(params: dict, out: Path) -> dict:
    """Write the algorithmic tasks' splits into ``out``; returns sources.json's keys after ``source``."""
    data = params["data"]  # checked by schema.AlgorithmicData when params.yaml was loaded
    tasks, longest = data["tasks"], data["train_length"]
    # The test inputs first, distinct and held out: train and dev never draw one (issue 29: at length 10,
    # 99 of 100 addition test inputs were also training inputs). A short length has few inputs
    # (2^bits): at most held_out_share of them are held out, the rest stay for training.
    tests, held = [], {}
    for task in tasks:
        for length in data["test_lengths"]:
            split = algorithmic.split_name(task, length)
            held[split] = algorithmic.held_out(data["seed"], task, length, data["sizes"]["test"],
                                               data["held_out_share"])
            tests.append({"split": split, "task": task, "length": length, "distinct_inputs":
                          algorithmic.distinct_inputs(task, length), "held_out": len(held[split])})
    banned = frozenset(src for pairs in held.values() for src, _ in pairs)
    plan = [("train", data["sizes"]["train"], tasks, (1, longest)), ("dev", data["sizes"]["dev"], tasks, (1, longest))]
    splits = {}
    for split, count, split_tasks, lengths in plan:
        rows = ((src, tgt) for *_, src, tgt in algorithmic.generate(data["seed"], split, count, split_tasks,
                                                                    lengths, banned))
        splits[split] = _write_pairs(out, split, rows)
    for split, pairs in held.items():
        splits[split] = _write_pairs(out, split, pairs)
    return {"splits": splits, "tests": tests, "train_length": longest, "held_out_inputs": len(banned)}


def _write_pairs(out: Path, split: str, pairs) -> list[list[str]]:
    names = [f"{split}.src", f"{split}.tgt"]
    with ExitStack() as stack:
        writers = [LineWriter(stack.enter_context(open_atomic(out / name)), out / name) for name in names]
        for src, tgt in pairs:
            writers[0].write(src)
            writers[1].write(tgt)
    return [names]


def _wmt_archives(params: dict) -> tuple[ArchiveStore, dict[str, list], dict[str, list[str]], dict]:
    """The scale's archive store, its archives (file name -> the corpora read from it, in order), the
    corpora of each split and the manifest's corpora; every setting checked."""
    corpora, checksums = load_manifest()
    where = f"{params.get('path', 'params')}: '{params['scale']}.data"
    data = params["data"]  # checked by schema.Wmt14Data when params.yaml was loaded
    downloads, own = data["downloads"], data["archives"]
    if own is not None and not Path(own).is_dir():
        raise ParamsError(f"{where}.archives' names {own}, which is not a folder")
    vouched = Path(data["vouched"])
    vouches = load_vouched(vouched)
    archive_names = {c.archive_name for c in corpora.values()}
    for name, vouch in vouches.items():
        if name not in archive_names:
            raise VouchedError(f"{vouched}:{vouch.line}: {name} is no WMT'14 archive; known: {sorted(archive_names)}")
    store = ArchiveStore(Path(downloads), ChecksumLock(data["lock"]), checksums, vouches,
                         vouched, Path(own) if own is not None else None,
                         mirror_from(params["data"].get("mirror"), f"{where}.mirror'"),
                         Retry(data["retries"], data["backoff_seconds"]),
                         memo=DigestMemo(Path(downloads) / MEMO))
    wanted = {"train": data["train"], "dev": [data["dev"]], "test": [data["test"]]}
    by_archive: dict[str, list] = {}  # archive file name -> its corpora (dev.tgz holds two test sets)
    for names in wanted.values():
        for name in names:
            if name not in corpora:
                raise ParamsError(f"'{params['scale']}.data' names unknown corpus {name!r}; "
                                  f"known: {sorted(corpora)}")
            if corpora[name] not in by_archive.setdefault(corpora[name].archive_name, []):
                by_archive[corpora[name].archive_name].append(corpora[name])
    return store, by_archive, wanted, corpora


def refused_all(refusals: list[RefusedCopy], vouched: Path) -> RefusedCopy:
    """One error for every copy refused in this run: the only one as it is; several each on a line of
    their own (printed here), then one summary line with the entries to paste, one per line, above it."""
    if len(refusals) == 1:
        return refusals[0]
    for refusal in refusals:
        print(f"error: {refusal}", file=sys.stderr)
    print(f"to vouch for all {len(refusals)} copies, add these lines to {vouched} and fill in each vouched_by:",
          file=sys.stderr)
    for refusal in refusals:
        print(refusal.paste, file=sys.stderr)
    names = ", ".join(r.name for r in refusals)
    return RefusedCopy(f"{len(refusals)} archives refused ({names}): no copy is the published file (or the "
                       f"one locked) nor vouched for in {vouched}; each reason and the lines to paste are above",
                       names, "\n".join(r.paste for r in refusals))


def fetch_wmt(params: dict) -> dict:
    """Obtain, judge and extract the archives of the scale's corpora; returns sources.json's keys
    after ``source`` (see the module docstring). Every archive is obtained and judged before any is
    refused or extracted, so that one run names every copy that needs a vouch."""
    store, by_archive, wanted, corpora = _wmt_archives(params)
    accepted, refusals = {}, []
    for archive_name, users in by_archive.items():
        try:
            accepted[archive_name] = store.obtain(archive_name, users[0].url, [m for c in users for m in (c.en, c.fr)])
        except RefusedCopy as refusal:
            refusals.append(refusal)
        except Exception:
            for refusal in refusals:  # said before the error that stops the run, not lost with it
                print(f"error: {refusal}", file=sys.stderr)
            raise
    if refusals:
        raise refused_all(refusals, store.vouched_path)
    paths, files, archives = {}, {}, {}
    for archive_name, users in by_archive.items():
        members = [m for c in users for m in (c.en, c.fr)]
        archive = accepted[archive_name]
        for member, digest in store.extract(archive, members).items():
            paths[member, archive_name] = f"extracted/{archive.key}/{member}"
            files[paths[member, archive_name]] = digest
        archives[archive_name] = {"sha256": archive.sha256, "bytes": archive.size,
                                  "verified_by": archive.verified_by, "vouched_by": archive.vouched_by,
                                  "corpora": [c.name for c in users]}
    splits = {split: [[paths[c.en, c.archive_name], paths[c.fr, c.archive_name]]
                      for c in (corpora[n] for n in names)] for split, names in wanted.items()}
    return {"downloads": params["data"]["downloads"], "splits": splits, "files": dict(sorted(files.items())),
            "archives": archives}


def current_archives(params: dict) -> dict[str, str | None]:
    """The SHA-256 of each archive a download would use now (``ArchiveStore.current_sha256``), by file
    name; {} for a scale that downloads nothing. Reads an archive only when its digest is not
    remembered (``data/digest_memo.py``)."""
    if params["data"]["source"] != "wmt14":
        return {}
    store, by_archive, _, _ = _wmt_archives(params)
    return {name: store.current_sha256(name) for name in sorted(by_archive)}


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
    p.add_argument("--out", required=True, help="directory for sources.json (and the demo text)")
    args = p.parse_args(argv)
    params = params_or_exit(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # the listing of an earlier run goes first: a run refused below must not leave it for prepare
    (out / "sources.json").unlink(missing_ok=True)
    try:
        source = params["data"]["source"]  # demo, wmt14 or algorithmic: schema.DATA_SOURCES
        if source == "algorithmic":
            listing = generate_algorithmic(params, out)
        elif source == "demo":
            sources, extras = generate_demo(params, out)  # extras: the demo's further references
            listing = {"splits": sources, **extras}
        else:
            listing = fetch_wmt(params)
    # Bad settings, a server that would not send the whole file (DownloadError is a RuntimeError),
    # a wrong or broken file, a full disk: one line naming the file and what to do, no traceback.
    except (ParamsError, RuntimeError, ChecksumError, ArchiveError, ManifestError, VouchedError, BadURLError,
            OSError) as err:
        sys.exit(f"error: {err}")
    write_json(out / "sources.json", {"source": source, **listing})


if __name__ == "__main__":
    run_stage(main, "download")
